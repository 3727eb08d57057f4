//! The contributions panel: who did what on this board, per participant and per kind of
//! organisation (the parity view), from the server's journal.

use leptos::prelude::*;

use crate::api::{self, Contributions};
use crate::board::Highlight;
use crate::i18n::{Key, use_i18n};

#[component]
pub fn ContributionsPanel(
    board_id: String,
    token: String,
    can_edit: bool,
    /// Whose elements the board shows highlighted, chosen by clicking a row.
    highlight: RwSignal<Option<Highlight>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let refresh = RwSignal::new(0u32);
    let report = LocalResource::new({
        let (id, token) = (board_id.clone(), token.clone());
        move || {
            refresh.track();
            let (id, token) = (id.clone(), token.clone());
            async move { api::contributions(&id, &token).await }
        }
    });
    let deleted = LocalResource::new({
        let (id, token) = (board_id.clone(), token.clone());
        move || {
            refresh.track();
            let (id, token) = (id.clone(), token.clone());
            async move { api::deleted(&id, &token).await }
        }
    });
    let restore = move |element: String| {
        let (id, token) = (board_id.clone(), token.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = api::restore(&id, &token, &element).await {
                let _ = window().alert_with_message(&format!("{}{e}", i18n.t(Key::ErrorPrefix)));
            }
            refresh.update(|n| *n += 1);
        });
    };
    let restore = StoredValue::new(restore);
    let bin = move |list: api::Deleted| {
        view! {
            <h3>{i18n.live(Key::DeletedElements)}</h3>
            {list.0.is_empty().then(|| view! { <p class="hint">{i18n.live(Key::NothingDeleted)}</p> })}
            <ul class="deleted">
                {list.0.into_iter().map(|e| {
                    let element = e.id.clone();
                    view! {
                        <li data-element=e.id.clone()>"« "{e.text.clone()}" » — "{e.deleted_by.clone()}
                            {can_edit.then(|| view! {
                                <button class="tiny" data-action="restore" on:click=move |_| restore.with_value(|r| r(element.clone()))>{i18n.live(Key::Restore)}</button>
                            })}
                        </li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
        }
    };
    let kind_label = move |kind: &str| -> String {
        let key = match kind {
            "commune" => Key::OrgCommune,
            "epci" => Key::OrgEpci,
            "association" => Key::OrgAssociation,
            "business" => Key::OrgBusiness,
            "citizen" => Key::OrgCitizen,
            "public" => Key::OrgPublic,
            _ => Key::OrgKindNone,
        };
        i18n.t(key).to_owned()
    };
    let toggle = move |chosen: Highlight| {
        move |_| {
            highlight.update(|h| {
                *h = if h.as_ref() == Some(&chosen) {
                    None
                } else {
                    Some(chosen.clone())
                }
            })
        }
    };
    let is_chosen =
        move |chosen: Highlight| move || highlight.with(|h| h.as_ref() == Some(&chosen));
    let counts = |row: &api::ContributionRow| {
        view! {
            <td class="created">{row.created}</td>
            <td>{row.edited}</td>
            <td>{row.deleted}</td>
            <td>{row.chars_written}</td>
            <td>{row.votes_cast}</td>
        }
    };
    let table = move |report: Contributions| {
        let total_chars: u64 = report
            .org_kinds
            .iter()
            .map(|k| k.chars_written)
            .sum::<u64>()
            .max(1);
        view! {
            <table class="contributions">
                <thead><tr>
                    <th>{i18n.live(Key::FilterParticipant)}</th>
                    <th title=i18n.live(Key::CreatedLong)>"+"</th>
                    <th title=i18n.live(Key::EditedLong)>"✎"</th>
                    <th title=i18n.live(Key::DeletedLong)>"−"</th>
                    <th title=i18n.live(Key::CharsLong)>"Aa"</th>
                    <th title=i18n.live(Key::VotesLong)>"●"</th>
                </tr></thead>
                <tbody>
                    {report.participants.into_iter().map(|p| {
                        let chosen = Highlight::Participant(p.pid.clone());
                        view! {
                        <tr data-pid=p.pid.clone() class:chosen=is_chosen(chosen.clone()) class:represented=p.represented on:click=toggle(chosen)>
                            <td>{crate::i18n::shown_name(&p.name)}
                                {p.represented.then(|| view! { <span class="represented-mark">" ("{i18n.live(Key::RepresentedMark)}")"</span> })}
                                <span class="person-org">{p.org.clone()}</span></td>
                            {counts(&p)}
                        </tr>
                    }}).collect::<Vec<_>>()}
                </tbody>
            </table>
            <h3>{i18n.live(Key::Organisations)}</h3>
            <table class="contributions-orgs"><tbody>
                {report.organisations.into_iter().map(|o| {
                    let chosen = Highlight::Organisation(o.name.clone());
                    view! {
                    <tr data-org=o.name.clone() class:chosen=is_chosen(chosen.clone()) on:click=toggle(chosen)>
                        <td>{if o.name.is_empty() { i18n.t(Key::NoOrganisation).to_owned() } else { o.name.clone() }}<span class="person-org">{o.participants}" "{i18n.live(Key::PeopleCount)}</span></td>
                        {counts(&o)}
                    </tr>
                }}).collect::<Vec<_>>()}
            </tbody></table>
            <p class="hint">{i18n.live(Key::ClickToHighlight)}</p>
            <h3>{i18n.live(Key::ParityView)}</h3>
            <ul class="parity">
                {report.org_kinds.into_iter().map(|k| {
                    let share = k.chars_written * 100 / total_chars;
                    let label = kind_label(&k.name);
                    view! {
                        <li>
                            <span class="parity-label">{label}" ("{k.participants}")"</span>
                            <span class="bar" style=format!("--share:{share}%")></span>
                            <span class="parity-share">{share}"%"</span>
                        </li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
        }
    };
    view! {
        <section class="contributions-panel" aria-labelledby="contributions-title">
            <h2 id="contributions-title">{i18n.live(Key::Contributions)}
                <button class="tiny" data-action="refresh-contributions" on:click=move |_| refresh.update(|n| *n += 1)>{i18n.live(Key::Refresh)}</button>
            </h2>
            <Suspense fallback=move || view! { <p class="hint">{i18n.live(Key::Loading)}</p> }>
                {move || report.get().map(|result| match result {
                    Ok(report) => table(report).into_any(),
                    Err(error) => view! { <p class="error">{error}</p> }.into_any(),
                })}
                {move || deleted.get().map(|result| result.ok().map(bin))}
            </Suspense>
        </section>
    }
}
