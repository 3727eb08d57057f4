//! The history panel: the board's timeline (who did what, when, in working sessions, from the
//! server's journal) and a time slider that shows the board read-only as it was after any
//! change, drawn by the server (`export?format=svg&at=`).

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::api::{self, History};
use crate::i18n::{I18n, Key, use_i18n};
use crate::session::person;

#[wasm_bindgen]
extern "C" {
    /// `static/main.js`: fetches with the token in a header, returns a `blob:` URL.
    #[wasm_bindgen(js_name = nouageObjectUrl, catch)]
    fn nouage_object_url(url: &str, token: &str) -> Result<js_sys::Promise, JsValue>;
}

/// Element id → "created by … · changed by …", from the server's record, read by every
/// element's hover text. Loaded when the pointer moves over the board after the document
/// changed (at most every `TRACES_REFRESH_MS`), and when the history panel opens: the server
/// replays the journal for it, so it is not fetched on every change. One signal per element,
/// so a load re-renders the texts that changed, and a map of 2,000 nodes does not hang 2,000
/// subscribers on one signal (unsubscribing from a signal costs the length of its list).
#[derive(Clone, Copy)]
pub struct Traces {
    titles: StoredValue<std::collections::HashMap<String, ArcRwSignal<Option<Trace>>>>,
    stale: StoredValue<bool>,
    /// A load is scheduled.
    pending: StoredValue<bool>,
    loaded_ms: StoredValue<f64>,
    i18n: I18n,
}

const TRACES_REFRESH_MS: f64 = 5_000.0;

/// What the record says of one element.
#[derive(Clone, PartialEq)]
struct Trace {
    /// "Créé par … · modifié en dernier par …, when".
    title: String,
    /// Whom it is credited to: "Anne (Lodève)", or "Marie (Saint-Camille), saisi par Anne".
    credit: String,
}

impl Traces {
    pub fn new(i18n: I18n) -> Self {
        Traces {
            i18n,
            titles: StoredValue::new(Default::default()),
            stale: StoredValue::new(true),
            pending: StoredValue::new(false),
            loaded_ms: StoredValue::new(f64::MIN),
        }
    }

    /// The signal of element `id`'s text (`None` until the record names it).
    fn title_of(self, id: &str) -> ArcRwSignal<Option<Trace>> {
        if let Some(signal) = self.titles.with_value(|t| t.get(id).cloned()) {
            return signal;
        }
        let signal = ArcRwSignal::new(None);
        self.titles
            .update_value(|t| drop(t.insert(id.to_owned(), signal.clone())));
        signal
    }

    pub fn mark_stale(self) {
        self.stale.set_value(true);
    }

    /// Loads the record if the document changed since the last load; within
    /// `TRACES_REFRESH_MS` of that load, once that time is up.
    pub fn refresh_if_stale(self, board_id: &str, token: &str) {
        if !self.stale.get_value() || self.pending.get_value() {
            return;
        }
        let wait_ms = self.loaded_ms.get_value() + TRACES_REFRESH_MS - js_sys::Date::now();
        let (board_id, token) = (board_id.to_owned(), token.to_owned());
        let load = move || {
            self.stale.set_value(false);
            self.pending.set_value(false);
            self.loaded_ms.set_value(js_sys::Date::now());
            self.load(board_id, token);
        };
        if wait_ms <= 0.0 {
            load();
        } else {
            self.pending.set_value(true);
            set_timeout(load, std::time::Duration::from_millis(wait_ms as u64));
        }
    }
}

/// The hover text of element `id`: the server's record when known, else `fallback`.
pub fn trace_title(id: String, fallback: String) -> impl Fn() -> String + Send + Sync + 'static {
    trace_title_or(id, move || fallback.clone())
}

/// [`trace_title`] with a fallback that may change (it is read inside the reactive closure).
pub fn trace_title_or(
    id: String,
    fallback: impl Fn() -> String + Send + Sync + 'static,
) -> impl Fn() -> String + Send + Sync + 'static {
    let title = use_context::<Traces>().map(|t| t.title_of(&id));
    move || {
        title
            .as_ref()
            .and_then(|t| t.with(|t| t.as_ref().map(|t| t.title.clone())))
            .unwrap_or_else(&fallback)
    }
}

/// Whom element `id` is credited to, as the server's record says once it knows the element
/// (an `onBehalfOf` a client added after the creation changes nothing there), else
/// `fallback`, read from the document.
pub fn trace_credit_or(
    id: String,
    fallback: impl Fn() -> String + Send + Sync + 'static,
) -> impl Fn() -> String + Send + Sync + 'static {
    let trace = use_context::<Traces>().map(|t| t.title_of(&id));
    move || {
        trace
            .as_ref()
            .and_then(|t| t.with(|t| t.as_ref().map(|t| t.credit.clone())))
            .unwrap_or_else(&fallback)
    }
}

impl Traces {
    /// Fetches who created and last changed each element.
    pub fn load(self, board_id: String, token: String) {
        let i18n = self.i18n;
        let lang = i18n.0.get_untracked().as_str();
        leptos::task::spawn_local(async move {
            if let Ok(api::Elements(list, times)) = api::elements(&board_id, &token).await {
                let mut texts: std::collections::HashMap<String, Trace> = list
                    .into_iter()
                    .zip(times)
                    .map(
                        |(
                            [
                                element,
                                created_by,
                                created_org,
                                changed_by,
                                changed_org,
                                entered_by,
                                _entered_org,
                            ],
                            changed,
                        )| {
                            let mut creator = person(&created_by, &created_org);
                            if !entered_by.is_empty() {
                                creator = format!(
                                    "{creator}, {} {}",
                                    i18n.t(Key::EnteredBy),
                                    crate::i18n::shown_name(&entered_by)
                                );
                            }
                            let title = format!(
                                "{} {} · {} {}, {}",
                                i18n.t(Key::CreatedBy),
                                creator,
                                i18n.t(Key::ChangedBy),
                                person(&changed_by, &changed_org),
                                when(changed, lang)
                            );
                            let text = Trace {
                                title,
                                credit: creator,
                            };
                            (element, text)
                        },
                    )
                    .collect();
                // Only the texts that changed notify their element.
                let signals: Vec<(String, ArcRwSignal<Option<Trace>>)> = self
                    .titles
                    .with_value(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                for (id, signal) in signals {
                    let text = texts.remove(&id);
                    if signal.with_untracked(|current| *current != text) {
                        signal.set(text);
                    }
                }
                for (id, text) in texts {
                    self.titles
                        .update_value(|t| drop(t.insert(id, ArcRwSignal::new(Some(text)))));
                }
            }
        });
    }
}

/// Entries of the timeline listed under the slider (the most recent).
const TIMELINE_LINES_MAX: usize = 40;

/// "14:03" in the interface's language, in the browser's time zone.
fn clock(ms: f64, lang: &str) -> String {
    let locale = if lang == "en" { "en-GB" } else { "fr-FR" };
    js_sys::Date::new(&JsValue::from_f64(ms))
        .to_locale_time_string(locale)
        .into()
}

/// "26/11/2026 14:03" in the interface's language, in the browser's time zone.
pub(crate) fn when(ms: f64, lang: &str) -> String {
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
    // The pages seen, newest first: the cursor of each (`None` for the latest). The panel shows
    // the last one; "earlier" pushes the next cursor, "later" pops.
    let pages = RwSignal::new(vec![None::<u64>]);
    let history = LocalResource::new({
        let (id, token) = (board_id.clone(), token.clone());
        move || {
            let (id, token) = (id.clone(), token.clone());
            let before = pages.with(|p| p.last().copied().flatten());
            async move { api::history(&id, &token, before).await }
        }
    });
    if let Some(traces) = use_context::<Traces>() {
        traces.load(board_id.clone(), token.clone());
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
        // The slider stops after every change; the list below groups them in runs.
        let times: Vec<f64> = h.entries.iter().map(|e| e.0).collect();
        let position = RwSignal::new(count.saturating_sub(1));
        let label = {
            let entries = h.entries.clone();
            move || {
                entries
                    .get(position.get())
                    .map(|(ts, name)| format!("{} — {name}", when(*ts, lang)))
                    .unwrap_or_default()
            }
        };
        let lines = h
            .runs
            .iter()
            .rev()
            .take(TIMELINE_LINES_MAX)
            .map(|r| {
                let span = if r.end - r.start >= 60_000.0 {
                    format!("{} – {}", when(r.start, lang), clock(r.end, lang))
                } else {
                    when(r.start, lang)
                };
                let who = &r.who;
                view! {
                    <li><time>{span}</time>" "<strong>{person(&who.name, &who.org)}</strong>
                        " +"{who.created}" ✎"{who.edited}" −"{who.deleted}{(who.votes_cast > 0).then(|| format!(" ●{}", who.votes_cast))}
                        <span class="hint">" ("{r.entries}")"</span></li>
                }
            })
            .collect::<Vec<_>>();
        view! {
            <p class="hint">{h.sessions}" "{i18n.live(Key::WorkingSessions)}" · "{count}" "{i18n.live(Key::Changes)}</p>
            <p class="history-pages">
                {h.next_before.map(|older| view! {
                    <button type="button" class="older" on:click=move |_| pages.update(|p| p.push(Some(older)))>
                        "← "{i18n.live(Key::OlderChanges)}
                    </button>
                })}
                {(pages.with_untracked(|p| p.len()) > 1).then(|| view! {
                    <button type="button" class="newer" on:click=move |_| pages.update(|p| { p.pop(); })>
                        {i18n.live(Key::NewerChanges)}" →"
                    </button>
                    <button type="button" class="latest" on:click=move |_| pages.set(vec![None])>
                        {i18n.live(Key::LatestChanges)}" ⇥"
                    </button>
                })}
            </p>
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

/// The story of the element last clicked on the board: who created it, each run of changes,
/// deletions and restores, from the server's record (`GET /elements/{id}`).
#[component]
pub fn ElementPanel(
    board_id: String,
    token: String,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let story = LocalResource::new(move || {
        let (id, token, element) = (board_id.clone(), token.clone(), selected.get());
        async move {
            match element {
                Some(element) => api::story(&id, &token, &element).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let lines = move |story: api::Story| {
        let lang = i18n.0.get_untracked().as_str();
        story
            .0
            .into_iter()
            .rev()
            .map(|c| {
                let what = i18n.t(match c.what.as_str() {
                    "created" => Key::DidCreate,
                    "deleted" => Key::DidDelete,
                    "restored" => Key::DidRestore,
                    "grouped" => Key::DidGroup,
                    "ungrouped" => Key::DidUngroup,
                    "kept" => Key::DidKeep,
                    "set-aside" => Key::DidSetAside,
                    "reopened" => Key::DidReopen,
                    "project" => Key::DidProject,
                    _ => Key::DidEdit,
                });
                let span = if c.end > c.start {
                    format!("{} – {}", when(c.start, lang), clock(c.end, lang))
                } else {
                    when(c.start, lang)
                };
                view! {
                    <li data-what=c.what.clone()><time>{span}</time>" "<strong>{person(&c.name, &c.org)}</strong>" "{what}
                        {(!c.entered_by.is_empty()).then(|| format!(" ({} {})", i18n.t(Key::EnteredBy), crate::i18n::shown_name(&c.entered_by)))}
                        {(c.count > 1).then(|| format!(" (×{})", c.count))}</li>
                }
            })
            .collect::<Vec<_>>()
    };
    view! {
        <section class="element-panel" aria-labelledby="element-title">
            <h2 id="element-title">{i18n.live(Key::ElementStory)}
                <button class="tiny" data-action="close-element" on:click=move |_| selected.set(None)>{i18n.live(Key::Close)}</button>
            </h2>
            {move || story.get().map(|answer| match answer {
                Ok(Some(story)) => view! { <ol class="element-story">{lines(story)}</ol> }.into_any(),
                Ok(None) => view! { <p class="hint">{i18n.live(Key::ElementStoryHint)}</p> }.into_any(),
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            })}
        </section>
    }
}
