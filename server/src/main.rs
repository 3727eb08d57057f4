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
        #[command(flatten)]
        limits: LimitArgs,
        /// Browser origins allowed to open websockets (repeat or comma-separate); none: any.
        #[arg(long, value_delimiter = ',')]
        allowed_origin: Vec<String>,
    },
    /// Writes a consistent copy of the database, even while a server runs.
    Backup {
        #[arg(long, default_value = "./nouage-data")]
        data: PathBuf,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            data,
            public_url,
            admin_token,
            durability,
            room_idle_unload_secs,
            limits,
            allowed_origin,
        } => {
            let mut config = Config::new(listen, data);
            config.public_url = public_url;
            config.admin_token = admin_token.filter(|t| !t.is_empty());
            config.durability = durability;
            config.limits.room_idle_unload_ms = room_idle_unload_secs * 1_000;
            limits.apply(&mut config.limits);
            config.allowed_origins = allowed_origin
                .into_iter()
                .filter(|o| !o.is_empty())
                .collect();
            serve(config)
        }
        Command::Backup { data, out } => {
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

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
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
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
