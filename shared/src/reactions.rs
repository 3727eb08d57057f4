//! Reactions on nodes, notes and projects: a small fixed set, one of each per participant.
//!
//! They live in a root map of their own, `Y.Map "reactions"`, one entry per element and
//! participant: key `"{element}/{pid}"`, value a plain JSON object `{element, pid, emoji}`
//! (`emoji`: the list of that participant's reactions to that element). A root map, not a map
//! inside each element: an element written before reactions existed (or by a client that does
//! not know them) has no such map, and two participants creating it at once would lose one
//! of the two. Each participant writes only their own entry, so nothing conflicts. Readers go
//! by the value's fields, count each reaction once per element and participant, ignore
//! anything outside the set, and skip entries of elements that no longer exist.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use yrs::{Any, Map, MapRef, Out, ReadTxn, TransactionMut};

/// The name of the root map.
pub const ROOT_REACTIONS: &str = "reactions";
/// The reactions offered, in the order they are shown.
pub const REACTIONS: [&str; 5] = ["👍", "❤️", "❓", "⚠️", "💡"];

/// One element's reactions: per reaction of [`REACTIONS`], how many participants gave it, and
/// which of them this reader gave (a bit per reaction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: [u32; REACTIONS.len()],
    pub mine: u8,
}

impl Tally {
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The reactions given, on one line: "👍 2 💡 1" (empty when none).
    pub fn summary(&self) -> String {
        REACTIONS
            .iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
            .map(|(emoji, count)| format!("{emoji} {count}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The bit of a reaction (its index in [`REACTIONS`]).
fn bit(emoji: &str) -> Option<u8> {
    REACTIONS.iter().position(|r| *r == emoji).map(|i| 1 << i)
}

/// Per element and participant, the reactions given (a bit per reaction).
pub fn given<T: ReadTxn>(map: &MapRef, txn: &T) -> HashMap<String, HashMap<String, u8>> {
    let mut given: HashMap<String, HashMap<String, u8>> = HashMap::new();
    for (_, value) in map.iter(txn) {
        let Out::Any(Any::Map(entry)) = value else {
            continue;
        };
        let (Some(Any::String(element)), Some(Any::String(pid)), Some(Any::Array(emoji))) =
            (entry.get("element"), entry.get("pid"), entry.get("emoji"))
        else {
            continue;
        };
        let bits = emoji
            .iter()
            .filter_map(|e| match e {
                Any::String(e) => bit(e),
                _ => None,
            })
            .fold(0, |bits, b| bits | b);
        if bits != 0 {
            *given
                .entry(element.to_string())
                .or_default()
                .entry(pid.to_string())
                .or_default() |= bits;
        }
    }
    given
}

/// Each element's tally, as `me` sees it (`mine`: the reactions `me` gave).
pub fn tallies<T: ReadTxn>(map: &MapRef, txn: &T, me: &str) -> BTreeMap<String, Tally> {
    given(map, txn)
        .into_iter()
        .map(|(element, by)| {
            let mut tally = Tally::default();
            for (pid, bits) in by {
                for (i, count) in tally.counts.iter_mut().enumerate() {
                    if bits & (1 << i) != 0 {
                        *count += 1;
                    }
                }
                if pid == me {
                    tally.mine = bits;
                }
            }
            (element, tally)
        })
        .collect()
}

fn key(element: &str, pid: &str) -> String {
    format!("{element}/{pid}")
}

/// Gives or takes back `pid`'s reaction `emoji` on `element`; returns whether it is now given.
/// A reaction outside [`REACTIONS`] changes nothing.
pub fn toggle(
    map: &MapRef,
    txn: &mut TransactionMut,
    element: &str,
    pid: &str,
    emoji: &str,
) -> bool {
    let Some(flip) = bit(emoji) else {
        return false;
    };
    let bits = given(map, txn)
        .get(element)
        .and_then(|by| by.get(pid))
        .copied()
        .unwrap_or(0)
        ^ flip;
    let key = key(element, pid);
    if bits == 0 {
        map.remove(txn, &key);
    } else {
        let emoji: Vec<Any> = REACTIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, e)| Any::from(*e))
            .collect();
        let mut entry = HashMap::new();
        entry.insert("element".to_owned(), Any::from(element));
        entry.insert("pid".to_owned(), Any::from(pid));
        entry.insert("emoji".to_owned(), Any::Array(emoji.into()));
        map.insert(txn, key, Any::Map(Arc::new(entry)));
    }
    bits & flip != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    #[test]
    fn one_of_each_per_participant_counted_for_everyone() {
        let doc = Doc::new();
        let map = doc.get_or_insert_map(ROOT_REACTIONS);
        let mut txn = doc.transact_mut();
        assert!(toggle(&map, &mut txn, "n1", "ana", "👍"));
        assert!(toggle(&map, &mut txn, "n1", "ana", "💡"));
        assert!(toggle(&map, &mut txn, "n1", "bob", "👍"));
        assert!(!toggle(&map, &mut txn, "n1", "bob", "🦄"), "not in the set");
        let seen = tallies(&map, &txn, "ana");
        assert_eq!(seen["n1"].counts, [2, 0, 0, 0, 1]);
        assert_eq!(seen["n1"].mine, 0b10001);
        // Given twice by the same participant, a reaction is taken back.
        assert!(!toggle(&map, &mut txn, "n1", "ana", "👍"));
        assert_eq!(tallies(&map, &txn, "bob")["n1"].counts, [1, 0, 0, 0, 1]);
        assert!(!toggle(&map, &mut txn, "n1", "ana", "💡"));
        assert!(!toggle(&map, &mut txn, "n1", "bob", "👍"));
        assert!(tallies(&map, &txn, "bob").is_empty(), "nothing left");
        assert_eq!(map.len(&txn), 0, "entries removed, not left empty");
    }

    #[test]
    fn a_participant_counts_once_whatever_a_client_wrote() {
        let doc = Doc::new();
        let map = doc.get_or_insert_map(ROOT_REACTIONS);
        let mut txn = doc.transact_mut();
        let entry = |emoji: Vec<&str>| {
            let mut e = HashMap::new();
            e.insert("element".to_owned(), Any::from("p1"));
            e.insert("pid".to_owned(), Any::from("eve"));
            e.insert(
                "emoji".to_owned(),
                Any::Array(emoji.into_iter().map(Any::from).collect::<Vec<_>>().into()),
            );
            Any::Map(Arc::new(e))
        };
        // The same reaction twice in one entry, and again under another key.
        map.insert(&mut txn, "p1/eve", entry(vec!["❤️", "❤️", "x"]));
        map.insert(&mut txn, "other", entry(vec!["❤️", "❓"]));
        map.insert(&mut txn, "junk", Any::from("not an entry"));
        assert_eq!(tallies(&map, &txn, "")["p1"].counts, [0, 1, 1, 0, 0]);
    }
}
