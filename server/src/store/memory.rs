//! An in-memory store for unit tests: the same contract as SQLite, nothing on disk.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::tokens::Role;

use shared::private_round::PrivateRound;

use super::{
    Actor, Append, BoardId, BoardRecord, JoinCode, JournalRow, PrivateSpace, Snapshot,
    SpaceOpening, Store, StoreError, StoreResult, StoredDoc,
};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    boards: HashMap<BoardId, BoardRecord>,
    journals: HashMap<BoardId, Vec<JournalRow>>,
    snapshots: HashMap<BoardId, Snapshot>,
    join_codes: HashMap<BoardId, JoinCode>,
    /// Per board: credential hash → revoked.
    code_credentials: HashMap<BoardId, HashMap<[u8; 32], bool>>,
    /// Boards showing pseudonyms.
    pseudonyms: std::collections::HashSet<BoardId>,
    private_rounds: HashMap<BoardId, PrivateRound>,
    private_spaces: Vec<PrivateSpace>,
}

impl Store for MemoryStore {
    fn create_board(&self, board: &BoardRecord, initial_update_v1: &[u8]) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        if inner.boards.contains_key(&board.id) {
            return Err(StoreError::BoardExists(board.id.clone()));
        }
        inner.boards.insert(board.id.clone(), board.clone());
        inner.journals.insert(
            board.id.clone(),
            vec![JournalRow {
                seq: 1,
                ts_ms: board.created_ms,
                actor: Actor::system(),
                update_v1: initial_update_v1.to_vec(),
            }],
        );
        Ok(())
    }

    fn board(&self, id: &BoardId) -> StoreResult<Option<BoardRecord>> {
        Ok(self.inner.lock().unwrap().boards.get(id).cloned())
    }

    fn load(&self, id: &BoardId) -> StoreResult<StoredDoc> {
        let inner = self.inner.lock().unwrap();
        let journal = inner
            .journals
            .get(id)
            .filter(|_| inner.boards.contains_key(id))
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))?;
        let snapshot = inner.snapshots.get(id).cloned();
        let after = snapshot.as_ref().map_or(0, |s| s.upto_seq);
        let updates = journal
            .iter()
            .filter(|row| row.seq > after)
            .map(|row| (row.seq, row.update_v1.clone()))
            .collect();
        Ok(StoredDoc { snapshot, updates })
    }

    fn append(&self, batches: &[Append]) -> StoreResult<Vec<u64>> {
        let mut inner = self.inner.lock().unwrap();
        // Check everything first so that a refused append leaves nothing behind.
        if let Some(unknown) = batches
            .iter()
            .find(|b| !inner.journals.contains_key(&b.board))
        {
            return Err(StoreError::BoardNotFound(unknown.board.clone()));
        }
        let mut firsts = Vec::with_capacity(batches.len());
        for batch in batches {
            let journal = inner.journals.get_mut(&batch.board).unwrap();
            let first = journal.last().map_or(1, |row| row.seq + 1);
            for (seq, entry) in (first..).zip(&batch.entries) {
                journal.push(JournalRow {
                    seq,
                    ts_ms: entry.ts_ms,
                    actor: (*entry.actor).clone(),
                    update_v1: entry.update_v1.to_vec(),
                });
            }
            firsts.push(first);
        }
        Ok(firsts)
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        inner
            .snapshots
            .insert(snapshot.board.clone(), snapshot.clone());
        Ok(())
    }

    fn set_token_hash(&self, id: &BoardId, role: Role, hash: [u8; 32]) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        let board = inner
            .boards
            .get_mut(id)
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))?;
        board.token_hashes.set(role, hash);
        Ok(())
    }

    fn join_code(&self, id: &BoardId) -> StoreResult<Option<JoinCode>> {
        let inner = self.inner.lock().unwrap();
        if !inner.boards.contains_key(id) {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(inner.join_codes.get(id).cloned())
    }

    fn set_join_code(&self, id: &BoardId, code: Option<&JoinCode>) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        if !inner.boards.contains_key(id) {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        match code {
            Some(code) => {
                if inner
                    .join_codes
                    .iter()
                    .any(|(board, other)| board != id && other.code == code.code)
                {
                    return Err(StoreError::JoinCodeTaken(code.code.clone()));
                }
                inner.join_codes.insert(id.clone(), code.clone());
            }
            None => {
                inner.join_codes.remove(id);
            }
        }
        Ok(())
    }

    fn board_of_join_code(&self, code: &str) -> StoreResult<Option<(BoardId, JoinCode)>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .join_codes
            .iter()
            .find(|(board, join)| join.code == code && inner.boards.contains_key(*board))
            .map(|(board, join)| (board.clone(), join.clone())))
    }

    fn add_code_credential(
        &self,
        id: &BoardId,
        hash: [u8; 32],
        _code: &str,
        _created_ms: i64,
        max: usize,
    ) -> StoreResult<bool> {
        let mut inner = self.inner.lock().unwrap();
        if !inner.boards.contains_key(id) {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        let credentials = inner.code_credentials.entry(id.clone()).or_default();
        if credentials.values().filter(|revoked| !**revoked).count() >= max {
            return Ok(false);
        }
        credentials.insert(hash, false);
        Ok(true)
    }

    fn has_code_credential(&self, id: &BoardId, hash: &[u8; 32]) -> StoreResult<bool> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .code_credentials
            .get(id)
            .and_then(|credentials| credentials.get(hash))
            .is_some_and(|revoked| !revoked))
    }

    fn revoke_code_credentials(&self, id: &BoardId, _at_ms: i64) -> StoreResult<usize> {
        let mut inner = self.inner.lock().unwrap();
        let credentials = inner.code_credentials.entry(id.clone()).or_default();
        let mut revoked = 0;
        for gone in credentials.values_mut().filter(|revoked| !**revoked) {
            *gone = true;
            revoked += 1;
        }
        Ok(revoked)
    }

    fn load_at(&self, id: &BoardId, at_ms: i64) -> StoreResult<StoredDoc> {
        // The memory store keeps no snapshot history: replay the journal up to `at_ms`.
        let updates = self
            .journal(id)?
            .into_iter()
            .filter(|row| row.ts_ms <= at_ms)
            .map(|row| (row.seq, row.update_v1))
            .collect();
        Ok(StoredDoc {
            snapshot: None,
            updates,
        })
    }

    fn journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        let inner = self.inner.lock().unwrap();
        let journal = inner
            .journals
            .get(id)
            .filter(|_| inner.boards.contains_key(id));
        journal
            .cloned()
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))
    }

    fn set_title(&self, id: &BoardId, title: &str) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        let board = inner
            .boards
            .get_mut(id)
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))?;
        board.title = title.to_owned();
        Ok(())
    }

    fn pseudonyms(&self, id: &BoardId) -> StoreResult<bool> {
        Ok(self.inner.lock().unwrap().pseudonyms.contains(id))
    }

    fn set_pseudonyms(&self, id: &BoardId, on: bool) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        if on {
            inner.pseudonyms.insert(id.clone());
        } else {
            inner.pseudonyms.remove(id);
        }
        Ok(())
    }

    fn erase_names(&self, id: &BoardId, pid: &str, names: &[String]) -> StoreResult<usize> {
        let mut inner = self.inner.lock().unwrap();
        let journal = inner
            .journals
            .get_mut(id)
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))?;
        let mut rewritten = 0;
        for row in journal.iter_mut() {
            if let Some(update) = crate::erase::erase_in_update(&row.update_v1, names)? {
                row.update_v1 = update;
                rewritten += 1;
            }
            if row.actor.pid == pid {
                row.actor.name = shared::proxy::ERASED_NAME.to_owned();
            }
        }
        inner.snapshots.remove(id);
        Ok(rewritten)
    }

    fn private_round(&self, id: &BoardId) -> StoreResult<Option<PrivateRound>> {
        Ok(self.inner.lock().unwrap().private_rounds.get(id).cloned())
    }

    fn open_private_round(&self, id: &BoardId, round: &PrivateRound) -> StoreResult<bool> {
        let mut inner = self.inner.lock().unwrap();
        if inner.private_rounds.contains_key(id) {
            return Ok(false);
        }
        inner.private_rounds.insert(id.clone(), round.clone());
        Ok(true)
    }

    fn close_private_round(&self, id: &BoardId, round_id: &str) -> StoreResult<bool> {
        let mut inner = self.inner.lock().unwrap();
        if inner
            .private_rounds
            .get(id)
            .is_none_or(|r| r.id != round_id)
        {
            return Ok(false);
        }
        inner.private_rounds.remove(id);
        Ok(true)
    }

    fn private_spaces(&self, id: &BoardId, round_id: &str) -> StoreResult<Vec<PrivateSpace>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .private_spaces
            .iter()
            .filter(|s| &s.board == id && s.round == round_id)
            .cloned()
            .collect())
    }

    fn open_private_space(
        &self,
        wanted: &PrivateSpace,
        record: &BoardRecord,
        initial_update_v1: &[u8],
        spaces_max: usize,
    ) -> StoreResult<SpaceOpening> {
        let inner = self.inner.lock().unwrap();
        if inner
            .private_rounds
            .get(&wanted.board)
            .is_none_or(|r| r.id != wanted.round)
        {
            return Ok(SpaceOpening::NoRound);
        }
        let in_round = |s: &&PrivateSpace| s.board == wanted.board && s.round == wanted.round;
        if let Some(found) = inner
            .private_spaces
            .iter()
            .filter(in_round)
            .find(|s| s.actor.pid == wanted.actor.pid)
        {
            return Ok(SpaceOpening::of_found(found.clone(), wanted));
        }
        if inner.private_spaces.iter().filter(in_round).count() >= spaces_max {
            return Ok(SpaceOpening::Full);
        }
        drop(inner);
        self.create_board(record, initial_update_v1)?;
        self.inner
            .lock()
            .unwrap()
            .private_spaces
            .push(wanted.clone());
        Ok(SpaceOpening::Space(wanted.clone()))
    }

    fn all_board_ids(&self) -> StoreResult<Vec<BoardId>> {
        let mut ids: Vec<BoardId> = self
            .inner
            .lock()
            .unwrap()
            .journals
            .keys()
            .cloned()
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        let inner = self.inner.lock().unwrap();
        inner
            .journals
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))
    }

    fn purge_board(&self, id: &BoardId) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        inner.boards.remove(id);
        inner.journals.remove(id);
        inner.snapshots.remove(id);
        inner.join_codes.remove(id);
        inner.code_credentials.remove(id);
        inner.pseudonyms.remove(id);
        inner.private_spaces.retain(|s| &s.space != id);
        Ok(())
    }

    fn delete_board(&self, id: &BoardId) -> StoreResult<()> {
        let mut inner = self.inner.lock().unwrap();
        inner
            .boards
            .remove(id)
            .ok_or_else(|| StoreError::BoardNotFound(id.clone()))?;
        Ok(())
    }
}
