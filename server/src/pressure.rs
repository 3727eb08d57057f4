//! Requests under load: a pool of permits for heavy reads, a flag that tells blocking work
//! its client went away, and the counters `GET /api/stats` shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::ApiError;
use crate::app::AppState;

/// Heavy reads share `max_heavy_reads_in_flight` permits; the rest of the API never waits
/// for one.
pub struct Pressure {
    heavy: Arc<Semaphore>,
    heavy_permits: usize,
    heavy_wait: Duration,
    heavy_waits: AtomicU64,
    heavy_timeouts: AtomicU64,
    unavailable: AtomicU64,
}

/// What `GET /api/stats` reports of the load.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PressureStats {
    /// Heavy reads that had to wait for a permit, and those that gave up waiting.
    pub heavy_read_waits: u64,
    pub heavy_read_timeouts: u64,
    /// Heavy reads running now.
    pub heavy_reads_in_flight: usize,
    /// Answers 503 sent, for any reason.
    pub unavailable_answers: u64,
}

impl Pressure {
    pub fn new(heavy_permits: usize, heavy_wait_ms: u64) -> Self {
        Pressure {
            heavy: Arc::new(Semaphore::new(heavy_permits.max(1))),
            heavy_permits: heavy_permits.max(1),
            heavy_wait: Duration::from_millis(heavy_wait_ms),
            heavy_waits: AtomicU64::new(0),
            heavy_timeouts: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
        }
    }

    /// A permit for one heavy read (`what`, for the message), or 503 once the wait passes.
    pub async fn heavy_permit(&self, what: &str) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.heavy.clone().try_acquire_owned() {
            return Ok(permit);
        }
        self.heavy_waits.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.heavy_wait, self.heavy.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.heavy_timeouts.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::unavailable(format!(
                    "too many exports and imports are running; {what} could not start within {} ms, try again shortly",
                    self.heavy_wait.as_millis()
                )))
            }
        }
    }

    pub fn stats(&self) -> PressureStats {
        PressureStats {
            heavy_read_waits: self.heavy_waits.load(Ordering::Relaxed),
            heavy_read_timeouts: self.heavy_timeouts.load(Ordering::Relaxed),
            heavy_reads_in_flight: self.heavy_permits - self.heavy.available_permits(),
            unavailable_answers: self.unavailable.load(Ordering::Relaxed),
        }
    }
}

/// Set when the request that started a piece of blocking work is dropped (its client went
/// away, or the server is stopping); the work checks it between steps and stops.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard for the request's future: dropping it cancels the work.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

/// Counts every 503 and logs it with the route, which names the board.
pub async fn log_unavailable(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        app.pressure.unavailable.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%method, %path, "answered 503: the server could not get what the request needs in time");
    }
    response
}
