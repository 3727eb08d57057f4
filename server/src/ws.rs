//! The websocket edge of the relay: authentication, participant parameters, and the two tasks
//! of each connection (reading frames into the room, writing the room's frames out).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use shared::protocol;
use shared::{OrgKind, Participant};
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::config::Limits;
use crate::limit::TokenBucket;
use crate::room::{CloseReason, Closer, JoinError, Joiner, Outbox, RoomCmd};
use crate::store::{Actor, BoardId};
use crate::tokens::Role;
use crate::wsframe::{self, FrameError, FrameReader, Incoming};

use shared::wire::{close, field};

/// How long a closing connection may take to flush its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Bytes a closing connection may still read and throw away while it waits for the client's
/// close frame: a client refused for a message over `max_message_bytes` is still sending it.
const CLOSE_DRAIN_BYTES_MAX: u64 = 128 * 1024 * 1024;

const PID_CHARS_MAX: usize = 64;
/// Pongs owed to a client that pinged; more pings than this before they are written are
/// answered once.
const PONGS_QUEUED_MAX: usize = 2;
const NAME_CHARS_MAX: usize = 80;
const ORG_CHARS_MAX: usize = 120;

/// Colours given to participants who bring none, picked by their id.
const PALETTE: [&str; 10] = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324", "#800000",
    "#808000", "#000075",
];

/// Who is connecting, from the query string.
struct Identity {
    role: Role,
    actor: Actor,
    participant: Option<Participant>,
}

/// The websocket upgrade of `/ws/{board}`: checks the handshake and the origin, answers 101,
/// then serves the connection (or closes it with the reason it was refused: a bad token is
/// told over the websocket, where a client can read it).
pub async fn upgrade(
    State(app): State<AppState>,
    Path(board): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    accept(app, board, params, request, false).await
}

/// The websocket upgrade of `/ws/{board}/private`: the participant's private space during a
/// private writing round (`crate::private`), served as a board of its own.
pub async fn upgrade_private(
    State(app): State<AppState>,
    Path(board): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    accept(app, board, params, request, true).await
}

async fn accept(
    app: AppState,
    board: String,
    params: HashMap<String, String>,
    mut request: Request,
    private: bool,
) -> Response {
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if let Some(origin) = origin
        && !app.config.allowed_origins.is_empty()
        && !app
            .config
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        let error = crate::api::ApiError::new(
            StatusCode::FORBIDDEN,
            format!("origin {origin} is not allowed"),
        );
        return error.into_response();
    }
    let accept = match handshake_accept(request.method(), headers) {
        Ok(accept) => accept,
        Err(reason) => {
            return crate::api::ApiError::new(StatusCode::BAD_REQUEST, reason).into_response();
        }
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        let reason = "this connection cannot be upgraded to a websocket";
        return crate::api::ApiError::new(StatusCode::BAD_REQUEST, reason).into_response();
    };
    let target = match identify(&app, &board, &params).await {
        Ok((record, identity)) if private => {
            crate::private::space_for(&app, &record, identity.role, &identity.actor, &params)
                .await
                .map(|space| {
                    let identity = Identity {
                        role: Role::Editor,
                        ..identity
                    };
                    (space, identity)
                })
        }
        Ok((record, identity)) => Ok((record.id, identity)),
        Err(refused) => Err(refused),
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (read, write) = tokio::io::split(TokioIo::new(upgraded));
        match target {
            Ok((board, identity)) => serve(app, board, identity, read, write).await,
            Err((code, reason)) => refuse(read, write, code, reason, &app.config.limits).await,
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("valid response")
}

/// Checks a websocket opening handshake (RFC 6455, 4.2.1); returns the accept key.
fn handshake_accept(method: &Method, headers: &HeaderMap) -> Result<String, &'static str> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if method != Method::GET
        || !has(header::CONNECTION, "upgrade")
        || !has(header::UPGRADE, "websocket")
    {
        return Err(
            "expected a websocket upgrade (GET with Connection: upgrade, Upgrade: websocket)",
        );
    }
    if !has(header::SEC_WEBSOCKET_VERSION, "13") {
        return Err("unsupported websocket version: this server speaks version 13");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("missing Sec-WebSocket-Key")?;
    Ok(wsframe::accept_key(key.as_bytes()))
}

async fn identify(
    app: &AppState,
    board: &str,
    params: &HashMap<String, String>,
) -> Result<(crate::store::BoardRecord, Identity), CloseReason> {
    let unknown = || (close::UNKNOWN_BOARD, "unknown board".to_owned());
    let board = BoardId::parse(board).ok_or_else(unknown)?;
    let record = app.board(&board).await.map_err(|_| {
        (
            close::STORAGE_PAUSED,
            "the storage does not answer".to_owned(),
        )
    })?;
    let record = record.ok_or_else(unknown)?;
    let token = params.get(field::TOKEN).map(String::as_str).unwrap_or("");
    if token.is_empty() {
        return Err((close::UNAUTHORIZED, "missing token".into()));
    }
    let role = crate::api::role_of(app, &record, token)
        .await
        .map_err(|_| {
            (
                close::STORAGE_PAUSED,
                "the storage does not answer".to_owned(),
            )
        })?
        .ok_or_else(|| (close::UNAUTHORIZED, "wrong or revoked token".to_owned()))?;
    let text = |key: &str, chars_max: usize| -> Result<String, CloseReason> {
        let value = params.get(key).map(|v| v.trim()).unwrap_or("");
        if value.chars().count() > chars_max {
            return Err((
                close::POLICY,
                format!("{key} is longer than {chars_max} characters"),
            ));
        }
        Ok(value.to_owned())
    };
    let pid = text(field::PID, PID_CHARS_MAX)?;
    // The record's own ids: the server's edits and the people entered by proxy.
    if pid == shared::trace::SERVER_PID || shared::trace::Represented::is_proxy_pid(&pid) {
        return Err((close::POLICY, format!("pid {pid:?} is reserved")));
    }
    let name = text(field::NAME, NAME_CHARS_MAX)?;
    let org = text(field::ORG, ORG_CHARS_MAX)?;
    let org_kind = match params.get(field::ORG_KIND).map(String::as_str) {
        None | Some("") => None,
        Some(kind) => Some(
            kind.parse::<OrgKind>()
                .map_err(|e| (close::POLICY, e.to_string()))?,
        ),
    };
    let color = params
        .get(field::COLOR)
        .filter(|c| is_hex_colour(c))
        .cloned()
        .unwrap_or_else(|| PALETTE[palette_index(&pid)].to_owned());
    let participant = (!pid.is_empty()).then(|| Participant {
        name: name.clone(),
        color,
        org: org.clone(),
        org_kind,
    });
    let identity = Identity {
        role,
        actor: Actor {
            pid,
            name,
            org,
            org_kind,
        },
        participant,
    };
    Ok((record, identity))
}

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn palette_index(pid: &str) -> usize {
    let hash = pid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    hash as usize % PALETTE.len()
}

/// Refuses a connection: sends the close frame, then waits for the client's (see
/// [`close_handshake`]).
async fn refuse<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    read: R,
    mut write: W,
    code: u16,
    reason: String,
    limits: &Limits,
) {
    if wsframe::write_close(&mut write, code, &reason)
        .await
        .is_ok()
    {
        close_handshake(
            &mut FrameReader::new(read, limits.max_message_bytes),
            limits,
        )
        .await;
    }
}

/// The closing handshake's end (RFC 6455, 7.1.1): once the server has sent its close frame,
/// it reads and throws away what the client still sends until the client's close frame
/// arrives, at most `close_handshake_timeout_ms` and `CLOSE_DRAIN_BYTES_MAX` bytes, and only
/// then lets the TCP connection close. Closing with unread bytes makes the kernel answer with a
/// reset, which can destroy the close frame before the client reads it: a client refused in
/// the middle of sending a 64 MiB message saw 1006 instead of 1009.
async fn close_handshake<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>, limits: &Limits) {
    let wait = Duration::from_millis(limits.close_handshake_timeout_ms);
    let _ = tokio::time::timeout(wait, reader.discard_until_close(CLOSE_DRAIN_BYTES_MAX)).await;
}

/// A websocket connection after the upgrade.
type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

async fn serve(
    app: AppState,
    board: BoardId,
    identity: Identity,
    read: ReadHalf<Upgraded>,
    write: WriteHalf<Upgraded>,
) {
    let conn = app.next_conn_id();
    let _counted = Counted::new(&app.connections);
    let limits = app.config.limits.clone();
    let (outbox, outbox_rx) = Outbox::new(limits.send_queue_frames_max);
    let queued_bytes = outbox.queued_bytes.clone();
    let closer = Closer::new();
    let actor = Arc::new(identity.actor);
    // With other nodes, the board's seats are counted across the cluster first.
    let _seat = match &app.seats {
        Some(seats) => match seats.take(&board, limits.max_clients_per_board).await {
            Some(seat) => Some(seat),
            None => {
                let reason = "the board is full".to_owned();
                return refuse(read, write, close::LIMIT, reason, &limits).await;
            }
        },
        None => None,
    };
    let joined = app
        .rooms
        .join(&board, || Joiner {
            conn,
            role: identity.role,
            actor: actor.clone(),
            participant: identity.participant.clone(),
            outbox: outbox.clone(),
            closer: closer.clone(),
        })
        .await;
    let room = match joined {
        Ok(room) => room,
        Err(error) => {
            let (code, reason) = match error {
                JoinError::Full => (close::LIMIT, "the board or server is full".to_owned()),
                JoinError::RoomClosed => (close::TRY_AGAIN, "try again later".to_owned()),
                JoinError::Failed(reason) if crate::room::is_storage_failure(&reason) => {
                    (close::STORAGE_PAUSED, reason)
                }
                JoinError::Failed(reason) => (close::INTERNAL, reason),
            };
            return refuse(read, write, code, reason, &limits).await;
        }
    };
    drop(outbox);
    let (pongs, pongs_rx) = mpsc::channel(PONGS_QUEUED_MAX);
    let ping_interval = Duration::from_millis(limits.ping_interval_ms);
    let writer = tokio::spawn(write_loop(
        write,
        outbox_rx,
        pongs_rx,
        queued_bytes,
        closer.clone(),
        ping_interval,
    ));
    let mut shutdown = app.shutdown.clone();
    let mut reader = FrameReader::new(read, limits.max_message_bytes);
    let client_may_still_send = tokio::select! {
        (reason, talking) = read_loop(&mut reader, &room, conn, &closer, &pongs, &limits) => {
            closer.close(reason.0, reason.1);
            talking
        }
        _ = shutdown.wait_for(|stopping| *stopping) => {
            closer.close(close::GOING_AWAY, "server shutting down");
            true
        }
    };
    let _ = room.send(RoomCmd::Leave { conn }).await;
    if client_may_still_send {
        close_handshake(&mut reader, &limits).await;
    }
    // A client that does not read keeps the writer blocked on its socket: past the grace
    // period the writer is aborted, which drops the socket.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Counts itself in a gauge while it lives.
struct Counted(Arc<std::sync::atomic::AtomicUsize>);

impl Counted {
    fn new(gauge: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        gauge.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads frames into the room until the connection ends; returns how to close it, and whether
/// the client may still be sending (false when it closed, sent its close frame, or failed).
async fn read_loop<R: AsyncRead + Unpin>(
    reader: &mut FrameReader<R>,
    room: &mpsc::Sender<RoomCmd>,
    conn: u64,
    closer: &Closer,
    pongs: &mpsc::Sender<Bytes>,
    limits: &Limits,
) -> (CloseReason, bool) {
    let silence_timeout = Duration::from_millis(limits.client_silence_timeout_ms);
    let mut bucket = TokenBucket::new(
        limits.max_messages_per_second,
        limits.max_messages_burst,
        Instant::now(),
    );
    let mut close = closer.watch();
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(silence_timeout, reader.next()) => next,
            reason = close.closed() => return (reason, true),
        };
        let message = match next {
            Err(_) => {
                return (
                    (close::GOING_AWAY, "no message or pong for too long".into()),
                    true,
                );
            }
            Ok(Ok(None)) => return ((close::GOING_AWAY, String::new()), false),
            Ok(Err(FrameError::Io(_))) => return ((close::GOING_AWAY, String::new()), false),
            Ok(Err(error)) => return (read_error_close(&error), true),
            Ok(Ok(Some(message))) => message,
        };
        match message {
            Incoming::Binary(frame) => {
                if !bucket.take(Instant::now()) {
                    let rate = limits.max_messages_per_second;
                    let reason = format!("more than {rate} messages per second");
                    return ((close::LIMIT, reason), true);
                }
                // Framing is checked here so a malformed frame never reaches the room.
                if let Err(e) = protocol::decode_frame(&frame, limits.max_messages_per_frame) {
                    return ((close::MALFORMED, format!("malformed message: {e}")), true);
                }
                if room.send(RoomCmd::Frame { conn, frame }).await.is_err() {
                    return ((close::GOING_AWAY, "the board closed".into()), true);
                }
            }
            Incoming::Text => {
                let reason = "text messages are not part of the protocol".into();
                return ((close::MALFORMED, reason), true);
            }
            Incoming::Close => return ((close::NORMAL, String::new()), false),
            // A full queue of pongs owes the client one already.
            Incoming::Ping(payload) => {
                let _ = pongs.try_send(payload);
            }
            Incoming::Pong => {}
        }
    }
}

/// How a read error closes the connection.
fn read_error_close(error: &FrameError) -> CloseReason {
    match error {
        FrameError::TooBig(_) => (close::TOO_BIG, "message over the size limit".into()),
        FrameError::Protocol(what) => (close::PROTOCOL, (*what).into()),
        FrameError::Io(_) => (close::GOING_AWAY, String::new()),
    }
}

/// Writes the room's frames (those queued together in one write), pongs and pings; on close,
/// sends the close frame with its reason. Frames still queued when a close is requested are
/// dropped: the client resyncs on reconnect.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut write: W,
    mut outbox: mpsc::Receiver<Bytes>,
    mut pongs: mpsc::Receiver<Bytes>,
    queued_bytes: Arc<std::sync::atomic::AtomicUsize>,
    closer: Closer,
    ping_interval: Duration,
) {
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await;
    let mut close = closer.watch();
    // One wait for the close, kept across the loop: a fan-out wakes this task for every frame.
    let closed = close.closed();
    tokio::pin!(closed);
    let mut batch = Vec::new();
    let mut scratch = Vec::new();
    let (code, reason) = loop {
        tokio::select! {
            biased;
            reason = &mut closed => break reason,
            frame = outbox.recv() => {
                let Some(frame) = frame else { break (close::GOING_AWAY, String::new()) };
                let mut len = frame.len();
                batch.push(frame);
                while len < wsframe::WRITE_BATCH_BYTES {
                    let Ok(frame) = outbox.try_recv() else { break };
                    len += frame.len();
                    batch.push(frame);
                }
                let sent = wsframe::write_binary(&mut write, &batch, &mut scratch).await;
                batch.clear();
                queued_bytes.fetch_sub(len, std::sync::atomic::Ordering::Relaxed);
                if sent.is_err() {
                    closer.close(close::GOING_AWAY, "");
                    return;
                }
            }
            Some(payload) = pongs.recv() => {
                if wsframe::write_pong(&mut write, &payload).await.is_err() {
                    closer.close(close::GOING_AWAY, "");
                    return;
                }
            }
            _ = ping.tick() => {
                if wsframe::write_ping(&mut write).await.is_err() {
                    closer.close(close::GOING_AWAY, "");
                    return;
                }
            }
        }
    };
    let _ = wsframe::write_close(&mut write, code, &reason).await;
}
