//! Wiring: the shared state, the router, and a server that starts and stops cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster::{AddressWindow, Seats};
use crate::config::Config;
use crate::journal::JournalWriter;
use crate::pressure::Pressure;
use crate::room::RoomContext;
use crate::rooms::Rooms;
use crate::store::backup::DataDirLock;
use crate::store::{BoardId, BoardRecord, SqliteStore, Store, StoreResult};
use crate::{api, trace, web_assets, ws};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub rooms: Arc<Rooms>,
    /// Turns true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Board creations per address (across the cluster's nodes with `--redis-url`).
    pub creations: Arc<AddressWindow>,
    /// Failed join-code attempts per address (`crate::join`).
    pub join_failures: Arc<AddressWindow>,
    /// With other nodes (`--redis-url`): the seats each board has across the cluster.
    pub seats: Option<Arc<Seats>>,
    next_conn_id: Arc<AtomicU64>,
    /// Websocket connections being served.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    /// Heavy-read permits and the counters of refused requests.
    pub pressure: Arc<Pressure>,
    /// The journal writer, for the readiness probe.
    pub writer: JournalWriter,
}

impl AppState {
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn board(&self, id: &BoardId) -> StoreResult<Option<BoardRecord>> {
        let store = self.store.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.board(&id))
            .await
            .expect("store read panicked")
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_request_body_bytes;
    // An import carries a whole board.
    let import_limit = state.config.limits.max_document_bytes;
    let api = Router::new()
        .route("/boards", post(api::create_board))
        .route(
            "/boards/import",
            post(api::import_board).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/boards/{id}",
            get(api::get_board)
                .patch(api::rename_board)
                .delete(api::delete_board),
        )
        .route(
            "/boards/{id}/links/{role}",
            post(api::rotate_link).delete(api::revoke_link),
        )
        .route(
            "/boards/{id}/join-code",
            get(crate::join::get_code)
                .post(crate::join::renew_code)
                .delete(crate::join::disable_code),
        )
        .route(
            "/boards/{id}/join-code/credentials",
            axum::routing::delete(crate::join::revoke_credentials),
        )
        .route("/boards/{id}/join-code/qr.svg", get(crate::join::qr_svg))
        .route("/join", post(crate::join::join))
        .route("/time", get(crate::meeting::time))
        .route("/boards/{id}/timer", post(crate::meeting::timer))
        .route(
            "/boards/{id}/private-round",
            get(crate::private::status)
                .post(crate::private::open)
                .delete(crate::private::cancel),
        )
        .route(
            "/boards/{id}/private-round/reveal",
            post(crate::private::reveal),
        )
        .route(
            "/boards/{id}/participants/{pid}/erase",
            post(crate::erase::erase_participant),
        )
        .route(
            "/boards/{id}/notes/{note}/decision",
            post(crate::path::decide),
        )
        .route(
            "/boards/{id}/notes/{note}/project",
            post(crate::path::to_project),
        )
        .route("/boards/{id}/export", get(api::export_board))
        .route("/boards/{id}/contributions", get(trace::contributions))
        .route("/boards/{id}/history", get(trace::history))
        .route("/boards/{id}/deleted", get(crate::restore::deleted))
        .route("/boards/{id}/elements", get(trace::elements))
        .route(
            "/boards/{id}/elements/{element}",
            get(trace::element_history),
        )
        .route("/boards/{id}/restore", post(crate::restore::restore))
        .route("/stats", get(api::stats))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(api::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::pressure::log_unavailable,
        ));
    Router::new()
        .nest("/api", api)
        .route("/ws/{board}", any(ws::upgrade))
        .route("/ws/{board}/private", any(ws::upgrade_private))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(api::ready))
        .fallback(web_assets::serve)
        .with_state(state)
}

/// A server running in this process.
pub struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection, commits what rooms applied, and returns.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await?
    }

    /// Waits until the server stops by itself (it never does unless stopped).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await?
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Connections the kernel may hold waiting to be accepted (it caps this at `somaxconn`).
/// tokio's `TcpListener::bind` asks for 128: 500 clients reconnecting at once overflowed it,
/// and the dropped ones retried a second later.
const LISTEN_BACKLOG_CONNECTIONS: u32 = 4_096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG_CONNECTIONS)
}

/// With other nodes (`--redis-url`): how often a loaded room checks the store for entries it
/// was not told of.
const HEAD_CHECK_INTERVAL_MS: u64 = 2_000;

/// Opens the store under `config.data_dir`, binds `config.listen` and serves until stopped.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    if let Some(url) = config.database_url.clone() {
        // Several nodes may share the database: the seqs are given inside its transactions.
        let store =
            tokio::task::spawn_blocking(move || crate::store::PgStore::connect(&url)).await??;
        return start_with_store(config, Arc::new(store), None).await;
    }
    // One server per data directory: two would each assign the same journal seqs.
    let lock = DataDirLock::acquire(&config.data_dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir, config.durability)?);
    start_with_store(config, store, Some(lock)).await
}

pub async fn start_with_store(
    config: Config,
    store: Arc<dyn Store>,
    lock: Option<DataDirLock>,
) -> anyhow::Result<RunningServer> {
    let mut config = config;
    let fanout = match &config.redis_url {
        Some(url) => {
            if config.database_url.is_none() {
                anyhow::bail!("--redis-url shares boards between nodes: it needs --database-url");
            }
            if config.limits.head_check_interval_ms == 0 {
                config.limits.head_check_interval_ms = HEAD_CHECK_INTERVAL_MS;
            }
            let fanout = crate::fanout::Fanout::start(
                url,
                &config.redis_channel_prefix,
                config.redis_secret.as_deref(),
                config.failpoints.clone(),
            )
            .await?;
            Some(fanout)
        }
        None => None,
    };
    let listener = listen(config.listen)?;
    let addr = listener.local_addr()?;
    let (writer, writer_thread) = JournalWriter::start(
        store.clone(),
        config.limits.journal_queue_jobs_max,
        fanout.clone(),
    );
    let ctx = Arc::new(RoomContext {
        store: store.clone(),
        writer: writer.clone(),
        limits: config.limits.clone(),
        fanout: fanout.clone(),
    });
    let pressure = Arc::new(Pressure::new(
        config.limits.max_heavy_reads_in_flight,
        config.limits.heavy_read_wait_ms,
    ));
    let shutdown_timeout = std::time::Duration::from_millis(config.limits.shutdown_timeout_ms);
    let rooms = Rooms::new(ctx);
    if let Some(fanout) = &fanout {
        fanout.attach(&rooms);
    }
    let (stop, stop_rx) = watch::channel(false);
    let window = |kind: &str, per_minute: u32| {
        Arc::new(match &fanout {
            Some(fanout) => fanout.limits.window(kind, per_minute),
            None => AddressWindow::local(per_minute),
        })
    };
    let creations = window("create", config.limits.max_board_creations_per_minute);
    let join_failures = window("join-failed", config.limits.max_failed_joins_per_minute);
    let seats = fanout.as_ref().map(|f| f.limits.seats.clone());
    let state = AppState {
        config: Arc::new(config),
        store,
        rooms: rooms.clone(),
        shutdown: stop_rx.clone(),
        creations,
        join_failures,
        seats,
        next_conn_id: Arc::new(AtomicU64::new(1)),
        connections: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        pressure,
        writer,
    };
    let app = router(state);
    let task = tokio::spawn(async move {
        let mut stopping = stop_rx.clone();
        let graceful = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        // Small frames go out at once: without TCP_NODELAY, Nagle's algorithm meeting the
        // peer's delayed ACK holds an update up to 40 ms (seen in the fan-out benchmark).
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let serving = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(graceful);
        // A stop is bounded: connections and requests get most of `shutdown_timeout_ms` to
        // end (a stuck client or a long export can take longer), the rooms the rest to commit
        // what they applied. Whatever is still open then is cut.
        let reserve_for_rooms = (shutdown_timeout / 3).min(std::time::Duration::from_secs(3));
        let mut stop_seen = stop_rx.clone();
        let deadline = async move {
            let _ = stop_seen.wait_for(|s| *s).await;
            let stopped_at = tokio::time::Instant::now();
            tokio::time::sleep(shutdown_timeout - reserve_for_rooms).await;
            stopped_at + shutdown_timeout
        };
        tokio::pin!(deadline);
        let rooms_deadline = tokio::select! {
            served = serving => {
                served?;
                tokio::time::Instant::now() + reserve_for_rooms
            }
            rooms_deadline = &mut deadline => {
                tracing::warn!(
                    timeout_ms = shutdown_timeout.as_millis() as u64,
                    "requests or connections still open at the stop's deadline: cutting them"
                );
                rooms_deadline
            }
        };
        if tokio::time::timeout_at(rooms_deadline, rooms.shut_down())
            .await
            .is_err()
        {
            tracing::error!("rooms still committing at the stop's deadline: stopping without them");
        }
        // The writer thread ends once the rooms (and their handles on it) are gone.
        drop(rooms);
        tokio::task::spawn_blocking(move || {
            let _ = writer_thread.join();
        });
        drop(lock);
        Ok(())
    });
    Ok(RunningServer { addr, stop, task })
}
