//! The meeting's shared timer in the board's header: every screen shows the same remaining
//! time, counted from the server's clock. The timer itself is `meta.timer` in the document
//! (written by the server when the facilitator starts, pauses, extends or stops it); this page
//! estimates its offset from the server's clock with a few round trips to `/api/time`, again
//! after each reconnection.

use leptos::prelude::*;
use shared::timer::{TIMER_DURATION_MAX_MS, Timer};
use wasm_bindgen::prelude::*;

use crate::api;
use crate::i18n::{Key, use_i18n};
use crate::session::Status;

/// Round trips to `/api/time` per estimate; the shortest one's answer is kept.
const CLOCK_SAMPLES: usize = 5;
/// How often the remaining time is redrawn.
const TICK_MS: u64 = 250;

/// The server's clock minus this page's, in milliseconds: the answer of the shortest of a few
/// round trips, taken as read halfway through it. `None` when the server did not answer.
async fn clock_offset_ms() -> Option<f64> {
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..CLOCK_SAMPLES {
        let sent = js_sys::Date::now();
        let Ok(server) = api::server_time().await else {
            continue;
        };
        let received = js_sys::Date::now();
        let round_trip = received - sent;
        if best.is_none_or(|(shortest, _)| round_trip < shortest) {
            best = Some((round_trip, server - (sent + received) / 2.0));
        }
    }
    best.map(|(_, offset)| offset)
}

/// `m:ss` (or `h:mm:ss`) of a duration, rounded up to the second: a timer shows 0:00 only
/// once it has ended.
fn clock_text(ms: i64) -> String {
    let seconds = (ms + 999) / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[wasm_bindgen]
extern "C" {
    /// `static/main.js`: a short, soft chime (Web Audio), when the page may play sound.
    #[wasm_bindgen(js_name = nouageChime)]
    fn chime();
}

#[component]
pub fn MeetingTimer(
    timer: RwSignal<Option<Timer>>,
    status: RwSignal<Status>,
    board_id: String,
    token: String,
    facilitator: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    // The page's own clock corrected by the offset; until an estimate is in, the page's clock.
    let offset_ms = RwSignal::new(0.0);
    Effect::new(move |_| {
        if status.get() == Status::Connected {
            leptos::task::spawn_local(async move {
                if let Some(offset) = clock_offset_ms().await {
                    offset_ms.set(offset);
                }
            });
        }
    });
    let now_ms = RwSignal::new(js_sys::Date::now());
    if let Ok(tick) = set_interval_with_handle(
        move || now_ms.set(js_sys::Date::now()),
        std::time::Duration::from_millis(TICK_MS),
    ) {
        on_cleanup(move || tick.clear());
    }
    let server_now = move || (now_ms.get() + offset_ms.get()) as i64;
    let remaining = move || timer.get().map(|t| t.remaining_ms(server_now()));
    let state = move || match timer.get() {
        None => "none",
        Some(t) if t.paused_at_ms.is_some() => "paused",
        Some(t) if t.remaining_ms(server_now()) == 0 => "ended",
        Some(_) => "running",
    };
    // A chime once, on the screens that saw the timer reach zero (not on a page opened after).
    let was_running = StoredValue::new(false);
    Effect::new(move |_| {
        let running = state() == "running";
        let ended = state() == "ended";
        if ended && was_running.get_value() && timer.get_untracked().is_some_and(|t| t.sound) {
            chime();
        }
        was_running.set_value(running);
    });

    let error = RwSignal::new(None::<String>);
    let (board_id, token) = (StoredValue::new(board_id), StoredValue::new(token));
    let send = move |body: String| {
        leptos::task::spawn_local(async move {
            let answer = api::timer(&board_id.get_value(), &token.get_value(), &body).await;
            error.set(answer.err());
        });
    };
    let minutes = RwSignal::new(5.0_f64);
    let sound = RwSignal::new(true);
    let start = move |_| {
        let duration_ms = (minutes.get_untracked() * 60_000.0).round() as i64;
        send(format!(
            r#"{{"action":"start","durationMs":{},"sound":{}}}"#,
            duration_ms.clamp(1_000, TIMER_DURATION_MAX_MS),
            sound.get_untracked()
        ));
    };
    let action = move |name: &'static str| move |_| send(format!(r#"{{"action":"{name}"}}"#));
    let setting_up = RwSignal::new(false);
    let set_sound = move |ev| sound.set(event_target_checked(&ev));
    let set_minutes = move |ev| {
        if let Ok(m) = event_target_value(&ev).parse::<f64>() {
            minutes.set(m.max(1.0));
        }
    };

    view! {
        <div class="meeting-timer" data-state=state>
            <Show when=move || timer.with(Option::is_some)>
                <span class="timer-clock" role="timer" data-remaining-ms=move || remaining().unwrap_or(0)
                    aria-label=move || format!("{} {}", i18n.t(Key::TimerLeft), clock_text(remaining().unwrap_or(0)))>
                    {move || clock_text(remaining().unwrap_or(0))}
                    {move || match state() {
                        "paused" => Some(Key::TimerPaused),
                        "ended" => Some(Key::TimerEnded),
                        _ => None,
                    }.map(|key| view! { <small>" "{i18n.live(key)}</small> })}
                </span>
            </Show>
            {facilitator.then(|| view! {
                <Show when=move || timer.get().is_some()
                    fallback=move || view! {
                        <button type="button" class="timer-toggle" data-action="timer-setup" aria-expanded=move || setting_up.get().to_string()
                            on:click=move |_| setting_up.update(|open| *open = !*open)>{i18n.live(Key::Timer)}</button>
                        <Show when=move || setting_up.get()>
                            <span class="timer-setup">
                                <label>{i18n.live(Key::TimerMinutes)}" "
                                    <input type="number" min="1" max="1440" step="1" class="timer-minutes" data-action="timer-minutes"
                                        prop:value=move || minutes.get().to_string()
                                        on:input=set_minutes />
                                </label>
                                <label><input type="checkbox" prop:checked=move || sound.get() on:change=set_sound />" "{i18n.live(Key::TimerSound)}</label>
                                <button type="button" class="primary" data-action="timer-start" on:click=start>{i18n.live(Key::TimerStart)}</button>
                            </span>
                        </Show>
                    }>
                    {move || if state() == "paused" {
                        view! { <button type="button" data-action="timer-resume" on:click=action("resume")>{i18n.live(Key::TimerResume)}</button> }.into_any()
                    } else {
                        view! { <button type="button" data-action="timer-pause" prop:disabled=move || state() != "running" on:click=action("pause")>{i18n.live(Key::TimerPause)}</button> }.into_any()
                    }}
                    <button type="button" data-action="timer-extend"
                        on:click=move |_| send(r#"{"action":"extend","byMs":60000}"#.to_owned())>{i18n.live(Key::TimerExtend)}</button>
                    <button type="button" class="tiny" data-action="timer-stop" aria-label=i18n.live(Key::TimerStop) on:click=action("stop")>"✕"</button>
                </Show>
            })}
            {move || error.get().map(|e| view! { <span class="timer-error" role="alert">{e}</span> })}
        </div>
    }
}
