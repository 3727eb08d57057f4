//! Nouage's web app: a Leptos client-side app compiled to WebAssembly, served by the server
//! on the same origin. The document model and wire codec come from the `shared` crate.

mod api;
mod board;
mod contributions;
mod diagnosis;
mod history;
mod home;
pub mod i18n;
mod join;
mod json;
mod keyed;
mod local;
mod mindmap;
mod path;
mod portfolio;
mod private;
mod proxy;
mod reactions;
mod session;
mod timer;

use leptos::prelude::*;
use shared::Lang;
use wasm_bindgen::prelude::*;

use crate::i18n::{I18n, Key};

/// Entry point, called by `main.js` once the module is loaded.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let lang = local::ui_lang()
        .and_then(|l| l.parse().ok())
        .unwrap_or(Lang::Fr);
    let i18n = I18n(RwSignal::new(lang));
    provide_context(i18n);
    Effect::new(move |_| {
        let lang = i18n.0.get();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", lang.as_str());
        }
        document().set_title(&format!("Nouage — {}", i18n.t(Key::AppTagline)));
    });
    let switch = move |_| {
        let next = match i18n.0.get_untracked() {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        };
        local::save_ui_lang(next.as_str());
        i18n.0.set(next);
    };
    let location = window().location();
    let path = location.pathname().unwrap_or_default();
    let token = token_from_hash(&location.hash().unwrap_or_default());
    let page = match (path.strip_prefix("/b/"), path.strip_prefix("/j/")) {
        (Some(id), _) if !id.is_empty() => {
            view! { <board::BoardPage board_id=id.to_owned() token /> }.into_any()
        }
        (_, Some(code)) => {
            let code =
                String::from(js_sys::decode_uri_component(code).unwrap_or_else(|_| code.into()));
            view! { <join::JoinPage code /> }.into_any()
        }
        _ => view! { <home::Home /> }.into_any(),
    };
    view! {
        <div class="app">
            <nav class="topbar">
                <a href="/" class="brand">"Nouage"</a>
                <button class="lang-switch" on:click=switch lang=move || match i18n.0.get() { Lang::Fr => "en", Lang::En => "fr" }>
                    {i18n.live(Key::SwitchLanguage)}
                </button>
            </nav>
            {page}
        </div>
    }
}

/// The token of a board link rides in the fragment (`#token=...`), so it never reaches logs.
pub(crate) fn token_from_hash(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(|t| String::from(js_sys::decode_uri_component(t).unwrap_or_else(|_| t.into())))
}

/// Orders two names as the browser's collation does (`localeCompare`: "élue" sorts among the
/// "e", case aside), without Rust's Unicode case tables in the WebAssembly.
pub(crate) fn collate(a: &str, b: &str) -> std::cmp::Ordering {
    js_sys::JsString::from(a)
        .locale_compare(b, &js_sys::Array::new(), &js_sys::Object::new())
        .cmp(&0)
}
