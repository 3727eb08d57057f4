//! Applying bytes that come from outside to a document: a client's update, and a board's stored
//! pieces when it loads. Neither is trusted: the yrs decoder may panic on hostile input, and
//! that must close one connection (or fail one load), not the process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

use crate::store::StoredDoc;

/// What applying a client's update did to the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The update was integrated whole.
    Changed,
    /// The update holds nothing.
    Empty,
    /// The bytes are not an update; the document is untouched.
    Refused(String),
    /// The update continues changes of a client that the document does not hold yet (a client
    /// that reconnects may send a new change before the sync that carries its older ones); the
    /// document is untouched. The sender is asked for what is missing (a sync step 1).
    Gap,
    /// Applying failed part-way or left structures that cannot be integrated; the document may
    /// hold part of the update and must be reloaded from storage.
    Poisoned(String),
}

/// Decodes and applies update bytes from a client. The yrs decoder may panic on hostile
/// input: a panic becomes `Refused` or `Poisoned`, never a crash. (The fuzz target
/// `fuzz/fuzz_targets/relay_input.rs` drives this function.)
pub fn apply_untrusted(doc: &Doc, update_v1: &[u8]) -> Applied {
    let update = match catch_unwind(|| Update::decode_v1(update_v1)) {
        Ok(Ok(update)) => update,
        _ => return Applied::Refused("malformed update".into()),
    };
    if update.is_empty() {
        return Applied::Empty;
    }
    // yrs integrates such an update with a hole in that client's clocks (a skip) instead of
    // keeping it pending, and a document built on it differs from one that got the missing
    // changes first: it must not be applied (found by the room simulation, seed 222).
    let held = doc.transact().state_vector();
    if update
        .state_vector_lower()
        .iter()
        .any(|(client, clock)| *clock > held.get(client))
    {
        return Applied::Gap;
    }
    let applied = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        txn.apply_update(update)?;
        Ok::<_, yrs::error::UpdateError>(txn.has_missing_updates())
    }));
    match applied {
        Ok(Ok(false)) => Applied::Changed,
        // Through this relay a client only builds on what the server has, so a dependency on
        // unknown changes is hostile or broken; stored, it would poison every later load.
        Ok(Ok(true)) => {
            Applied::Poisoned("update depends on changes the server does not have".into())
        }
        Ok(Err(e)) => Applied::Poisoned(format!("update refused: {e}")),
        Err(_) => Applied::Poisoned("update refused".into()),
    }
}

/// A board as loaded: its document, the last seq stored, the seq of its snapshot, and the
/// bytes read.
pub type Loaded = (Doc, u64, u64, usize);

/// Rebuilds a document from storage. Stored bytes are decoded under `catch_unwind` too: a
/// restored or damaged file is not trusted.
pub fn load_doc(stored: StoredDoc) -> Result<Loaded, String> {
    load_doc_into(Doc::new(), stored)
}

/// `load_doc` into a given document (the simulation gives its client id, so runs repeat).
pub fn load_doc_into(doc: Doc, stored: StoredDoc) -> Result<Loaded, String> {
    let last_seq = stored.last_seq();
    let snapshot_seq = stored.snapshot.as_ref().map_or(0, |s| s.upto_seq);
    let mut bytes = 0;
    let snapshot = stored
        .snapshot
        .as_ref()
        .map(|s| (s.upto_seq, s.state_v1.as_slice()));
    let updates = stored.updates.iter().map(|(seq, u)| (*seq, u.as_slice()));
    for (seq, update) in snapshot.into_iter().chain(updates) {
        bytes += update.len();
        let applied = catch_unwind(AssertUnwindSafe(|| {
            let update = Update::decode_v1(update).map_err(|e| e.to_string())?;
            doc.transact_mut()
                .apply_update(update)
                .map_err(|e| e.to_string())
        }));
        match applied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("stored update {seq} does not apply: {e}")),
            Err(_) => return Err(format!("stored update {seq} made the decoder panic")),
        }
    }
    Ok((doc, last_seq, snapshot_seq, bytes))
}

/// The wall clock in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_that_make_the_yrs_decoder_panic_are_refused_without_crashing() {
        // Inputs the fuzz target found; each panics inside yrs 0.28's decoder.
        let inputs: [&[u8]; 3] = [
            &[0, 1, 135, 255, 255, 255, 255, 255, 254, 255, 0, 0],
            &[51, 16, 255, 255, 255, 255, 255, 255, 255, 51, 231],
            &[86, 85, 1, 255, 1, 0, 255, 255, 255, 255, 255, 5],
        ];
        for input in inputs {
            let doc = Doc::new();
            let outcome = apply_untrusted(&doc, input);
            assert!(
                matches!(outcome, Applied::Refused(_)),
                "{input:?}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_valid_update_is_applied_and_an_empty_one_is_noted() {
        let doc = Doc::new();
        let update =
            shared::doc::initial_update(shared::BoardKind::MindMap, "Carte", shared::Lang::Fr);
        assert_eq!(apply_untrusted(&doc, &update), Applied::Changed);
        assert_eq!(apply_untrusted(&doc, &[0, 0]), Applied::Empty);
    }

    #[test]
    fn an_update_that_skips_changes_of_its_client_is_not_applied() {
        use yrs::{GetString, Text};
        let author = Doc::with_client_id(7);
        let text = author.get_or_insert_text("t");
        text.insert(&mut author.transact_mut(), 0, "a");
        let before = author.transact().state_vector();
        text.insert(&mut author.transact_mut(), 1, "b");
        let second = author.transact().encode_diff_v1(&before);
        let first = author
            .transact()
            .encode_diff_v1(&yrs::StateVector::default());
        let relay = Doc::new();
        // The second change alone: refused, and the document is untouched.
        assert_eq!(apply_untrusted(&relay, &second), Applied::Gap);
        assert!(relay.transact().state_vector().is_empty());
        // Once the client's sync brings everything, both apply.
        assert_eq!(apply_untrusted(&relay, &first), Applied::Changed);
        let seen = relay.get_or_insert_text("t");
        assert_eq!(seen.get_string(&relay.transact()), "ab");
    }
}
