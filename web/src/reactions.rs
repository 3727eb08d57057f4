//! Reactions on an element (👍 ❤️ ❓ ⚠️ 💡), one of each per participant, counted live: the
//! ones given show under the element (a tap gives or takes back one's own), and a picker
//! offers all five.

use leptos::prelude::*;
use shared::reactions::{REACTIONS, Tally, toggle};

use crate::i18n::{Key, use_i18n};
use crate::session::SessionRef;

/// The names of [`REACTIONS`], for screen readers and tooltips.
const NAMES: [Key; REACTIONS.len()] = [
    Key::ReactionAgree,
    Key::ReactionLove,
    Key::ReactionQuestion,
    Key::ReactionWarning,
    Key::ReactionIdea,
];

/// The element's tally; updated only when that element's reactions change.
fn tally_of(session: SessionRef, element: StoredValue<String>) -> Memo<Tally> {
    let reactions = session.with_value(|s| s.signals.reactions);
    Memo::new(move |_| {
        element.with_value(|id| reactions.with(|r| r.get(id).copied().unwrap_or_default()))
    })
}

fn react(session: SessionRef, element: &str, emoji: &str) {
    session.with_value(|s| {
        let pid = s.pid().to_owned();
        s.edit(|roots, txn| {
            toggle(&roots.reactions, txn, element, &pid, emoji);
        });
    });
}

/// One reaction's button: the emoji, its count when it has one, pressed when given.
fn reaction_button(
    session: SessionRef,
    element: StoredValue<String>,
    tally: Memo<Tally>,
    index: usize,
    can_edit: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let emoji = REACTIONS[index];
    let count = move || tally.with(|t| t.counts[index]);
    let mine = move || tally.with(|t| t.mine & (1 << index) != 0);
    view! {
        <button type="button" class="reaction" data-reaction=emoji aria-pressed=move || mine().to_string()
            prop:disabled=!can_edit
            aria-label=move || format!("{} ({})", i18n.t(NAMES[index]), count())
            on:click=move |ev| {
                // Inside a card that opens on a click: the reaction only.
                ev.stop_propagation();
                element.with_value(|id| react(session, id, emoji));
            }>
            {emoji}{move || (count() > 0).then(|| view! { <span class="count">{count()}</span> })}
        </button>
    }
}

/// The reactions given to `element`, each a button that gives or takes back one's own.
#[component]
pub fn ReactionSummary(session: SessionRef, element: String) -> impl IntoView {
    let can_edit = session.with_value(|s| s.can_edit);
    let element = StoredValue::new(element);
    let tally = tally_of(session, element);
    view! {
        <Show when=move || !tally.with(Tally::is_empty)>
            <span class="reactions" data-total=move || tally.with(Tally::total)>
                {(0..REACTIONS.len()).map(|i| {
                    view! { <Show when=move || tally.with(|t| t.counts[i] > 0)>{reaction_button(session, element, tally, i, can_edit)}</Show> }
                }).collect::<Vec<_>>()}
            </span>
        </Show>
    }
}

/// All five reactions, for the element's tools, menu or panel.
#[component]
pub fn ReactionPicker(session: SessionRef, element: String) -> impl IntoView {
    let i18n = use_i18n();
    let can_edit = session.with_value(|s| s.can_edit);
    let element = StoredValue::new(element);
    let tally = tally_of(session, element);
    view! {
        <span class="reaction-picker" role="group" aria-label=i18n.live(Key::React)>
            {(0..REACTIONS.len()).map(|i| reaction_button(session, element, tally, i, can_edit)).collect::<Vec<_>>()}
        </span>
    }
}
