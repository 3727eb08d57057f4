//! Joining by code: the page at `/j/CODE`, the home page's code field, and the board's join
//! code panel (the code in large letters, its QR code drawn by the server, and the
//! facilitator's renew / turn off / revoke).

use leptos::prelude::*;

use crate::api;
use crate::i18n::{Key, use_i18n};

/// Resolves `code` and goes on to the board's join form with the credential it minted (the
/// address replaces the code's, so going back does not resolve it again); `refused` is set
/// when the server does not take the code.
fn resolve(code: String, refused: RwSignal<Option<String>>) {
    leptos::task::spawn_local(async move {
        match api::join(&code).await {
            Ok(joined) => {
                let token = String::from(js_sys::encode_uri_component(&joined.token));
                let _ = window()
                    .location()
                    .replace(&format!("/b/{}#token={token}", joined.id));
            }
            Err(error) => refused.set(Some(error)),
        }
    });
}

/// `/j/CODE`: joins with the code at once; when the server refuses it, says so in the
/// visitor's language and offers to type another.
#[component]
pub fn JoinPage(code: String) -> impl IntoView {
    let i18n = use_i18n();
    let refused = RwSignal::new(None::<String>);
    resolve(code, refused);
    view! {
        <main class="page join-page">
            <Show when=move || refused.get().is_some() fallback=move || view! {
                <p class="hint" role="status">{i18n.live(Key::Joining)}</p>
            }>
                <section class="card">
                    <h2>{i18n.live(Key::JoinWithCode)}</h2>
                    <p class="error" role="alert">{i18n.live(Key::JoinCodeRefused)}</p>
                    <JoinByCode />
                    <p><a href="/">{i18n.live(Key::BackHome)}</a></p>
                </section>
            </Show>
        </main>
    }
}

/// The field where a participant types the code read off the screen.
#[component]
pub fn JoinByCode() -> impl IntoView {
    let i18n = use_i18n();
    let code = RwSignal::new(String::new());
    let refused = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        refused.set(None);
        resolve(code.get_untracked(), refused);
    };
    // A refusal ends the wait (a success leaves the page).
    Effect::new(move |_| {
        if refused.get().is_some() {
            busy.set(false);
        }
    });
    view! {
        <form class="join-code" on:submit=submit>
            <label>{i18n.live(Key::JoinCodeField)}
                <input name="code" autocomplete="off" autocapitalize="characters" spellcheck="false"
                    maxlength="12" inputmode="text" prop:value=code
                    on:input=move |ev| code.set(event_target_value(&ev)) />
            </label>
            <button type="submit" class="primary" prop:disabled=busy>{i18n.live(Key::JoinButton)}</button>
            <Show when=move || refused.get().is_some()>
                <p class="error" role="alert">{i18n.live(Key::JoinCodeRefused)}</p>
            </Show>
        </form>
    }
}

/// The board's join code, large enough to read from the back of a room, with its QR code;
/// the facilitator renews it, turns it off, or revokes everyone who came in by code.
#[component]
pub fn JoinCodePanel(board_id: String, token: String, facilitator: bool) -> impl IntoView {
    let i18n = use_i18n();
    let code = RwSignal::new(None::<api::JoinCode>);
    let qr = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let ids = StoredValue::new((board_id, token));
    let load = move || {
        let (board, token) = ids.get_value();
        leptos::task::spawn_local(async move {
            match api::join_code(&board, &token).await {
                Ok(answer) => {
                    let svg = if answer.code.is_some() {
                        api::join_qr_svg(&board, &token).await.unwrap_or_default()
                    } else {
                        String::new()
                    };
                    qr.set(svg);
                    code.set(Some(answer));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    load();
    let change = move |method: &'static str, credentials: bool| {
        move |_| {
            if credentials
                && !window()
                    .confirm_with_message(i18n.t(Key::ConfirmRevokeCodeAccess))
                    .unwrap_or(false)
            {
                return;
            }
            let (board, token) = ids.get_value();
            leptos::task::spawn_local(async move {
                match api::change_join_code(&board, &token, method, credentials).await {
                    Ok(()) => load(),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let lang = move || i18n.0.get().as_str();
    view! {
        <section class="join-code-panel" aria-labelledby="join-code-title">
            <h2 id="join-code-title">{i18n.live(Key::JoinCodeTitle)}</h2>
            {move || code.get().map(|answer| match answer.code.clone() {
                Some(text) => {
                    // Read one character at a time by screen readers.
                    let spelled = text.chars().map(String::from).collect::<Vec<_>>().join(" ");
                    let label = format!("{} {spelled}", i18n.t(Key::JoinCodeTitle));
                    let data_code = text.clone();
                    view! {
                    <p class="join-code-big" data-code=data_code aria-label=label>{text}</p>
                    <div class="join-qr" inner_html=move || qr.get()></div>
                    <p class="join-link">{answer.link.clone()}</p>
                    <p class="hint">{i18n.live(Key::JoinCodeHow)}</p>
                    {if answer.expired {
                        view! { <p class="error">{i18n.live(Key::JoinCodeExpired)}</p> }.into_any()
                    } else {
                        let until = crate::history::when(answer.expires_ms, lang());
                        view! { <p class="hint">{i18n.live(Key::JoinCodeValidUntil)}" "{until}</p> }.into_any()
                    }}
                    }.into_any()
                }
                None => view! { <p class="hint">{i18n.live(Key::JoinCodeOff)}</p> }.into_any(),
            })}
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{i18n.live(Key::ErrorPrefix)}{move || error.get()}</p>
            </Show>
            {facilitator.then(|| view! {
                <div class="join-code-actions">
                    <button data-action="renew-code" on:click=change("POST", false)>{i18n.live(Key::RenewCode)}</button>
                    <button data-action="disable-code" on:click=change("DELETE", false)>{i18n.live(Key::DisableCode)}</button>
                    <button data-action="revoke-code-access" class="danger" on:click=change("DELETE", true)>{i18n.live(Key::RevokeCodeAccess)}</button>
                </div>
            })}
        </section>
    }
}
