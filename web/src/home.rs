//! The home page: create a board of any kind, get its three links, reopen recent boards.

use leptos::prelude::*;

use crate::api::{self, CreatedBoard};
use crate::i18n::{Key, use_i18n};
use crate::local;

const KINDS: [(&str, Key); 3] = [
    ("mindmap", Key::KindMindMap),
    ("diagnosis", Key::KindDiagnosis),
    ("portfolio", Key::KindPortfolio),
];

pub fn kind_key(kind: &str) -> Key {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(Key::KindMindMap, |(_, key)| *key)
}

#[component]
pub fn Home() -> impl IntoView {
    let i18n = use_i18n();
    let title = RwSignal::new(String::new());
    let kind = RwSignal::new("mindmap".to_owned());
    let lang = RwSignal::new(i18n.0.get_untracked().as_str().to_owned());
    let created = RwSignal::new(None::<CreatedBoard>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let recent = local::recent_boards();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = title.get_untracked().trim().to_owned();
        if t.is_empty() {
            error.set(Some(i18n.t(Key::TitleRequired).to_owned()));
            return;
        }
        busy.set(true);
        error.set(None);
        let (k, l) = (kind.get_untracked(), lang.get_untracked());
        leptos::task::spawn_local(async move {
            let request = api::CreateBoard {
                kind: &k,
                title: &t,
                lang: &l,
            };
            match api::create_board(&request).await {
                Ok(board) => created.set(Some(board)),
                Err(e) => error.set(Some(format!("{}{e}", i18n.t(Key::ErrorPrefix)))),
            }
            busy.set(false);
        });
    };

    let import_error = RwSignal::new(None::<String>);
    let import = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        import_error.set(None);
        let l = lang.get_untracked();
        leptos::task::spawn_local(async move {
            match api::import_board("import-file", &l).await {
                Ok(board) => created.set(Some(board)),
                Err(e) => import_error.set(Some(format!("{}{e}", i18n.t(Key::ErrorPrefix)))),
            }
            busy.set(false);
        });
    };

    view! {
        <main class="page home">
            <p class="tagline">{i18n.live(Key::AppTagline)}</p>
            <section class="card join" aria-labelledby="join-title">
                <h2 id="join-title">{i18n.live(Key::JoinWithCode)}</h2>
                <p class="hint">{i18n.live(Key::JoinCodeHint)}</p>
                <crate::join::JoinByCode />
            </section>
            <form class="card create" on:submit=submit>
                <h2>{i18n.live(Key::NewBoard)}</h2>
                <label>{i18n.live(Key::BoardTitle)}
                    <input name="title" maxlength="200" prop:value=title on:input=move |ev| title.set(event_target_value(&ev)) />
                </label>
                <fieldset class="kinds">
                    <legend>{i18n.live(Key::BoardKindLabel)}</legend>
                    {KINDS.iter().map(|(value, key)| {
                        let (value, key) = (*value, *key);
                        view! {
                            <label class="kind">
                                <input type="radio" name="kind" value=value prop:checked=move || kind.get() == value on:change=move |_| kind.set(value.to_owned()) />
                                {i18n.live(key)}
                            </label>
                        }
                    }).collect::<Vec<_>>()}
                </fieldset>
                <label>{i18n.live(Key::BoardLang)}
                    <select name="lang" on:change=move |ev| lang.set(event_target_value(&ev)) prop:value=lang>
                        <option value="fr">{i18n.live(Key::LangFr)}</option>
                        <option value="en">{i18n.live(Key::LangEn)}</option>
                    </select>
                </label>
                <Show when=move || error.get().is_some()><p class="error" role="alert">{move || error.get()}</p></Show>
                <button type="submit" class="primary" prop:disabled=busy>
                    {move || i18n.t(if busy.get() { Key::Creating } else { Key::Create })}
                </button>
            </form>
            <Show when=move || created.get().is_some()>
                {move || created.get().map(|board| view! { <Links board /> })}
            </Show>
            <form class="card import" on:submit=import>
                <h2>{i18n.live(Key::ImportTitle)}</h2>
                <p class="hint">{i18n.live(Key::ImportHint)}</p>
                <label>{i18n.live(Key::ImportFile)}
                    <input type="file" id="import-file" accept=".mm,.opml,.md,.markdown,.txt,.yjs" />
                </label>
                <Show when=move || import_error.get().is_some()><p class="error" role="alert">{move || import_error.get()}</p></Show>
                <button type="submit" prop:disabled=busy>{i18n.live(Key::ImportButton)}</button>
            </form>
            <section class="card recent">
                <h2>{i18n.live(Key::RecentBoards)}</h2>
                {if recent.is_empty() {
                    view! { <p class="hint">{i18n.live(Key::NoRecentBoards)}</p> }.into_any()
                } else {
                    view! {
                        <ul>
                            {recent.into_iter().map(|b| {
                                let key = kind_key(&b.kind);
                                view! { <li><a href=b.link.clone()>{b.title.clone()}</a>" · "<span class="hint">{i18n.live(key)}</span></li> }
                            }).collect::<Vec<_>>()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </main>
    }
}

#[component]
fn Links(board: CreatedBoard) -> impl IntoView {
    let i18n = use_i18n();
    let rows = [
        (
            Key::RoleFacilitator,
            board.links.facilitator.clone(),
            "facilitator",
        ),
        (Key::RoleEditor, board.links.editor.clone(), "editor"),
        (Key::RoleViewer, board.links.viewer.clone(), "viewer"),
    ];
    view! {
        <section class="card links" aria-labelledby="links-title">
            <h2 id="links-title">{i18n.live(Key::LinksTitle)}" — "{board.title.clone()}</h2>
            <p class="hint">{i18n.live(Key::LinksHint)}</p>
            {rows.into_iter().map(|(key, link, role)| {
                let copied = RwSignal::new(false);
                let to_copy = link.clone();
                let copy = move |_| {
                    let clipboard = window().navigator().clipboard();
                    let _ = clipboard.write_text(&to_copy);
                    copied.set(true);
                };
                view! {
                    <div class="link-row" data-role=role>
                        <span class="role">{i18n.live(key)}</span>
                        <input readonly class="link" prop:value=link.clone() aria-label=i18n.live(key) />
                        <button type="button" on:click=copy>{move || i18n.t(if copied.get() { Key::Copied } else { Key::Copy })}</button>
                        <a class="open" href=link.clone()>{i18n.live(Key::Open)}</a>
                    </div>
                }
            }).collect::<Vec<_>>()}
            <div class="link-row" data-role="join">
                <span class="role">{i18n.live(Key::JoinCodeTitle)}</span>
                <strong class="join-code-inline">{board.join_code.clone()}</strong>
                <a class="open" href=board.join_link.clone()>{board.join_link.clone()}</a>
            </div>
        </section>
    }
}
