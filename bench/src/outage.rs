//! A PostgreSQL outage under load: the bench puts a TCP proxy of its own between a Nouage
//! node it starts and PostgreSQL, keeps writers busy on several boards (each reconnecting
//! whenever it is closed), cuts the proxy for a while, and reads the node's resident memory
//! before, all through and after the outage. A node must not keep what it cannot store: its
//! memory stays flat while clients keep sending and reconnecting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use shared::protocol::{self, Message};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::{Text, Transact};

use crate::client::{Rss, Target, connect};

/// What the run is asked to do.
pub struct Outage {
    pub nouage_binary: String,
    pub database_url: String,
    pub listen: String,
    pub boards: usize,
    pub writers_per_board: usize,
    pub rate: u32,
    pub update_bytes: usize,
    pub warm_secs: u64,
    pub outage_secs: u64,
    pub settle_secs: u64,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    joins: AtomicU64,
    refused: AtomicU64,
    paused_closes: AtomicU64,
}

/// A TCP proxy that drops every connection, and refuses new ones, while `cut` is true.
async fn proxy(listener: TcpListener, target: String, cut: watch::Receiver<bool>) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let (target, mut cut) = (target.clone(), cut.clone());
        tokio::spawn(async move {
            if *cut.borrow() {
                return;
            }
            let Ok(mut outbound) = TcpStream::connect(&target).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}

/// The database URL cut around its host and port: (scheme and credentials, `host:port`, path).
fn split_url(url: &str) -> anyhow::Result<(String, &str, &str)> {
    let (scheme, rest) = url.split_once("://").context("a postgres:// URL")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((credentials, host_port)) => (format!("{credentials}@"), host_port),
        None => (String::new(), authority),
    };
    Ok((format!("{scheme}://{credentials}"), host_port, path))
}

/// One writer: sends an update of `update_bytes` at `rate` per second, reconnecting after any
/// close, until `stop`.
async fn writer(url: String, load: (u32, usize), counts: Arc<Counts>, stop: watch::Receiver<bool>) {
    let (rate, update_bytes) = load;
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("t");
    let chunk = "x".repeat(update_bytes);
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    while !*stop.borrow() {
        counts.joins.fetch_add(1, Ordering::Relaxed);
        let Ok(socket) = connect(&url).await else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let (mut sink, mut stream) = socket.split();
        let reader_counts = counts.clone();
        let mut reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let WsMessage::Close(Some(frame)) = message {
                    if u16::from(frame.code) == shared::wire::close::STORAGE_PAUSED {
                        reader_counts.paused_closes.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
            }
        });
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = &mut reader => break,
                _ = tick.tick() => {
                    if *stop.borrow() {
                        break;
                    }
                    let update = {
                        let mut txn = doc.transact_mut();
                        text.push(&mut txn, &chunk);
                        txn.encode_update_v1()
                    };
                    let frame = protocol::encode(&Message::Update(&update));
                    counts.sent_bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    if sink.send(WsMessage::Binary(frame.into())).await.is_err() {
                        break;
                    }
                }
            }
        }
        reader.abort();
        // A new connection after a pause: as the web app does (with a longer backoff).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Resident memory sampled every 100 ms for `span`: (largest, last).
async fn watch_memory(pid: u32, span: Duration) -> (Rss, Rss) {
    let started = Instant::now();
    let first = Rss::of(pid).expect("the node runs");
    let (mut peak, mut last) = (first, first);
    while started.elapsed() < span {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(now) = Rss::of(pid) {
            if now.total_mb > peak.total_mb {
                peak = now;
            }
            last = now;
        }
    }
    (peak, last)
}

fn snapshot(counts: &Counts) -> serde_json::Value {
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    serde_json::json!({
        "updates_sent": get(&counts.sent),
        "mb_sent": get(&counts.sent_bytes) as f64 / 1e6,
        "connections_tried": get(&counts.joins),
        "connections_refused": get(&counts.refused),
        "closed_4503": get(&counts.paused_closes),
    })
}

pub async fn run(outage: Outage) -> anyhow::Result<serde_json::Value> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_address = listener.local_addr()?.to_string();
    let (head, target, path) = split_url(&outage.database_url)?;
    let proxied_url = format!("{head}{proxy_address}/{path}");
    let (cut, cut_rx) = watch::channel(false);
    tokio::spawn(proxy(listener, target.to_owned(), cut_rx));
    let data = std::env::temp_dir().join(format!("nouage-outage-{}", std::process::id()));
    let mut node = tokio::process::Command::new(&outage.nouage_binary)
        .args(["serve", "--listen", &outage.listen, "--data"])
        .arg(&data)
        .args([
            "--database-url",
            &proxied_url,
            "--max-board-creations-per-minute",
            "100000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the node")?;
    let pid = node.id().context("the node's pid")?;
    let api = format!("http://{}", outage.listen);
    let target = Target {
        url: format!("ws://{}/ws/{{room}}?token={{token}}", outage.listen),
        api: Some(api.clone()),
        admin_token: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::builder().no_proxy().build()?;
    while http.get(format!("{api}/readyz")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counts = Arc::new(Counts::default());
    let (stop, stop_rx) = watch::channel(false);
    let mut writers = Vec::new();
    for b in 0..outage.boards {
        let url = target.new_room(&format!("outage-{b}")).await?;
        for _ in 0..outage.writers_per_board {
            writers.push(tokio::spawn(writer(
                url.clone(),
                (outage.rate.max(1), outage.update_bytes),
                counts.clone(),
                stop_rx.clone(),
            )));
        }
    }
    let (_, before) = watch_memory(pid, Duration::from_secs(outage.warm_secs)).await;
    let at_cut = snapshot(&counts);
    cut.send_replace(true);
    let (peak_during, end_of_outage) =
        watch_memory(pid, Duration::from_secs(outage.outage_secs)).await;
    let during = snapshot(&counts);
    cut.send_replace(false);
    let (peak_after, after) = watch_memory(pid, Duration::from_secs(outage.settle_secs)).await;
    stop.send_replace(true);
    for writer in writers {
        let _ = writer.await;
    }
    let at_end = snapshot(&counts);
    let _ = node.kill().await;
    let _ = std::fs::remove_dir_all(&data);
    let mb = |rss: Rss| (rss.total_mb * 10.0).round() / 10.0;
    Ok(serde_json::json!({
        "mode": "outage",
        "boards": outage.boards,
        "writers": outage.boards * outage.writers_per_board,
        "update_bytes": outage.update_bytes,
        "rate_per_writer": outage.rate,
        "outage_secs": outage.outage_secs,
        "rss_mb": {
            "before_outage": mb(before),
            "peak_during_outage": mb(peak_during),
            "end_of_outage": mb(end_of_outage),
            "peak_after": mb(peak_after),
            "after": mb(after),
        },
        "counts_at_cut": at_cut,
        "counts_at_end_of_outage": during,
        "counts_at_end": at_end,
    }))
}
