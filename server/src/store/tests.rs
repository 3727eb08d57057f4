//! The same cases against every store: what the relay relies on, whatever the backend.

use std::sync::Arc;

use bytes::Bytes;
use shared::{BoardKind, Lang};

use super::*;
use crate::tokens::BoardTokens;

fn stores() -> Vec<(&'static str, Box<dyn Store>, Option<std::path::PathBuf>)> {
    let dir = std::env::temp_dir().join(format!("nouage-store-{}", uuid::Uuid::new_v4()));
    let sqlite = SqliteStore::open(&dir, Durability::Process).unwrap();
    vec![
        ("memory", Box::new(MemoryStore::default()), None),
        ("sqlite", Box::new(sqlite), Some(dir)),
    ]
}

pub(super) fn board() -> BoardRecord {
    BoardRecord {
        id: BoardId::new_random(),
        kind: BoardKind::MindMap,
        title: "Carte".into(),
        lang: Lang::Fr,
        created_ms: 1,
        token_hashes: BoardTokens::generate().hashes(),
    }
}

fn entry(board: &BoardId, seq: u64) -> JournalEntry {
    JournalEntry {
        board: board.clone(),
        seq,
        ts_ms: 10,
        actor: Arc::new(Actor {
            pid: "p".into(),
            name: "Anne".into(),
            ..Actor::default()
        }),
        update_v1: Bytes::from(vec![seq as u8]),
    }
}

#[test]
fn journals_grow_one_seq_at_a_time_and_refuse_gaps_and_repeats() {
    for (name, store, dir) in stores() {
        let board = board();
        store.create_board(&board, &[0]).unwrap();
        assert!(
            matches!(
                store.create_board(&board, &[0]),
                Err(StoreError::BoardExists(_))
            ),
            "{name}"
        );
        store
            .append(&[entry(&board.id, 2), entry(&board.id, 3)])
            .unwrap();
        let cases = [
            (vec![3], "repeat"),
            (vec![5], "gap"),
            (vec![4, 6], "gap inside a batch"),
        ];
        for (seqs, what) in cases {
            let entries: Vec<_> = seqs.iter().map(|s| entry(&board.id, *s)).collect();
            let refused = store.append(&entries);
            assert!(
                matches!(refused, Err(StoreError::SeqConflict { .. })),
                "{name}: {what}"
            );
        }
        let loaded = store.load(&board.id).unwrap();
        let seqs: Vec<u64> = loaded.updates.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(
            seqs,
            [1, 2, 3],
            "{name}: a refused batch leaves nothing behind"
        );
        assert_eq!(loaded.last_seq(), 3);
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn loading_starts_from_the_newest_snapshot() {
    for (name, store, dir) in stores() {
        let board = board();
        store.create_board(&board, &[0]).unwrap();
        store
            .append(&[
                entry(&board.id, 2),
                entry(&board.id, 3),
                entry(&board.id, 4),
            ])
            .unwrap();
        let snapshot = Snapshot {
            board: board.id.clone(),
            upto_seq: 3,
            state_v1: vec![9, 9],
            created_ms: 5,
        };
        store.write_snapshot(&snapshot).unwrap();
        let loaded = store.load(&board.id).unwrap();
        assert_eq!(
            loaded.snapshot.as_ref().map(|s| s.upto_seq),
            Some(3),
            "{name}"
        );
        assert_eq!(loaded.updates, vec![(4, vec![4])], "{name}");
        assert!(
            matches!(
                store.load(&BoardId::new_random()),
                Err(StoreError::BoardNotFound(_))
            ),
            "{name}"
        );
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
