//! Settings of a running server. Every resource has a limit here, with its unit in its name.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::store::Durability;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// A PostgreSQL server to store boards in (`postgres://...`), instead of SQLite under
    /// `data_dir`.
    pub database_url: Option<String>,
    /// A Redis server through which several relay nodes sharing `database_url` tell each
    /// other what they committed (`fanout.rs`).
    pub redis_url: Option<String>,
    /// The prefix of this cluster's Redis channels (pub/sub ignores database numbers: two
    /// clusters on one Redis need two prefixes).
    pub redis_channel_prefix: String,
    /// The key every node of the cluster signs its Redis messages with (`fanout::Signer`);
    /// none: messages are trusted unsigned.
    pub redis_secret: Option<String>,
    /// The fan-out's failure-injection points (acted on with the `failpoints` feature only).
    pub failpoints: Arc<crate::fanout::Failpoints>,
    /// Base of the links the API returns; `None` builds them from the request's `Host`.
    pub public_url: Option<String>,
    /// When set, creating a board needs `Authorization: Bearer <admin_token>`.
    pub admin_token: Option<String>,
    pub durability: Durability,
    pub limits: Limits,
    /// Browser origins allowed to open a websocket; empty admits any. A request without an
    /// `Origin` header (Node.js and native clients) is always admitted.
    pub allowed_origins: Vec<String>,
    /// The reverse proxy in front of the server, if any: a request from this address is taken
    /// to come from the last address of its `X-Forwarded-For` (the one the proxy added); from
    /// any other address that header is ignored.
    pub trusted_proxy: Option<IpAddr>,
    /// How long a board's join code admits new participants after it was made.
    pub join_code_ttl_ms: i64,
    /// The time of day, for what expires (join codes); tests move it forward.
    pub clock: WallClock,
}

/// The wall clock, milliseconds since the Unix epoch, with an offset tests can advance (one
/// clock shared by every copy of the configuration).
#[derive(Debug, Clone, Default)]
pub struct WallClock {
    offset_ms: Arc<AtomicI64>,
}

impl WallClock {
    pub fn now_ms(&self) -> i64 {
        crate::room::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Config {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Config {
            listen,
            data_dir,
            database_url: None,
            redis_url: None,
            redis_channel_prefix: "nouage".into(),
            redis_secret: None,
            failpoints: Arc::default(),
            public_url: None,
            admin_token: None,
            durability: Durability::Fsync,
            limits: Limits::default(),
            allowed_origins: Vec::new(),
            trusted_proxy: None,
            join_code_ttl_ms: 12 * 3_600_000,
            clock: WallClock::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest websocket message a client may send (1009 beyond).
    pub max_message_bytes: usize,
    /// Messages in one websocket frame (1003 beyond).
    pub max_messages_per_frame: usize,
    /// Entries in one awareness update (1003 beyond).
    pub max_awareness_entries: usize,
    /// Size a board's document may reach (4429 for the update that would pass it).
    pub max_document_bytes: usize,
    /// Connections to one board at once (4429 beyond).
    pub max_clients_per_board: usize,
    /// Boards loaded in memory at once; a join beyond waits for none and is refused (4429).
    pub max_rooms_loaded: usize,
    /// Frames queued towards one client; a client that lets it fill is disconnected (4429).
    pub send_queue_frames_max: usize,
    /// Bytes queued towards one client (4429 beyond); must hold one sync answer of a full board.
    pub send_queue_bytes_max: usize,
    /// Awareness client ids one connection may announce (4429 beyond).
    pub max_awareness_clients_per_connection: usize,
    /// Size of one awareness state (4429 beyond).
    pub max_awareness_state_bytes: usize,
    /// Entries the server writes in a board's `participants` map; later pids are not recorded there.
    pub max_participants_per_board: usize,
    /// Commands queued towards one room; readers wait when it is full.
    pub room_queue_commands_max: usize,
    /// Jobs queued towards the journal writer; rooms wait when it is full.
    pub journal_queue_jobs_max: usize,
    /// Journal entries after which a loaded room writes a snapshot.
    pub snapshot_every_updates: u64,
    /// How long a room with no connection stays loaded.
    pub room_idle_unload_ms: u64,
    /// How long a room whose connections only send awareness (a projector, a tab left open)
    /// keeps its decoded document; then it lets it go until a command needs it again.
    pub room_sleep_after_ms: u64,
    /// With other relay nodes sharing the boards (`--redis-url`): how often a loaded room asks
    /// the store for entries other nodes committed that it has not received (a fan-out message
    /// lost). 0: this node is alone, and rooms may sleep.
    pub head_check_interval_ms: u64,
    /// Awareness states not renewed for this long are removed (y-protocols uses 30 s).
    pub awareness_timeout_ms: u64,
    /// How often the server pings each client.
    pub ping_interval_ms: u64,
    /// A client silent (no message, no pong) for this long is disconnected.
    pub client_silence_timeout_ms: u64,
    /// Largest REST request body.
    pub max_request_body_bytes: usize,
    /// Longest board title, in characters.
    pub max_title_chars: usize,
    /// Nodes one imported outline (FreeMind, OPML, Markdown) may hold (400 beyond).
    pub max_import_nodes: usize,
    /// Websocket messages per second one connection may send on average (4429 beyond).
    pub max_messages_per_second: u32,
    /// Messages one connection may send at once above that rate.
    pub max_messages_burst: u32,
    /// Boards one address may create per minute (429 beyond); the admin token is exempt.
    pub max_board_creations_per_minute: u32,
    /// Join codes one address may try in vain per minute (429 beyond; successful joins are
    /// not counted: a room of phones shares the venue's address).
    pub max_failed_joins_per_minute: u32,
    /// Credentials minted through join codes a board holds at once, not revoked (a join beyond
    /// is refused until the facilitator revokes them).
    pub max_code_credentials_per_board: usize,
    /// Heavy reads (exports, the board at a past moment, imports, restores) running at once;
    /// one more waits for a permit.
    pub max_heavy_reads_in_flight: usize,
    /// How long a heavy read waits for a permit before it is answered 503 with `Retry-After`.
    pub heavy_read_wait_ms: u64,
    /// How long a request waits for the trace of a board to be brought up to date before it
    /// is answered 503 with `Retry-After` (the indexing goes on).
    pub trace_wait_ms: u64,
    /// How long the readiness probe (`/readyz`) waits for a store read and for the writer.
    pub ready_probe_ms: u64,
    /// How long a connection the server closes waits for the client's close frame, reading and
    /// throwing away what it still sends, before the TCP connection is closed.
    pub close_handshake_timeout_ms: u64,
    /// How long a stop (SIGTERM, SIGINT) may take: connections and requests still open then are
    /// cut, what the rooms applied is committed, and the process ends.
    pub shutdown_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 * 1024 * 1024,
            max_messages_per_frame: 256,
            max_awareness_entries: 1_024,
            max_document_bytes: 64 * 1024 * 1024,
            max_clients_per_board: 2_000,
            max_rooms_loaded: 10_000,
            send_queue_frames_max: 4_096,
            send_queue_bytes_max: 96 * 1024 * 1024,
            max_awareness_clients_per_connection: 8,
            max_awareness_state_bytes: 32 * 1024,
            max_participants_per_board: 10_000,
            room_queue_commands_max: 4_096,
            journal_queue_jobs_max: 4_096,
            snapshot_every_updates: 2_000,
            room_idle_unload_ms: 30_000,
            room_sleep_after_ms: 15_000,
            head_check_interval_ms: 0,
            awareness_timeout_ms: 30_000,
            ping_interval_ms: 20_000,
            client_silence_timeout_ms: 60_000,
            max_request_body_bytes: 64 * 1024,
            max_title_chars: 200,
            max_import_nodes: 20_000,
            max_messages_per_second: 200,
            max_messages_burst: 400,
            max_board_creations_per_minute: 30,
            max_failed_joins_per_minute: 20,
            max_code_credentials_per_board: 10_000,
            max_heavy_reads_in_flight: 2,
            heavy_read_wait_ms: 5_000,
            trace_wait_ms: 10_000,
            ready_probe_ms: 2_000,
            close_handshake_timeout_ms: 2_000,
            shutdown_timeout_ms: 10_000,
        }
    }
}
