//! What an export reads: the board's document as plain values, with every element's author
//! taken from the journal (the server's record), not from the `author` hints in the document.

use std::collections::{BTreeMap, HashMap};

use shared::canvas::{Link, Voting};
use shared::doc::{Node, Note, Participant, Roots, Section};
use shared::portfolio::Project;
use shared::trace::Tally;
use shared::{BoardKind, Lang};
use yrs::{Doc, Transact};

use crate::store::{Actor, JournalRow};

/// Who wrote an element, as an export prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub org: String,
    /// Who typed it, for an element entered on behalf of `name` (empty otherwise).
    pub entered_by: String,
}

impl Author {
    /// "Name (Organisation)", and ", saisi par Typist" for an element entered on behalf of
    /// the person named.
    pub fn byline(&self, lang: Lang) -> String {
        let by = super::text::byline(&self.name, &self.org);
        if self.entered_by.is_empty() {
            by
        } else {
            let entered = super::labels::tr(lang, super::labels::Label::EnteredBy);
            format!("{by}, {entered} {}", self.entered_by)
        }
    }

    /// The name alone, with its typist for an element entered on behalf of its author: for a
    /// table whose organisation has its own column.
    pub fn name_and_typist(&self, lang: Lang) -> String {
        if self.entered_by.is_empty() {
            self.name.clone()
        } else {
            let entered = super::labels::tr(lang, super::labels::Label::EnteredBy);
            format!("{} ({entered} {})", self.name, self.entered_by)
        }
    }
}

/// When and by whom each element was created, from the journal.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    created: HashMap<String, Created>,
    actors: HashMap<String, Actor>,
}

/// Who an element is credited to and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The participant, or the person it was entered for (an id of `Represented::pid`).
    pub pid: String,
    pub ts_ms: i64,
    /// The typist's participant id, for an element entered on behalf of someone.
    pub entered_by: Option<String>,
}

impl Provenance {
    /// Replays `rows` (a board's journal, in order) and keeps each element's creator.
    pub fn from_journal(rows: &[JournalRow]) -> Self {
        let mut tally = Tally::new();
        let mut provenance = Provenance::default();
        let system = Actor::system().pid;
        for row in rows {
            let report = tally.apply(&row.actor.pid, &row.update_v1);
            for id in &report.created {
                let proxy = crate::trace::proxy_of(&report, id).filter(|_| row.actor.pid != system);
                provenance
                    .created
                    .entry(id.clone())
                    .or_insert_with(|| match proxy {
                        Some(person) => Created {
                            pid: person.pid(),
                            ts_ms: row.ts_ms,
                            entered_by: Some(row.actor.pid.clone()),
                        },
                        None => Created {
                            pid: row.actor.pid.clone(),
                            ts_ms: row.ts_ms,
                            entered_by: None,
                        },
                    });
            }
            provenance
                .actors
                .insert(row.actor.pid.clone(), row.actor.clone());
        }
        for (pid, person) in tally.represented() {
            provenance.actors.insert(pid.clone(), Actor::from(person));
        }
        provenance
    }

    /// From the trace's record: each element's first creator and time, and the latest
    /// identity of each participant and of each person entered by proxy.
    pub fn new(created: HashMap<String, Created>, actors: HashMap<String, Actor>) -> Self {
        Provenance { created, actors }
    }

    /// Changes every identity it holds with `f` (pseudonyms).
    pub fn mask(&mut self, f: impl Fn(&mut Actor)) {
        self.actors.values_mut().for_each(f);
    }

    /// When `element` was created, if the journal saw it.
    pub fn created_ms(&self, element: &str) -> Option<i64> {
        self.created.get(element).map(|c| c.ts_ms)
    }
}

/// A note with what the export prints beside it.
#[derive(Debug, Clone)]
pub struct NoteView {
    pub note: Note,
    pub author: Author,
    pub votes: i64,
    pub created_ms: Option<i64>,
}

/// A section and its notes, in the order they were written.
#[derive(Debug, Clone)]
pub struct SectionView {
    pub section: Section,
    pub notes: Vec<NoteView>,
}

/// A board as exports see it.
#[derive(Debug)]
pub struct Board {
    pub id: String,
    pub kind: BoardKind,
    pub lang: Lang,
    pub title: String,
    pub participants: BTreeMap<String, Participant>,
    pub provenance: Provenance,
    /// Mind map nodes (every node, collapsed or not).
    pub nodes: Vec<Node>,
    pub sections: Vec<SectionView>,
    pub links: Vec<Link>,
    pub voting: Voting,
    pub projects: Vec<Project>,
    /// Each element's reactions (counts; nobody's own).
    pub reactions: BTreeMap<String, shared::reactions::Tally>,
}

impl Board {
    /// Reads `doc`, with who created its elements (`provenance`, from the record).
    pub fn read(id: &str, kind: BoardKind, lang: Lang, doc: &Doc, provenance: Provenance) -> Board {
        let roots = Roots::new(doc);
        let txn = doc.transact();
        let meta = roots.meta(&txn);
        let participants = roots.participants(&txn);
        let mut board = Board {
            id: id.to_owned(),
            kind,
            lang,
            title: meta.title,
            participants,
            provenance,
            nodes: Vec::new(),
            sections: Vec::new(),
            links: Vec::new(),
            voting: roots.voting(&txn),
            projects: Vec::new(),
            reactions: shared::reactions::tallies(&roots.reactions, &txn, ""),
        };
        match kind {
            BoardKind::MindMap => {
                board.nodes = roots.nodes(&txn);
                for node in &mut board.nodes {
                    node.collapsed = false;
                }
            }
            BoardKind::Diagnosis => {
                let mut sections = roots.sections(&txn);
                sections.sort_by(|a, b| a.order.total_cmp(&b.order).then(a.id.cmp(&b.id)));
                let mut views: Vec<SectionView> = sections
                    .into_iter()
                    .map(|section| SectionView {
                        section,
                        notes: Vec::new(),
                    })
                    .collect();
                let mut unsorted = Vec::new();
                let mut notes: Vec<NoteView> = roots
                    .notes(&txn)
                    .into_iter()
                    .map(|note| board.note_view(note))
                    .collect();
                notes.sort_by(|a, b| {
                    (a.created_ms.unwrap_or(i64::MAX), &a.note.id)
                        .cmp(&(b.created_ms.unwrap_or(i64::MAX), &b.note.id))
                });
                for note in notes {
                    match views.iter_mut().find(|v| v.section.id == note.note.section) {
                        Some(view) => view.notes.push(note),
                        None => unsorted.push(note),
                    }
                }
                if !unsorted.is_empty() {
                    views.push(SectionView {
                        section: Section {
                            id: String::new(),
                            title: super::labels::tr(lang, super::labels::Label::Unsorted)
                                .to_owned(),
                            hint: String::new(),
                            order: f64::MAX,
                        },
                        notes: unsorted,
                    });
                }
                board.sections = views;
                board.links = roots.links(&txn);
            }
            BoardKind::Portfolio => {
                let mut projects = roots.projects(&txn);
                projects.sort_by_key(|p| {
                    (
                        shared::portfolio::STAGES
                            .iter()
                            .position(|s| *s == p.stage)
                            .unwrap_or(usize::MAX),
                        board.provenance.created_ms(&p.id).unwrap_or(i64::MAX),
                        p.id.clone(),
                    )
                });
                board.projects = projects;
            }
        }
        board
    }

    /// The reactions `element` was given, as "👍 2 💡 1" (empty when none).
    pub fn reactions_of(&self, element: &str) -> String {
        self.reactions
            .get(element)
            .map(shared::reactions::Tally::summary)
            .unwrap_or_default()
    }

    /// The reactions `element` was given, in words of `lang` ("D'accord 2 · Bonne idée 1"):
    /// for the PDF and the ODT, whose fonts may have no emoji.
    pub fn reactions_in_words(&self, element: &str) -> String {
        let Some(tally) = self.reactions.get(element) else {
            return String::new();
        };
        super::labels::REACTION_LABELS
            .iter()
            .zip(tally.counts)
            .filter(|(_, count)| *count > 0)
            .map(|(label, count)| format!("{} {count}", super::labels::tr(self.lang, *label)))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Where the canvas's ideas stand, and a line per idea the facilitator decided on (kept
    /// first, in the order they were written): who proposed it, the heading it is grouped
    /// under, its votes, the decision with who, when and why, the project it became. `None`
    /// for other kinds of board.
    pub fn path(&self) -> Option<(String, Vec<String>)> {
        use super::labels::{Label, tr};
        use shared::path::{Status, Summary};
        if self.kind != BoardKind::Diagnosis {
            return None;
        }
        let lang = self.lang;
        let notes: Vec<&NoteView> = self.sections.iter().flat_map(|s| &s.notes).collect();
        let plain: Vec<Note> = notes.iter().map(|n| n.note.clone()).collect();
        let summary = super::labels::path_summary(lang, &Summary::of(&plain));
        let mut decided: Vec<&&NoteView> =
            notes.iter().filter(|n| n.note.decision.is_some()).collect();
        decided.sort_by_key(|n| n.note.decision.as_ref().map(|d| d.status != Status::Kept));
        let lines = decided
            .into_iter()
            .map(|view| {
                let note = &view.note;
                let mut parts = vec![format!("« {} »", super::one_line(&note.text))];
                let by = view.author.byline(lang);
                if !by.is_empty() {
                    parts.push(format!("{} {by}", tr(lang, Label::ProposedBy)));
                }
                if let Some(heading) = note
                    .grouped_under
                    .as_deref()
                    .and_then(|h| notes.iter().find(|n| n.note.id == h))
                {
                    parts.push(format!(
                        "{} « {} »",
                        tr(lang, Label::GroupedUnder),
                        super::one_line(&heading.note.text)
                    ));
                }
                if view.votes > 0 {
                    parts.push(super::labels::votes(lang, view.votes));
                }
                if let Some(d) = &note.decision {
                    let what = match d.status {
                        Status::Kept => Label::KeptBy,
                        Status::SetAside => Label::SetAsideBy,
                    };
                    let mut said = format!(
                        "{} {} {} {}",
                        tr(lang, what),
                        d.by_name,
                        tr(lang, Label::OnDate),
                        super::utc(d.at_ms)
                    );
                    if !d.reason.is_empty() {
                        said.push_str(&format!(" ({})", super::one_line(&d.reason)));
                    }
                    parts.push(said);
                }
                if let Some(project) = &note.project {
                    parts.push(format!(
                        "{} « {} »",
                        tr(lang, Label::BecameProject),
                        project.title
                    ));
                }
                parts.join(" · ")
            })
            .collect();
        Some((summary, lines))
    }

    /// How a link's end is printed: its note's text on one line, or the id of a note gone.
    pub fn link_end(&self, id: &str) -> String {
        self.sections
            .iter()
            .flat_map(|s| &s.notes)
            .find(|n| n.note.id == id)
            .map(|n| super::one_line(&n.note.text))
            .unwrap_or_else(|| id.to_owned())
    }

    fn note_view(&self, note: Note) -> NoteView {
        NoteView {
            author: self.author(&note.id, &note.author),
            votes: note.votes.values().sum(),
            created_ms: self.provenance.created_ms(&note.id),
            note,
        }
    }

    /// Who created `element`: the journal's participant; for an element the journal did not
    /// see created (an imported board), the participant its `author` hint names.
    /// An element entered on behalf of someone is theirs, and names its typist.
    pub fn author(&self, element: &str, hint: &str) -> Author {
        if let Some(created) = self.provenance.created.get(element)
            && let Some(actor) = self.provenance.actors.get(&created.pid)
            && created.pid != Actor::system().pid
        {
            let entered_by = created
                .entered_by
                .as_ref()
                .and_then(|pid| self.provenance.actors.get(pid))
                .map(|typist| super::labels::shown_name(self.lang, &typist.name))
                .unwrap_or_default();
            return Author {
                name: super::labels::shown_name(self.lang, &actor.name),
                org: actor.org.clone(),
                entered_by,
            };
        }
        match self.participants.get(hint) {
            Some(p) => Author {
                name: super::labels::shown_name(self.lang, &p.name),
                org: p.org.clone(),
                entered_by: String::new(),
            },
            None => Author::default(),
        }
    }
}
