//! Backup and restore of the SQLite store, and the lock that keeps one server per data
//! directory.
//!
//! A backup is `VACUUM INTO`: one read transaction, so it is consistent while the server
//! writes (WAL lets it read beside the writer). A restore checks the file first, keeps the
//! database it replaces beside it, and refuses to run while a server holds the directory.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::sqlite::{DB_FILE_NAME, SCHEMA_VERSION};
use super::{StoreError, StoreResult};

const LOCK_FILE_NAME: &str = "nouage.lock";

/// An exclusive hold on a data directory, released when dropped (or when the process dies).
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the directory, or says that another process (a server, a restore) has it.
    pub fn acquire(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(LOCK_FILE_NAME))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy(format!(
                "another nouage process (a server or a restore) is using {}",
                data_dir.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

/// What a backup or restore found in the database it copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub boards: i64,
    pub journal_entries: i64,
}

/// Writes a consistent copy of the database under `data_dir` to `out` (which must not exist).
pub fn backup(data_dir: &Path, out: &Path) -> StoreResult<Contents> {
    let source = data_dir.join(DB_FILE_NAME);
    if !source.is_file() {
        return Err(StoreError::Corrupt(format!(
            "no database at {}",
            source.display()
        )));
    }
    if out.exists() {
        return Err(StoreError::Busy(format!(
            "{} already exists; choose a new file",
            out.display()
        )));
    }
    let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let out_text = out
        .to_str()
        .ok_or_else(|| StoreError::Corrupt("the output path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [out_text])?;
    check(out)
}

/// Replaces the database under `data_dir` with the backup `from`, after checking it. The
/// database it replaces is kept beside it; returns where.
pub fn restore(data_dir: &Path, from: &Path) -> StoreResult<(Contents, Option<PathBuf>)> {
    let _lock = DataDirLock::acquire(data_dir)?;
    let contents = check(from)?;
    let target = data_dir.join(DB_FILE_NAME);
    let kept = if target.is_file() {
        let kept = data_dir.join(format!(
            "{DB_FILE_NAME}.before-restore-{}",
            crate::room::now_ms()
        ));
        let conn = Connection::open(&target)?;
        let kept_text = kept
            .to_str()
            .ok_or_else(|| StoreError::Corrupt("the data path is not UTF-8".into()))?;
        conn.execute("VACUUM INTO ?1", [kept_text])?;
        Some(kept)
    } else {
        None
    };
    let mut conn = Connection::open(&target)?;
    conn.restore(
        rusqlite::MAIN_DB,
        from,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    drop(conn);
    check(&target)?;
    Ok((contents, kept))
}

/// Checks that `path` is a sound Nouage database this server can read.
pub fn check(path: &Path) -> StoreResult<Contents> {
    let corrupt = |what: String| StoreError::Corrupt(format!("{}: {what}", path.display()));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| corrupt(e.to_string()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| corrupt(format!("not a SQLite database ({e})")))?;
    if integrity != "ok" {
        return Err(corrupt(format!("integrity check failed: {integrity}")));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 || version > SCHEMA_VERSION {
        return Err(corrupt(format!(
            "not a Nouage database of a known version (version {version})"
        )));
    }
    let count = |table: &str| -> StoreResult<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))
    };
    Ok(Contents {
        boards: count("boards")?,
        journal_entries: count("journal")?,
    })
}
