//! Pseudonyms: a board option (the facilitator's) under which the document names participants
//! "Participant·e 3" with their kind of organisation ("Commune") instead of their name and
//! organisation. The server writes only the pseudonym into `participants` (real names stay in
//! its record, the journal's actors), numbered in the order people first came; API answers and
//! exports show pseudonyms to every role but the facilitator.

use yrs::{Any, Map, Out, ReadTxn, TransactionMut};

use crate::board::{Lang, OrgKind};
use crate::doc::{Participant, Roots};

/// `meta`'s flag: `true` while the board shows pseudonyms.
pub const META_PSEUDONYMS: &str = "pseudonyms";

/// Whether the board shows pseudonyms.
pub fn is_on<T: ReadTxn>(roots: &Roots, txn: &T) -> bool {
    matches!(
        roots.meta.get(txn, META_PSEUDONYMS),
        Some(Out::Any(Any::Bool(true)))
    )
}

pub fn set(roots: &Roots, txn: &mut TransactionMut, on: bool) {
    roots.meta.insert(txn, META_PSEUDONYMS, on);
}

/// A kind of organisation in words, for a pseudonym's organisation.
pub fn kind_label(lang: Lang, kind: OrgKind) -> &'static str {
    match (lang, kind) {
        (Lang::Fr, OrgKind::Commune) => "Commune",
        (Lang::Fr, OrgKind::Epci) => "Intercommunalité",
        (Lang::Fr, OrgKind::Association) => "Association",
        (Lang::Fr, OrgKind::Business) => "Entreprise",
        (Lang::Fr, OrgKind::Citizen) => "Citoyen·ne",
        (Lang::Fr, OrgKind::Public) => "Service public",
        (Lang::En, OrgKind::Commune) => "Municipality",
        (Lang::En, OrgKind::Epci) => "Intercommunal body",
        (Lang::En, OrgKind::Association) => "Association",
        (Lang::En, OrgKind::Business) => "Business",
        (Lang::En, OrgKind::Citizen) => "Citizen",
        (Lang::En, OrgKind::Public) => "Public service",
    }
}

/// The `n`th participant's pseudonym (from 1), in `lang`: their colour and kind of
/// organisation kept, their name and organisation not.
pub fn pseudonym(lang: Lang, n: usize, participant: &Participant) -> Participant {
    Participant {
        name: match lang {
            Lang::Fr => format!("Participant·e {n}"),
            Lang::En => format!("Participant {n}"),
        },
        color: participant.color.clone(),
        org: participant
            .org_kind
            .map(|kind| kind_label(lang, kind).to_owned())
            .unwrap_or_default(),
        org_kind: participant.org_kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    #[test]
    fn a_pseudonym_keeps_the_kind_of_organisation_and_nothing_that_names() {
        let anne = Participant {
            name: "Anne Bérubé".into(),
            color: "#2563eb".into(),
            org: "Commune de Lodève".into(),
            org_kind: Some(OrgKind::Commune),
        };
        let p = pseudonym(Lang::Fr, 3, &anne);
        assert_eq!(
            (p.name.as_str(), p.org.as_str()),
            ("Participant·e 3", "Commune")
        );
        assert_eq!(
            (p.color.as_str(), p.org_kind),
            ("#2563eb", Some(OrgKind::Commune))
        );
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let mut txn = doc.transact_mut();
        assert!(!is_on(&roots, &txn));
        set(&roots, &mut txn, true);
        assert!(is_on(&roots, &txn));
    }
}
