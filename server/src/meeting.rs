//! Meeting tools the server keeps authoritative: the shared timer (written into the document
//! as a server edit, so every screen and every stock Yjs client sees it) and the server's clock
//! (`GET /api/time`), from which each client estimates its offset so that all screens show
//! the same remaining time.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::timer::{Timer, TimerAction, TimerRefusal};

use crate::api::{ApiError, decided_edit, facilitator_only, json_body};
use crate::app::AppState;
use crate::store::Actor;

/// `GET /api/time`: the server's clock in milliseconds since the Unix epoch. Small and never
/// cached: a client asks a few times and keeps the answer of the shortest round trip.
pub async fn time(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "nowMs": app.config.clock.now_ms() })),
    )
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
enum TimerRequest {
    Start {
        #[serde(rename = "durationMs")]
        duration_ms: i64,
        #[serde(default)]
        sound: bool,
    },
    Pause,
    Resume,
    Extend {
        #[serde(rename = "byMs")]
        by_ms: i64,
    },
    Stop,
}

/// The timer as the API answers it (`null`: none), with the server's clock at the answer.
pub fn timer_json(timer: Option<Timer>, now_ms: i64) -> Value {
    json!({
        "timer": timer.map(|t| json!({
            "startedAtMs": t.started_at_ms,
            "durationMs": t.duration_ms,
            "pausedAtMs": t.paused_at_ms,
            "sound": t.sound,
            "remainingMs": t.remaining_ms(now_ms),
        })),
        "nowMs": now_ms,
    })
}

/// `POST /api/boards/{id}/timer` (facilitator) with `{"action": "start", "durationMs", "sound"}`,
/// `{"action": "pause"}`, `"resume"`, `{"action": "extend", "byMs"}` or `"stop"`: changes the
/// board's timer in `meta.timer` and answers it. 409 when the action does not apply (no timer
/// to pause, a timer not paused to resume).
pub async fn timer(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let record = facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may run the timer",
    )
    .await?;
    let action = match json_body::<TimerRequest>(&body)? {
        TimerRequest::Start { duration_ms, sound } => TimerAction::Start { duration_ms, sound },
        TimerRequest::Pause => TimerAction::Pause,
        TimerRequest::Resume => TimerAction::Resume,
        TimerRequest::Extend { by_ms } => TimerAction::Extend { by_ms },
        TimerRequest::Stop => TimerAction::Stop,
    };
    // Decided against the timer the document holds when the room applies the edit.
    let clock = app.config.clock.clone();
    let (timer, now_ms) = decided_edit(&app, &record.id, Actor::system(), move |roots, txn| {
        let now_ms = clock.now_ms();
        let timer = Timer::apply(Timer::read(roots, txn), action, now_ms).map_err(|e| match e {
            TimerRefusal::Conflict(reason) => ApiError::new(StatusCode::CONFLICT, reason),
            TimerRefusal::Invalid(reason) => ApiError::bad_request(reason),
        })?;
        Timer::write(roots, txn, timer);
        Ok((timer, now_ms))
    })
    .await?;
    tracing::info!(board = %record.id, ?action, "timer");
    Ok(Json(timer_json(timer, now_ms)))
}
