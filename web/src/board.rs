//! A board page: the join form, then the board with its status bar and presence list.

use std::rc::Rc;

use leptos::prelude::*;
use shared::BoardKind;
use wasm_bindgen::prelude::*;

use crate::api;
use crate::contributions::ContributionsPanel;
use crate::diagnosis::Diagnosis;
use crate::history::{ElementPanel, HistoryPanel};
use crate::i18n::{Key, use_i18n};
use crate::local::{self, Profile, RecentBoard};
use crate::mindmap::MindMap;
use crate::portfolio::Portfolio;
use crate::session::{Session, Status};

/// Colours offered when joining.
pub const PARTICIPANT_COLORS: [&str; 8] = [
    "#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626",
];

pub const ORG_KINDS: [(&str, Key); 6] = [
    ("commune", Key::OrgCommune),
    ("epci", Key::OrgEpci),
    ("association", Key::OrgAssociation),
    ("business", Key::OrgBusiness),
    ("citizen", Key::OrgCitizen),
    ("public", Key::OrgPublic),
];

#[component]
pub fn BoardPage(board_id: String, token: Option<String>) -> impl IntoView {
    let i18n = use_i18n();
    let Some(token) = token else {
        return view! { <main class="page"><p class="error">{i18n.live(Key::MissingToken)}</p></main> }.into_any();
    };
    let profile = RwSignal::new(local::profile());
    let info = LocalResource::new({
        let (id, token) = (board_id.clone(), token.clone());
        move || {
            let (id, token) = (id.clone(), token.clone());
            async move {
                // Without a network, what the server said last time (the board opens from the
                // copy kept on this device; see `Session`).
                match api::board_info(&id, &token).await {
                    Err(e) if e == api::OFFLINE => local::board_info(&id).ok_or(e),
                    answer => answer,
                }
            }
        }
    });
    view! {
        <Suspense fallback=move || view! { <p class="page">{i18n.live(Key::Loading)}</p> }>
            {move || {
                let board_id = board_id.clone();
                let token = token.clone();
                info.get().map(|result| match result {
                    Err(error) => view! {
                        <main class="page"><p class="error">{i18n.live(Key::ErrorPrefix)}{error.clone()}</p></main>
                    }.into_any(),
                    Ok(info) => {
                        remember(&info, &token);
                        view! {
                            <Show
                                when=move || profile.get().is_some()
                                fallback=move || view! { <JoinForm profile /> }
                            >
                                {
                                    let (board_id, token, info) = (board_id.clone(), token.clone(), info.clone());
                                    move || {
                                        let profile = profile.get_untracked().expect("shown only with a profile");
                                        view! { <BoardView board_id=board_id.clone() token=token.clone() info=info.clone() profile /> }
                                    }
                                }
                            </Show>
                        }.into_any()
                    }
                })
            }}
        </Suspense>
    }
    .into_any()
}

fn remember(info: &api::BoardInfo, token: &str) {
    local::save_board_info(info);
    local::remember_board(RecentBoard {
        id: info.id.clone(),
        title: info.title.clone(),
        kind: info.kind.clone(),
        link: format!("/b/{}#token={token}", info.id),
    });
}

#[component]
fn JoinForm(profile: RwSignal<Option<Profile>>) -> impl IntoView {
    let i18n = use_i18n();
    let name = RwSignal::new(String::new());
    let org = RwSignal::new(String::new());
    let org_kind = RwSignal::new(String::new());
    let pid = local::pid();
    let default_color = PARTICIPANT_COLORS[(js_sys::Math::random()
        * PARTICIPANT_COLORS.len() as f64) as usize
        % PARTICIPANT_COLORS.len()];
    let color = RwSignal::new(default_color.to_owned());
    let error = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let trimmed = name.get_untracked().trim().to_owned();
        if trimmed.is_empty() {
            error.set(true);
            return;
        }
        let chosen = Profile {
            pid: pid.clone(),
            name: trimmed,
            org: org.get_untracked().trim().to_owned(),
            org_kind: org_kind.get_untracked(),
            color: color.get_untracked(),
        };
        local::save_profile(&chosen);
        profile.set(Some(chosen));
    };
    view! {
        <main class="page">
            <form class="card join" on:submit=submit>
                <h1>{i18n.live(Key::JoinTitle)}</h1>
                <p class="hint">{i18n.live(Key::JoinHint)}</p>
                <label>{i18n.live(Key::YourName)}
                    <input name="name" required maxlength="80" autofocus prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <Show when=move || error.get()><p class="error" role="alert">{i18n.live(Key::NameRequired)}</p></Show>
                <label>{i18n.live(Key::Organisation)}
                    <input name="org" maxlength="120" prop:value=org on:input=move |ev| org.set(event_target_value(&ev)) />
                </label>
                <label>{i18n.live(Key::OrgKindLabel)}
                    <select name="orgKind" on:change=move |ev| org_kind.set(event_target_value(&ev))>
                        <OrgKindOptions none=Key::OrgKindNone />
                    </select>
                </label>
                <fieldset class="colors">
                    <legend>{i18n.live(Key::Colour)}</legend>
                    {PARTICIPANT_COLORS.iter().map(|c| {
                        let c = *c;
                        view! {
                            <label class="swatch" style=format!("--swatch:{c}")>
                                <input type="radio" name="color" value=c prop:checked=move || color.get() == c on:change=move |_| color.set(c.to_owned()) />
                                <span class="visually-hidden">{c}</span>
                            </label>
                        }
                    }).collect::<Vec<_>>()}
                </fieldset>
                <button type="submit" class="primary">{i18n.live(Key::Join)}</button>
            </form>
        </main>
    }
}

/// The options of an organisation-kind list: `none` (the empty value), then each kind in the
/// interface's language.
#[component]
pub fn OrgKindOptions(none: Key) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <option value="">{i18n.live(none)}</option>
        {ORG_KINDS.iter().map(|(value, key)| {
            let key = *key;
            view! { <option value=*value>{i18n.live(key)}</option> }
        }).collect::<Vec<_>>()}
    }
}

#[component]
fn BoardView(
    board_id: String,
    token: String,
    info: api::BoardInfo,
    profile: Profile,
) -> impl IntoView {
    let i18n = use_i18n();
    // Before the board's views, which read it for their hover texts.
    let traces = crate::history::Traces::new(i18n);
    provide_context(traces);
    let can_edit = info.role != "viewer";
    let facilitator = info.role == "facilitator";
    let kind: BoardKind = info.kind.parse().unwrap_or(BoardKind::MindMap);
    let show_contributions = RwSignal::new(false);
    let (panel_board, panel_token) = (board_id.clone(), token.clone());
    let (export_board, export_token) = (board_id.clone(), token.clone());
    let (history_board, history_token) = (board_id.clone(), token.clone());
    let show_history = RwSignal::new(false);
    let (story_board, story_token) = (board_id.clone(), token.clone());
    let show_story = RwSignal::new(false);
    let (code_board, code_token) = (board_id.clone(), token.clone());
    let (timer_board, timer_token) = (board_id.clone(), token.clone());
    let show_code = RwSignal::new(false);
    let drawer_open = RwSignal::new(false);
    // The presenter view, for the projector: opened from the header, or by a link whose query
    // says `?present` (a shared projector PC keeps that link, even the viewer's).
    let presenting = RwSignal::new(window().location().search().is_ok_and(|query| {
        query
            .trim_start_matches('?')
            .split('&')
            .any(|p| p == "present")
    }));
    provide_context(Presenting(presenting));
    let toggle_presenting = move |_| {
        let on = !presenting.get_untracked();
        presenting.set(on);
        full_screen(on);
    };
    // The node, note or project last clicked, whose story the element panel tells.
    let selected = RwSignal::new(None::<String>);
    let (traces_board, traces_token) = (board_id.clone(), token.clone());
    let refresh_traces =
        move |_: web_sys::MouseEvent| traces.refresh_if_stale(&traces_board, &traces_token);
    let select = move |ev: web_sys::MouseEvent| {
        let element = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| {
                t.closest("[data-node],[data-note],[data-project]")
                    .ok()
                    .flatten()
            });
        if let Some(element) = element {
            let id = ["data-node", "data-note", "data-project"]
                .iter()
                .find_map(|a| element.get_attribute(a));
            selected.set(id);
        }
    };
    let (rename_board, rename_token) = (board_id.clone(), token.clone());
    let private_profile = profile.clone();
    let session = Session::start(kind, board_id, token, profile, can_edit);
    expose_test_hooks(&session);
    let title = session.signals.title;
    // Any change of the board makes the record of who did what out of date.
    let signals = &session.signals;
    let (nodes, notes, projects) = (signals.nodes, signals.notes, signals.projects);
    Effect::new(move |_| {
        nodes.track();
        notes.track();
        projects.track();
        traces.mark_stale();
    });
    let fallback_title = info.title.clone();
    let rename = move |_| {
        let current = title.get_untracked();
        let Ok(Some(new_title)) =
            window().prompt_with_message_and_default(i18n.t(Key::RenamePrompt), &current)
        else {
            return;
        };
        let (board_id, token) = (rename_board.clone(), rename_token.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = api::rename_board(&board_id, &token, new_title.trim()).await {
                let _ = window().alert_with_message(&format!("{}{e}", i18n.t(Key::ErrorPrefix)));
            }
        });
    };
    let pseudonyms = session.signals.pseudonyms;
    let (pseudo_board, pseudo_token) = (session.board_id().to_owned(), session.token().to_owned());
    let toggle_pseudonyms = move |_| {
        let (board_id, token, on) = (
            pseudo_board.clone(),
            pseudo_token.clone(),
            !pseudonyms.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            if let Err(e) = api::set_pseudonyms(&board_id, &token, on).await {
                let _ = window().alert_with_message(&format!("{}{e}", i18n.t(Key::ErrorPrefix)));
            }
        });
    };
    let status = session.signals.status;
    let synced = session.signals.synced;
    let peers = session.signals.peers;
    // Following somebody: on a mind map their view (see `mindmap`); on a canvas or a
    // portfolio, the note or project they last chose, brought into view. The facilitator may
    // summon everybody to follow them; a gesture of one's own, or the banner's button, leaves.
    let following = session.signals.following;
    if kind != BoardKind::MindMap {
        let publishing = session.clone();
        Effect::new(move |_| publishing.set_selected(selected.get()));
        Effect::new(move |_| {
            let Some(leader) = following.get() else {
                return;
            };
            let Some(theirs) = peers.with(|p| {
                p.iter()
                    .find(|p| p.client_id == leader)
                    .and_then(|p| p.selected.clone())
            }) else {
                return;
            };
            let selector = format!("[data-note=\"{theirs}\"],[data-project=\"{theirs}\"]");
            // In the middle of the board's area, clear of the banner at its bottom.
            reveal(&selector);
        });
    }
    let leader_name = move || {
        following.get().and_then(|leader| {
            peers.with(|p| {
                p.iter()
                    .find(|p| p.client_id == leader)
                    .map(|p| p.name.clone())
            })
        })
    };
    let summoning = session.clone();
    let status_text = move || {
        i18n.t(match status.get() {
            Status::Connecting => Key::StatusConnecting,
            Status::Connected => Key::StatusConnected,
            Status::Reconnecting => Key::StatusReconnecting,
            Status::Offline => Key::StatusOffline,
            Status::Paused => Key::StatusPaused,
            Status::Refused => Key::StatusRefused,
            Status::UnknownBoard => Key::StatusUnknownBoard,
        })
    };
    let status_class = move || match status.get() {
        Status::Connected => "status ok",
        Status::Connecting | Status::Reconnecting => "status pending",
        _ => "status down",
    };
    // Keyboard-first from the start: the board takes the focus as soon as what it focuses is
    // in the page (the mind map with its central topic selected; the canvas's first section's
    // "add a note", or its first note for a viewer; the portfolio's first project, or "add a
    // project"), so Tab, Enter and typing work at once.
    focus_when_ready(
        match kind {
            BoardKind::MindMap => &[".mindmap .viewport"],
            BoardKind::Diagnosis => &[
                ".canvas-board [data-action=add-note]",
                ".canvas-board .note",
            ],
            BoardKind::Portfolio => &[
                ".portfolio-board .card-project",
                ".portfolio-board [data-action=add-project]",
            ],
        },
        FOCUS_WAIT_FRAMES,
    );
    let body = match kind {
        BoardKind::MindMap => view! { <MindMap session=session.clone() facilitator /> }.into_any(),
        BoardKind::Diagnosis => {
            view! { <Diagnosis session=session.clone() facilitator /> }.into_any()
        }
        BoardKind::Portfolio => {
            view! { <Portfolio session=session.clone() facilitator /> }.into_any()
        }
    };
    // Colour by author and the highlight of one participant's elements: one style sheet built
    // from the participants, matched against each element's `data-author`.
    let by_author = RwSignal::new(false);
    let highlight = RwSignal::new(None::<Highlight>);
    let participants = session.signals.participants;
    let author_styles = move || author_css(&participants.get(), highlight.get().as_ref());
    view! {
        <style>{author_styles}</style>
        <div class="board" class:by-author=by_author class:presenting=presenting>
            <header class="board-header">
                <a href="/" class="home-link">{i18n.live(Key::Home)}</a>
                <h1 class="board-title">{move || {
                    let live = title.get();
                    if live.is_empty() { fallback_title.clone() } else { live }
                }}</h1>
                {facilitator.then(|| view! { <button type="button" class="rename" on:click=rename>{i18n.live(Key::Rename)}</button> })}
                {(!can_edit).then(|| view! { <span class="badge readonly">{i18n.live(Key::ReadOnly)}</span> })}
                <span class=status_class role="status" data-status=move || status.get().name() data-synced=move || synced.get().to_string()>{status_text}</span>
                <crate::timer::MeetingTimer timer=session.signals.timer status board_id=timer_board token=timer_token facilitator />
                <button type="button" class="present-toggle" data-action="present" aria-pressed=move || presenting.get().to_string() on:click=toggle_presenting>
                    {move || i18n.t(if presenting.get() { Key::StopPresenting } else { Key::PresentBoard })}
                </button>
                <Toggle class="by-author-toggle" on=by_author label=Key::ColourByAuthor />
                <ExportMenu board_id=export_board.clone() token=export_token.clone() kind />
            </header>
            <div class="board-body" on:click=select on:mouseover=refresh_traces>
                {move || leader_name().map(|name| view! {
                    <div class="following-banner" role="status">
                        {i18n.live(Key::FollowingWho)}" "<strong>{name}</strong>
                        <button type="button" class="tiny" data-action="unfollow" on:click=move |_| following.set(None)>{i18n.live(Key::Unfollow)}</button>
                    </div>
                })}
                <crate::proxy::EnteringForBanner signals=session.signals />
                <crate::private::PrivateRoundPanel session=session.clone() kind profile=private_profile facilitator />
                {body}
                <aside class="presence" class:open=drawer_open aria-labelledby="presence-title">
                    // On a phone the column is a drawer at the bottom of the screen: this
                    // heading opens and closes it (on a desktop it is only a heading).
                    <h2 id="presence-title">
                        <button type="button" class="drawer-handle" aria-expanded=move || drawer_open.get().to_string()
                            on:click=move |_| drawer_open.update(|open| *open = !*open)>
                            {i18n.live(Key::Present)}<span class="badge">{move || peers.with(Vec::len)}</span>
                        </button>
                    </h2>
                    <ul class="people">
                        <For each=move || peers.get() key=|p| (p.client_id, p.name.clone(), p.org.clone(), p.color.clone()) children=move |p| {
                            let you = p.is_self.then(|| format!(" ({})", i18n.t(Key::You)));
                            view! {
                                <li class="person" style=format!("--peer:{}", p.color)>
                                    <span class="dot" aria-hidden="true"></span>
                                    <span class="person-name">{if p.name.is_empty() { i18n.t(Key::AnonymousClient).to_owned() } else { p.name.clone() }}{you}</span>
                                    {(!p.org.is_empty()).then(|| view! { <span class="person-org">{p.org.clone()}</span> })}
                                    {(!p.is_self).then(|| {
                                        let leader = p.client_id;
                                        view! {
                                            <button type="button" class="tiny follow" data-action="follow" aria-pressed=move || (following.get() == Some(leader)).to_string()
                                                on:click=move |_| following.update(|f| *f = if *f == Some(leader) { None } else { Some(leader) })>
                                                {move || i18n.t(if following.get() == Some(leader) { Key::Unfollow } else { Key::Follow })}
                                            </button>
                                        }
                                    })}
                                </li>
                            }
                        } />
                    </ul>
                    {can_edit.then(|| view! { <crate::proxy::ProxyEntry signals=session.signals /> })}
                    {facilitator.then(|| view! { <crate::private::PrivateRoundOpen session=session.clone() /> })}
                    {facilitator.then(|| view! {
                        <button type="button" class="pseudonyms-toggle" data-action="pseudonyms" aria-pressed=move || pseudonyms.get().to_string()
                            title=i18n.live(Key::PseudonymsHint) on:click=toggle_pseudonyms.clone()>{i18n.live(Key::Pseudonyms)}</button>
                    })}
                    {facilitator.then(|| view! {
                        <button type="button" class="summon" data-action="summon" on:click=move |_| summoning.summon()>{i18n.live(Key::Summon)}</button>
                    })}
                    <Toggle class="join-code-toggle" on=show_code label=Key::JoinCodeTitle />
                    <Show when=move || show_code.get()>
                        <crate::join::JoinCodePanel board_id=code_board.clone() token=code_token.clone() facilitator />
                    </Show>
                    <Toggle class="contributions-toggle" on=show_contributions label=Key::ShowContributions />
                    <Show when=move || show_contributions.get()>
                        <ContributionsPanel board_id=panel_board.clone() token=panel_token.clone() can_edit highlight />
                    </Show>
                    <Toggle class="history-toggle" on=show_history label=Key::ShowHistory />
                    <Show when=move || show_history.get()>
                        <HistoryPanel board_id=history_board.clone() token=history_token.clone() />
                    </Show>
                    <Toggle class="story-toggle" on=show_story label=Key::ElementStory />
                    <Show when=move || show_story.get()>
                        <ElementPanel board_id=story_board.clone() token=story_token.clone() selected />
                    </Show>
                </aside>
            </div>
        </div>
    }
}

/// Whether the board shows as the presenter view (provided by the board for its views).
#[derive(Clone, Copy)]
pub struct Presenting(pub RwSignal<bool>);

/// Asks the browser for full screen (on) or leaves it (off); a browser that refuses (no user
/// gesture, an embedded frame) keeps the window as it is.
fn full_screen(on: bool) {
    let document = document();
    let (target, method): (JsValue, &str) = if on {
        match document.document_element() {
            Some(root) => (root.into(), "requestFullscreen"),
            None => return,
        }
    } else {
        (document.into(), "exitFullscreen")
    };
    if let Ok(function) = js_sys::Reflect::get(&target, &JsValue::from_str(method))
        && let Some(function) = function.dyn_ref::<js_sys::Function>()
        && let Ok(promise) = function.call0(&target)
        && let Ok(promise) = promise.dyn_into::<js_sys::Promise>()
    {
        // A refusal is a rejected promise: caught, so it is not reported as an error.
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = promise.catch(&ignore);
        ignore.forget();
    }
}

/// Frames the board waits for its first focus target (about two seconds at 60 Hz: the
/// document arrives with the first sync).
const FOCUS_WAIT_FRAMES: u32 = 120;

/// Focuses the first element matching one of `selectors` (in that order of preference) once
/// one is in the page, unless the person has put the focus somewhere already.
fn focus_when_ready(selectors: &'static [&'static str], frames_left: u32) {
    request_animation_frame(move || {
        let document = document();
        let untouched = document
            .active_element()
            .is_none_or(|active| Some(active) == document.body().map(Into::into));
        if !untouched {
            return;
        }
        // Once the first sync is in (the board's elements are in the page), or when waiting
        // is over (offline): the first selector that matches.
        let synced = document
            .query_selector("[data-synced=true]")
            .ok()
            .flatten()
            .is_some();
        let target = (synced || frames_left == 0)
            .then(|| {
                selectors
                    .iter()
                    .find_map(|selector| document.query_selector(selector).ok().flatten())
            })
            .flatten();
        match target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
            Some(element) => {
                let _ = element.focus();
            }
            None if frames_left > 0 => focus_when_ready(selectors, frames_left - 1),
            None => {}
        }
    });
}

#[wasm_bindgen]
extern "C" {
    /// `static/main.js`: scrolls the board's area (never the page) to centre the element.
    #[wasm_bindgen(js_name = nouageReveal)]
    fn reveal(selector: &str);

    /// `static/main.js`: downloads an export with the token in a header.
    #[wasm_bindgen(js_name = nouageDownload, catch)]
    fn nouage_download(url: &str, token: &str, filename: &str) -> Result<js_sys::Promise, JsValue>;
}

/// Every export format as the API names it, its file ending, its label, and whether a mind
/// map, a canvas and a portfolio offer it (see docs/api.md).
const EXPORT_FORMATS: [(&str, &str, Key, [bool; 3]); 12] = [
    ("pdf", "pdf", Key::ExportPdf, [true, true, true]),
    ("png", "png", Key::ExportPng, [true, true, true]),
    ("svg", "svg", Key::ExportSvg, [true, true, true]),
    ("md", "md", Key::ExportMd, [true, true, true]),
    ("opml", "opml", Key::ExportOpml, [true, false, false]),
    ("mm", "mm", Key::ExportMm, [true, false, false]),
    ("csv", "csv", Key::ExportCsv, [false, true, true]),
    ("odt", "odt", Key::ExportOdt, [true, true, true]),
    (
        "record-pdf",
        "record.pdf",
        Key::ExportRecordPdf,
        [true, true, true],
    ),
    (
        "record-md",
        "record.md",
        Key::ExportRecordMd,
        [true, true, true],
    ),
    ("json", "json", Key::ExportJson, [true, true, true]),
    ("yjs", "yjs", Key::ExportYjs, [true, true, true]),
];

fn export_formats(
    kind: BoardKind,
) -> impl Iterator<Item = &'static (&'static str, &'static str, Key, [bool; 3])> {
    let column = match kind {
        BoardKind::MindMap => 0,
        BoardKind::Diagnosis => 1,
        BoardKind::Portfolio => 2,
    };
    EXPORT_FORMATS.iter().filter(move |f| f.3[column])
}

/// The export menu of the board header: each entry downloads the board in one format.
#[component]
fn ExportMenu(board_id: String, token: String, kind: BoardKind) -> impl IntoView {
    let i18n = use_i18n();
    let entries = export_formats(kind)
        .map(|(format, extension, key, _)| {
            let (board_id, token) = (board_id.clone(), token.clone());
            let download = move |_| {
                let url = format!("/api/boards/{board_id}/export?format={format}");
                let filename = format!("{board_id}.{extension}");
                let token = token.clone();
                leptos::task::spawn_local(async move {
                    let done = match nouage_download(&url, &token, &filename) {
                        Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.map(|_| ()),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = done {
                        let message = e.as_string().unwrap_or_default();
                        let _ = window().alert_with_message(&format!("{}{message}", i18n.t(Key::ErrorPrefix)));
                    }
                });
            };
            view! { <li><button type="button" data-format=*format on:click=download>{i18n.live(*key)}</button></li> }
        })
        .collect::<Vec<_>>();
    view! {
        <details class="export-menu">
            <summary>{i18n.live(Key::Export)}</summary>
            <ul>{entries}</ul>
        </details>
    }
}

/// A button that switches `on`, pressed while it is on.
#[component]
fn Toggle(class: &'static str, on: RwSignal<bool>, label: Key) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button type="button" class=class aria-pressed=move || if on.get() { "true" } else { "false" }
            on:click=move |_| on.update(|b| *b = !*b)>{i18n.live(label)}</button>
    }
}

/// Whose contributions the board shows highlighted, chosen in the contributions panel.
#[derive(Clone, PartialEq)]
pub enum Highlight {
    Participant(String),
    Organisation(String),
}

/// The rules giving each participant's elements their colour (`--author`), and dimming the
/// other elements when a participant or an organisation is highlighted. Participant ids come
/// from any client, so only plain ids (letters, digits, `-`, `_`) become selectors, and only
/// hex colours are used.
fn author_css(
    participants: &std::collections::BTreeMap<String, shared::Participant>,
    highlight: Option<&Highlight>,
) -> String {
    let plain = |pid: &str| {
        !pid.is_empty()
            && pid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut css = String::new();
    for (pid, p) in participants.iter().filter(|(pid, _)| plain(pid)) {
        css.push_str(&format!(
            "[data-author=\"{pid}\"]{{--author:{}}}",
            crate::session::safe_color(&p.color)
        ));
    }
    if let Some(highlight) = highlight {
        let chosen = participants.iter().filter(|(pid, p)| {
            plain(pid)
                && match highlight {
                    Highlight::Participant(chosen) => *pid == chosen,
                    Highlight::Organisation(org) => p.org == *org,
                }
        });
        css.push_str(".board [data-author]");
        for (pid, _) in chosen {
            css.push_str(&format!(":not([data-author=\"{pid}\"])"));
        }
        css.push_str("{opacity:.25}");
    }
    css
}

/// `window.nouage.offline()` / `.online()`: cut and restore this page's connection, as the
/// browser tests do to check offline edits merge on reconnection.
fn expose_test_hooks(session: &Rc<Session>) {
    let hooks = js_sys::Object::new();
    let offline = {
        let session = session.clone();
        Closure::<dyn Fn()>::new(move || session.set_offline(true))
    };
    let online = {
        let session = session.clone();
        Closure::<dyn Fn()>::new(move || session.set_offline(false))
    };
    let _ = js_sys::Reflect::set(&hooks, &"offline".into(), offline.as_ref());
    let _ = js_sys::Reflect::set(&hooks, &"online".into(), online.as_ref());
    offline.forget();
    online.forget();
    let _ = js_sys::Reflect::set(&window(), &"nouage".into(), &hooks);
}
