//! What every scenario shares: opening a websocket, making a room on the target, joining it
//! (the y-websocket sync handshake) and reading a process's resident memory.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use shared::protocol::{self, Message};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a websocket with Nagle's algorithm off, as browsers do, so the client adds no delay.
///
/// Its read buffer is 16 KiB instead of tungstenite's 128 KiB: tungstenite zero-fills the free
/// part of that buffer before every read, so with a thousand receivers each reading one small
/// frame at a time, that fill was 44 % of the load generator's CPU (perf, 1,000 receivers) and
/// left the server under test less of the two cores.
pub async fn connect(url: &str) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    Ok(
        tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await?
            .0,
    )
}

const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Resident memory of a process in MB, from `/proc/PID/status`.
pub fn rss_mb(pid: u32) -> Option<f64> {
    Some(Rss::of(pid)?.total_mb)
}

/// A process's resident memory split as the kernel counts it: `anon_mb` is what the process
/// allocated (heap, stacks), `file_mb` the pages of mapped files it touched (its own binary's
/// code, shared libraries), which grow once as code paths first run and never leak.
#[derive(Clone, Copy, Debug)]
pub struct Rss {
    pub total_mb: f64,
    pub anon_mb: f64,
    pub file_mb: f64,
}

impl Rss {
    pub fn of(pid: u32) -> Option<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Some(Rss {
            total_mb: field("VmRSS:")?,
            anon_mb: field("RssAnon:")?,
            file_mb: field("RssFile:")? + field("RssShmem:").unwrap_or(0.0),
        })
    }
}

/// The relay under test: a URL template with `{room}` (and `{token}`), and for Nouage the base
/// of its REST API, where boards are created first (with the admin token, so creating
/// thousands is not rate-limited).
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub api: Option<String>,
    pub admin_token: Option<String>,
}

impl Target {
    /// The websocket URL of a new empty room (on Nouage, a new mind map board).
    pub async fn new_room(&self, name: &str) -> anyhow::Result<String> {
        match &self.api {
            Some(api) => {
                let request = self
                    .client()?
                    .post(format!("{api}/api/boards"))
                    .json(&serde_json::json!({"kind": "mindmap", "title": name}));
                self.room_url_from(request).await
            }
            None => Ok(self.url.replace("{room}", name).replace("{token}", "")),
        }
    }

    /// The websocket URL of a new room holding `update` (a whole document): on Nouage a board
    /// imported from it (`POST /api/boards/import?format=yjs`), elsewhere a room a client wrote
    /// it into, once the server confirmed it holds it.
    pub async fn seeded_room(&self, name: &str, update: &[u8]) -> anyhow::Result<String> {
        if let Some(api) = &self.api {
            let request = self
                .client()?
                .post(format!("{api}/api/boards/import?format=yjs"))
                .body(update.to_vec());
            return self.room_url_from(request).await;
        }
        let url = self.new_room(name).await?;
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(Update::decode_v1(update)?)?;
        let state_vector = doc.transact().state_vector().encode_v1();
        let mut socket = connect(&url).await?;
        send(&mut socket, &Message::Update(update)).await?;
        // The server answers a step 1 after it applied what came before it on the connection.
        send(&mut socket, &Message::SyncStep1(&state_vector)).await?;
        wait_for_step2(&mut socket).await?;
        let _ = socket.close(None).await;
        Ok(url)
    }

    fn client(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder().no_proxy().build()?)
    }

    async fn room_url_from(&self, request: reqwest::RequestBuilder) -> anyhow::Result<String> {
        let request = match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await?;
        if !response.status().is_success() {
            bail!("creating a board: {}", response.status());
        }
        let body: serde_json::Value = response.json().await?;
        let id = body["id"].as_str().context("no board id")?;
        let token = body["tokens"]["editor"].as_str().context("no token")?;
        Ok(self.url.replace("{room}", id).replace("{token}", token))
    }
}

pub async fn send(socket: &mut Socket, message: &Message<'_>) -> anyhow::Result<()> {
    socket
        .send(WsMessage::Binary(Bytes::from(protocol::encode(message))))
        .await?;
    Ok(())
}

/// Reads until a sync step 2 arrives and returns its update; answers the server's step 1.
pub async fn wait_for_step2(socket: &mut Socket) -> anyhow::Result<Vec<u8>> {
    while let Some(message) = socket.next().await {
        let WsMessage::Binary(frame) = message? else {
            continue;
        };
        let messages = protocol::decode_frame(&frame, usize::MAX)?;
        let mut answer = false;
        let mut step2 = None;
        for message in messages {
            match message {
                Message::SyncStep1(_) => answer = true,
                Message::SyncStep2(update) => step2 = Some(update.to_vec()),
                _ => {}
            }
        }
        if answer {
            send(socket, &Message::SyncStep2(&[0, 0])).await?;
        }
        if let Some(update) = step2 {
            return Ok(update);
        }
    }
    bail!("the connection closed before the sync step 2")
}

/// A client joining a room as a Yjs client does: opens the websocket, sends its (empty) state
/// vector, applies the server's sync step 2. Returns the open socket, the document and the
/// time from before the connection opened to the step 2 applied.
pub async fn join(url: &str) -> anyhow::Result<(Socket, Doc, Duration)> {
    let joined = join_timed(url).await?;
    Ok((joined.socket, joined.doc, joined.applied))
}

pub struct Joined {
    pub socket: Socket,
    pub doc: Doc,
    /// From before the connection opened to the step 2 received, then applied.
    pub received: Duration,
    pub applied: Duration,
}

pub async fn join_timed(url: &str) -> anyhow::Result<Joined> {
    let started = Instant::now();
    let mut socket = connect(url).await?;
    let empty = StateVector::default().encode_v1();
    send(&mut socket, &Message::SyncStep1(&empty)).await?;
    let update = wait_for_step2(&mut socket).await?;
    let received = started.elapsed();
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update)?)?;
    Ok(Joined {
        socket,
        doc,
        received,
        applied: started.elapsed(),
    })
}

/// The value at quantile `q` of sorted values (nearest rank below).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q) as usize]
}

/// A small xorshift generator: the scenarios need spread, not cryptography.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Sleeps for `ms` milliseconds.
pub async fn pause_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
