//! The websocket edge of the relay: authentication, participant parameters, and the two tasks
//! of each connection (reading frames into the room, writing the room's frames out).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shared::protocol;
use shared::{OrgKind, Participant};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::config::Limits;
use crate::limit::TokenBucket;
use crate::room::{
    CLOSE_GOING_AWAY, CLOSE_LIMIT, CLOSE_MALFORMED, CloseReason, Closer, JoinError, Joiner, Outbox,
    RoomCmd,
};
use crate::store::{Actor, BoardId};
use crate::tokens::Role;

pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_UNKNOWN_BOARD: u16 = 4404;
pub const CLOSE_TOO_BIG: u16 = 1009;
pub const CLOSE_POLICY: u16 = 1008;

/// How long a closing connection may take to flush its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

const PID_CHARS_MAX: usize = 64;
/// Initial capacity of a connection's read buffer. The websocket library's default (128 KiB,
/// allocated for every connection) made 2,000 idle connections cost 256 MB; the buffer still
/// grows for a large message (up to `max_message_bytes`).
const WS_READ_BUFFER_BYTES: usize = 8 * 1024;
/// Bytes written to a connection's buffer before it is flushed to the socket.
const WS_WRITE_BUFFER_BYTES: usize = 8 * 1024;
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

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Path(board): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    if let Some(origin) = origin
        && !app.config.allowed_origins.is_empty()
        && !app
            .config
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        let error = crate::api::ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!("origin {origin} is not allowed"),
        );
        return axum::response::IntoResponse::into_response(error);
    }
    let limits = &app.config.limits;
    let ws = ws
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES);
    let identity = match identify(&app, &board, &params).await {
        Ok(identity) => identity,
        Err((code, reason)) => {
            return ws.on_upgrade(move |socket| refuse(socket, code, reason));
        }
    };
    let board = BoardId::parse(&board).expect("identify checked the id");
    ws.on_upgrade(move |socket| serve(app, board, identity, socket))
}

async fn identify(
    app: &AppState,
    board: &str,
    params: &HashMap<String, String>,
) -> Result<Identity, CloseReason> {
    let unknown = || (CLOSE_UNKNOWN_BOARD, "unknown board".to_owned());
    let board = BoardId::parse(board).ok_or_else(unknown)?;
    let record = app
        .board(&board)
        .await
        .map_err(|_| (1011, "storage error".to_owned()))?;
    let record = record.ok_or_else(unknown)?;
    let token = params.get("token").map(String::as_str).unwrap_or("");
    if token.is_empty() {
        return Err((CLOSE_UNAUTHORIZED, "missing token".into()));
    }
    let role = record
        .token_hashes
        .role_of(token)
        .ok_or_else(|| (CLOSE_UNAUTHORIZED, "wrong or revoked token".to_owned()))?;
    let text = |key: &str, chars_max: usize| -> Result<String, CloseReason> {
        let value = params.get(key).map(|v| v.trim()).unwrap_or("");
        if value.chars().count() > chars_max {
            return Err((
                CLOSE_POLICY,
                format!("{key} is longer than {chars_max} characters"),
            ));
        }
        Ok(value.to_owned())
    };
    let pid = text("pid", PID_CHARS_MAX)?;
    let name = text("name", NAME_CHARS_MAX)?;
    let org = text("org", ORG_CHARS_MAX)?;
    let org_kind = match params.get("orgKind").map(String::as_str) {
        None | Some("") => None,
        Some(kind) => Some(
            kind.parse::<OrgKind>()
                .map_err(|e| (CLOSE_POLICY, e.to_string()))?,
        ),
    };
    let color = params
        .get("color")
        .filter(|c| is_hex_colour(c))
        .cloned()
        .unwrap_or_else(|| PALETTE[palette_index(&pid)].to_owned());
    let participant = (!pid.is_empty()).then(|| Participant {
        name: name.clone(),
        color,
        org: org.clone(),
        org_kind,
    });
    Ok(Identity {
        role,
        actor: Actor {
            pid,
            name,
            org,
            org_kind,
        },
        participant,
    })
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

async fn refuse(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}

async fn serve(app: AppState, board: BoardId, identity: Identity, socket: WebSocket) {
    let conn = app.next_conn_id();
    let limits = app.config.limits.clone();
    let (outbox, outbox_rx) = Outbox::new(limits.send_queue_frames_max);
    let queued_bytes = outbox.queued_bytes.clone();
    let closer = Closer::new();
    let actor = Arc::new(identity.actor);
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
                JoinError::Full => (CLOSE_LIMIT, "the board or server is full".to_owned()),
                JoinError::RoomClosed => (1013, "try again later".to_owned()),
                JoinError::Failed(reason) => (1011, reason),
            };
            return refuse(socket, code, reason).await;
        }
    };
    drop(outbox);
    let (sink, stream) = socket.split();
    let ping_interval = Duration::from_millis(limits.ping_interval_ms);
    let writer = tokio::spawn(write_loop(
        sink,
        outbox_rx,
        queued_bytes,
        closer.clone(),
        ping_interval,
    ));
    let mut shutdown = app.shutdown.clone();
    tokio::select! {
        reason = read_loop(stream, &room, conn, &closer, &limits) => {
            closer.close(reason.0, reason.1);
        }
        _ = shutdown.wait_for(|stopping| *stopping) => {
            closer.close(CLOSE_GOING_AWAY, "server shutting down");
        }
    }
    let _ = room.send(RoomCmd::Leave { conn }).await;
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

/// Reads frames into the room until the connection ends; returns how to close it.
async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    room: &mpsc::Sender<RoomCmd>,
    conn: u64,
    closer: &Closer,
    limits: &Limits,
) -> CloseReason {
    let silence_timeout = Duration::from_millis(limits.client_silence_timeout_ms);
    let mut bucket = TokenBucket::new(
        limits.max_messages_per_second,
        limits.max_messages_burst,
        Instant::now(),
    );
    let mut close = closer.watch();
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(silence_timeout, stream.next()) => next,
            reason = close.closed() => return reason,
        };
        let message = match next {
            Err(_) => return (CLOSE_GOING_AWAY, "no message or pong for too long".into()),
            Ok(None) => return (CLOSE_GOING_AWAY, String::new()),
            Ok(Some(Err(error))) => return read_error_close(&error),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            WsMessage::Binary(frame) => {
                if !bucket.take(Instant::now()) {
                    let rate = limits.max_messages_per_second;
                    return (CLOSE_LIMIT, format!("more than {rate} messages per second"));
                }
                // Framing is checked here so a malformed frame never reaches the room.
                if let Err(e) = protocol::decode_frame(&frame, limits.max_messages_per_frame) {
                    return (CLOSE_MALFORMED, format!("malformed message: {e}"));
                }
                if room.send(RoomCmd::Frame { conn, frame }).await.is_err() {
                    return (CLOSE_GOING_AWAY, "the board closed".into());
                }
            }
            WsMessage::Text(_) => {
                return (
                    CLOSE_MALFORMED,
                    "text messages are not part of the protocol".into(),
                );
            }
            WsMessage::Close(_) => return (1000, String::new()),
            WsMessage::Ping(_) | WsMessage::Pong(_) => {}
        }
    }
}

/// A read error is either a message over the size limit or a broken connection.
fn read_error_close(error: &axum::Error) -> CloseReason {
    let text = error.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        (CLOSE_TOO_BIG, "message over the size limit".into())
    } else {
        (CLOSE_GOING_AWAY, String::new())
    }
}

/// Writes the room's frames and pings; on close, sends the close frame with its reason.
/// Frames still queued when a close is requested are dropped: the client resyncs on reconnect.
async fn write_loop(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut outbox: mpsc::Receiver<Bytes>,
    queued_bytes: Arc<std::sync::atomic::AtomicUsize>,
    closer: Closer,
    ping_interval: Duration,
) {
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await;
    let mut close = closer.watch();
    let (code, reason) = loop {
        tokio::select! {
            biased;
            reason = close.closed() => break reason,
            frame = outbox.recv() => {
                let Some(frame) = frame else { break (CLOSE_GOING_AWAY, String::new()) };
                let len = frame.len();
                let sent = sink.send(WsMessage::Binary(frame)).await;
                queued_bytes.fetch_sub(len, std::sync::atomic::Ordering::Relaxed);
                if sent.is_err() {
                    closer.close(CLOSE_GOING_AWAY, "");
                    return;
                }
            }
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Bytes::new())).await.is_err() {
                    closer.close(CLOSE_GOING_AWAY, "");
                    return;
                }
            }
        }
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(WsMessage::Close(Some(frame))).await;
    let _ = sink.close().await;
}
