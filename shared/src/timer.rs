//! The meeting's shared timer. Its state is `meta.timer`, a plain JSON object the server alone
//! writes (as a server edit, when the facilitator starts, pauses, resumes, extends or stops
//! it); times are the server's milliseconds since the Unix epoch, so every screen that knows
//! its offset from the server's clock shows the same remaining time.
//!
//! `{"startedAtMs", "durationMs", "pausedAtMs": null | ms, "sound": bool}`; no key: no timer.

use std::collections::HashMap;
use std::sync::Arc;

use yrs::{Any, Map, Out, ReadTxn, TransactionMut};

use crate::doc::Roots;

/// The key of the timer in `meta`.
pub const META_TIMER: &str = "timer";
/// The longest a timer may run, or be extended to (a day).
pub const TIMER_DURATION_MAX_MS: i64 = 24 * 3_600_000;
/// The shortest a timer may run, or be extended by.
pub const TIMER_DURATION_MIN_MS: i64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub started_at_ms: i64,
    pub duration_ms: i64,
    /// Paused since then (server milliseconds); `None` while it runs.
    pub paused_at_ms: Option<i64>,
    /// A soft sound on every screen when it reaches zero.
    pub sound: bool,
}

/// What the facilitator asks of the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    Start { duration_ms: i64, sound: bool },
    Pause,
    Resume,
    Extend { by_ms: i64 },
    Stop,
}

/// Why an action does not apply to the timer as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerRefusal {
    /// The action contradicts the timer's state (pausing a paused timer, no timer to stop).
    Conflict(&'static str),
    /// A duration out of bounds.
    Invalid(String),
}

impl Timer {
    /// The time left at the server's `now_ms`, never below zero nor above the duration (a
    /// page whose estimate of the server's clock is a little behind the start would otherwise
    /// show more than was set: "10:01" for ten minutes).
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        let at = self.paused_at_ms.unwrap_or(now_ms);
        (self.duration_ms - (at - self.started_at_ms)).clamp(0, self.duration_ms.max(0))
    }

    /// Running and not yet at zero at `now_ms`.
    pub fn running(&self, now_ms: i64) -> bool {
        self.paused_at_ms.is_none() && self.remaining_ms(now_ms) > 0
    }

    /// The timer `action` leaves at the server's `now_ms` (`None`: stopped).
    pub fn apply(
        current: Option<Timer>,
        action: TimerAction,
        now_ms: i64,
    ) -> Result<Option<Timer>, TimerRefusal> {
        let duration = |ms: i64, what: &str| {
            if (TIMER_DURATION_MIN_MS..=TIMER_DURATION_MAX_MS).contains(&ms) {
                Ok(ms)
            } else {
                Err(TimerRefusal::Invalid(format!(
                    "{what} must be between {TIMER_DURATION_MIN_MS} and {TIMER_DURATION_MAX_MS} ms, not {ms}"
                )))
            }
        };
        match (action, current) {
            (TimerAction::Start { duration_ms, sound }, _) => Ok(Some(Timer {
                started_at_ms: now_ms,
                duration_ms: duration(duration_ms, "durationMs")?,
                paused_at_ms: None,
                sound,
            })),
            (TimerAction::Pause, Some(t)) if t.running(now_ms) => Ok(Some(Timer {
                paused_at_ms: Some(now_ms),
                ..t
            })),
            (TimerAction::Pause, _) => Err(TimerRefusal::Conflict("no running timer to pause")),
            (TimerAction::Resume, Some(t)) => match t.paused_at_ms {
                // The pause is taken out of the elapsed time.
                Some(paused) => Ok(Some(Timer {
                    started_at_ms: t.started_at_ms + (now_ms - paused),
                    paused_at_ms: None,
                    ..t
                })),
                None => Err(TimerRefusal::Conflict("the timer is not paused")),
            },
            (TimerAction::Resume, None) => Err(TimerRefusal::Conflict("no timer to resume")),
            (TimerAction::Extend { by_ms }, Some(t)) => {
                let by_ms = duration(by_ms, "byMs")?;
                // Adds to what is left, from zero for a timer that already ended.
                let left = duration(t.remaining_ms(now_ms) + by_ms, "the time left")?;
                let elapsed = t.paused_at_ms.unwrap_or(now_ms) - t.started_at_ms;
                Ok(Some(Timer {
                    duration_ms: elapsed + left,
                    ..t
                }))
            }
            (TimerAction::Extend { .. }, None) => Err(TimerRefusal::Conflict("no timer to extend")),
            (TimerAction::Stop, Some(_)) => Ok(None),
            (TimerAction::Stop, None) => Err(TimerRefusal::Conflict("no timer to stop")),
        }
    }

    /// The timer in `meta`, if any (a malformed one reads as none).
    pub fn read<T: ReadTxn>(roots: &Roots, txn: &T) -> Option<Timer> {
        let Some(Out::Any(Any::Map(map))) = roots.meta.get(txn, META_TIMER) else {
            return None;
        };
        // Whole milliseconds, whether a client wrote them as integers or as floats.
        let number = |key: &str| match map.get(key) {
            Some(Any::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64),
            _ => None,
        };
        Some(Timer {
            started_at_ms: number("startedAtMs")?,
            duration_ms: number("durationMs")?,
            paused_at_ms: number("pausedAtMs"),
            sound: matches!(map.get("sound"), Some(Any::Bool(true))),
        })
    }

    /// Writes `timer` into `meta` (`None` removes it).
    pub fn write(roots: &Roots, txn: &mut TransactionMut, timer: Option<Timer>) {
        let Some(t) = timer else {
            roots.meta.remove(txn, META_TIMER);
            return;
        };
        let mut map = HashMap::new();
        map.insert(
            "startedAtMs".to_owned(),
            Any::Number(t.started_at_ms.into()),
        );
        map.insert("durationMs".to_owned(), Any::Number(t.duration_ms.into()));
        map.insert(
            "pausedAtMs".to_owned(),
            t.paused_at_ms
                .map_or(Any::Null, |ms| Any::Number(ms.into())),
        );
        map.insert("sound".to_owned(), Any::Bool(t.sound));
        roots.meta.insert(txn, META_TIMER, Any::Map(Arc::new(map)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    const MIN: i64 = 60_000;

    fn start(now: i64) -> Timer {
        Timer::apply(
            None,
            TimerAction::Start {
                duration_ms: 5 * MIN,
                sound: true,
            },
            now,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn a_pause_is_not_counted() {
        let t = start(1_000_000);
        assert_eq!(t.remaining_ms(1_000_000 + MIN), 4 * MIN);
        let paused = Timer::apply(Some(t), TimerAction::Pause, 1_000_000 + MIN)
            .unwrap()
            .unwrap();
        // Ten minutes of pause change nothing.
        assert_eq!(paused.remaining_ms(1_000_000 + 11 * MIN), 4 * MIN);
        let resumed = Timer::apply(Some(paused), TimerAction::Resume, 1_000_000 + 11 * MIN)
            .unwrap()
            .unwrap();
        assert_eq!(resumed.remaining_ms(1_000_000 + 12 * MIN), 3 * MIN);
        assert_eq!(
            Timer::apply(Some(resumed), TimerAction::Resume, 0),
            Err(TimerRefusal::Conflict("the timer is not paused"))
        );
    }

    #[test]
    fn extending_adds_to_what_is_left_even_after_the_end() {
        let t = start(0);
        let running = Timer::apply(Some(t), TimerAction::Extend { by_ms: MIN }, MIN)
            .unwrap()
            .unwrap();
        assert_eq!(running.remaining_ms(MIN), 5 * MIN);
        // Ended an hour ago: one more minute is one minute from now, not an hour ago.
        let late = Timer::apply(Some(t), TimerAction::Extend { by_ms: MIN }, 65 * MIN)
            .unwrap()
            .unwrap();
        assert_eq!(late.remaining_ms(65 * MIN), MIN);
        assert!(late.running(65 * MIN));
        assert!(matches!(
            Timer::apply(
                Some(t),
                TimerAction::Extend {
                    by_ms: TIMER_DURATION_MAX_MS
                },
                0
            ),
            Err(TimerRefusal::Invalid(_))
        ));
    }

    #[test]
    fn nothing_to_pause_or_stop_is_a_conflict() {
        assert!(matches!(
            Timer::apply(None, TimerAction::Stop, 0),
            Err(TimerRefusal::Conflict(_))
        ));
        let ended = start(0);
        assert!(matches!(
            Timer::apply(Some(ended), TimerAction::Pause, 6 * MIN),
            Err(TimerRefusal::Conflict(_))
        ));
        assert!(matches!(
            Timer::apply(
                None,
                TimerAction::Start {
                    duration_ms: 10,
                    sound: false
                },
                0
            ),
            Err(TimerRefusal::Invalid(_))
        ));
    }

    #[test]
    fn the_timer_round_trips_through_meta() {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let paused = Timer {
            paused_at_ms: Some(1_764_000_123_456),
            ..start(1_764_000_000_000)
        };
        Timer::write(&roots, &mut doc.transact_mut(), Some(paused));
        assert_eq!(Timer::read(&roots, &doc.transact()), Some(paused));
        Timer::write(&roots, &mut doc.transact_mut(), None);
        assert_eq!(Timer::read(&roots, &doc.transact()), None);
    }
}
