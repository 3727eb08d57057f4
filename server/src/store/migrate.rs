//! `nouage migrate --from DIR --database-url URL`: moves a SQLite data directory into
//! PostgreSQL, every board (deleted ones and private spaces too) with its whole journal (seqs,
//! times and actors kept), newest snapshot, join code, credentials, options and open private
//! round; then reads every journal back from PostgreSQL and compares it with SQLite's.

use std::path::Path;

use super::{Durability, PgStore, SqliteStore, StoreError, StoreResult};

/// What a migration moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moved {
    pub boards: usize,
    pub entries: usize,
    /// Boards PostgreSQL already held (a migration run again): left as they are.
    pub already_there: usize,
}

pub fn sqlite_to_postgres(from: &Path, database_url: &str) -> StoreResult<Moved> {
    let sqlite = SqliteStore::open(from, Durability::Fsync)?;
    let postgres = PgStore::connect(database_url)?;
    let mut moved = Moved::default();
    let mut with_rounds = Vec::new();
    let ids = sqlite.all_board_ids()?;
    for id in &ids {
        let board = sqlite.moved_board(id)?;
        if postgres.import_board(&board)? {
            moved.boards += 1;
            moved.entries += board.journal.len();
        } else {
            moved.already_there += 1;
        }
        if board.private_round.is_some() {
            with_rounds.push(board);
        }
    }
    // The spaces are boards: their rows go in once every board is there.
    for board in &with_rounds {
        postgres.import_private_round(board)?;
    }
    for id in &ids {
        let (before, after) = (sqlite.any_journal(id)?, postgres.any_journal(id)?);
        let same = before.len() == after.len()
            && before.iter().zip(&after).all(|(a, b)| {
                a.seq == b.seq
                    && a.ts_ms == b.ts_ms
                    && a.actor == b.actor
                    && a.update_v1 == b.update_v1
            });
        if !same {
            return Err(StoreError::Corrupt(format!(
                "board {id}: PostgreSQL's journal differs from SQLite's after the move \
                 ({} entries there, {} here)",
                after.len(),
                before.len()
            )));
        }
    }
    Ok(moved)
}
