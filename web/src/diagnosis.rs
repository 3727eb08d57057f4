//! The territorial diagnosis canvas: sections of notes, links between notes, dot voting and
//! filters by participant, organisation and organisation kind.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use leptos::prelude::*;
use shared::Note;
use shared::canvas::Voting;
use shared::doc::{child_text, edit_text};
use web_sys::KeyboardEvent;

use crate::i18n::{Key, use_i18n};
use crate::keyed::Cards;
use crate::session::{Session, SessionRef, credit, new_id, safe_color, session_ref};

/// Note colours offered (sticky-note tones).
pub const NOTE_COLORS: [&str; 6] = [
    "#fef08a", "#bbf7d0", "#bfdbfe", "#fbcfe8", "#fed7aa", "#e9d5ff",
];
/// The largest number of votes a facilitator may give each participant.
const VOTES_PER_PARTICIPANT_MAX: i64 = 50;

/// Which notes to show.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    participant: String,
    org: String,
    org_kind: String,
}

#[component]
pub fn Diagnosis(session: Rc<Session>, facilitator: bool) -> impl IntoView {
    let i18n = use_i18n();
    let s = session.signals;
    let can_edit = session.can_edit;
    let pid = session.pid().to_owned();
    let session = session_ref(session);
    let filter = RwSignal::new(Filter::default());
    let editing = RwSignal::new(None::<String>);
    let linking_from = RwSignal::new(None::<String>);
    let sorted_by_votes = RwSignal::new(BTreeSet::<String>::new());
    let removing = RwSignal::new(None::<String>);

    let votes_left = {
        let pid = pid.clone();
        move || {
            let used: i64 = s
                .notes
                .with(|n| n.iter().filter_map(|n| n.votes.get(&pid)).sum());
            s.voting.get().per_participant - used
        }
    };
    let visible = move |note: &Note| {
        let f = filter.get();
        s.participants.with(|p| {
            let author = p.get(&note.author);
            (f.participant.is_empty() || note.author == f.participant)
                && (f.org.is_empty() || author.is_some_and(|a| a.org == f.org))
                && (f.org_kind.is_empty()
                    || author.is_some_and(|a| {
                        a.org_kind.map(|k| k.as_str()) == Some(f.org_kind.as_str())
                    }))
        })
    };

    let ctx = CanvasCtx {
        session,
        editing,
        linking_from,
        pid: StoredValue::new(pid.clone()),
        facilitator,
        // Each card reads a signal of its own (see `keyed`).
        cards: Cards::new(s.notes),
        groups: Memo::new(move |_| s.notes.with(|notes| groups(notes))),
    };

    let add_section = move |_| {
        session.with_value(|session| {
            session.edit(|roots, txn| {
                let order = roots.next_section_order(txn);
                roots.add_section(txn, &new_id(), i18n.t(Key::NewSection), "", order);
            })
        });
    };
    let voting_controls = {
        move || {
            let voting = s.voting.get();
            let set = move |v: Voting| {
                session.with_value(|session| session.edit(|roots, txn| roots.set_voting(txn, v)))
            };
            let (toggle_open, toggle_hidden, set_count) = (set, set, set);
            view! {
                <div class="voting" role="group" aria-label=i18n.live(Key::Voting)>
                    <button data-action="toggle-vote" on:click=move |_| toggle_open(Voting { open: !voting.open, ..voting })>
                        {move || i18n.t(if voting.open { Key::CloseVote } else { Key::OpenVote })}
                    </button>
                    <label>{i18n.live(Key::VotesPerParticipant)}
                        <input type="number" min="1" max=VOTES_PER_PARTICIPANT_MAX.to_string() class="votes-per"
                            prop:value=voting.per_participant.to_string()
                            on:change=move |ev| {
                                let n = event_target_value(&ev).parse::<i64>().unwrap_or(voting.per_participant);
                                set_count(Voting { per_participant: n.clamp(1, VOTES_PER_PARTICIPANT_MAX), ..voting });
                            } />
                    </label>
                    <button data-action="toggle-hidden" on:click=move |_| toggle_hidden(Voting { hidden: !voting.hidden, ..voting })>
                        {move || i18n.t(if voting.hidden { Key::RevealVotes } else { Key::HideVotes })}
                    </button>
                </div>
            }
        }
    };
    let people = move || s.participants.get().into_iter().collect::<Vec<_>>();
    let orgs = move || {
        s.participants.with(|p| {
            p.values()
                .map(|p| p.org.clone())
                .filter(|o| !o.is_empty())
                .collect::<BTreeSet<_>>()
        })
    };

    view! {
        <div class="canvas-board">
            <div class="toolbar" role="toolbar" aria-label=i18n.live(Key::KindDiagnosis)>
                {(can_edit && facilitator).then(|| view! { <button on:click=add_section>{i18n.live(Key::AddSection)}</button> })}
                {(can_edit && facilitator).then(|| view! { <span class="voting-wrap">{voting_controls}</span> })}
                <Show when=move || s.voting.get().open>
                    <span class="votes-left" data-votes-left=votes_left.clone()>{i18n.live(Key::VotesLeft)}" "{votes_left.clone()}</span>
                </Show>
                <label class="filter">{i18n.live(Key::FilterParticipant)}
                    <select data-filter="participant" on:change=move |ev| filter.update(|f| f.participant = event_target_value(&ev))>
                        <option value="">{i18n.live(Key::Everyone)}</option>
                        {move || people().into_iter().map(|(pid, p)| view! { <option value=pid>{p.name}</option> }).collect::<Vec<_>>()}
                    </select>
                </label>
                <label class="filter">{i18n.live(Key::Organisation)}
                    <select data-filter="org" on:change=move |ev| filter.update(|f| f.org = event_target_value(&ev))>
                        <option value="">{i18n.live(Key::Everyone)}</option>
                        {move || orgs().into_iter().map(|o| { let label = o.clone(); view! { <option value=o>{label}</option> } }).collect::<Vec<_>>()}
                    </select>
                </label>
                <label class="filter">{i18n.live(Key::OrgKindLabel)}
                    <select data-filter="orgKind" on:change=move |ev| filter.update(|f| f.org_kind = event_target_value(&ev))>
                        <crate::board::OrgKindOptions none=Key::Everyone />
                    </select>
                </label>
                <Show when=move || linking_from.get().is_some()>
                    <span class="linking" role="status">{i18n.live(Key::PickNoteToLink)}
                        <button on:click=move |_| linking_from.set(None)>{i18n.live(Key::Cancel)}</button>
                    </span>
                </Show>
            </div>
            <div class="sections">
                <For each=move || s.sections.get() key=|sec| (sec.id.clone(), sec.title.clone(), sec.hint.clone(), sec.order.to_bits()) children={
                    move |section| {
                        let id = section.id.clone();
                        // The ids of the section's notes, in order: the cards read their notes
                        // themselves, so typing in a note changes no section's list.
                        let section_notes = {
                            let id = id.clone();
                            Memo::new(move |_| {
                                s.notes.with(|n| {
                                    let mut notes: Vec<&Note> = n.iter().filter(|n| n.section == id && visible(n)).collect();
                                    if sorted_by_votes.with(|set| set.contains(&id)) {
                                        notes.sort_by_key(|n| std::cmp::Reverse(n.votes.values().sum::<i64>()));
                                    }
                                    heads_then_groups(notes).into_iter().map(|n| n.id.clone()).collect::<Vec<String>>()
                                })
                            })
                        };
                        view! { <SectionView ctx section notes=section_notes.into() facilitator sorted_by_votes removing /> }
                    }
                } />
            </div>
        </div>
    }
}

/// What every note and section of the canvas shares.
#[derive(Clone, Copy)]
struct CanvasCtx {
    session: SessionRef,
    editing: RwSignal<Option<String>>,
    linking_from: RwSignal<Option<String>>,
    pid: StoredValue<String>,
    facilitator: bool,
    /// One signal per note on the page, by id.
    cards: Cards<Note>,
    /// The groups of notes under heading notes (see [`groups`]).
    groups: Memo<Groups>,
}

/// The canvas's groups: for each note that heads one, how many notes of its section are
/// grouped under it, and the notes that are. A note grouped under a note that is gone, or in
/// another section, stands alone.
#[derive(Clone, Default, PartialEq)]
struct Groups {
    counts: HashMap<String, usize>,
    members: HashSet<String>,
}

fn groups(notes: &[Note]) -> Groups {
    let sections: HashMap<&str, &str> = notes
        .iter()
        .map(|n| (n.id.as_str(), n.section.as_str()))
        .collect();
    let mut groups = Groups::default();
    for note in notes {
        if let Some(head) = note.grouped_under.as_deref()
            && sections.get(head) == Some(&note.section.as_str())
        {
            *groups.counts.entry(head.to_owned()).or_insert(0) += 1;
            groups.members.insert(note.id.clone());
        }
    }
    groups
}

/// A section's notes with each group right after its heading note, in the order given.
fn heads_then_groups(notes: Vec<&Note>) -> Vec<&Note> {
    let present: HashSet<&str> = notes.iter().map(|n| n.id.as_str()).collect();
    fn head<'a>(n: &'a Note, present: &HashSet<&str>) -> Option<&'a str> {
        n.grouped_under
            .as_deref()
            .filter(|h| *h != n.id && present.contains(h))
    }

    let mut members: HashMap<&str, Vec<&Note>> = HashMap::new();
    for note in &notes {
        if let Some(head) = head(note, &present) {
            members.entry(head).or_default().push(note);
        }
    }
    let mut out = Vec::with_capacity(notes.len());
    for note in notes.iter().filter(|n| head(n, &present).is_none()) {
        out.push(*note);
        out.extend(members.remove(note.id.as_str()).unwrap_or_default());
    }
    // Notes under a heading that is itself grouped (a chain) keep their place at the end.
    out.extend(
        notes
            .iter()
            .filter(|n| head(n, &present).is_some_and(|h| members.contains_key(h))),
    );
    out
}

impl CanvasCtx {
    fn edit(&self, f: impl FnOnce(&shared::Roots, &mut yrs::TransactionMut)) {
        self.session.with_value(|session| session.edit(f));
    }
}

#[component]
fn SectionView(
    ctx: CanvasCtx,
    section: shared::Section,
    notes: Signal<Vec<String>>,
    facilitator: bool,
    sorted_by_votes: RwSignal<BTreeSet<String>>,
    removing: RwSignal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let (s, can_edit) = ctx
        .session
        .with_value(|session| (session.signals, session.can_edit));
    let id = StoredValue::new(section.id.clone());
    let manage = can_edit && facilitator;
    let add_note = move |_| {
        let note = new_id();
        let pid = ctx.pid.get_value();
        ctx.session.with_value(|session| {
            session.create(&note, |roots, txn| {
                roots.add_note(txn, &note, &id.get_value(), "", NOTE_COLORS[0], &pid)
            })
        });
        ctx.editing.set(Some(note));
    };
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        if let Some(note) = ev
            .data_transfer()
            .and_then(|d| d.get_data("text/plain").ok())
        {
            ctx.edit(|roots, txn| {
                roots.move_note(txn, &note, &id.get_value());
            });
        }
    };
    let rename = move |ev| {
        let title = event_target_value(&ev);
        ctx.edit(|roots, txn| roots.set_section_field(txn, &id.get_value(), "title", title.trim()));
    };
    let shift = move |step: i64| {
        let sections = s.sections.get_untracked();
        let id = id.get_value();
        let Some(index) = sections.iter().position(|x| x.id == id) else {
            return;
        };
        let target = index as i64 + step;
        if target < 0 || target as usize >= sections.len() {
            return;
        }
        let other = &sections[target as usize];
        let (mine, theirs) = (sections[index].order, other.order);
        let other_id = other.id.clone();
        ctx.edit(|roots, txn| {
            roots.set_section_order(txn, &id, theirs);
            roots.set_section_order(txn, &other_id, mine);
        });
    };
    let ask_remove = move |_| {
        let id = id.get_value();
        if s.notes
            .with_untracked(|n| n.iter().all(|n| n.section != id))
        {
            ctx.edit(|roots, txn| roots.remove_section(txn, &id, None));
        } else {
            removing.set(Some(id));
        }
    };
    let toggle_sort = move |_| {
        let id = id.get_value();
        sorted_by_votes.update(|set| {
            if !set.remove(&id) {
                set.insert(id);
            }
        })
    };
    let sorted = move || {
        sorted_by_votes
            .with(|set| set.contains(&id.get_value()))
            .to_string()
    };
    let title_id = format!("section-{}", section.id);
    view! {
        <section class="section" data-section=section.id.clone() aria-labelledby=title_id.clone()
            on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
            <header class="section-head">
                {if manage {
                    view! { <input class="section-title" id=title_id.clone() prop:value=section.title.clone() aria-label=i18n.live(Key::SectionTitle) on:change=rename /> }.into_any()
                } else {
                    view! { <h2 class="section-title" id=title_id.clone()>{section.title.clone()}</h2> }.into_any()
                }}
                <p class="hint">{section.hint.clone()}</p>
                <div class="section-actions">
                    {can_edit.then(|| view! { <button data-action="add-note" on:click=add_note>{i18n.live(Key::AddNote)}</button> })}
                    <button on:click=toggle_sort aria-pressed=sorted>{i18n.live(Key::SortByVotes)}</button>
                    {manage.then(|| view! {
                        <button on:click=move |_| shift(-1) aria-label=i18n.live(Key::MoveSectionLeft)>"←"</button>
                        <button on:click=move |_| shift(1) aria-label=i18n.live(Key::MoveSectionRight)>"→"</button>
                        <button data-action="remove-section" on:click=ask_remove aria-label=i18n.live(Key::RemoveSection)>"✕"</button>
                    })}
                </div>
                <RemoveSectionDialog ctx section=section.id.clone() removing />
            </header>
            <ul class="notes">
                <For each=move || notes.get() key=|id| id.clone()
                    children=move |id| view! { <NoteCard ctx id /> } />
            </ul>
        </section>
    }
}

/// Asks where the notes of a section being removed go.
#[component]
fn RemoveSectionDialog(
    ctx: CanvasCtx,
    section: String,
    removing: RwSignal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let s = ctx.session.with_value(|session| session.signals);
    let target = RwSignal::new(String::new());
    let section = StoredValue::new(section);
    let shown = move || removing.get().as_deref() == Some(section.get_value().as_str());
    let confirm = move |_| {
        let to = target.get_untracked();
        ctx.edit(|roots, txn| {
            roots.remove_section(
                txn,
                &section.get_value(),
                (!to.is_empty()).then_some(to.as_str()),
            )
        });
        removing.set(None);
    };
    let others = move || {
        s.sections
            .get()
            .into_iter()
            .filter(|x| x.id != section.get_value())
            .collect::<Vec<_>>()
    };
    view! {
        <Show when=shown>
            <div class="dialog" role="dialog" aria-label=i18n.live(Key::RemoveSection)>
                <p>{i18n.live(Key::WhereNotesGo)}</p>
                <select data-field="notes-to" on:change=move |ev| target.set(event_target_value(&ev))>
                    <option value="">{i18n.live(Key::DeleteTheNotes)}</option>
                    {move || others().into_iter().map(|x| view! { <option value=x.id.clone()>{x.title.clone()}</option> }).collect::<Vec<_>>()}
                </select>
                <button class="primary" data-action="confirm-remove" on:click=confirm>{i18n.live(Key::RemoveSection)}</button>
                <button on:click=move |_| removing.set(None)>{i18n.live(Key::Cancel)}</button>
            </div>
        </Show>
    }
}

/// One note; keyed by id, it reads its fields from the notes signal, so typing in it does not
/// rebuild it (which would take the focus away from the text being typed).
#[component]
fn NoteCard(ctx: CanvasCtx, id: String) -> impl IntoView {
    let i18n = use_i18n();
    let (s, can_edit) = ctx
        .session
        .with_value(|session| (session.signals, session.can_edit));
    let id = StoredValue::new(id);
    let note = ctx.cards.get(&id.get_value());
    let editing = ctx.editing;
    let is_editing = Memo::new(move |_| editing.get().as_deref() == Some(id.get_value().as_str()));
    let facilitator = ctx.facilitator;
    let locked = move || note.with(|n| n.locked);
    // A note the facilitator locked changes only by the facilitator's hand; votes still count.
    let changeable = move || can_edit && (facilitator || !locked());
    let toggle_lock = move |_| {
        let lock = !locked();
        ctx.edit(|roots, txn| roots.set_locked(txn, &roots.notes, &id.get_value(), lock));
    };
    let mine = move || note.with(|n| n.votes.get(&ctx.pid.get_value()).copied().unwrap_or(0));
    let total = move || note.with(|n| n.votes.values().sum::<i64>());
    let author_label = crate::history::trace_credit_or(id.get_value(), move || {
        note.with(|n| {
            s.participants.with(|p| {
                credit(
                    p,
                    &n.author,
                    n.on_behalf_of.as_ref(),
                    i18n.t(Key::EnteredBy),
                )
            })
        })
    });
    let edit = move |ev| {
        let value = event_target_value(&ev);
        ctx.edit(|roots, txn| {
            if let Some(text) = child_text(&roots.notes, txn, &id.get_value(), "text") {
                edit_text(txn, &text, &value);
            }
        });
    };
    let vote = move |delta: i64| {
        let voting = s.voting.get_untracked();
        let pid = ctx.pid.get_value();
        let used: i64 = s
            .notes
            .with_untracked(|n| n.iter().filter_map(|n| n.votes.get(&pid)).sum());
        let mine = mine();
        if !voting.open || (delta > 0 && used >= voting.per_participant) || mine + delta < 0 {
            return;
        }
        ctx.edit(|roots, txn| roots.set_vote(txn, &id.get_value(), &pid, mine + delta));
    };
    let move_by = move |step: i64| {
        let sections = s.sections.get_untracked();
        let section = note.with_untracked(|n| n.section.clone());
        let Some(index) = sections.iter().position(|x| x.id == section) else {
            return;
        };
        let target = (index as i64 + step).clamp(0, sections.len() as i64 - 1) as usize;
        let to = sections[target].id.clone();
        ctx.edit(|roots, txn| {
            roots.move_note(txn, &id.get_value(), &to);
        });
    };
    let delete = move || {
        if window()
            .confirm_with_message(i18n.t(Key::ConfirmDeleteNote))
            .unwrap_or(false)
        {
            ctx.edit(|roots, txn| roots.delete_note(txn, &id.get_value()));
        }
    };
    let link_click = move |_| {
        let id = id.get_value();
        match ctx.linking_from.get_untracked() {
            Some(from) if from != id => {
                let pid = ctx.pid.get_value();
                ctx.edit(|roots, txn| roots.add_link(txn, &new_id(), &from, &id, &pid));
                ctx.linking_from.set(None);
            }
            Some(_) => ctx.linking_from.set(None),
            None => ctx.linking_from.set(Some(id)),
        }
    };
    let on_key = move |ev: KeyboardEvent| {
        if !changeable() || editing.get_untracked().is_some() {
            return;
        }
        match ev.key().as_str() {
            "Enter" | "F2" => editing.set(Some(id.get_value())),
            "ArrowRight" if ev.alt_key() => move_by(1),
            "ArrowLeft" if ev.alt_key() => move_by(-1),
            "Delete" => delete(),
            _ => return,
        }
        ev.prevent_default();
    };
    // The notes linked to this one, by link: (link id, the other note's id). Reads the links
    // only; each label reads its note's own signal.
    let links = move || {
        let id = id.get_value();
        s.links.with(|links| {
            links
                .iter()
                .filter(|l| l.from == id || l.to == id)
                .map(|l| {
                    let other = if l.from == id { &l.to } else { &l.from };
                    (l.id.clone(), other.clone())
                })
                .collect::<Vec<_>>()
        })
    };
    let remove_link = move |link: String| ctx.edit(|roots, txn| roots.remove_link(txn, &link));
    let set_color = move |color: &'static str| {
        ctx.edit(|roots, txn| roots.set_note_color(txn, &id.get_value(), color))
    };
    let hidden = move || s.voting.get().hidden;
    let open = move || s.voting.get().open;
    let linking_source = move || ctx.linking_from.get().as_deref() == Some(id.get_value().as_str());
    let body = move || {
        if is_editing.get() {
            let text = note.with_untracked(|n| n.text.clone());
            // Focused as soon as it is in the page, so no keystroke typed right away is lost.
            let editor = NodeRef::<leptos::html::Textarea>::new();
            editor.on_load(|el| {
                let _ = el.focus();
            });
            view! {
                <textarea class="note-editor" node_ref=editor prop:value=text on:input=edit on:blur=move |_| editing.set(None)
                    aria-label=i18n.live(Key::NoteText)
                    on:keydown=move |ev: KeyboardEvent| if ev.key() == "Escape" || (ev.key() == "Enter" && !ev.shift_key()) {
                        // Handled here: the note's own Enter (open the editor) must not see it.
                        ev.prevent_default();
                        ev.stop_propagation();
                        editing.set(None);
                    }
                    />
            }
            .into_any()
        } else {
            let text = move || {
                note.with(|n| {
                    if n.text.is_empty() {
                        i18n.t(Key::EmptyNote).to_owned()
                    } else {
                        n.text.clone()
                    }
                })
            };
            let empty = move || note.with(|n| n.text.is_empty());
            view! {
                <p class="note-text" class:empty=empty on:dblclick=move |_| if changeable() { editing.set(Some(id.get_value())) }>{text}</p>
            }
            .into_any()
        }
    };
    let label = move || {
        note.with(|n| {
            format!(
                "{} — {}",
                if n.text.is_empty() {
                    i18n.t(Key::EmptyNote)
                } else {
                    n.text.as_str()
                },
                n.votes.values().sum::<i64>()
            )
        })
    };
    // "Move to" another section, for a finger (which cannot drag a note): a button opens the
    // list. Opened by a click, never by the focus, so no note moves under a pointer about to
    // click (the list is drawn for the note that asked only: 500 notes carry no list).
    let moving = RwSignal::new(false);
    let press = crate::keyed::LongPress::new();
    // The five reactions, on demand (500 notes carry no picker).
    let reacting = RwSignal::new(false);
    let move_to = move |ev| {
        let to = event_target_value(&ev);
        if !to.is_empty() {
            ctx.edit(|roots, txn| {
                roots.move_note(txn, &id.get_value(), &to);
            });
        }
        moving.set(false);
    };
    // Grouping under a heading note of the same section, from a list opened on demand.
    let grouping = RwSignal::new(false);
    let group_under = move |ev| {
        let head = event_target_value(&ev);
        if !head.is_empty() {
            ctx.edit(|roots, txn| {
                roots.group_note(txn, &id.get_value(), (head != "-").then_some(head.as_str()));
            });
        }
        grouping.set(false);
    };
    let heads = move || {
        let (here, me) = note.with_untracked(|n| (n.section.clone(), n.id.clone()));
        s.notes.with_untracked(|notes| {
            notes
                .iter()
                .filter(|n| n.section == here && n.id != me && n.grouped_under.is_none())
                .map(|n| view! { <option value=n.id.clone()>{n.text.chars().take(60).collect::<String>()}</option> })
                .collect::<Vec<_>>()
        })
    };
    let grouped = move || ctx.groups.with(|g| g.members.contains(&id.get_value()));
    let gathers = move || ctx.groups.with(|g| g.counts.get(&id.get_value()).copied());
    let decision_status =
        Signal::derive(move || note.with(|n| n.decision.as_ref().map(|d| d.status)));
    let has_project = Signal::derive(move || note.with(|n| n.project.is_some()));
    let other_sections = move || {
        let here = note.with(|n| n.section.clone());
        s.sections.with(|sections| {
            sections
                .iter()
                .filter(|x| x.id != here)
                .map(|x| view! { <option value=x.id.clone()>{x.title.clone()}</option> })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <li class="note" style=move || format!("--note:{}", note.with(|n| safe_color(&n.color).to_owned())) data-note=id.get_value() tabindex="0"
            data-author=note.with_untracked(|n| n.author.clone())
            title=crate::history::trace_title(id.get_value(), String::new())
            class:linking-source=linking_source
            class:grouped=grouped
            data-decision=move || note.with(|n| n.decision.as_ref().map(|d| d.status.as_str()).unwrap_or(""))
            draggable=move || if changeable() { "true" } else { "false" }
            class:locked=locked
            on:dragstart=move |ev: web_sys::DragEvent| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &id.get_value());
                }
            }
            on:keydown=on_key
            on:pointerdown=move |ev: web_sys::PointerEvent| {
                // A finger held on the note shows the note's tools.
                let note = ev.current_target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(t).ok());
                press.start(&ev, move || if let Some(note) = note { let _ = note.focus(); });
            }
            on:pointermove=move |ev| press.moved(&ev)
            on:pointerup=move |_| press.cancel()
            on:pointercancel=move |_| press.cancel()
            on:contextmenu=move |ev: web_sys::MouseEvent| if crate::keyed::by_finger(&ev) { ev.prevent_default() }
            aria-label=label>
            {move || gathers().map(|count| view! { <span class="group-count">{count}" "{i18n.live(Key::GroupedIdeas)}</span> })}
            {body}
            <div class="note-meta">
                <span class="author">{author_label}</span>
                {move || locked().then(|| view! { <span class="lock" title=i18n.live(Key::Locked)>"🔒"</span> })}
                <span class="votes" data-total=move || if hidden() { "?".to_owned() } else { total().to_string() }>
                    {move || if hidden() { format!("● {}", mine()) } else { format!("● {}", total()) }}
                </span>
                <crate::reactions::ReactionSummary session=ctx.session element=id.get_value() />
            </div>
            {move || note.with(|n| n.decision.clone()).map(|decision| view! { <crate::path::DecisionBadge decision /> })}
            {move || note.with(|n| n.project.clone()).map(|link| view! { <crate::path::ProjectBadge link /> })}
            <ul class="note-links">
                {move || links().into_iter().map(|(link, other)| {
                    let link = StoredValue::new(link);
                    let other = ctx.cards.get(&other);
                    view! {
                        <li>"↔ "{move || other.with(|n| n.text.clone())}{can_edit.then(|| view! {
                            <button class="tiny" aria-label=i18n.live(Key::RemoveLink) on:click=move |_| remove_link(link.get_value())>"×"</button>
                        })}</li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
            {can_edit.then(|| view! {
                <div class="note-actions">
                    <Show when=open>
                        <button class="tiny" data-action="unvote" aria-label=i18n.live(Key::RemoveVote) on:click=move |_| vote(-1)>"−"</button>
                        <button class="tiny" data-action="vote" aria-label=i18n.live(Key::AddVote) on:click=move |_| vote(1)>"+"</button>
                    </Show>
                    <Show when=changeable>
                        {NOTE_COLORS.iter().map(|c| {
                            let c = *c;
                            view! { <button class="swatch-btn" style=format!("--swatch:{c}") aria-label=move || format!("{} {c}", i18n.t(Key::Colour)) on:click=move |_| set_color(c)></button> }
                        }).collect::<Vec<_>>()}
                        <button class="tiny" data-action="link" on:click=link_click aria-label=i18n.live(Key::LinkNote)>"↔"</button>
                        <button class="tiny" data-action="move" aria-expanded=move || moving.get().to_string() on:click=move |_| moving.update(|m| *m = !*m) aria-label=i18n.live(Key::MoveNoteTo)>"⇥"</button>
                        <button class="tiny" data-action="group" aria-expanded=move || grouping.get().to_string() on:click=move |_| grouping.update(|g| *g = !*g) aria-label=i18n.live(Key::GroupUnder)>"⊂"</button>
                        <button class="tiny" data-action="delete" on:click=move |_| delete() aria-label=i18n.live(Key::DeleteNote)>"✕"</button>
                    </Show>
                    <button class="tiny" data-action="react" aria-expanded=move || reacting.get().to_string() on:click=move |_| reacting.update(|r| *r = !*r)
                        aria-label=i18n.live(Key::React)>"☺"</button>
                    {facilitator.then(|| view! {
                        <button class="tiny" data-action="lock" aria-pressed=move || locked().to_string() on:click=toggle_lock
                            aria-label=move || i18n.t(if locked() { Key::Unlock } else { Key::Lock })>{move || if locked() { "🔓" } else { "🔒" }}</button>
                    })}
                    <Show when=move || reacting.get()>
                        <crate::reactions::ReactionPicker session=ctx.session element=id.get_value() />
                    </Show>
                    <Show when=move || grouping.get() && changeable()>
                        <select class="group-note" data-action="group-under" aria-label=i18n.live(Key::GroupUnder) on:change=group_under>
                            <option value="" selected>{i18n.live(Key::GroupUnder)}</option>
                            {move || note.with(|n| n.grouped_under.is_some()).then(|| view! { <option value="-">{i18n.live(Key::Ungroup)}</option> })}
                            {heads}
                        </select>
                    </Show>
                    {facilitator.then(|| view! {
                        <crate::path::DecisionTools session=ctx.session note=id.get_value() decision=decision_status has_project />
                    })}
                    <Show when=move || moving.get() && changeable()>
                        <select class="move-note" data-action="move-to" aria-label=i18n.live(Key::MoveNoteTo) on:change=move_to>
                            <option value="" selected>{i18n.live(Key::MoveNoteTo)}</option>
                            {other_sections}
                        </select>
                    </Show>
                </div>
            })}
        </li>
    }
}
