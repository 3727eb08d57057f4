//! The private writing round on a page: while the board's `meta.privateRound` says one is
//! open, this page (an editor's or the facilitator's) opens its participant's private space
//! (`Session::start_private`, reached with the secret this browser keeps beside its pid) and
//! sends the board's "add" actions there; a panel lists what it holds, lets the participant
//! write, change and withdraw ideas, and gives the facilitator the reveal and the cancel.
//! Nothing of the space is in the board's document until the server reveals it.

use std::rc::Rc;

use leptos::prelude::*;
use shared::BoardKind;
use shared::portfolio::{LEAD_MODES, STAGES};
use shared::private_round::PrivateRound;
use yrs::Map;

use crate::api;
use crate::i18n::{Key, use_i18n};
use crate::local::Profile;
use crate::session::{Session, new_id};

/// One idea of the private space, as the panel lists it.
#[derive(Debug, Clone, PartialEq)]
struct Idea {
    id: String,
    text: String,
    /// Where it will go: the section, the parent idea or the stage, in words.
    place: String,
}

/// The ideas of a private space, newest last.
fn ideas(space: &Session, board: &Session, kind: BoardKind) -> Vec<Idea> {
    let s = space.signals;
    let b = board.signals;
    let mut list: Vec<Idea> = match kind {
        BoardKind::Diagnosis => {
            let sections = b.sections.get();
            s.notes
                .get()
                .into_iter()
                .map(|n| Idea {
                    place: sections
                        .iter()
                        .find(|x| x.id == n.section)
                        .map(|x| x.title.clone())
                        .unwrap_or_default(),
                    id: n.id,
                    text: n.text,
                })
                .collect()
        }
        BoardKind::MindMap => {
            let (nodes, mine) = (b.nodes.get(), s.nodes.get());
            let text_of = |id: &str| {
                nodes
                    .iter()
                    .chain(mine.iter())
                    .find(|n| n.id == id)
                    .map(|n| n.text.clone())
            };
            mine.iter()
                .map(|n| Idea {
                    id: n.id.clone(),
                    text: n.text.clone(),
                    place: n.parent.as_deref().and_then(text_of).unwrap_or_default(),
                })
                .collect()
        }
        BoardKind::Portfolio => s
            .projects
            .get()
            .into_iter()
            .map(|p| Idea {
                place: p.stage.clone(),
                id: p.id,
                text: p.title,
            })
            .collect(),
    };
    // New ids start with the time they were made.
    list.sort_by(|a, b| a.id.cmp(&b.id));
    list
}

/// The places an idea may go, as (value, label): the canvas's sections, the central topic and
/// the main branches of a mind map, a portfolio's stages.
fn places(board: &Session, kind: BoardKind, i18n: crate::i18n::I18n) -> Vec<(String, String)> {
    let b = board.signals;
    match kind {
        BoardKind::Diagnosis => b
            .sections
            .get()
            .into_iter()
            .map(|s| (s.id, s.title))
            .collect(),
        BoardKind::MindMap => b
            .nodes
            .get()
            .into_iter()
            .filter(|n| n.id == "root" || n.parent.as_deref() == Some("root"))
            .map(|n| (n.id, n.text))
            .collect(),
        BoardKind::Portfolio => STAGES
            .iter()
            .map(|s| {
                let label = i18n.t(crate::portfolio::stage_key(s));
                ((*s).to_owned(), label.to_owned())
            })
            .collect(),
    }
}

/// How often the facilitator's panel asks how many people opened their space.
const WRITERS_REFRESH_MS: u64 = 3_000;

/// This browser's secret for private spaces: made once, kept beside its pid, never sent
/// anywhere but to the server's private-space address.
fn secret() -> String {
    crate::local::private_secret()
}

#[component]
pub fn PrivateRoundPanel(
    session: Rc<Session>,
    kind: BoardKind,
    profile: Profile,
    facilitator: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let round = session.signals.private_round;
    let can_edit = session.can_edit;
    let space = StoredValue::new_local(None::<(String, Rc<Session>)>);
    // The space's version, so the list below follows a space replaced by another.
    let space_version = RwSignal::new(0u32);
    {
        let board = session.clone();
        // A space's signals belong to this panel, not to the effect below: the effect's next
        // run would dispose of them while the old space's socket still reports its closing.
        let owner = Owner::current().expect("a component has an owner");
        Effect::new(move |_| {
            let wanted = round.get().filter(|_| can_edit).map(|r: PrivateRound| r.id);
            let current = space.with_value(|s| s.as_ref().map(|(id, _)| id.clone()));
            if wanted == current {
                return;
            }
            if let Some((_, old)) = space.get_value() {
                old.set_offline(true);
            }
            let opened = wanted.map(|id| {
                let private = owner.with(|| {
                    Session::start_private(
                        kind,
                        board.board_id().to_owned(),
                        board.token().to_owned(),
                        profile.clone(),
                        secret(),
                    )
                });
                (id, private)
            });
            board.set_divert(opened.as_ref().map(|(_, s)| s.clone()));
            space.set_value(opened);
            space_version.update(|v| *v += 1);
        });
    }
    let board = StoredValue::new_local(session.clone());
    let list = move || {
        space_version.track();
        space
            .get_value()
            .map(|(_, s)| board.with_value(|b| ideas(&s, b, kind)))
            .unwrap_or_default()
    };
    let place_options = move || board.with_value(|b| places(b, kind, i18n));
    let place = RwSignal::new(String::new());
    let draft = RwSignal::new(String::new());
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked().trim().to_owned();
        let Some((_, private)) = space.get_value() else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let chosen = place.get_untracked();
        let options = place_options();
        let at = if options.iter().any(|(v, _)| *v == chosen) {
            chosen
        } else {
            options.first().map(|(v, _)| v.clone()).unwrap_or_default()
        };
        let (id, pid) = (new_id(), board.with_value(|b| b.pid().to_owned()));
        private.edit(|roots, txn| match kind {
            BoardKind::Diagnosis => roots.add_note(txn, &id, &at, &text, "#fde68a", &pid),
            BoardKind::MindMap => {
                let parent = if at.is_empty() { "root" } else { at.as_str() };
                roots.add_node(txn, &id, Some(parent), js_sys::Date::now(), &text, &pid)
            }
            BoardKind::Portfolio => roots.add_project(
                txn,
                &id,
                &shared::Project {
                    title: text.clone(),
                    stage: at.clone(),
                    lead_mode: LEAD_MODES[0].to_owned(),
                    author: pid.clone(),
                    ..Default::default()
                },
            ),
        });
        draft.set(String::new());
    };
    let text_key = shared::private_round::text_key(kind);
    let root_of = move |roots: &shared::Roots| shared::private_round::elements(roots, kind).clone();
    let change = move |id: String, text: String| {
        if let Some((_, private)) = space.get_value() {
            private.edit(|roots, txn| {
                if let Some(t) = shared::doc::child_text(&root_of(roots), txn, &id, text_key) {
                    shared::doc::edit_text(txn, &t, &text);
                }
            });
        }
    };
    let withdraw = move |id: String| {
        if let Some((_, private)) = space.get_value() {
            private.edit(|roots, txn| {
                root_of(roots).remove(txn, &id);
            });
        }
    };
    let (board_id, token) = (session.board_id().to_owned(), session.token().to_owned());
    let act = move |what: &'static str| {
        if what == "cancel"
            && !window()
                .confirm_with_message(i18n.t(Key::PrivateCancelConfirm))
                .unwrap_or(false)
        {
            return;
        }
        let (board_id, token) = (board_id.clone(), token.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = api::private_round(&board_id, &token, what).await {
                let _ = window().alert_with_message(&format!("{}{e}", i18n.t(Key::ErrorPrefix)));
            }
        });
    };
    let act_reveal = act.clone();
    // The facilitator sees how many people opened their space (never what they wrote), asked
    // again every few seconds while the round is open.
    let writers = RwSignal::new(None::<u64>);
    if facilitator {
        let (board_id, token) = (session.board_id().to_owned(), session.token().to_owned());
        Effect::new(move |_| {
            let Some(open) = round.get() else {
                writers.set(None);
                return;
            };
            let (board_id, token) = (board_id.clone(), token.clone());
            leptos::task::spawn_local(async move {
                // Until this round ends (another round has a loop of its own).
                while round.with_untracked(|r| r.as_ref().is_some_and(|r| r.id == open.id)) {
                    if let Ok(n) = api::private_round_writers(&board_id, &token).await {
                        writers.set(Some(n));
                    }
                    sleep_ms(WRITERS_REFRESH_MS).await;
                }
            });
        });
    }
    view! {
        <Show when=move || round.get().is_some()>
            <section class="private-round" aria-labelledby="private-round-title">
                <h2 id="private-round-title">"🔒 "{i18n.live(Key::PrivateRound)}</h2>
                <p class="hint">{i18n.live(if can_edit { Key::PrivateRoundHint } else { Key::PrivateRoundViewer })}</p>
                {can_edit.then(|| view! {
                    <form class="private-add" on:submit=add>
                        <label>{i18n.live(Key::PrivatePlace)}
                            <select on:change=move |ev| place.set(event_target_value(&ev))>
                                {move || place_options().into_iter().enumerate().map(|(i, (value, label))| view! {
                                    // Until one is chosen, the first place is the one shown and used.
                                    <option value=value.clone() selected=move || place.with(|p| *p == value || (p.is_empty() && i == 0))>{label}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <textarea rows="2" data-field="private-idea" placeholder=i18n.live(Key::PrivatePlaceholder)
                            prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                        <button type="submit" data-action="add-private">{i18n.live(Key::PrivateAdd)}</button>
                    </form>
                    <h3>{i18n.live(Key::PrivateMine)}</h3>
                    <ul class="private-ideas">
                        <For each=list key=|idea| idea.id.clone() children=move |idea| {
                            let (id, id2) = (idea.id.clone(), idea.id.clone());
                            view! {
                                <li class="private-idea" data-private=idea.id.clone()>
                                    <textarea rows="2" aria-label=i18n.live(Key::PrivatePlaceholder)
                                        prop:value=idea.text.clone()
                                        on:change=move |ev| change(id.clone(), event_target_value(&ev))></textarea>
                                    <span class="private-place">{idea.place.clone()}</span>
                                    <button type="button" class="tiny" data-action="withdraw-private"
                                        on:click=move |_| withdraw(id2.clone())>{i18n.live(Key::PrivateWithdraw)}</button>
                                </li>
                            }
                        } />
                    </ul>
                    <Show when=move || list().is_empty()>
                        <p class="hint">{i18n.live(Key::PrivateNone)}</p>
                    </Show>
                })}
                {facilitator.then(|| {
                    let (reveal, cancel) = (act_reveal.clone(), act.clone());
                    view! {
                        <p class="private-writers" data-writers=move || writers.get().map(|n| n.to_string()).unwrap_or_default()>
                            {move || writers.get().map(|n| format!("{}{n}", i18n.t(Key::PrivateWriters)))}
                        </p>
                        <div class="private-actions">
                            <button type="button" data-action="reveal-round" on:click=move |_| reveal("reveal")>{i18n.live(Key::PrivateReveal)}</button>
                            <button type="button" class="danger" data-action="cancel-round" on:click=move |_| cancel("cancel")>{i18n.live(Key::PrivateCancel)}</button>
                        </div>
                    }
                })}
            </section>
        </Show>
    }
}

/// The facilitator's button that opens a private writing round (shown while none is open).
#[component]
pub fn PrivateRoundOpen(session: Rc<Session>) -> impl IntoView {
    let i18n = use_i18n();
    let round = session.signals.private_round;
    let (board_id, token) = (session.board_id().to_owned(), session.token().to_owned());
    let open = move |_| {
        let (board_id, token) = (board_id.clone(), token.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = api::private_round(&board_id, &token, "open").await {
                let _ = window().alert_with_message(&format!("{}{e}", i18n.t(Key::ErrorPrefix)));
            }
        });
    };
    view! {
        <Show when=move || round.get().is_none()>
            <button type="button" class="private-round-open" data-action="open-round"
                title=i18n.live(Key::PrivateRoundHint) on:click=open.clone()>
                {i18n.live(Key::PrivateRoundOpen)}
            </button>
        </Show>
    }
}

/// Waits `ms` milliseconds (a browser timer).
async fn sleep_ms(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
