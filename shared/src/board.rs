//! The kinds of board and the vocabulary they share (languages, organisation kinds).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The three kinds of board Nouage offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardKind {
    MindMap,
    Diagnosis,
    Portfolio,
}

/// The languages of the interface and of the board templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

/// What kind of organisation a participant speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    Commune,
    Epci,
    Association,
    Business,
    Citizen,
    Public,
}

/// A string that names none of the values of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {value:?}; expected one of {expected}")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
    expected: &'static str,
}

macro_rules! string_enum {
    ($ty:ident, $what:literal, $expected:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, UnknownValue> {
                match value {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: value.to_owned(), expected: $expected }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(BoardKind, "board kind", "mindmap, diagnosis, portfolio", {
    MindMap => "mindmap",
    Diagnosis => "diagnosis",
    Portfolio => "portfolio",
});

string_enum!(Lang, "language", "fr, en", {
    Fr => "fr",
    En => "en",
});

string_enum!(OrgKind, "organisation kind", "commune, epci, association, business, citizen, public", {
    Commune => "commune",
    Epci => "epci",
    Association => "association",
    Business => "business",
    Citizen => "citizen",
    Public => "public",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_explained() {
        for kind in BoardKind::ALL {
            assert_eq!(kind.as_str().parse::<BoardKind>().unwrap(), *kind);
        }
        for kind in OrgKind::ALL {
            assert_eq!(kind.as_str().parse::<OrgKind>().unwrap(), *kind);
        }
        let err = "whiteboard".parse::<BoardKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown board kind \"whiteboard\"; expected one of mindmap, diagnosis, portfolio"
        );
    }
}
