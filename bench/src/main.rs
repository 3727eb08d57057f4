//! `nouage-bench`: drives any y-websocket-compatible relay and measures it.
//!
//! Modes (`--mode`):
//! - `fanout` (default): R receivers and S senders × U updates/s in one room; latency from a
//!   sender's update to its arrival at each receiver (one clock), p50/p99/max, messages, bytes.
//! - `ramp`: fan-out at growing receiver counts (`--steps`) until the p99 passes
//!   `--p99-bound-ms`; the largest room that held.
//! - `rooms`: N rooms, one client each writing B bytes; the server's resident memory 3 s after
//!   the last write, and again `--settle-secs` later with the clients still there.
//! - `seed` then `coldjoin`: boards holding a mind map of `--nodes` nodes are written (`seed`
//!   prints their URLs); after the caller restarted the server, `coldjoin --urls-file F` joins
//!   each once and times it.
//! - `decode`: no server; what a client's own decode and apply of a `--nodes` mind map cost
//!   (the floor under any cold join).
//! - `storm`: C clients over R rooms drop and reconnect at once; time until each is synced.
//! - `soak`: M minutes of clients visiting random boards among N; resident memory sampled.
//! - `outage`: starts a Nouage node on PostgreSQL behind a proxy of the bench's own, keeps
//!   writers busy, cuts PostgreSQL off for `--outage-secs`; the node's memory before, during
//!   and after.
//!
//! The URL template names the room and token, so the same run drives Nouage
//! (`ws://HOST/ws/{room}?token=T`), y-sweet (`ws://HOST/doc/ws/{room}`) or the Node
//! reference server (`ws://HOST/{room}`). With `--nouage-api`, boards are created through
//! Nouage's REST API first. Every mode prints one JSON object on stdout.

mod client;
mod cold;
mod fanout;
mod lean;
mod outage;
mod rooms;
mod soak;
mod storm;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use client::Target;

#[derive(Parser, Debug)]
#[command(about = "Load generator for y-websocket relays")]
struct Args {
    /// WebSocket URL with `{room}` (and optionally `{token}`) placeholders.
    #[arg(long)]
    url: String,
    /// Create boards through this Nouage base URL (http://HOST:PORT) and use their editor token.
    #[arg(long)]
    nouage_api: Option<String>,
    /// Nouage's admin token, so creating many boards is not rate-limited.
    #[arg(long)]
    admin_token: Option<String>,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Other nodes serving the same boards (`host:port`, comma-separated): the fan-out's
    /// clients are spread over the target and these (several nodes on PostgreSQL and Redis).
    #[arg(long, value_delimiter = ',')]
    spread_over: Vec<String>,
    /// fanout, ramp, rooms, seed, coldjoin, storm, soak or outage.
    #[arg(long, default_value = "fanout")]
    mode: String,
    #[arg(long, default_value_t = 100)]
    receivers: usize,
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Updates per second of each sender.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// Seconds each sender sends (fanout, each step of ramp).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Receiver counts of the ramp's steps.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,200,300,500,700,850,1000,1250,1500,1750,2000,2250,2500,3000"
    )]
    steps: Vec<usize>,
    /// The ramp stops at the first step whose p99 passes this.
    #[arg(long, default_value_t = 100.0)]
    p99_bound_ms: f64,
    /// Rooms (rooms, storm, soak).
    #[arg(long, default_value_t = 2_000)]
    rooms: usize,
    /// Bytes of text each client of the `rooms` mode writes into its room.
    #[arg(long, default_value_t = 20_000)]
    doc_bytes: usize,
    /// Boards written by `seed`.
    #[arg(long, default_value_t = 5)]
    boards: usize,
    /// Nodes of each mind map (seed, coldjoin, storm).
    #[arg(long, default_value_t = 10_000)]
    nodes: usize,
    /// The file of URLs `seed` printed, one per line (coldjoin).
    #[arg(long)]
    urls_file: Option<PathBuf>,
    /// Clients of the storm.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// Minutes of churn (soak).
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Clients visiting boards at once (soak).
    #[arg(long, default_value_t = 20)]
    workers: usize,
    /// Seconds after the first memory reading of the `rooms` mode to read it again.
    #[arg(long, default_value_t = 20)]
    settle_secs: u64,
    /// The `nouage` binary the `outage` mode starts.
    #[arg(long, default_value = "target/release/nouage")]
    nouage_binary: String,
    /// The PostgreSQL database the `outage` mode's node uses, through the bench's proxy.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the `outage` mode's node listens.
    #[arg(long, default_value = "127.0.0.1:7890")]
    listen: String,
    /// Seconds PostgreSQL is cut off (outage).
    #[arg(long, default_value_t = 20)]
    outage_secs: u64,
    /// Writers per board (outage).
    #[arg(long, default_value_t = 10)]
    writers_per_board: usize,
    /// Bytes of text in each update (outage).
    #[arg(long, default_value_t = 4_096)]
    update_bytes: usize,
    /// Seconds to wait for idle rooms to unload before reading memory (soak).
    #[arg(long, default_value_t = 45)]
    idle_wait_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = Target {
        url: args.url.clone(),
        api: args.nouage_api.clone(),
        admin_token: args.admin_token.clone(),
    };
    let load = fanout::Load {
        receivers: args.receivers,
        senders: args.senders,
        rate: args.rate.max(1),
        seconds: args.seconds,
    };
    let report = match args.mode.as_str() {
        "fanout" => fanout::run(&target, "bench", load, &args.spread_over).await?,
        "ramp" => fanout::ramp(&target, &args.steps, load, args.p99_bound_ms).await?,
        "rooms" => {
            let settle = std::time::Duration::from_secs(args.settle_secs);
            rooms::run(&target, args.rooms, args.doc_bytes, settle, args.server_pid).await?
        }
        "seed" => {
            let urls = cold::seed(&target, args.boards, args.nodes).await?;
            serde_json::json!({ "urls": urls })
        }
        "coldjoin" => {
            let file = args
                .urls_file
                .as_ref()
                .context("coldjoin needs --urls-file")?;
            let urls: Vec<String> = std::fs::read_to_string(file)?
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            cold::join_each(&urls, args.nodes).await?
        }
        "decode" => cold::decode_times(args.nodes)?,
        "storm" => storm::run(&target, args.clients, args.rooms, args.nodes).await?,
        "soak" => {
            let soak = soak::Soak {
                rooms: args.rooms,
                minutes: args.minutes,
                workers: args.workers,
                idle_wait_secs: args.idle_wait_secs,
                sample_every_secs: 10,
            };
            soak::run(&target, soak, args.server_pid).await?
        }
        "outage" => {
            outage::run(outage::Outage {
                nouage_binary: args.nouage_binary.clone(),
                database_url: args
                    .database_url
                    .clone()
                    .context("outage needs --database-url")?,
                listen: args.listen.clone(),
                boards: args.boards,
                writers_per_board: args.writers_per_board,
                rate: args.rate,
                update_bytes: args.update_bytes,
                warm_secs: args.seconds,
                outage_secs: args.outage_secs,
                settle_secs: args.settle_secs,
            })
            .await?
        }
        other => anyhow::bail!("unknown mode {other}"),
    };
    println!("{report}");
    Ok(())
}
