//! The same cases against every store: what the relay relies on, whatever the backend.

use std::sync::Arc;

use bytes::Bytes;
use shared::{BoardKind, Lang};

use super::*;
use crate::tokens::BoardTokens;

/// Every store: in memory, SQLite, and PostgreSQL when `NOUAGE_TEST_DATABASE_URL` names a
/// server (`cargo xtask test` sets it; each call gets a database of its own, dropped after).
fn stores() -> Vec<(&'static str, Box<dyn Store>, Option<std::path::PathBuf>)> {
    let dir = std::env::temp_dir().join(format!("nouage-store-{}", uuid::Uuid::new_v4()));
    let sqlite = SqliteStore::open(&dir, Durability::Process).unwrap();
    let mut stores: Vec<(&'static str, Box<dyn Store>, Option<std::path::PathBuf>)> = vec![
        ("memory", Box::new(MemoryStore::default()), None),
        ("sqlite", Box::new(sqlite), Some(dir)),
    ];
    if let Ok(url) = std::env::var("NOUAGE_TEST_DATABASE_URL") {
        let store = PgStore::connect_fresh(&url).expect("a PostgreSQL test database");
        stores.push(("postgres", Box::new(store), None));
    }
    stores
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

fn entry(byte: u8) -> NewEntry {
    NewEntry {
        ts_ms: 10,
        actor: Arc::new(Actor {
            pid: "p".into(),
            name: "Anne".into(),
            ..Actor::default()
        }),
        update_v1: Bytes::from(vec![byte]),
    }
}

#[test]
fn the_store_gives_seqs_in_commit_order_without_gaps_and_refuses_unknown_boards_whole() {
    for (name, store, dir) in stores() {
        let (one, two) = (board(), board());
        store.create_board(&one, &[0]).unwrap();
        store.create_board(&two, &[0]).unwrap();
        assert!(
            matches!(
                store.create_board(&one, &[0]),
                Err(StoreError::BoardExists(_))
            ),
            "{name}"
        );
        // Two batches of one board in one group commit, and another board's between them.
        let firsts = store
            .append(&[
                Append::new(&one.id, vec![entry(2), entry(3)]),
                Append::new(&two.id, vec![entry(2)]),
                Append::new(&one.id, vec![entry(4)]),
            ])
            .unwrap();
        assert_eq!(firsts, [2, 2, 4], "{name}");
        // An append naming a board that does not exist is refused whole.
        let refused = store.append(&[
            Append::new(&one.id, vec![entry(5)]),
            Append::new(&BoardId::new_random(), vec![entry(1)]),
        ]);
        assert!(
            matches!(refused, Err(StoreError::BoardNotFound(_))),
            "{name}"
        );
        let loaded = store.load(&one.id).unwrap();
        let rows: Vec<(u64, Vec<u8>)> = loaded.updates.clone();
        assert_eq!(
            rows,
            [(1, vec![0]), (2, vec![2]), (3, vec![3]), (4, vec![4])],
            "{name}: in order, and a refused append leaves nothing behind"
        );
        assert_eq!(loaded.last_seq(), 4);
        assert_eq!(store.load(&two.id).unwrap().last_seq(), 2, "{name}");
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
            .append(&[Append::new(&board.id, vec![entry(2), entry(3), entry(4)])])
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

#[test]
fn a_private_space_opens_only_in_its_open_round_with_its_secret_and_is_purged_whole() {
    use shared::private_round::PrivateRound;
    for (name, store, dir) in stores() {
        let board = board();
        store.create_board(&board, &[0]).unwrap();
        let round = PrivateRound {
            id: "r1".into(),
            opened_at_ms: 7,
        };
        let wanted = |pid: &str, secret: &str| PrivateSpace {
            space: BoardId::new_random(),
            board: board.id.clone(),
            round: "r1".into(),
            secret_sha256: crate::tokens::sha256(secret),
            actor: Actor {
                pid: pid.into(),
                name: "Anne".into(),
                ..Actor::default()
            },
            created_ms: 8,
        };
        let record = |space: &PrivateSpace| BoardRecord {
            id: space.space.clone(),
            ..super::tests::board()
        };
        let open = |space: &PrivateSpace, max: usize| {
            store
                .open_private_space(space, &record(space), &[1], max)
                .unwrap()
        };
        let anne = wanted("p-anne", "secret-of-anne");
        assert_eq!(open(&anne, 10), SpaceOpening::NoRound, "{name}");
        assert!(
            store.open_private_round(&board.id, &round).unwrap(),
            "{name}"
        );
        assert!(
            !store.open_private_round(&board.id, &round).unwrap(),
            "{name}"
        );
        assert_eq!(store.private_round(&board.id).unwrap(), Some(round.clone()));
        assert_eq!(open(&anne, 10), SpaceOpening::Space(anne.clone()), "{name}");
        // Found again with the same secret (whatever space id the caller proposed)...
        let again = wanted("p-anne", "secret-of-anne");
        assert_eq!(
            open(&again, 10),
            SpaceOpening::Space(anne.clone()),
            "{name}"
        );
        // ...refused with another, and a round full at its limit.
        let thief = wanted("p-anne", "another-secret");
        assert_eq!(open(&thief, 10), SpaceOpening::OtherSecret, "{name}");
        assert_eq!(
            open(&wanted("p-lina", "s"), 1),
            SpaceOpening::Full,
            "{name}"
        );
        store
            .append(&[Append::new(&anne.space, vec![entry(2)])])
            .unwrap();
        assert_eq!(store.journal(&anne.space).unwrap().len(), 2, "{name}");
        assert_eq!(
            store.private_spaces(&board.id, "r1").unwrap(),
            vec![anne.clone()],
            "{name}"
        );
        store.purge_board(&anne.space).unwrap();
        assert!(store.board(&anne.space).unwrap().is_none(), "{name}");
        assert!(store.private_spaces(&board.id, "r1").unwrap().is_empty());
        assert!(matches!(
            store.load(&anne.space),
            Err(StoreError::BoardNotFound(_))
        ));
        assert!(
            !store.close_private_round(&board.id, "r2").unwrap(),
            "{name}"
        );
        assert!(
            store.close_private_round(&board.id, "r1").unwrap(),
            "{name}"
        );
        assert_eq!(store.private_round(&board.id).unwrap(), None);
        assert_eq!(open(&wanted("p-lina", "s"), 10), SpaceOpening::NoRound);
        // The board itself is untouched.
        assert_eq!(store.journal(&board.id).unwrap().len(), 1, "{name}");
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
