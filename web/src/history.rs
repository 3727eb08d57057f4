//! The history panel: the board's timeline (who did what, when, in working sessions, from the
//! server's journal) and a time slider that shows the board read-only as it was after any
//! change, drawn by the server (`export?format=svg&at=`).

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::api::{self, History};
use crate::i18n::{Key, use_i18n};

#[wasm_bindgen]
extern "C" {
    /// `static/main.js`: fetches with the token in a header, returns a `blob:` URL.
    #[wasm_bindgen(js_name = nouageObjectUrl, catch)]
    fn nouage_object_url(url: &str, token: &str) -> Result<js_sys::Promise, JsValue>;
}

/// Element id → "created by … · changed by …", from the server's record; filled when the
/// history panel opens, read by every element's hover text.
#[derive(Clone, Copy)]
pub struct Traces(pub RwSignal<std::collections::HashMap<String, String>>);

/// The hover text of element `id`: the server's record when known, else `fallback`.
pub fn trace_title(id: String, fallback: String) -> impl Fn() -> String + Send + Sync + 'static {
    let traces = use_context::<Traces>();
    move || {
        traces
            .and_then(|t| t.0.with(|m| m.get(&id).cloned()))
            .unwrap_or_else(|| fallback.clone())
    }
}

/// Entries of the timeline listed under the slider (the most recent).
const TIMELINE_LINES_MAX: usize = 40;

/// "26/11/2026 14:03" in the interface's language, in the browser's time zone.
fn when(ms: f64, lang: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let locale = if lang == "en" { "en-GB" } else { "fr-FR" };
    format!(
        "{} {}",
        String::from(date.to_locale_date_string(locale, &JsValue::UNDEFINED)),
        String::from(date.to_locale_time_string(locale))
    )
}

#[component]
pub fn HistoryPanel(board_id: String, token: String) -> impl IntoView {
    let i18n = use_i18n();
    let history = LocalResource::new({
        let (id, token) = (board_id.clone(), token.clone());
        move || {
            let (id, token) = (id.clone(), token.clone());
            async move { api::history(&id, &token).await }
        }
    });
    // Who created and last changed each element, for the hover texts of the board.
    if let Some(traces) = use_context::<Traces>() {
        let (id, token) = (board_id.clone(), token.clone());
        let lang = i18n.0.get_untracked().as_str();
        leptos::task::spawn_local(async move {
            if let Ok(api::Elements(list)) = api::elements(&id, &token).await {
                let texts = list
                    .into_iter()
                    .map(|(element, created_by, _, changed_by, changed)| {
                        let text = format!(
                            "{} {created_by} · {} {changed_by} ({})",
                            i18n.t(Key::CreatedBy),
                            i18n.t(Key::ChangedBy),
                            when(changed, lang)
                        );
                        (element, text)
                    })
                    .collect();
                traces.0.set(texts);
            }
        });
    }
    let picture = RwSignal::new(None::<String>);
    // The moment shown, for the picture's caption.
    let shown = RwSignal::new(String::new());
    let label_now = move || shown.get();
    let show_at = move |ms: f64| {
        let url = format!("/api/boards/{board_id}/export?format=svg&at={}", ms as i64);
        let token = token.clone();
        leptos::task::spawn_local(async move {
            let answer = match nouage_object_url(&url, &token) {
                Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await,
                Err(e) => Err(e),
            };
            match answer {
                Ok(href) => picture.set(href.as_string()),
                Err(e) => {
                    let message = e.as_string().unwrap_or_default();
                    let _ = window()
                        .alert_with_message(&format!("{}{message}", i18n.t(Key::ErrorPrefix)));
                }
            }
        });
    };
    let show_at = StoredValue::new(show_at);
    let content = move |h: History| {
        let lang = i18n.0.get_untracked().as_str();
        let count = h.entries.len();
        let times: Vec<f64> = h.entries.iter().map(|e| e.ts).collect();
        let position = RwSignal::new(count.saturating_sub(1));
        let label = {
            let entries = h.entries.clone();
            move || {
                entries
                    .get(position.get())
                    .map(|e| format!("{} — {}", when(e.ts, lang), e.name))
                    .unwrap_or_default()
            }
        };
        let lines = h
            .entries
            .iter()
            .rev()
            .take(TIMELINE_LINES_MAX)
            .map(|e| {
                view! {
                    <li><time>{when(e.ts, lang)}</time>" "<strong>{e.name.clone()}</strong>
                        " +"{e.created}" ✎"{e.edited}" −"{e.deleted}{(e.votes > 0).then(|| format!(" ●{}", e.votes))}</li>
                }
            })
            .collect::<Vec<_>>();
        view! {
            <p class="hint">{h.sessions}" "{i18n.live(Key::WorkingSessions)}" · "{count}" "{i18n.live(Key::Changes)}</p>
            {(count > 0).then(|| view! {
                <label class="time-travel">{i18n.live(Key::TimeTravel)}
                    <input type="range" min="0" max=count - 1 prop:value=move || position.get().to_string()
                        on:input=move |ev| position.set(event_target_value(&ev).parse().unwrap_or(0))
                        on:change=move |_| {
                            if let Some(ts) = times.get(position.get_untracked()) {
                                shown.set(when(*ts, lang));
                                show_at.with_value(|show| show(*ts));
                            }
                        } />
                </label>
                <p class="time-label" role="status">{label}</p>
            })}
            <ol class="timeline" reversed>{lines}</ol>
        }
    };
    view! {
        <section class="history-panel" aria-labelledby="history-title">
            <h2 id="history-title">{i18n.live(Key::History)}</h2>
            {move || history.get().map(|result| match result {
                Ok(h) => content(h).into_any(),
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            })}
            <Show when=move || picture.get().is_some()>
                <figure class="past-board" on:click=move |_| picture.set(None)>
                    <img src=move || picture.get().unwrap_or_default() alt=i18n.live(Key::PastBoard) />
                    <figcaption>{label_now}" · "{i18n.live(Key::PastBoard)}" · "{i18n.live(Key::ClickToClose)}</figcaption>
                </figure>
            </Show>
        </section>
    }
}
