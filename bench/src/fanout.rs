//! Fan-out: R receivers and S senders in one room; each sender makes U updates per second,
//! each carrying its send time; every receiver records the delay from the send to its arrival
//! (one clock: the same process). The ramp repeats it with more and more receivers, each step
//! in a new room, to find the largest room that holds a p99 under a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use shared::protocol::{self, Message};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Map, StateVector, Transact};

use crate::client::{Socket, Target, connect, quantile};
use crate::lean::LeanSocket;

/// The marker around the send time inside each update's content.
const MARK: &[u8] = b"@@T";

#[derive(Clone, Copy)]
pub struct Load {
    pub receivers: usize,
    pub senders: usize,
    /// Updates per second of each sender.
    pub rate: u32,
    pub seconds: u64,
}

#[derive(Default)]
struct Totals {
    latencies_us: Mutex<Vec<u64>>,
    messages: AtomicU64,
    bytes: AtomicU64,
}

/// `url` with its `host:port` replaced by `node`'s.
fn on_node(url: &str, node: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("ws", url));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("{scheme}://{node}{path}")
}

/// One fan-out run in a new room; returns its report. With `spread` (other nodes' `host:port`
/// serving the same boards), receivers and senders are spread over the target and those nodes
/// in turn.
pub async fn run(
    target: &Target,
    room: &str,
    load: Load,
    spread: &[String],
) -> anyhow::Result<serde_json::Value> {
    let url = target.new_room(room).await?;
    let urls: Vec<String> = std::iter::once(url.clone())
        .chain(spread.iter().map(|node| on_node(&url, node)))
        .collect();
    let start = Instant::now();
    let totals = Arc::new(Totals::default());
    let mut receivers = Vec::new();
    for i in 0..load.receivers {
        let socket = LeanSocket::connect(&urls[i % urls.len()])
            .await
            .context("receiver connect")?;
        receivers.push(tokio::spawn(receive(socket, start, totals.clone())));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut senders = Vec::new();
    for id in 0..load.senders {
        let socket = connect(&urls[(id + 1) % urls.len()])
            .await
            .context("sender connect")?;
        senders.push(tokio::spawn(sender(socket, id, load, start)));
    }
    for sender in senders {
        sender.await??;
    }
    // Let the last updates arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for receiver in &receivers {
        receiver.abort();
    }
    let expected =
        (load.senders as u64) * u64::from(load.rate) * load.seconds * load.receivers as u64;
    let mut latencies: Vec<f64> = totals
        .latencies_us
        .lock()
        .await
        .iter()
        .map(|&us| us as f64 / 1_000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(serde_json::json!({
        "receivers": load.receivers,
        "senders": load.senders,
        "nodes": urls.len(),
        "rate_per_sender": load.rate,
        "seconds": load.seconds,
        "updates_expected": expected,
        "updates_received": latencies.len(),
        "messages": totals.messages.load(Ordering::Relaxed),
        "bytes": totals.bytes.load(Ordering::Relaxed),
        "p50_ms": quantile(&latencies, 0.5),
        "p99_ms": quantile(&latencies, 0.99),
        "max_ms": latencies.last().copied().unwrap_or(0.0),
    }))
}

/// Fan-out at each receiver count of `steps` in turn, until the p99 passes `p99_bound_ms` or
/// fewer than 99 % of the updates arrive; reports every step and the largest that held.
pub async fn ramp(
    target: &Target,
    steps: &[usize],
    load: Load,
    p99_bound_ms: f64,
) -> anyhow::Result<serde_json::Value> {
    let mut reports = Vec::new();
    let mut largest_held = 0;
    for (i, &receivers) in steps.iter().enumerate() {
        let report = match run(
            target,
            &format!("ramp-{i}"),
            Load { receivers, ..load },
            &[],
        )
        .await
        {
            Ok(report) => report,
            Err(error) => {
                reports
                    .push(serde_json::json!({"receivers": receivers, "error": error.to_string()}));
                break;
            }
        };
        let p99 = report["p99_ms"].as_f64().unwrap_or(f64::MAX);
        let received = report["updates_received"].as_f64().unwrap_or(0.0);
        let expected = report["updates_expected"].as_f64().unwrap_or(1.0);
        eprintln!("  ramp: {receivers} receivers, p99 {p99:.1} ms, {received}/{expected} updates");
        reports.push(report);
        if p99 > p99_bound_ms || received < 0.99 * expected {
            break;
        }
        largest_held = receivers;
        // Let the server close the last step's connections before the next.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(serde_json::json!({
        "p99_bound_ms": p99_bound_ms,
        "senders": load.senders,
        "rate_per_sender": load.rate,
        "largest_room_receivers": largest_held,
        "steps": reports,
    }))
}

/// Reads every message; answers the server's sync step 1 with an empty step 2; records the
/// latency of each marked update.
async fn receive(mut socket: LeanSocket, start: Instant, totals: Arc<Totals>) {
    let mut local = Vec::new();
    let step2 = protocol::encode(&Message::SyncStep2(&[0, 0]));
    while let Ok(Some(frame)) = socket.next_message().await {
        let now_us = start.elapsed().as_micros() as u64;
        totals.messages.fetch_add(1, Ordering::Relaxed);
        totals
            .bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        let Ok(messages) = protocol::decode_frame(frame, usize::MAX) else {
            continue;
        };
        let mut answer = false;
        for message in messages {
            match message {
                Message::SyncStep1(_) => answer = true,
                Message::Update(update) | Message::SyncStep2(update) => {
                    let mut rest = update;
                    while let Some(sent_us) = next_mark(&mut rest) {
                        local.push(now_us.saturating_sub(sent_us));
                    }
                }
                _ => {}
            }
        }
        if answer && socket.send_binary(&step2).await.is_err() {
            break;
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
async fn sender(socket: Socket, id: usize, load: Load, start: Instant) -> anyhow::Result<()> {
    let (mut sink, mut stream) = socket.split();
    let doc = Doc::new();
    let map = doc.get_or_insert_map("bench");
    // Drain what the server sends (its step 1, others' updates) so its queue never fills.
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let state_vector = StateVector::default().encode_v1();
    use futures_util::SinkExt;
    let frame = |message: &Message| WsMessage::Binary(protocol::encode(message).into());
    sink.send(frame(&Message::SyncStep1(&state_vector))).await?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(load.rate)));
    for seq in 0..u64::from(load.rate) * load.seconds {
        tick.tick().await;
        let sent_us = start.elapsed().as_micros() as u64;
        let update = {
            let mut txn = doc.transact_mut();
            map.insert(&mut txn, format!("s{id}"), format!("@@T{sent_us}@@{seq}"));
            txn.encode_update_v1()
        };
        sink.send(frame(&Message::Update(&update))).await?;
    }
    // Close cleanly once the server has read everything: dropping a socket with unread
    // data makes the kernel reset the connection, which can discard the last update.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = sink.close().await;
    drain.abort();
    Ok(())
}
