//! The `nouage` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use server::config::Config;
use server::store::{Durability, backup};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "nouage",
    version,
    about = "Nouage: real-time collaborative boards for shared local governance"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serves the web app, the REST API and the websocket relay on one port.
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory of the SQLite database.
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// Store boards in PostgreSQL instead (`postgres://user@host:port/database`); several
        /// nodes may share it. Migrations are applied at start.
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Several nodes on one database: the Redis server through which they tell each other
        /// what they committed (`redis://host:port`). Needs --database-url.
        #[arg(long, env = "NOUAGE_REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        /// The prefix of this cluster's Redis channels.
        #[arg(long, default_value = "nouage")]
        redis_channel_prefix: String,
        /// A key shared by the cluster's nodes: each signs what it publishes on Redis, and
        /// drops what is not signed with it.
        #[arg(long, env = "NOUAGE_REDIS_SECRET", hide_env_values = true)]
        redis_secret: Option<String>,
        /// Base of the links the API returns, when behind a reverse proxy.
        #[arg(long)]
        public_url: Option<String>,
        /// When set, creating a board needs `Authorization: Bearer <token>`.
        #[arg(long, env = "NOUAGE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// `fsync`: a committed edit survives a power cut; `process`: it survives a crash of
        /// the server process (faster on slow disks).
        #[arg(long, value_enum, default_value = "fsync")]
        durability: Durability,
        /// Seconds a board with nobody connected stays in memory.
        #[arg(long, default_value_t = 30)]
        room_idle_unload_secs: u64,
        /// Seconds a board whose connections only send awareness keeps its document decoded in
        /// memory (it is loaded again when needed).
        #[arg(long, default_value_t = 15)]
        room_sleep_after_secs: u64,
        /// Seconds a stop (SIGTERM, SIGINT) may take: connections and requests still open then
        /// are cut; what the rooms applied is committed first.
        #[arg(long, default_value_t = 10)]
        shutdown_timeout_secs: u64,
        #[command(flatten)]
        limits: LimitArgs,
        /// Browser origins allowed to open websockets (repeat or comma-separate); none: any.
        #[arg(long, value_delimiter = ',')]
        allowed_origin: Vec<String>,
        /// Hours a board's join code admits new participants after it was made or renewed.
        #[arg(long, default_value_t = 12)]
        join_code_ttl_hours: u32,
        /// Address of the reverse proxy in front of the server: requests from it are taken to
        /// come from the address it puts last in `X-Forwarded-For` (for the per-address limits).
        #[arg(long)]
        trusted_proxy: Option<std::net::IpAddr>,
    },
    /// Exports a board to a file, as `GET /api/boards/{id}/export` does; works while a server
    /// runs on the same data directory.
    Export {
        /// The board's id.
        board: String,
        /// svg png pdf md opml mm csv json yjs odt record-md record-pdf (those that fit the
        /// board's kind).
        #[arg(long)]
        format: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// Export the board as it was at this time (milliseconds since 1970).
        #[arg(long)]
        at: Option<i64>,
        /// A PostgreSQL database instead of `--data` (`postgres://...`).
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Builds the trace's record (who contributed what, each element's story) again from the
    /// journal, for one board or every board; nothing else changes. The server must be stopped.
    Reindex {
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// The board to reindex (default: every board).
        #[arg(long)]
        board: Option<String>,
        /// A PostgreSQL database instead of `--data` (`postgres://...`).
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Moves a SQLite data directory into PostgreSQL: every board with its whole journal,
    /// snapshots, join codes and options, then checks every journal arrived whole. The server
    /// must be stopped; boards already in the database are left as they are.
    Migrate {
        /// The data directory to move.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database to move it into (`postgres://user@host:port/database`).
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Takes a person's name out of every board, deleted ones included (their contributions
    /// stay, credited to "un·e participant·e"), and out of the data directory's files. The
    /// server must be stopped. Backups taken before keep it (docs/security.md).
    Erase {
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// The name, exactly as it was given.
        #[arg(long)]
        name: String,
        /// A PostgreSQL database instead of `--data` (`postgres://...`).
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Writes a consistent copy of the database, even while a server runs.
    Backup {
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
        /// A PostgreSQL database instead of `--data` (`postgres://...`).
        #[arg(long, env = "NOUAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Replaces the database with a backup, after checking it; the server must be stopped.
    /// The database it replaces is kept beside it.
    Restore {
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// The backup file to restore.
        #[arg(long)]
        from: PathBuf,
    },
}

/// Limits settable from the command line; each defaults to the value in `Limits::default()`.
#[derive(clap::Args)]
struct LimitArgs {
    /// Largest websocket message, in bytes (default 8 MiB).
    #[arg(long)]
    max_message_bytes: Option<usize>,
    /// Largest board document, in bytes (default 64 MiB).
    #[arg(long)]
    max_document_bytes: Option<usize>,
    /// Boards loaded in memory at once (default 10,000).
    #[arg(long)]
    max_rooms_loaded: Option<usize>,
    /// Connections to one board (default 2,000).
    #[arg(long)]
    max_clients_per_board: Option<usize>,
    /// Websocket messages per second per connection (default 200, bursts of twice that).
    #[arg(long)]
    max_messages_per_second: Option<u32>,
    /// Boards one address may create per minute (default 30; the admin token is exempt).
    #[arg(long)]
    max_board_creations_per_minute: Option<u32>,
    /// Exports, imports, restores and past-moment views running at once (default 2); more
    /// wait, and are answered 503 with Retry-After after 5 s.
    #[arg(long)]
    max_heavy_reads_in_flight: Option<usize>,
}

impl LimitArgs {
    fn apply(&self, limits: &mut server::Limits) {
        let set = |target: &mut usize, value: Option<usize>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        set(&mut limits.max_message_bytes, self.max_message_bytes);
        set(&mut limits.max_document_bytes, self.max_document_bytes);
        set(&mut limits.max_rooms_loaded, self.max_rooms_loaded);
        set(
            &mut limits.max_heavy_reads_in_flight,
            self.max_heavy_reads_in_flight.map(|n| n.max(1)),
        );
        set(
            &mut limits.max_clients_per_board,
            self.max_clients_per_board,
        );
        if let Some(rate) = self.max_messages_per_second {
            limits.max_messages_per_second = rate.max(1);
            limits.max_messages_burst = rate.max(1).saturating_mul(2);
        }
        if let Some(per_minute) = self.max_board_creations_per_minute {
            limits.max_board_creations_per_minute = per_minute;
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve { .. }) {
        restart_with_allocator_tunables();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            listen,
            data,
            database_url,
            redis_url,
            redis_channel_prefix,
            redis_secret,
            public_url,
            admin_token,
            durability,
            room_idle_unload_secs,
            room_sleep_after_secs,
            shutdown_timeout_secs,
            limits,
            allowed_origin,
            join_code_ttl_hours,
            trusted_proxy,
        } => {
            let mut config = Config::new(listen, data);
            config.database_url = database_url.filter(|u| !u.is_empty());
            config.redis_url = redis_url.filter(|u| !u.is_empty());
            config.redis_channel_prefix = redis_channel_prefix;
            config.redis_secret = redis_secret.filter(|s| !s.is_empty());
            config.public_url = public_url;
            config.admin_token = admin_token.filter(|t| !t.is_empty());
            config.durability = durability;
            config.limits.room_idle_unload_ms = room_idle_unload_secs * 1_000;
            config.limits.room_sleep_after_ms = room_sleep_after_secs * 1_000;
            config.limits.shutdown_timeout_ms = shutdown_timeout_secs.max(1) * 1_000;
            limits.apply(&mut config.limits);
            config.allowed_origins = allowed_origin
                .into_iter()
                .filter(|o| !o.is_empty())
                .collect();
            config.join_code_ttl_ms = i64::from(join_code_ttl_hours.max(1)) * 3_600_000;
            config.trusted_proxy = trusted_proxy;
            serve(config)
        }
        Command::Export {
            board,
            format,
            out,
            data,
            at,
            database_url,
        } => export(&board, &format, &out, &data, at, database_url.as_deref()),
        Command::Reindex {
            data,
            board,
            database_url,
        } => reindex(&data, board.as_deref(), database_url.as_deref()),
        Command::Migrate { from, database_url } => migrate(&from, &database_url),
        Command::Erase {
            data,
            name,
            database_url,
        } => erase(&data, &name, database_url.as_deref()),
        Command::Backup {
            database_url: Some(_),
            ..
        } => anyhow::bail!(
            "a PostgreSQL database is backed up with PostgreSQL's own tools: pg_dump, or base \
             backups with WAL archiving (docs/deploy.md)"
        ),
        Command::Backup { data, out, .. } => {
            let contents = backup::backup(&data, &out)?;
            println!(
                "backup written to {} ({} boards, {} journal entries)",
                out.display(),
                contents.boards,
                contents.journal_entries
            );
            Ok(())
        }
        Command::Restore { data, from } => {
            let (contents, kept) = backup::restore(&data, &from)?;
            let kept = kept.map(|k| format!("; the previous database is kept as {}", k.display()));
            println!(
                "restored {} ({} boards, {} journal entries){}",
                from.display(),
                contents.boards,
                contents.journal_entries,
                kept.unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn erase(data: &std::path::Path, name: &str, database_url: Option<&str>) -> anyhow::Result<()> {
    use server::store::SqliteStore;
    let name = name.trim();
    if name.is_empty() || name == shared::proxy::ERASED_NAME {
        anyhow::bail!("--name must name someone");
    }
    let (boards, entries) = match database_url {
        // The servers must be stopped: their rooms hold documents the erasure rewrites.
        Some(url) => {
            let store = server::store::PgStore::connect(url)?;
            server::erase::erase_everywhere(&store, name)?
        }
        None => {
            if !data.join(server::store::DB_FILE_NAME).exists() {
                anyhow::bail!("no Nouage database in {}", data.display());
            }
            // The server must not run: its rooms hold documents the erasure rewrites.
            let _lock = backup::DataDirLock::acquire(data)?;
            let store = SqliteStore::open(data, Durability::Fsync)?;
            server::erase::erase_everywhere(&store, name)?
        }
    };
    println!("erased {name:?} from {boards} boards ({entries} journal entries rewritten)");
    Ok(())
}

fn reindex(
    data: &std::path::Path,
    board: Option<&str>,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use server::store::{BoardId, PgStore, SqliteStore, Store};
    let wait = std::time::Duration::from_secs(EXPORT_TRACE_WAIT_SECS);
    let started = std::time::Instant::now();
    let chosen = |all: Vec<BoardId>, store: &dyn Store, place: &str| -> anyhow::Result<_> {
        let exists = |id: &BoardId| matches!(store.board(id), Ok(Some(_)));
        Ok(match board {
            Some(board) => vec![
                BoardId::parse(board)
                    .filter(exists)
                    .with_context(|| format!("board {board} not found in {place}"))?,
            ],
            None => all.into_iter().filter(exists).collect(),
        })
    };
    let each = |boards: &[BoardId],
                reindex: &dyn Fn(&BoardId) -> server::store::StoreResult<u64>| {
        boards.iter().try_fold(0, |entries, id| {
            let indexed = reindex(id).with_context(|| format!("reindexing board {id}"))?;
            Ok::<_, anyhow::Error>(entries + indexed)
        })
    };
    let (boards, entries) = match database_url {
        // Nodes still running index beside this: the record's progress row decides, per batch,
        // whose lands.
        Some(url) => {
            let store = PgStore::connect(url)?;
            let boards = chosen(store.all_board_ids()?, &store, "the database")?;
            (boards.len(), each(&boards, &|id| store.reindex(id, wait))?)
        }
        None => {
            if !data.join(server::store::DB_FILE_NAME).exists() {
                anyhow::bail!("no Nouage database in {}", data.display());
            }
            // The server must not run: its indexer would race this one for the same record.
            let _lock = backup::DataDirLock::acquire(data)?;
            let store = SqliteStore::open(data, Durability::Fsync)?;
            let place = data.display().to_string();
            let boards = chosen(store.board_ids()?, &store, &place)?;
            (boards.len(), each(&boards, &|id| store.reindex(id, wait))?)
        }
    };
    println!(
        "reindexed {boards} boards ({entries} journal entries) in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}

/// How long `nouage export` waits for a board's trace to be brought up to date (a board whose
/// record was never built, with a million entries, takes minutes).
const EXPORT_TRACE_WAIT_SECS: u64 = 3_600;

fn export(
    board: &str,
    format: &str,
    out: &std::path::Path,
    data: &std::path::Path,
    at: Option<i64>,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use server::export::Format;
    use server::store::{BoardId, SqliteStore, Store};
    let format = Format::parse(format).with_context(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {format:?}; formats: {}", names.join(" "))
    })?;
    let store: Box<dyn Store> = match database_url {
        Some(url) => Box::new(server::store::PgStore::connect(url)?),
        None => {
            if !data.join(server::store::DB_FILE_NAME).exists() {
                anyhow::bail!("no Nouage database in {}", data.display());
            }
            Box::new(SqliteStore::open(data, Durability::Fsync)?)
        }
    };
    let where_from =
        database_url.map_or_else(|| data.display().to_string(), |_| "the database".into());
    let record = BoardId::parse(board)
        .map(|id| store.board(&id))
        .transpose()?
        .flatten()
        .with_context(|| format!("board {board} not found in {where_from}"))?;
    if !format.fits(record.kind) {
        anyhow::bail!(
            "a {} board cannot be exported as {}; formats: {}",
            record.kind.as_str(),
            format.as_str(),
            Format::names_for(record.kind).join(" ")
        );
    }
    let started = std::time::Instant::now();
    let bytes = server::export::export(
        store.as_ref(),
        &record,
        format,
        at,
        std::time::Duration::from_secs(EXPORT_TRACE_WAIT_SECS),
        &server::pressure::Cancel::default(),
        // The operator reads real names, as the facilitator does.
        false,
    )?;
    // Written beside the target and renamed, so an interrupted export leaves no torn file.
    let partial = out.with_extension("partial");
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, out))
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "exported board {} as {} to {} ({} bytes in {} ms)",
        record.id,
        format.as_str(),
        out.display(),
        bytes.len(),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// glibc's allocator settings for a server whose rooms load and unload all day: no per-thread
/// cache of freed blocks (`tcache`) and no fast bins. Both keep small freed blocks aside
/// instead of merging them, scattered over pages that then cannot be given back to the system:
/// over a 5-minute soak (`cargo xtask bench --only soak`), resident memory grew by 10.8 % with
/// glibc's defaults and by 1.6–3.5 % with these, from a baseline 1.6 MB lower; the fan-out's
/// largest room is unchanged (docs/performance.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GLIBC_TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0";

/// glibc reads its tunables from the environment once, when a program starts, so `serve`
/// starts itself again in place with them (`exec`: same process id, arguments, environment and
/// open files). An operator's own `GLIBC_TUNABLES` is kept as given, which is also what stops a
/// second restart. If the restart fails the server runs with glibc's defaults.
fn restart_with_allocator_tunables() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let error = std::process::Command::new(&exe)
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .exec();
        eprintln!(
            "could not restart with the allocator's settings ({error}); running with glibc's defaults"
        );
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        let server = server::start(config).await?;
        let addr = server.addr();
        // The one line a script reads on stdout.
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        let stopper = server.stopper();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: closing connections and committing pending edits");
            let _ = stopper.send(true);
        });
        server.wait().await
    });
    // Blocking work still running (a read of a request that was cut) is not waited for: what
    // the rooms applied was committed by the stop.
    runtime.shutdown_background();
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn migrate(from: &std::path::Path, database_url: &str) -> anyhow::Result<()> {
    if !from.join(server::store::DB_FILE_NAME).exists() {
        anyhow::bail!("no Nouage database in {}", from.display());
    }
    // The server must be stopped: a journal written meanwhile would be left behind.
    let _lock = server::store::backup::DataDirLock::acquire(from)?;
    let moved = server::store::migrate::sqlite_to_postgres(from, database_url)?;
    println!(
        "moved {} boards ({} journal entries) to PostgreSQL; {} were there already",
        moved.boards, moved.entries, moved.already_there
    );
    Ok(())
}
