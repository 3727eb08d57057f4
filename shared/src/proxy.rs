//! Proxy entry: in the room, someone types an idea for a person without a device (a named
//! person, or a group such as "la table des citoyens de Saint-Camille"). The element carries
//! `onBehalfOf` = plain JSON `{name, org, orgKind}`; the trace honours it only in the update
//! that creates the element (see `trace`).

use std::collections::HashMap;

use yrs::{Any, Map, MapRef, Out, ReadTxn, TransactionMut};

use crate::board::OrgKind;

/// Characters kept of a represented person's name and of their organisation (as for a
/// participant's).
pub const REPRESENTED_NAME_CHARS_MAX: usize = 80;
pub const REPRESENTED_ORG_CHARS_MAX: usize = 120;

/// What stands for a name taken back (erasure): the journal, the document and the record keep
/// it where the name was, and every page and export says "un·e participant·e (de ORG)" in its
/// language instead.
pub const ERASED_NAME: &str = "\u{2205}";

/// The element field naming the person an element was entered for (plain JSON
/// `{name, org, orgKind}`).
pub const ON_BEHALF_OF: &str = "onBehalfOf";

/// A person without a device whose idea someone else typed (proxy entry): a named person, or
/// a group such as "la table des citoyens de Saint-Camille".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Represented {
    pub name: String,
    pub org: String,
    pub org_kind: Option<OrgKind>,
}

impl Represented {
    /// The person an element's `onBehalfOf` field names, if it names one: a plain JSON map
    /// with a non-blank `name`; texts trimmed and cut to the `REPRESENTED_*_CHARS_MAX`; an
    /// `orgKind` outside the known kinds is dropped.
    pub fn from_any(value: &Any) -> Option<Self> {
        let Any::Map(map) = value else { return None };
        let text = |key: &str, chars_max: usize| match map.get(key) {
            Some(Any::String(s)) => {
                let trimmed = s.split_whitespace().collect::<Vec<_>>().join(" ");
                trimmed.chars().take(chars_max).collect()
            }
            _ => String::new(),
        };
        let name = text("name", REPRESENTED_NAME_CHARS_MAX);
        if name.is_empty() {
            return None;
        }
        Some(Represented {
            name,
            org: text("org", REPRESENTED_ORG_CHARS_MAX),
            org_kind: text("orgKind", 20).parse().ok(),
        })
    }

    /// The id the record gives the person: never a participant's (the relay refuses
    /// participant ids that start with `proxy:`), and the same for the same name and
    /// organisation whatever their case.
    pub fn pid(&self) -> String {
        format!(
            "proxy:{}|{}",
            self.name.to_lowercase(),
            self.org.to_lowercase()
        )
    }

    /// True for an id [`Represented::pid`] made.
    pub fn is_proxy_pid(pid: &str) -> bool {
        pid.starts_with("proxy:")
    }

    /// The field's value, as the document keeps it.
    pub fn to_any(&self) -> Any {
        let mut map = HashMap::new();
        map.insert("name".to_owned(), Any::from(self.name.as_str()));
        map.insert("org".to_owned(), Any::from(self.org.as_str()));
        map.insert(
            "orgKind".to_owned(),
            Any::from(self.org_kind.map(|k| k.as_str()).unwrap_or("")),
        );
        Any::from(map)
    }

    /// The person `element` (a node's, note's or project's map) names in `onBehalfOf`.
    pub fn of<T: ReadTxn>(element: &MapRef, txn: &T) -> Option<Self> {
        match element.get(txn, ON_BEHALF_OF)? {
            Out::Any(any) => Represented::from_any(&any),
            _ => None,
        }
    }

    /// Marks `element` as entered for this person: to be done in the transaction that creates
    /// it, or the record ignores it.
    pub fn mark(&self, element: &MapRef, txn: &mut TransactionMut) {
        element.insert(txn, ON_BEHALF_OF, self.to_any());
    }
}
