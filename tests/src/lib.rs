//! Helpers for Nouage's end-to-end tests: a server in this process or in a child process, a
//! board creator, a yrs client speaking the y-websocket protocol, and a runner for the stock
//! npm Yjs client in `tests/js`.
//!
//! Every test talks to the server through the boundaries a user sees: HTTP, the websocket
//! protocol, the process and its data directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use server::Config;
use shared::protocol::{self, AwarenessEntry, Message};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, TransactionMut, Update};

/// How long a test waits for something that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often [`poll_until`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Asks `probe` until it answers `Some`, at most [`WAIT`]: for what only a question can tell
/// (a row in the database, the clock) when nothing signals it. Panics naming `what`.
pub async fn poll_until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(answer) = probe().await {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("nouage-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some((base, name)) = postgres_database_of(&self.0) {
            let _ = server::store::drop_database(&base, &name);
        }
    }
}

/// Whether servers started by these helpers store boards in PostgreSQL
/// (`NOUAGE_TEST_STORE=postgres`, with `NOUAGE_TEST_DATABASE_URL` naming the server): the
/// relay and persistence tests run once on each store.
pub fn on_postgres() -> bool {
    std::env::var("NOUAGE_TEST_STORE").as_deref() == Ok("postgres")
}

/// The server's URL and the name of the database that stands for data directory `data` when
/// [`on_postgres`].
fn postgres_database_of(data: &Path) -> Option<(String, String)> {
    if !on_postgres() {
        return None;
    }
    let base = std::env::var("NOUAGE_TEST_DATABASE_URL")
        .expect("NOUAGE_TEST_STORE=postgres needs NOUAGE_TEST_DATABASE_URL");
    let hash = data
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    Some((base, format!("nouage_d_{hash:016x}")))
}

/// The PostgreSQL database that stands for data directory `data` when [`on_postgres`],
/// created on first use (a restart on the same directory finds the same boards) and dropped
/// with its [`TempDir`].
pub fn postgres_url_for(data: &Path) -> Option<String> {
    let (base, name) = postgres_database_of(data)?;
    Some(server::store::ensure_database(&base, &name).expect("a test database"))
}

/// A server started in this process on a free port.
pub struct TestServer {
    running: Option<server::RunningServer>,
    pub base: String,
}

impl TestServer {
    pub async fn start(data: &Path) -> Self {
        Self::start_with(data, |_| {}).await
    }

    /// Starts with settings adjusted by `adjust` (limits, admin token...).
    pub async fn start_with(data: &Path, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data.to_owned());
        config.database_url = postgres_url_for(data);
        adjust(&mut config);
        // The data directory's lock is an flock: a test of this binary spawning a process at
        // the moment a server stopped gives the child a copy of the lock's descriptor until
        // its exec closes it, so a restart on the same directory may find it held for a
        // moment.
        let mut tries = 0;
        let running = loop {
            match server::start(config.clone()).await {
                Ok(running) => break running,
                Err(e) if tries < 50 && e.to_string().contains("another nouage process") => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("server starts: {e:#}"),
            }
        };
        let base = format!("http://{}", running.addr());
        TestServer {
            running: Some(running),
            base,
        }
    }

    pub fn ws_base(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    pub async fn stop(mut self) {
        self.running
            .take()
            .unwrap()
            .stop()
            .await
            .expect("server stops cleanly");
    }
}

/// The `nouage` binary running as a child process, for tests that kill it.
pub struct ProcessServer {
    child: tokio::process::Child,
    pub base: String,
}

impl ProcessServer {
    pub async fn start(data: &Path, extra_args: &[&str]) -> Self {
        Self::start_with_env(data, extra_args, &[]).await
    }

    /// Starts it with these environment variables set.
    pub async fn start_with_env(data: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        let binary = nouage_binary();
        let database = postgres_url_for(data)
            .map(|url| vec!["--database-url".to_owned(), url])
            .unwrap_or_default();
        let mut child = tokio::process::Command::new(&binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(&database)
            .args(extra_args)
            .env_remove("GLIBC_TUNABLES")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the server prints its address in time")
            .unwrap()
            .expect("the server prints a line");
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        ProcessServer { child, base }
    }

    pub fn ws_base(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    /// The process id of the child, which is the server's own (it may `exec` itself in place).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Sends SIGTERM and returns the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap() as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc_kill(pid, 15) };
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server stops after SIGTERM")
            .unwrap()
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// The row of `/contributions`' `participants` named `name`, if any.
pub fn contributor<'a>(contributions: &'a Value, name: &str) -> Option<&'a Value> {
    contributions["participants"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// Opens `{ws_base}/{path}?{query}` and answers the close code the server ends it with.
pub async fn close_code(ws_base: &str, path: &str, query: &str) -> u16 {
    let client = YClient::open(ws_base, path, query).await.unwrap();
    client.closed().await.unwrap().0
}

/// Runs `nouage ARGS` (this build's binary) to completion: (success, stdout, stderr).
pub fn run_nouage(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(nouage_binary())
        .args(args)
        .output()
        .expect("running nouage");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `nouage` binary of this build (built by `cargo build -p nouage-server`, which the
/// README's test command runs before the tests).
pub fn nouage_binary() -> PathBuf {
    let binary = nouage_binary_path();
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p nouage-server` first (`cargo xtask test` does)",
        binary.display()
    );
    binary
}

fn nouage_binary_path() -> PathBuf {
    let test_exe = std::env::current_exe().unwrap();
    test_exe.parent().unwrap().parent().unwrap().join("nouage")
}

/// A board as the API created it.
#[derive(Debug, Clone)]
pub struct Board {
    pub id: String,
    pub facilitator: String,
    pub editor: String,
    pub viewer: String,
    pub response: Value,
}

pub async fn create_board(base: &str, kind: &str, title: &str) -> Board {
    let response = http()
        .post(format!("{base}/api/boards"))
        .json(&serde_json::json!({"kind": kind, "title": title}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "board creation");
    let body: Value = response.json().await.unwrap();
    let token = |role: &str| body["tokens"][role].as_str().unwrap().to_owned();
    Board {
        id: body["id"].as_str().unwrap().to_owned(),
        facilitator: token("facilitator"),
        editor: token("editor"),
        viewer: token("viewer"),
        response: body,
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// What a [`YClient`] has heard from the server.
#[derive(Default)]
struct Heard {
    synced: bool,
    /// The sync messages received, in order: 1 for a step 1, 2 for a step 2.
    sync_steps: Vec<u8>,
    closed: Option<(u16, String)>,
    awareness: HashMap<u64, AwarenessEntry>,
    frames: usize,
    /// Update messages received (sync steps left out).
    updates: usize,
}

impl Heard {
    fn live_awareness(&self) -> HashMap<u64, String> {
        self.awareness
            .iter()
            .filter(|(_, e)| !e.is_removal())
            .map(|(id, e)| (*id, e.state.clone()))
            .collect()
    }
}

/// A yrs document kept in sync with a board through the relay, like a stock client.
pub struct YClient {
    doc: Arc<Doc>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
    heard: Arc<Mutex<Heard>>,
    changed: Arc<Notify>,
}

impl YClient {
    /// Connects and waits for the server's sync step 2.
    pub async fn connect(ws_base: &str, board: &str, token: &str) -> anyhow::Result<Self> {
        Self::connect_with(ws_base, board, &format!("token={token}")).await
    }

    /// Connects with a raw query string (`token=...&pid=...`) and waits until synced.
    pub async fn connect_with(ws_base: &str, board: &str, query: &str) -> anyhow::Result<Self> {
        let client = Self::open(ws_base, board, query).await?;
        client.wait_synced().await?;
        Ok(client)
    }

    /// Connects without waiting for anything.
    pub async fn open(ws_base: &str, board: &str, query: &str) -> anyhow::Result<Self> {
        let url = format!("{ws_base}/{board}?{query}");
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .context("connecting")?;
        let (mut sink, mut stream) = socket.split();
        let doc = Arc::new(Doc::new());
        let heard = Arc::new(Mutex::new(Heard::default()));
        let changed = Arc::new(Notify::new());
        let (outgoing, mut outgoing_rx) = mpsc::unbounded_channel::<WsMessage>();
        tokio::spawn(async move {
            while let Some(message) = outgoing_rx.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let step1 = doc.transact().state_vector().encode_v1();
        let _ = outgoing.send(binary(protocol::encode(&Message::SyncStep1(&step1))));
        let (reader_doc, reader_heard, reader_changed, reader_out) = (
            doc.clone(),
            heard.clone(),
            changed.clone(),
            outgoing.clone(),
        );
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let closed = handle_incoming(&reader_doc, &reader_heard, &reader_out, message);
                reader_changed.notify_waiters();
                if closed {
                    break;
                }
            }
            let mut heard = reader_heard.lock().unwrap();
            heard
                .closed
                .get_or_insert((1006, "connection dropped".into()));
            drop(heard);
            reader_changed.notify_waiters();
        });
        Ok(YClient {
            doc,
            outgoing,
            heard,
            changed,
        })
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    async fn wait_synced(&self) -> anyhow::Result<()> {
        self.wait_for(|_, heard| heard.synced || heard.closed.is_some())
            .await?;
        if let Some((code, reason)) = self.close_reason() {
            bail!("closed before sync: {code} {reason}");
        }
        Ok(())
    }

    /// Edits the local document and sends the update, as a client does on a keystroke.
    pub fn edit(&self, f: impl FnOnce(&mut TransactionMut)) {
        let update = {
            let mut txn = self.doc.transact_mut();
            f(&mut txn);
            txn.encode_update_v1()
        };
        self.send_raw(protocol::encode(&Message::Update(&update)));
    }

    /// Sends bytes as one binary websocket message, unchecked.
    pub fn send_raw(&self, bytes: Vec<u8>) {
        let _ = self.outgoing.send(binary(bytes));
    }

    pub fn send_message(&self, message: WsMessage) {
        let _ = self.outgoing.send(message);
    }

    pub fn set_awareness(&self, client_id: u64, clock: u64, state: &str) {
        let entry = AwarenessEntry {
            client_id,
            clock,
            state: state.into(),
        };
        let payload = protocol::encode_awareness([&entry]);
        self.send_raw(protocol::encode(&Message::Awareness(&payload)));
    }

    /// Awareness states this client knows of, removals excluded.
    pub fn awareness(&self) -> HashMap<u64, String> {
        self.heard.lock().unwrap().live_awareness()
    }

    pub fn close_reason(&self) -> Option<(u16, String)> {
        self.heard.lock().unwrap().closed.clone()
    }

    /// The sync messages received so far, in order: 1 for a step 1, 2 for a step 2.
    pub fn sync_steps(&self) -> Vec<u8> {
        self.heard.lock().unwrap().sync_steps.clone()
    }

    pub fn frames_received(&self) -> usize {
        self.heard.lock().unwrap().frames
    }

    /// The update messages received since the connection opened (sync steps left out).
    pub fn updates_received(&self) -> usize {
        self.heard.lock().unwrap().updates
    }

    /// Waits until the connection is closed and returns its close code and reason.
    pub async fn closed(&self) -> anyhow::Result<(u16, String)> {
        self.wait_for(|_, heard| heard.closed.is_some()).await?;
        Ok(self.close_reason().unwrap())
    }

    /// Waits until `condition` holds on the sync message kinds received so far (1: step 1,
    /// 2: step 2), in order.
    pub async fn wait_sync_steps(&self, condition: impl Fn(&[u8]) -> bool) -> anyhow::Result<()> {
        self.wait_for(|_, heard| condition(&heard.sync_steps)).await
    }

    /// Waits until `condition` holds on the document.
    pub async fn wait_until(&self, condition: impl Fn(&Doc) -> bool) -> anyhow::Result<()> {
        self.wait_for(|doc, _| condition(doc)).await
    }

    pub async fn wait_awareness(
        &self,
        condition: impl Fn(&HashMap<u64, String>) -> bool,
    ) -> anyhow::Result<()> {
        self.wait_for(|_, heard| condition(&heard.live_awareness()))
            .await
    }

    /// Waits until `condition` holds on the document, at most `within`.
    pub async fn wait_until_within(
        &self,
        within: Duration,
        condition: impl Fn(&Doc) -> bool,
    ) -> anyhow::Result<()> {
        self.wait_for_within(within, |doc, _| condition(doc)).await
    }

    async fn wait_for(&self, condition: impl Fn(&Doc, &Heard) -> bool) -> anyhow::Result<()> {
        self.wait_for_within(WAIT, condition).await
    }

    async fn wait_for_within(
        &self,
        within: Duration,
        condition: impl Fn(&Doc, &Heard) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            {
                let heard = self.heard.lock().unwrap();
                if condition(&self.doc, &heard) {
                    return Ok(());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("condition not met within {within:?}");
            }
        }
    }

    pub fn close(&self) {
        let _ = self.outgoing.send(WsMessage::Close(None));
    }
}

fn binary(bytes: Vec<u8>) -> WsMessage {
    WsMessage::Binary(Bytes::from(bytes))
}

/// Applies one incoming websocket message; returns true when the connection closed.
fn handle_incoming(
    doc: &Doc,
    heard: &Mutex<Heard>,
    outgoing: &mpsc::UnboundedSender<WsMessage>,
    message: WsMessage,
) -> bool {
    let frame = match message {
        WsMessage::Binary(frame) => frame,
        WsMessage::Close(frame) => {
            let reason = frame
                .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                .unwrap_or((1005, String::new()));
            heard.lock().unwrap().closed = Some(reason);
            return true;
        }
        _ => return false,
    };
    let messages =
        protocol::decode_frame(&frame, usize::MAX).expect("the server sends valid frames");
    let mut heard = heard.lock().unwrap();
    heard.frames += 1;
    for message in messages {
        match message {
            Message::SyncStep1(sv) => {
                heard.sync_steps.push(1);
                let sv = StateVector::decode_v1(sv).unwrap();
                let diff = doc.transact().encode_diff_v1(&sv);
                let _ = outgoing.send(binary(protocol::encode(&Message::SyncStep2(&diff))));
            }
            Message::SyncStep2(update) | Message::Update(update) => {
                let update = Update::decode_v1(update).unwrap();
                doc.transact_mut().apply_update(update).unwrap();
                if matches!(message, Message::SyncStep2(_)) {
                    heard.sync_steps.push(2);
                    heard.synced = true;
                } else {
                    heard.updates += 1;
                }
            }
            Message::Awareness(payload) => {
                for entry in protocol::decode_awareness(payload, usize::MAX).unwrap() {
                    heard.awareness.insert(entry.client_id, entry);
                }
            }
            Message::QueryAwareness | Message::Auth(_) => {}
        }
    }
    false
}

/// Whether the test command asked for every end-to-end prerequisite to be present.
///
/// `cargo xtask test` (the README's test command, run by CI) sets `NOUAGE_E2E=1`: then a missing
/// prerequisite fails the test. A plain `cargo test` on a fresh clone, before the web app, the
/// server binary or the npm packages are built, reports the test as not run and passes.
pub fn prerequisites(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    if std::env::var_os("NOUAGE_E2E").is_some() {
        panic!("{what} is missing; `cargo xtask test` installs and builds it");
    }
    eprintln!("NOT RUN: {what} is missing (run `cargo xtask test` for the whole suite)");
    false
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// True when the npm packages of `tests/js` are installed.
pub fn npm_ready() -> bool {
    prerequisites(
        "tests/js/node_modules (npm ci)",
        js_dir().join("node_modules").exists(),
    )
}

/// True when the `nouage` binary of this build exists (for tests that kill the process).
pub fn binary_ready() -> bool {
    prerequisites(
        "the nouage binary (cargo build -p nouage-server)",
        nouage_binary_path().exists(),
    )
}

/// True when the web app is embedded in this build and Chromium is installed.
pub fn browser_ready() -> bool {
    npm_ready()
        && prerequisites(
            "the built web app (cargo xtask web)",
            !server::web_assets::ASSETS.is_empty(),
        )
        && prerequisites(
            "Chromium (/usr/bin/chromium)",
            Path::new("/usr/bin/chromium").exists(),
        )
}

/// Runs a scenario of `tests/js/browser.mjs` against `base`; screenshots go to `artifacts/`.
pub async fn browser_scenario(scenario: &str, base: &str) -> anyhow::Result<Value> {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    node_script(
        "browser.mjs",
        &[scenario, "--base", base, "--shots", shots.to_str().unwrap()],
    )
    .await
}

/// Runs the stock npm Yjs client (`tests/js/yclient.mjs`) and returns its JSON answer.
pub async fn yjs_client(args: &[&str]) -> anyhow::Result<Value> {
    node_script("yclient.mjs", args).await
}

/// Runs one of the scripts of `tests/js` with node and returns its JSON answer.
pub async fn node_script(script: &str, args: &[&str]) -> anyhow::Result<Value> {
    let output = tokio::process::Command::new("node")
        .arg(js_dir().join(script))
        .args(args)
        .output()
        .await
        .context("running node")?;
    if !output.status.success() {
        bail!(
            "{script} {:?} failed: {}",
            args.first(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    serde_json::from_str(stdout.trim()).with_context(|| format!("parsing {stdout:?}"))
}

/// One value of a SQL query on the database of a data directory, such as a row count.
pub fn db_value(data: &Path, sql: &str) -> rusqlite::types::Value {
    rusqlite::Connection::open(data.join("nouage.sqlite3"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// A row count (or any integer) from the database of a data directory.
pub fn db_count(data: &Path, sql: &str) -> i64 {
    match db_value(data, sql) {
        rusqlite::types::Value::Integer(n) => n,
        other => panic!("{sql} gave {other:?}"),
    }
}

/// The map most tests write to.
const TEST_MAP: &str = "m";

impl YClient {
    /// Sets `{prefix}{i}` to `i` in the test map, one update per key, as typing does.
    pub fn write_keys(&self, prefix: &str, count: usize) {
        let map = self.doc.get_or_insert_map(TEST_MAP);
        for i in 0..count {
            self.edit(|txn| {
                yrs::Map::insert(&map, txn, format!("{prefix}{i}"), i as f64);
            });
        }
    }

    /// The keys of the test map.
    pub fn keys(&self) -> std::collections::BTreeSet<String> {
        let map = self.doc.get_or_insert_map(TEST_MAP);
        let txn = self.doc.transact();
        yrs::Map::keys(&map, &txn).map(str::to_owned).collect()
    }

    /// Waits until the test map holds at least `count` keys.
    pub async fn wait_keys(&self, count: usize) -> anyhow::Result<()> {
        let map = self.doc.get_or_insert_map(TEST_MAP);
        self.wait_until(|doc| yrs::Map::len(&map, &doc.transact()) as usize >= count)
            .await
    }
}

/// Checks the board still relays: `writer` sets `key` in the test map and a client that joins
/// afterwards sees it.
pub async fn assert_still_relays(ws_base: &str, board: &Board, writer: &YClient, key: &str) {
    let map = writer.doc.get_or_insert_map(TEST_MAP);
    writer.edit(|txn| {
        yrs::Map::insert(&map, txn, key, "ok");
    });
    let other = YClient::connect(ws_base, &board.id, &board.viewer)
        .await
        .unwrap();
    let seen = other.doc.get_or_insert_map(TEST_MAP);
    let found = other
        .wait_until(|doc| yrs::Map::get(&seen, &doc.transact(), key).is_some())
        .await;
    found.unwrap_or_else(|e| panic!("{key} written after the incident was not relayed: {e}"));
}

/// GETs an API URL with a board token and returns the JSON answer.
pub async fn get_json(url: &str, token: &str) -> Value {
    let response = http().get(url).bearer_auth(token).send().await.unwrap();
    response.json().await.unwrap()
}

/// [`get_json`], asserting the answer is `200`.
pub async fn get_ok_json(url: &str, token: &str) -> Value {
    let response = http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// POSTs `body` as JSON to an API URL with a board token; the status and the JSON answer
/// (`null` when the answer is not JSON).
pub async fn post_json(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Reads a board's document as the server stores it, through the JSON export.
pub async fn export_json(base: &str, board: &Board) -> Value {
    let response = http()
        .get(format!("{base}/api/boards/{}/export?format=json", board.id))
        .bearer_auth(&board.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `GET /api/boards/{id}/export?format=...` with the board's viewer token: status and body.
pub async fn export_bytes(base: &str, board: &Board, format: &str) -> (u16, Vec<u8>) {
    let response = http()
        .get(format!(
            "{base}/api/boards/{}/export?format={format}",
            board.id
        ))
        .bearer_auth(&board.viewer)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// `POST /api/boards/import?format=...` with `body`: status and JSON answer.
pub async fn import_board(base: &str, format: &str, body: Vec<u8>) -> (u16, Value) {
    let response = http()
        .post(format!("{base}/api/boards/import?format={format}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The board an import answer describes.
pub fn board_from(answer: &Value) -> Board {
    let token = |role: &str| answer["tokens"][role].as_str().unwrap().to_owned();
    Board {
        id: answer["id"].as_str().unwrap().to_owned(),
        facilitator: token("facilitator"),
        editor: token("editor"),
        viewer: token("viewer"),
        response: answer.clone(),
    }
}

/// The text of a PDF in content order (`pdftotext -raw`), whitespace collapsed; `None` when
/// poppler is missing and the suite does not require it.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let present = std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok();
    if !prerequisites("pdftotext (Debian's poppler-utils)", present) {
        return None;
    }
    let dir = TempDir::new();
    let path = dir.path().join("export.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Keeps `bytes` as `artifacts/NAME` for people to look at.
pub fn keep_artifact(name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Joins `board` as an editor with the identity of a participant (`kind`: an orgKind).
pub async fn join(
    server: &TestServer,
    board: &Board,
    pid: &str,
    name: &str,
    org: &str,
    kind: &str,
) -> (YClient, shared::Roots) {
    let query = format!(
        "token={}&pid={pid}&name={}&org={}&orgKind={kind}",
        board.editor,
        percent(name),
        percent(org)
    );
    let client = YClient::connect_with(&server.ws_base(), &board.id, &query)
        .await
        .unwrap();
    let roots = shared::Roots::new(client.doc());
    (client, roots)
}

/// Percent-encodes a query value (UTF-8 bytes outside `A-Z a-z 0-9 - _`).
pub fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// XML text with its five entities back as characters.
pub fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The `mimetype` entry and `content.xml` of an `.odt` package.
pub fn odt_parts(odt: &[u8]) -> (String, String) {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(odt)).unwrap();
    let first = archive.by_index(0).unwrap().name().unwrap().to_string();
    assert_eq!(first, "mimetype", "ODF wants the mimetype entry first");
    let mut read = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    (read("mimetype"), read("content.xml"))
}
