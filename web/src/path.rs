//! From idea to project on the canvas (`shared::path`): what a note shows of its path (the
//! facilitator's decision, the project it became), and the facilitator's tools: keep, set
//! aside with a reason, open again, and turn a kept idea into a project of a portfolio board
//! this browser holds a link to (or whose link is pasted). Decisions and projects go through
//! the server (facilitator only); every page sees them in the document.

use leptos::prelude::*;
use shared::path::{Decision, ProjectLink, Status};

use crate::i18n::{Key, use_i18n};
use crate::json::Builder;
use crate::session::SessionRef;

/// A board's id and token from one of its links (`…/b/ID#token=TOKEN`).
pub fn parse_board_link(link: &str) -> Option<(String, String)> {
    let (_, rest) = link.trim().split_once("/b/")?;
    let (id, hash) = rest.split_once('#')?;
    let id = id.split(['?', '/']).next()?.to_owned();
    let token = crate::token_from_hash(hash)?;
    (!id.is_empty()).then_some((id, token))
}

/// The link this browser holds to `board`, if any.
pub fn link_to(board: &str) -> Option<String> {
    crate::local::recent_boards()
        .into_iter()
        .find(|b| b.id == board)
        .map(|b| b.link)
}

/// "✓ Retenue — Animatrice, 04/12/2026 14:03" and the reason, under a decided note.
#[component]
pub fn DecisionBadge(decision: Decision) -> impl IntoView {
    let i18n = use_i18n();
    let (status, key) = match decision.status {
        Status::Kept => ("kept", Key::IdeaKept),
        Status::SetAside => ("setAside", Key::IdeaSetAside),
    };
    let when = crate::history::when(decision.at_ms as f64, i18n.0.get_untracked().as_str());
    let by = if decision.by_name.is_empty() {
        when
    } else {
        format!("{}, {when}", decision.by_name)
    };
    view! {
        <p class="decision" data-status=status>
            <strong>{i18n.live(key)}</strong>" — "{by}
            {(!decision.reason.is_empty()).then(|| view! { <span class="reason">" : "{decision.reason.clone()}</span> })}
        </p>
    }
}

/// "→ Projet : Navette" under a note that became a project, a link when this browser holds
/// one to the portfolio.
#[component]
pub fn ProjectBadge(link: ProjectLink) -> impl IntoView {
    let i18n = use_i18n();
    let title = link.title.clone();
    view! {
        <p class="note-project">"→ "{i18n.live(Key::BecameProject)}" "
            {match link_to(&link.board) {
                Some(href) => view! { <a href=href data-project=link.project.clone()>{title}</a> }.into_any(),
                None => view! { <span data-project=link.project.clone()>{title}</span> }.into_any(),
            }}
        </p>
    }
}

/// The facilitator's buttons on a note: keep, set aside (asks why), open again, and turn a
/// kept idea into a project.
#[component]
pub fn DecisionTools(
    session: SessionRef,
    note: String,
    decision: Signal<Option<Status>>,
    has_project: Signal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    let note = StoredValue::new(note);
    let error = RwSignal::new(None::<String>);
    let picking = RwSignal::new(false);
    let send = move |status: &'static str, reason: String| {
        let (id, token, by) =
            session.with_value(|s| (s.board_id().to_owned(), s.token().to_owned(), s.by()));
        let body = Builder::new()
            .set("status", status)
            .set("reason", reason.as_str())
            .object("by", by)
            .text();
        leptos::task::spawn_local(async move {
            let result = crate::api::decide(&id, &token, &note.get_value(), &body).await;
            error.set(result.err());
        });
    };
    let set_aside = move |_| {
        // The reason is optional: an empty answer sets the idea aside without one.
        let asked = window().prompt_with_message(i18n.t(Key::SetAsideReason));
        if let Ok(Some(reason)) = asked {
            send("setAside", reason);
        }
    };
    view! {
        <span class="decision-tools">
            {move || match decision.get() {
                None => view! {
                    <button class="tiny" data-action="keep" on:click=move |_| send("kept", String::new())>{i18n.live(Key::KeepIdea)}</button>
                    <button class="tiny" data-action="set-aside" on:click=set_aside>{i18n.live(Key::SetAsideIdea)}</button>
                }.into_any(),
                // An idea that became a project stays kept: the project is the portfolio's now.
                Some(_) if has_project.get() => ().into_any(),
                Some(_) => view! {
                    <button class="tiny" data-action="reopen" on:click=move |_| send("open", String::new())>{i18n.live(Key::ReopenIdea)}</button>
                }.into_any(),
            }}
            <Show when=move || decision.get() == Some(Status::Kept) && !has_project.get()>
                <button class="tiny" data-action="to-project" aria-expanded=move || picking.get().to_string()
                    on:click=move |_| picking.update(|p| *p = !*p)>{i18n.live(Key::ToProject)}</button>
            </Show>
            <Show when=move || picking.get() && !has_project.get()>
                <ProjectPicker session note=note.get_value() picking error />
            </Show>
            {move || error.get().map(|e| view! { <span class="error" role="alert">{e}</span> })}
        </span>
    }
}

/// Chooses the portfolio board a kept idea goes to: one of the portfolios this browser holds a
/// link to, or a pasted link.
#[component]
fn ProjectPicker(
    session: SessionRef,
    note: String,
    picking: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let portfolios: Vec<crate::local::RecentBoard> = crate::local::recent_boards()
        .into_iter()
        .filter(|b| b.kind == "portfolio")
        .collect();
    let chosen = RwSignal::new(
        portfolios
            .first()
            .map(|b| b.link.clone())
            .unwrap_or_default(),
    );
    let pasted = RwSignal::new(String::new());
    let note = StoredValue::new(note);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let link = if pasted.get_untracked().trim().is_empty() {
            chosen.get_untracked()
        } else {
            pasted.get_untracked()
        };
        let Some((portfolio, portfolio_token)) = parse_board_link(&link) else {
            error.set(Some(i18n.t(Key::NotABoardLink).to_owned()));
            return;
        };
        let (id, token, by) =
            session.with_value(|s| (s.board_id().to_owned(), s.token().to_owned(), s.by()));
        let body = Builder::new()
            .set("portfolio", portfolio.as_str())
            .set("token", portfolio_token.as_str())
            .object("by", by)
            .text();
        leptos::task::spawn_local(async move {
            match crate::api::to_project(&id, &token, &note.get_value(), &body).await {
                Ok(_) => {
                    error.set(None);
                    picking.set(false);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="project-picker" on:submit=create>
            {(!portfolios.is_empty()).then(|| view! {
                <label>{i18n.live(Key::PortfolioBoard)}
                    <select name="portfolio" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {portfolios.iter().map(|b| view! { <option value=b.link.clone()>{b.title.clone()}</option> }).collect::<Vec<_>>()}
                    </select>
                </label>
            })}
            <label>{i18n.live(Key::PastePortfolioLink)}
                <input name="portfolio-link" prop:value=pasted on:input=move |ev| pasted.set(event_target_value(&ev)) />
            </label>
            <button type="submit" class="primary" data-action="to-project-create">{i18n.live(Key::CreateProject)}</button>
        </form>
    }
}
