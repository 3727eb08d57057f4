//! Proxy entry: in the room, someone types ideas for a person or a table without a device.
//! "Saisir pour…" names them (the names already used on the board are offered); until
//! "Terminer", every node, note or project this page adds carries `onBehalfOf` in the
//! transaction that creates it (`Session::create`), the only one the record honours.

use std::collections::BTreeMap;

use leptos::prelude::*;
use shared::OrgKind;
use shared::proxy::Represented;

use crate::i18n::{Key, use_i18n};
use crate::session::Signals;

/// The people the board's elements were entered for, by lower-cased name: what the form
/// offers.
fn people_on_board(s: &Signals) -> BTreeMap<String, Represented> {
    let mut people = BTreeMap::new();
    let mut add = |person: &Option<Represented>| {
        if let Some(p) = person {
            people.insert(p.name.to_lowercase(), p.clone());
        }
    };
    s.nodes
        .with(|all| all.iter().for_each(|n| add(&n.on_behalf_of)));
    s.notes
        .with(|all| all.iter().for_each(|n| add(&n.on_behalf_of)));
    s.projects
        .with(|all| all.iter().for_each(|p| add(&p.on_behalf_of)));
    people
}

/// The "Saisir pour…" button and form, in the presence column (editors only).
#[component]
pub fn ProxyEntry(signals: Signals) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let org = RwSignal::new(String::new());
    let org_kind = RwSignal::new(String::new());
    let people = Memo::new(move |_| people_on_board(&signals));
    // Choosing a name already used fills in its organisation and kind.
    let on_name = move |ev| {
        let value = event_target_value(&ev);
        if let Some(known) = people.with_untracked(|p| p.get(&value.trim().to_lowercase()).cloned())
        {
            org.set(known.org.clone());
            org_kind.set(
                known
                    .org_kind
                    .map(|k| k.as_str().to_owned())
                    .unwrap_or_default(),
            );
        }
        name.set(value);
    };
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let tidy = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let person = Represented {
            name: tidy(name.get_untracked()),
            org: tidy(org.get_untracked()),
            org_kind: org_kind.get_untracked().parse::<OrgKind>().ok(),
        };
        if person.name.is_empty() {
            return;
        }
        signals.entering_for.set(Some(person));
        open.set(false);
    };
    view! {
        <div class="proxy-entry">
            <button type="button" class="enter-for-toggle" data-action="enter-for" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>{i18n.live(Key::EnterFor)}</button>
            <Show when=move || open.get()>
                <form class="enter-for-form" on:submit=start>
                    <p class="hint">{i18n.live(Key::EnterForHint)}</p>
                    <label>{i18n.live(Key::EnterForName)}
                        <input name="proxy-name" required maxlength="80" list="proxy-names" prop:value=name on:input=on_name />
                    </label>
                    <datalist id="proxy-names">
                        {move || people.get().into_values().map(|p| view! { <option value=p.name.clone()>{p.org.clone()}</option> }).collect::<Vec<_>>()}
                    </datalist>
                    <label>{i18n.live(Key::Organisation)}
                        <input name="proxy-org" maxlength="120" prop:value=org on:input=move |ev| org.set(event_target_value(&ev)) />
                    </label>
                    <label>{i18n.live(Key::OrgKindLabel)}
                        <select name="proxy-org-kind" prop:value=org_kind on:change=move |ev| org_kind.set(event_target_value(&ev))>
                            <crate::board::OrgKindOptions none=Key::OrgKindNone />
                        </select>
                    </label>
                    <button type="submit" class="primary" data-action="enter-for-start">{i18n.live(Key::EnterForStart)}</button>
                </form>
            </Show>
        </div>
    }
}

/// "Vous saisissez pour Marie (Saint-Camille) · Terminer", above the board while it lasts.
#[component]
pub fn EnteringForBanner(signals: Signals) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        signals.entering_for.get().map(|person| {
            let who = if person.org.is_empty() {
                person.name.clone()
            } else {
                format!("{} ({})", person.name, person.org)
            };
            view! {
                <div class="entering-for-banner" role="status">
                    {i18n.live(Key::EnteringFor)}" "<strong>{who}</strong>
                    <button type="button" class="tiny" data-action="enter-for-stop" on:click=move |_| signals.entering_for.set(None)>{i18n.live(Key::EnterForStop)}</button>
                </div>
            }
        })
    }
}
