//! A long-lived board written straight into a store, for the storm test and the trace
//! benchmark: a diagnosis canvas whose journal holds a given number of entries of four
//! participants (a note added every 50 entries, typed into a letter at a time, one deleted now
//! and then), one second apart.

use std::sync::Arc;

use bytes::Bytes;
use shared::{BoardKind, Lang, Roots};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Text, Transact};

use super::{Actor, Append, BoardId, BoardRecord, NewEntry, Store, StoreResult};
use crate::tokens::BoardTokens;

/// The first entry's time.
pub const START_MS: i64 = 1_700_000_000_000;

/// Creates the board in `store` with `entries` journal entries; returns it and its tokens.
pub fn long_canvas(store: &dyn Store, entries: u64) -> StoreResult<(BoardRecord, BoardTokens)> {
    let tokens = BoardTokens::generate();
    let id = BoardId::new_random();
    let initial = shared::doc::initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::Fr);
    let record = BoardRecord {
        id: id.clone(),
        kind: BoardKind::Diagnosis,
        title: "Diagnostic".into(),
        lang: Lang::Fr,
        created_ms: START_MS,
        token_hashes: tokens.hashes(),
    };
    store.create_board(&record, &initial)?;
    let doc = Doc::new();
    let update = yrs::Update::decode_v1(&initial).expect("the initial document decodes");
    doc.transact_mut()
        .apply_update(update)
        .expect("the initial document applies");
    let roots = Roots::new(&doc);
    let actors: Vec<Arc<Actor>> = ["Commune", "EPCI", "Association", "Entreprise"]
        .iter()
        .enumerate()
        .map(|(i, org)| {
            Arc::new(Actor {
                pid: format!("p{i}"),
                name: format!("Participant {i}"),
                org: (*org).into(),
                org_kind: None,
            })
        })
        .collect();
    let mut batch = Vec::new();
    for seq in 2..=entries {
        let who = (seq % 4) as usize;
        let note = format!("n{}", seq / 50);
        let update = {
            let mut txn = doc.transact_mut();
            match shared::doc::child_text(&roots.notes, &txn, &note, "text") {
                None => roots.add_note(&mut txn, &note, "s1", "", "#fff", &actors[who].pid),
                Some(_) if seq % 997 == 0 => roots.delete_note(&mut txn, &note),
                Some(text) => {
                    let len = text.get_string(&txn).len() as u32;
                    text.insert(&mut txn, len, "a");
                }
            }
            txn.encode_update_v1()
        };
        batch.push(NewEntry {
            ts_ms: START_MS + seq as i64 * 1_000,
            actor: actors[who].clone(),
            update_v1: Bytes::from(update),
        });
        if batch.len() == 5_000 {
            store.append(&[Append::new(&id, std::mem::take(&mut batch))])?;
        }
    }
    store.append(&[Append::new(&id, batch)])?;
    Ok((record, tokens))
}
