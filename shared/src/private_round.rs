//! The private writing round (silent brainstorming). While one is open, `meta.privateRound`
//! says so (a plain JSON object the server alone writes when the facilitator opens it, and
//! removes on reveal or cancel): `{"id", "openedAtMs"}`. What each participant writes meanwhile
//! lives in a document of their own, a *private space* reached at
//! `/ws/{board}/private?token=…&pid=…&secret=…` (see `wire`), never in the board's document.
//!
//! A private space holds the same root types as a board of its kind; only its elements (a
//! canvas's `notes`, a mind map's `nodes`, a portfolio's `projects`) enter the board on reveal.

use std::collections::HashMap;
use std::sync::Arc;

use yrs::{Any, Map, Out, ReadTxn, TransactionMut};

use crate::BoardKind;
use crate::doc::Roots;

/// The key of the round in `meta`.
pub const META_PRIVATE_ROUND: &str = "privateRound";
/// The key a revealed element carries: when its writer wrote it, in the round (server ms).
pub const WRITTEN_KEY: &str = "privateWrittenAtMs";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRound {
    /// A fresh id per round: a page that sees another id starts again in a new space.
    pub id: String,
    pub opened_at_ms: i64,
}

impl PrivateRound {
    /// The round open on the board, if any (a malformed value reads as none).
    pub fn read<T: ReadTxn>(roots: &Roots, txn: &T) -> Option<PrivateRound> {
        let Some(Out::Any(Any::Map(map))) = roots.meta.get(txn, META_PRIVATE_ROUND) else {
            return None;
        };
        let id = match map.get("id") {
            Some(Any::String(id)) if !id.is_empty() => id.to_string(),
            _ => return None,
        };
        let opened_at_ms = match map.get("openedAtMs") {
            Some(Any::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map_or(0, |f| f as i64),
            _ => 0,
        };
        Some(PrivateRound { id, opened_at_ms })
    }

    /// Writes `round` into `meta` (`None` removes it).
    pub fn write(roots: &Roots, txn: &mut TransactionMut, round: Option<&PrivateRound>) {
        let Some(round) = round else {
            roots.meta.remove(txn, META_PRIVATE_ROUND);
            return;
        };
        let map = HashMap::from([
            ("id".to_owned(), Any::from(round.id.as_str())),
            (
                "openedAtMs".to_owned(),
                Any::Number(round.opened_at_ms.into()),
            ),
        ]);
        roots
            .meta
            .insert(txn, META_PRIVATE_ROUND, Any::Map(Arc::new(map)));
    }
}

/// The root map of a board's elements that a private round collects.
pub fn elements(roots: &Roots, kind: BoardKind) -> &yrs::MapRef {
    match kind {
        BoardKind::MindMap => &roots.nodes,
        BoardKind::Diagnosis => &roots.notes,
        BoardKind::Portfolio => &roots.projects,
    }
}

/// The key of an element's text (a project's is its title).
pub fn text_key(kind: BoardKind) -> &'static str {
    match kind {
        BoardKind::Portfolio => "title",
        _ => "text",
    }
}

/// The first journal entry of a private space: `meta` only (kind, language, `private: true`),
/// with none of a new board's elements (a mind map's central topic stays the board's).
pub fn space_initial_update(kind: BoardKind, lang: crate::Lang) -> Vec<u8> {
    let doc = yrs::Doc::new();
    let roots = Roots::new(&doc);
    let mut txn = yrs::Transact::transact_mut(&doc);
    roots.meta.insert(&mut txn, "kind", kind.as_str());
    roots.meta.insert(&mut txn, "title", "");
    roots.meta.insert(&mut txn, "lang", lang.as_str());
    roots
        .meta
        .insert(&mut txn, "schema", crate::doc::SCHEMA_VERSION as f64);
    roots.meta.insert(&mut txn, "private", true);
    txn.encode_update_v1()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    #[test]
    fn a_round_reads_back_and_goes_away() {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        assert_eq!(PrivateRound::read(&roots, &doc.transact()), None);
        let round = PrivateRound {
            id: "r1".into(),
            opened_at_ms: 1_700_000_000_123,
        };
        PrivateRound::write(&roots, &mut doc.transact_mut(), Some(&round));
        assert_eq!(PrivateRound::read(&roots, &doc.transact()), Some(round));
        PrivateRound::write(&roots, &mut doc.transact_mut(), None);
        assert_eq!(PrivateRound::read(&roots, &doc.transact()), None);
    }
}
