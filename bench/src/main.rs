//! `nouage-bench`: drives any y-websocket-compatible relay and measures it.
//!
//! `--mode fanout` (default): R receivers and S senders join one room; each sender makes U
//! updates per second for D seconds, each carrying its send time; every receiver records the
//! delay from the send to its arrival (one clock: the same process). Prints p50/p99/max,
//! messages and bytes.
//!
//! `--mode rooms`: N rooms, one client each, each client writes a document of B bytes; then
//! the server's resident memory (`--server-pid`, read from `/proc`) with every room loaded.
//!
//! The URL template names the room and token, so the same run drives Nouage
//! (`ws://HOST/ws/{room}?token=T`), y-sweet (`ws://HOST/doc/ws/{room}`) or the Node
//! reference server (`ws://HOST/{room}`). With `--nouage-api`, a board is created first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use shared::protocol::{self, Message};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Map, StateVector, Transact};

/// The marker around the send time inside each update's content.
const MARK: &[u8] = b"@@T";

#[derive(Parser, Debug)]
#[command(about = "Fan-out latency of a y-websocket relay")]
struct Args {
    /// WebSocket URL with `{room}` (and optionally `{token}`) placeholders.
    #[arg(long)]
    url: String,
    /// Create a board through this Nouage base URL (http://HOST:PORT) and use its editor token.
    #[arg(long)]
    nouage_api: Option<String>,
    /// Room name when no board is created.
    #[arg(long, default_value = "bench")]
    room: String,
    #[arg(long, default_value_t = 100)]
    receivers: usize,
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Updates per second of each sender.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `fanout` or `rooms`.
    #[arg(long, default_value = "fanout")]
    mode: String,
    /// Rooms of the `rooms` mode.
    #[arg(long, default_value_t = 2_000)]
    rooms: usize,
    /// Bytes of text each client of the `rooms` mode writes into its room.
    #[arg(long, default_value_t = 20_000)]
    doc_bytes: usize,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Nouage's admin token, so creating many boards is not rate-limited.
    #[arg(long)]
    admin_token: Option<String>,
}

/// Opens a websocket with Nagle's algorithm off, as browsers do, so the client adds no delay.
async fn connect(
    url: &str,
) -> anyhow::Result<(
    Socket,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    Ok(tokio_tungstenite::connect_async_with_config(url, None, true).await?)
}

/// Resident memory of a process in MB, from `/proc/PID/status`.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// N rooms with one client each, each writing `doc_bytes` of text; reports resident memory.
async fn rooms(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let baseline = args.server_pid.and_then(rss_mb);
    let mut clients = Vec::with_capacity(args.rooms);
    let text: String = "Idée partagée, écrite à plusieurs. ".repeat(args.doc_bytes / 36 + 1);
    let text = &text[..text
        .char_indices()
        .nth(args.doc_bytes)
        .map_or(text.len(), |(i, _)| i)];
    for i in 0..args.rooms {
        let (room, token) = match &args.nouage_api {
            Some(api) => create_board_with(api, args.admin_token.as_deref()).await?,
            None => (format!("{}-{i}", args.room), String::new()),
        };
        let url = args.url.replace("{room}", &room).replace("{token}", &token);
        let (socket, _) = connect(&url)
            .await
            .with_context(|| format!("client {i} connect"))?;
        let (mut sink, mut stream) = socket.split();
        let doc = Doc::new();
        let body = doc.get_or_insert_text("bench");
        let update = {
            let mut txn = doc.transact_mut();
            yrs::Text::push(&body, &mut txn, text);
            txn.encode_update_v1()
        };
        sink.send(WsMessage::Binary(Bytes::from(protocol::encode(
            &Message::Update(&update),
        ))))
        .await?;
        // Keep reading (pings, the server's step 1) so the connection stays healthy.
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let WsMessage::Binary(frame) = message
                    && let Ok(messages) = protocol::decode_frame(&frame, usize::MAX)
                    && messages.iter().any(|m| matches!(m, Message::SyncStep1(_)))
                {
                    let reply = protocol::encode(&Message::SyncStep2(&[0, 0]));
                    let _ = sink.send(WsMessage::Binary(Bytes::from(reply))).await;
                }
            }
        });
        clients.push(reader);
    }
    let connected_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let loaded = args.server_pid.and_then(rss_mb);
    let report = serde_json::json!({
        "rooms": args.rooms,
        "doc_bytes": args.doc_bytes,
        "connect_and_write_s": connected_s,
        "rss_before_mb": baseline,
        "rss_loaded_mb": loaded,
    });
    println!("{report}");
    for client in clients {
        client.abort();
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    latencies_us: Mutex<Vec<u64>>,
    messages: AtomicU64,
    bytes: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.mode == "rooms" {
        return rooms(&args).await;
    }
    let (room, token) = match &args.nouage_api {
        Some(api) => create_board_with(api, args.admin_token.as_deref()).await?,
        None => (args.room.clone(), String::new()),
    };
    let url = args.url.replace("{room}", &room).replace("{token}", &token);
    let start = Instant::now();
    let totals = Arc::new(Totals::default());
    let mut receivers = Vec::new();
    for _ in 0..args.receivers {
        let (socket, _) = connect(&url).await.context("receiver connect")?;
        receivers.push(tokio::spawn(receive(socket, start, totals.clone())));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut senders = Vec::new();
    for id in 0..args.senders {
        let (socket, _) = connect(&url).await.context("sender connect")?;
        senders.push(tokio::spawn(send(
            socket,
            id,
            args.rate,
            args.seconds,
            start,
        )));
    }
    for sender in senders {
        sender.await??;
    }
    // Let the last updates arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expected =
        (args.senders as u64) * u64::from(args.rate) * args.seconds * args.receivers as u64;
    let mut latencies = totals.latencies_us.lock().await.clone();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let report = serde_json::json!({
        "receivers": args.receivers,
        "senders": args.senders,
        "rate_per_sender": args.rate,
        "seconds": args.seconds,
        "updates_expected": expected,
        "updates_received": latencies.len(),
        "messages": totals.messages.load(Ordering::Relaxed),
        "bytes": totals.bytes.load(Ordering::Relaxed),
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "max_ms": latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
    });
    println!("{report}");
    for receiver in receivers {
        receiver.abort();
    }
    Ok(())
}

async fn create_board_with(
    api: &str,
    admin_token: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(format!("{api}/api/boards"))
        .json(&serde_json::json!({"kind": "mindmap", "title": "bench"}));
    if let Some(token) = admin_token {
        request = request.bearer_auth(token);
    }
    let response: serde_json::Value = request.send().await?.json().await?;
    let id = response["id"].as_str().context("no board id")?.to_owned();
    let token = response["tokens"]["editor"]
        .as_str()
        .context("no token")?
        .to_owned();
    Ok((id, token))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads every frame; answers the server's sync step 1 with an empty step 2; records the
/// latency of each marked update.
async fn receive(socket: Socket, start: Instant, totals: Arc<Totals>) {
    let (mut sink, mut stream) = socket.split();
    let mut local = Vec::new();
    while let Some(Ok(message)) = stream.next().await {
        let WsMessage::Binary(frame) = message else {
            continue;
        };
        let now_us = start.elapsed().as_micros() as u64;
        totals.messages.fetch_add(1, Ordering::Relaxed);
        totals
            .bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        let Ok(messages) = protocol::decode_frame(&frame, usize::MAX) else {
            continue;
        };
        for message in messages {
            match message {
                Message::SyncStep1(_) => {
                    let reply = protocol::encode(&Message::SyncStep2(&[0, 0]));
                    let _ = sink.send(WsMessage::Binary(Bytes::from(reply))).await;
                }
                Message::Update(update) | Message::SyncStep2(update) => {
                    let mut rest = update;
                    while let Some(sent_us) = next_mark(&mut rest) {
                        local.push(now_us.saturating_sub(sent_us));
                    }
                }
                _ => {}
            }
        }
        if !local.is_empty() {
            totals.latencies_us.lock().await.append(&mut local);
        }
    }
}

/// Finds the next `@@T<micros>@@` marker and returns its send time.
fn next_mark(rest: &mut &[u8]) -> Option<u64> {
    let at = rest.windows(MARK.len()).position(|w| w == MARK)?;
    let digits = &rest[at + MARK.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let value = std::str::from_utf8(&digits[..end]).ok()?.parse().ok();
    *rest = &digits[end..];
    value
}

/// Makes `rate` updates per second for `seconds`, each carrying its send time.
async fn send(
    socket: Socket,
    id: usize,
    rate: u32,
    seconds: u64,
    start: Instant,
) -> anyhow::Result<()> {
    let (mut sink, mut stream) = socket.split();
    let doc = Doc::new();
    let map = doc.get_or_insert_map("bench");
    // Drain what the server sends (its step 1, others' updates) so its queue never fills.
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let sv = yrs::updates::encoder::Encode::encode_v1(&StateVector::default());
    sink.send(WsMessage::Binary(Bytes::from(protocol::encode(
        &Message::SyncStep1(&sv),
    ))))
    .await?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    for seq in 0..u64::from(rate) * seconds {
        tick.tick().await;
        let sent_us = start.elapsed().as_micros() as u64;
        let update = {
            let mut txn = doc.transact_mut();
            map.insert(&mut txn, format!("s{id}"), format!("@@T{sent_us}@@{seq}"));
            txn.encode_update_v1()
        };
        debug_assert!(yrs::Update::decode_v1(&update).is_ok());
        sink.send(WsMessage::Binary(Bytes::from(protocol::encode(
            &Message::Update(&update),
        ))))
        .await?;
    }
    // Close cleanly once the server has read everything: dropping a socket with unread
    // data makes the kernel reset the connection, which can discard the last update.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = sink.close().await;
    drain.abort();
    Ok(())
}
