//! The project portfolio: columns by cooperation stage (drag a card to change its stage), a
//! sortable and filterable table, and a detail panel editing every field.

use std::collections::BTreeSet;
use std::rc::Rc;

use leptos::prelude::*;
use shared::Project;
use shared::doc::{child_text, edit_text};
use shared::portfolio::{LEAD_MODES, STAGES, Stake};
use web_sys::KeyboardEvent;

use crate::i18n::{Key, use_i18n};
use crate::keyed::Cards;
use crate::session::{Session, SessionRef, credit, new_id, session_ref};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewMode {
    Columns,
    Table,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    lead: String,
    partner: String,
    stage: String,
    status: String,
}

pub fn stage_key(stage: &str) -> Key {
    match stage {
        "codiagnose" => Key::StageCodiagnose,
        "codesign" => Key::StageCodesign,
        "cofund" => Key::StageCofund,
        "coproduce" => Key::StageCoproduce,
        "costeer" => Key::StageCosteer,
        _ => Key::StageCoevaluate,
    }
}

fn lead_mode_key(mode: &str) -> Key {
    match mode {
        "epci" => Key::LeadEpci,
        "commune" => Key::LeadCommune,
        "colead" => Key::LeadColead,
        _ => Key::LeadRotating,
    }
}

#[component]
pub fn Portfolio(session: Rc<Session>, facilitator: bool) -> impl IntoView {
    let i18n = use_i18n();
    let s = session.signals;
    let can_edit = session.can_edit;
    let author = session.pid().to_owned();
    let session = session_ref(session);
    let mode = RwSignal::new(ViewMode::Columns);
    let filter = RwSignal::new(Filter::default());
    let open = RwSignal::new(None::<String>);
    let sort = RwSignal::new(("", false));

    // Each card, row and panel reads its project's own signal (see `keyed`); the columns and
    // the table hold lists of ids, rebuilt only when a project comes, goes or moves.
    let cards = Cards::new(s.projects);
    let shows = move |p: &Project, f: &Filter| {
        (f.lead.is_empty() || p.lead == f.lead)
            && (f.partner.is_empty() || p.partners.contains(&f.partner))
            && (f.stage.is_empty() || p.stage == f.stage)
            && (f.status.is_empty() || p.status == f.status)
    };
    // The values a filter offers: a memo, so the options are rebuilt only when one comes or goes.
    let values = move |pick: fn(&Project) -> Vec<String>| {
        Memo::new(move |_| {
            s.projects.with(|ps| {
                ps.iter()
                    .flat_map(pick)
                    .filter(|v| !v.is_empty())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(|v| (v.clone(), v))
                    .collect::<Vec<_>>()
            })
        })
    };
    let add = move |_| {
        let id = new_id();
        let project = Project {
            title: i18n.t(Key::NewProject).to_owned(),
            stage: STAGES[0].to_owned(),
            lead_mode: LEAD_MODES[0].to_owned(),
            author: author.clone(),
            ..Project::default()
        };
        session.with_value(|session| {
            session.create(&id, |roots, txn| roots.add_project(txn, &id, &project))
        });
        open.set(Some(id));
    };
    let set_stage = move |id: String, stage: &str| {
        session.with_value(|session| {
            session.edit(|roots, txn| roots.set_project_field(txn, &id, "stage", stage))
        })
    };
    let filter_select = move |label: Key,
                              key: &'static str,
                              options: Signal<Vec<(String, String)>>| {
        view! {
            <label class="filter">{i18n.live(label)}
                <select data-filter=key on:change=move |ev| {
                    let v = event_target_value(&ev);
                    filter.update(|f| match key {
                        "lead" => f.lead = v,
                        "partner" => f.partner = v,
                        "stage" => f.stage = v,
                        _ => f.status = v,
                    });
                }>
                    <option value="">{i18n.live(Key::Everyone)}</option>
                    {move || options.get().into_iter().map(|(value, text)| view! { <option value=value>{text}</option> }).collect::<Vec<_>>()}
                </select>
            </label>
        }
    };
    let stages = Signal::derive(move || {
        STAGES
            .iter()
            .map(|st| (st.to_string(), i18n.t(stage_key(st)).to_owned()))
            .collect()
    });
    let filters = view! {
        {filter_select(Key::Lead, "lead", values(|p| vec![p.lead.clone()]).into())}
        {filter_select(Key::Partners, "partner", values(|p| p.partners.clone()).into())}
        {filter_select(Key::Stage, "stage", stages)}
        {filter_select(Key::Status, "status", values(|p| vec![p.status.clone()]).into())}
    };

    let columns = move || {
        STAGES.iter().map(|stage| {
            let stage = *stage;
            // A project whose stage is unknown shows in the first column.
            let ids = Memo::new(move |_| {
                let f = filter.get();
                s.projects.with(|ps| {
                    ps.iter()
                        .filter(|p| (p.stage == stage || (stage == STAGES[0] && !STAGES.contains(&p.stage.as_str()))) && shows(p, &f))
                        .map(|p| p.id.clone())
                        .collect::<Vec<_>>()
                })
            });
            view! {
                <section class="stage-column" data-stage=stage aria-label=i18n.live(stage_key(stage))
                    on:dragover=|ev: web_sys::DragEvent| ev.prevent_default()
                    on:drop=move |ev: web_sys::DragEvent| {
                        ev.prevent_default();
                        if let Some(id) = ev.data_transfer().and_then(|d| d.get_data("text/plain").ok()) {
                            set_stage(id, stage);
                        }
                    }>
                    <h2>{i18n.live(stage_key(stage))}<span class="badge">{move || ids.with(Vec::len)}</span></h2>
                    <ul class="cards">
                        <For each=move || ids.get() key=|id| id.clone()
                            children=move |id| view! { <ProjectCard id cards open can_edit facilitator session /> } />
                    </ul>
                </section>
            }
        }).collect::<Vec<_>>()
    };
    let table = move || {
        let ids = Memo::new(move |_| {
            let f = filter.get();
            let (column, descending) = sort.get();
            s.projects.with(|ps| {
                let mut projects: Vec<&Project> = ps.iter().filter(|p| shows(p, &f)).collect();
                match column {
                    "stage" | "status" | "lead" | "budget" | "due" => {
                        projects.sort_by_cached_key(|p| match column {
                            "stage" => format!(
                                "{:>20}",
                                STAGES.iter().position(|s| *s == p.stage).unwrap_or(0)
                            ),
                            "status" => p.status.clone(),
                            "lead" => p.lead.clone(),
                            "budget" => format!("{:>20}", p.budget),
                            _ => p.due_date.clone(),
                        })
                    }
                    _ => projects.sort_by(|a, b| crate::collate(&a.title, &b.title)),
                }
                if descending {
                    projects.reverse();
                }
                projects
                    .into_iter()
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>()
            })
        });
        let header = move |column: &'static str, label: Key| {
            let on_click = move |_| {
                sort.update(|(c, d)| {
                    if *c == column {
                        *d = !*d
                    } else {
                        *c = column;
                        *d = false
                    }
                })
            };
            let aria = move || match sort.get() {
                (c, false) if c == column => "ascending",
                (c, true) if c == column => "descending",
                _ => "none",
            };
            view! { <th aria-sort=aria><button class="th" on:click=on_click>{i18n.live(label)}</button></th> }
        };
        view! {
            <table class="projects-table">
                <thead><tr>
                    {header("title", Key::ProjectTitle)}
                    {header("stage", Key::Stage)}
                    {header("status", Key::Status)}
                    {header("lead", Key::Lead)}
                    <th>{i18n.live(Key::Partners)}</th>
                    {header("budget", Key::Budget)}
                    {header("due", Key::DueDate)}
                    <th>{i18n.live(Key::NextStep)}</th>
                </tr></thead>
                <tbody>
                    <For each=move || ids.get() key=|id| id.clone()
                        children=move |id| view! { <ProjectRow id cards open /> } />
                </tbody>
            </table>
        }
    };

    view! {
        <div class="portfolio-board">
            <div class="toolbar" role="toolbar" aria-label=i18n.live(Key::KindPortfolio)>
                {can_edit.then(|| view! { <button data-action="add-project" on:click=add>{i18n.live(Key::AddProject)}</button> })}
                <button aria-pressed=move || (mode.get() == ViewMode::Columns).to_string() on:click=move |_| mode.set(ViewMode::Columns)>{i18n.live(Key::ColumnsView)}</button>
                <button aria-pressed=move || (mode.get() == ViewMode::Table).to_string() on:click=move |_| mode.set(ViewMode::Table)>{i18n.live(Key::TableView)}</button>
                {filters}
            </div>
            <div class="portfolio-body">
                {move || match mode.get() {
                    // Focusable, so a keyboard scrolls the columns where they overflow.
                    ViewMode::Columns => view! { <div class="stages" tabindex="0" role="region" aria-label=i18n.live(Key::ColumnsView)>{columns()}</div> }.into_any(),
                    ViewMode::Table => table().into_any(),
                }}
                {move || open.get().map(|id| view! { <ProjectPanel session id cards open facilitator /> })}
            </div>
        </div>
    }
}

/// One project's card in its stage's column; keyed by id, it reads its own signal.
#[component]
fn ProjectCard(
    id: String,
    cards: Cards<Project>,
    open: RwSignal<Option<String>>,
    can_edit: bool,
    facilitator: bool,
    session: SessionRef,
) -> impl IntoView {
    let i18n = use_i18n();
    let project = cards.get(&id);
    // A project the facilitator locked changes only by the facilitator's hand.
    let editable = move || can_edit && (facilitator || !project.with(|p| p.locked));
    let id = StoredValue::new(id);
    let on_key = move |ev: KeyboardEvent| {
        let step: i64 = match ev.key().as_str() {
            "Enter" => {
                open.set(Some(id.get_value()));
                return;
            }
            "ArrowRight" if ev.alt_key() && editable() => 1,
            "ArrowLeft" if ev.alt_key() && editable() => -1,
            _ => return,
        };
        ev.prevent_default();
        let stage_index =
            project.with_untracked(|p| STAGES.iter().position(|s| *s == p.stage).unwrap_or(0));
        let target = (stage_index as i64 + step).clamp(0, STAGES.len() as i64 - 1) as usize;
        session.with_value(|session| {
            session.edit(|roots, txn| {
                roots.set_project_field(txn, &id.get_value(), "stage", STAGES[target])
            })
        });
    };
    // An optional field's text, when it has one.
    let field = move |pick: fn(&Project) -> String| {
        move || Some(project.with(pick)).filter(|v| !v.is_empty())
    };
    let press = crate::keyed::LongPress::new();
    view! {
        <li class="card-project" data-project=id.get_value() tabindex="0" data-author=move || project.with(|p| p.author.clone())
            title=crate::history::trace_title(id.get_value(), String::new())
            draggable=move || if editable() { "true" } else { "false" }
            on:dragstart=move |ev: web_sys::DragEvent| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &id.get_value());
                }
            }
            on:click=move |_| open.set(Some(id.get_value()))
            on:pointerdown=move |ev: web_sys::PointerEvent| {
                // A finger held on the card opens the project's panel, where its stage changes.
                press.start(&ev, move || open.set(Some(id.get_value())));
            }
            on:pointermove=move |ev| press.moved(&ev)
            on:pointerup=move |_| press.cancel()
            on:pointercancel=move |_| press.cancel()
            on:contextmenu=move |ev: web_sys::MouseEvent| if crate::keyed::by_finger(&ev) { ev.prevent_default() }
            on:keydown=on_key>
            <strong class="project-title">{move || project.with(|p| p.title.clone())}{move || project.with(|p| p.locked).then_some(" 🔒")}</strong>
            {move || field(|p| p.lead.clone())().map(|lead| view! { <span class="lead">{i18n.live(Key::Lead)}" : "{lead}</span> })}
            {move || field(|p| p.status.clone())().map(|status| view! { <span class="status-tag">{status}</span> })}
            {move || field(|p| p.due_date.clone())().map(|due| view! { <span class="due">{due}</span> })}
            {move || field(|p| p.partners.join(", "))().map(|partners| view! { <span class="partners">{partners}</span> })}
            {move || project.with(|p| p.stakes.iter().find(|s| !s.note.is_empty()).map(|s| s.label.clone())).map(|idea| view! {
                <span class="card-origin">"↩ "{i18n.live(Key::FromIdea)}" « "{idea}" »"</span>
            })}
            <crate::reactions::ReactionSummary session element=id.get_value() />
        </li>
    }
}

/// One project's row in the table; keyed by id, it reads its own signal.
#[component]
fn ProjectRow(id: String, cards: Cards<Project>, open: RwSignal<Option<String>>) -> impl IntoView {
    let i18n = use_i18n();
    let project = cards.get(&id);
    let cell = move |pick: fn(&Project) -> String| move || project.with(pick);
    let stage = move || project.with(|p| i18n.t(stage_key(&p.stage)));
    view! {
        <tr data-project=id.clone() tabindex="0" on:click=move |_| open.set(Some(id.clone()))>
            <td>{cell(|p| p.title.clone())}</td>
            <td>{stage}</td>
            <td>{cell(|p| p.status.clone())}</td>
            <td>{cell(|p| p.lead.clone())}</td>
            <td>{cell(|p| p.partners.join(", "))}</td>
            <td>{cell(|p| p.budget.clone())}</td>
            <td>{cell(|p| p.due_date.clone())}</td>
            <td>{cell(|p| p.next_step.clone())}</td>
        </tr>
    }
}

/// Every field of one project, edited live.
#[component]
fn ProjectPanel(
    session: SessionRef,
    id: String,
    cards: Cards<Project>,
    open: RwSignal<Option<String>>,
    facilitator: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let (s, may_edit) = session.with_value(|session| (session.signals, session.can_edit));
    let id = StoredValue::new(id);
    let edit = move |f: &dyn Fn(&shared::Roots, &mut yrs::TransactionMut, &str)| {
        session.with_value(|session| session.edit(|roots, txn| f(roots, txn, &id.get_value())));
    };
    // Each field reads the project's own signal, so a keystroke in the title (here or on another
    // screen) sets that input's value and nothing else; the inputs stay, and keep the focus.
    let project = cards.get(&id.get_value());
    let exists = move || project.with(|p| !p.id.is_empty());
    let locked = move || project.with(|p| p.locked);
    // Read once: the panel of a project locked or unlocked meanwhile is reopened to follow.
    let can_edit = may_edit && (facilitator || !locked());
    let toggle_lock = move |_| {
        let lock = !locked();
        edit(&|roots, txn, id| roots.set_locked(txn, &roots.projects, id, lock));
    };
    // Opened editable and locked meanwhile: closed, to reopen read-only.
    Effect::new(move |_| {
        if can_edit && !facilitator && locked() {
            open.set(None);
        }
    });
    let text_field = move |key: &'static str| {
        move |ev| {
            let value = event_target_value(&ev);
            edit(&|roots, txn, id| {
                if let Some(text) = child_text(&roots.projects, txn, id, key) {
                    edit_text(txn, &text, &value);
                }
            });
        }
    };
    let string_field = move |key: &'static str| {
        move |ev| {
            let value = event_target_value(&ev);
            edit(&|roots, txn, id| roots.set_project_field(txn, id, key, value.trim()));
        }
    };
    let stake_board = RwSignal::new(String::new());
    let stake_note = RwSignal::new(String::new());
    let stake_label = RwSignal::new(String::new());
    let add_stake = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let stake = Stake {
            board: stake_board.get_untracked(),
            note: stake_note.get_untracked(),
            label: stake_label.get_untracked(),
        };
        if stake.label.trim().is_empty() {
            return;
        }
        edit(&|roots, txn, id| roots.add_stake(txn, id, &stake));
        stake_label.set(String::new());
        stake_note.set(String::new());
    };
    let remove_stake = move |index: u32| edit(&|roots, txn, id| roots.remove_stake(txn, id, index));
    let delete = move |_| {
        if window()
            .confirm_with_message(i18n.t(Key::ConfirmDeleteProject))
            .unwrap_or(false)
        {
            edit(&|roots, txn, id| roots.delete_project(txn, id));
            open.set(None);
        }
    };
    let input = move |label: Key,
                      name: &'static str,
                      value: fn(&Project) -> String,
                      kind: &'static str| {
        view! {
            <label>{i18n.live(label)}
                <input name=name type=kind prop:value=move || project.with(value) readonly=!can_edit on:change=move |ev| {
                    let value = event_target_value(&ev);
                    match name {
                        "partners" | "cofinancers" => {
                            let values: Vec<String> = value.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
                            edit(&|roots, txn, id| roots.set_project_list(txn, id, name, &values));
                        }
                        _ => edit(&|roots, txn, id| roots.set_project_field(txn, id, name, value.trim())),
                    }
                } />
            </label>
        }
    };
    let author = move || project.with(|p| p.author.clone());
    view! {
        <aside class="project-panel" role="dialog" aria-label=i18n.live(Key::ProjectDetails)>
            <button class="close" on:click=move |_| open.set(None) aria-label=i18n.live(Key::Close)>"×"</button>
            {(may_edit && facilitator).then(|| view! {
                <button class="tiny" data-action="lock" aria-pressed=move || locked().to_string() on:click=toggle_lock>
                    {move || if locked() { "🔓 " } else { "🔒 " }}{move || i18n.t(if locked() { Key::Unlock } else { Key::Lock })}
                </button>
            })}
            {move || (locked() && !facilitator).then(|| view! { <p class="hint">"🔒 "{i18n.live(Key::LockedElement)}</p> })}
            <Show when=exists>
                <h2>{move || project.with(|p| p.title.clone())}</h2>
                <p class="hint">{i18n.live(Key::By)}" "{crate::history::trace_credit_or(id.get_value(), move || project.with(|p| s.participants.with(|ps| credit(ps, &author(), p.on_behalf_of.as_ref(), i18n.t(Key::EnteredBy)))))}</p>
                {move || project.with(|p| p.stakes.clone()).into_iter().filter(|s| !s.note.is_empty()).map(|stake| view! {
                    <p class="project-origin">"↩ "{i18n.live(Key::FromIdea)}" "{match crate::path::link_to(&stake.board) {
                        Some(href) => view! { <a class="origin-link" href=href data-note=stake.note.clone()>"« "{stake.label.clone()}" »"</a> }.into_any(),
                        None => view! { <span>"« "{stake.label.clone()}" »"</span> }.into_any(),
                    }}</p>
                }).collect::<Vec<_>>()}
                <crate::reactions::ReactionPicker session element=id.get_value() />
                <label>{i18n.live(Key::ProjectTitle)}
                    <input name="title" prop:value=move || project.with(|p| p.title.clone()) readonly=!can_edit on:input=text_field("title") />
                </label>
                <label>{i18n.live(Key::Description)}
                    <textarea name="description" prop:value=move || project.with(|p| p.description.clone()) readonly=!can_edit on:input=text_field("description") rows="4"></textarea>
                </label>
                <label>{i18n.live(Key::Stage)}
                    <select name="stage" prop:disabled=!can_edit on:change=string_field("stage")>
                        {STAGES.iter().map(|st| view! { <option value=*st prop:selected=move || project.with(|p| p.stage == *st)>{i18n.live(stage_key(st))}</option> }).collect::<Vec<_>>()}
                    </select>
                </label>
                <label>{i18n.live(Key::LeadMode)}
                    <select name="leadMode" prop:disabled=!can_edit on:change=string_field("leadMode")>
                        {LEAD_MODES.iter().map(|m| view! { <option value=*m prop:selected=move || project.with(|p| p.lead_mode == *m)>{i18n.live(lead_mode_key(m))}</option> }).collect::<Vec<_>>()}
                    </select>
                </label>
                {input(Key::Status, "status", |p| p.status.clone(), "text")}
                {input(Key::Lead, "lead", |p| p.lead.clone(), "text")}
                {input(Key::Partners, "partners", |p| p.partners.join(", "), "text")}
                {input(Key::Budget, "budget", |p| p.budget.clone(), "text")}
                {input(Key::Cofinancers, "cofinancers", |p| p.cofinancers.join(", "), "text")}
                {input(Key::WorkingGroup, "workingGroup", |p| p.working_group.clone(), "text")}
                {input(Key::NextStep, "nextStep", |p| p.next_step.clone(), "text")}
                {input(Key::DueDate, "dueDate", |p| p.due_date.clone(), "date")}
                <h3>{i18n.live(Key::Stakes)}</h3>
                <ul class="stakes">
                    {move || project.with(|p| p.stakes.clone()).into_iter().enumerate().map(|(index, stake)| view! {
                        // A link back to the note when this browser holds a link to its board.
                        <li>{match crate::path::link_to(&stake.board) {
                            Some(href) => view! { <a class="stake-link" href=href data-note=stake.note.clone()>{stake.label.clone()}</a> }.into_any(),
                            None => view! { <span>{stake.label.clone()}</span> }.into_any(),
                        }}{can_edit.then(|| view! {
                            <button class="tiny" aria-label=i18n.live(Key::RemoveLink) on:click=move |_| remove_stake(index as u32)>"×"</button>
                        })}</li>
                    }).collect::<Vec<_>>()}
                </ul>
            </Show>
            {can_edit.then(|| view! {
                <form class="add-stake" on:submit=add_stake>
                    <input name="stakeLabel" placeholder=i18n.live(Key::StakeLabel) prop:value=stake_label on:input=move |ev| stake_label.set(event_target_value(&ev)) />
                    <input name="stakeBoard" placeholder=i18n.live(Key::StakeBoard) prop:value=stake_board on:input=move |ev| stake_board.set(event_target_value(&ev)) />
                    <input name="stakeNote" placeholder=i18n.live(Key::StakeNote) prop:value=stake_note on:input=move |ev| stake_note.set(event_target_value(&ev)) />
                    <button type="submit">{i18n.live(Key::AddStake)}</button>
                </form>
                <button class="danger" on:click=delete>{i18n.live(Key::DeleteProject)}</button>
            })}
        </aside>
    }
}
