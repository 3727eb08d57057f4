//! The contribution record: who took part, what each participant, organisation and kind of
//! organisation contributed, and the timeline of the working sessions. Computed from the
//! journal like `GET /contributions` and `GET /history`, laid out for people to read.

use std::collections::HashMap;

use shared::{BoardKind, Lang};

use super::labels::{self, Label, tr};
use super::model::Board;
use super::{one_line, utc};
use crate::store::{Contributions, TraceEntry};
use crate::trace::{ContributionsResponse, CountsJson, HistoryResponse};

/// A table: a header and rows of cells.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A working session: its heading (dates, participants) and one line per change.
pub struct SessionLines {
    pub heading: String,
    pub lines: Vec<String>,
}

pub struct Record {
    contributions: ContributionsResponse,
    history: HistoryResponse,
    /// Element id → the text it is known by (node or note text, project title).
    labels: HashMap<String, String>,
    names: HashMap<String, String>,
}

/// Characters of an element's text kept in a timeline line.
const LABEL_CHARS_MAX: usize = 60;

impl Record {
    /// The record of `board` from its trace: the tallies and the timeline's entries, newest
    /// first (one more than `RECORD_ENTRIES_MAX` says the timeline is cut).
    pub fn new(
        board: &Board,
        contributions: &Contributions,
        newest_first: Vec<TraceEntry>,
    ) -> Record {
        let mut contributions = crate::trace::grouped(contributions);
        let mut history = crate::trace::timeline(newest_first, super::RECORD_ENTRIES_MAX);
        // Names taken back print as "un·e participant·e".
        let shown = |name: &mut String| *name = labels::shown_name(board.lang, name);
        contributions
            .participants
            .iter_mut()
            .for_each(|p| shown(&mut p.name));
        history.entries.iter_mut().for_each(|e| shown(&mut e.name));
        history.runs.iter_mut().for_each(|r| shown(&mut r.name));
        // Printed oldest first.
        history.entries.reverse();
        let mut labels = HashMap::new();
        let short = |text: &str| {
            let text = one_line(text);
            if text.chars().count() > LABEL_CHARS_MAX {
                let cut: String = text.chars().take(LABEL_CHARS_MAX - 1).collect();
                format!("{cut}…")
            } else {
                text
            }
        };
        match board.kind {
            BoardKind::MindMap => {
                for node in &board.nodes {
                    labels.insert(node.id.clone(), short(&node.text));
                }
            }
            BoardKind::Diagnosis => {
                for note in board.sections.iter().flat_map(|s| &s.notes) {
                    labels.insert(note.note.id.clone(), short(&note.note.text));
                }
            }
            BoardKind::Portfolio => {
                for project in &board.projects {
                    labels.insert(project.id.clone(), short(&project.title));
                }
            }
        }
        let names = contributions
            .participants
            .iter()
            .map(|p| (p.pid.clone(), p.name.clone()))
            .collect();
        Record {
            contributions,
            history,
            labels,
            names,
        }
    }

    pub fn truncated(&self) -> bool {
        self.history.truncated
    }

    /// The three tables: participants, organisations, organisation kinds (with their share).
    pub fn tables(&self, lang: Lang) -> Vec<(String, Table)> {
        let counts_header = || {
            [
                Label::Updates,
                Label::CreatedCount,
                Label::EditedCount,
                Label::DeletedCount,
                Label::Chars,
                Label::VotesCast,
            ]
            .map(|l| tr(lang, l).to_owned())
        };
        let counts = |c: &CountsJson| {
            [
                c.updates,
                c.created,
                c.edited,
                c.deleted,
                c.chars_written,
                c.votes_cast,
            ]
            .map(|n| n.to_string())
        };
        let mut participants = Table {
            header: [Label::Name, Label::Organisation, Label::OrgKind]
                .map(|l| tr(lang, l).to_owned())
                .into_iter()
                .chain(counts_header())
                .collect(),
            rows: Vec::new(),
        };
        for p in &self.contributions.participants {
            let name = if p.represented {
                format!("{} ({})", p.name, tr(lang, Label::RepresentedMark))
            } else {
                p.name.clone()
            };
            participants.rows.push(
                [
                    name,
                    p.org.clone(),
                    labels::org_kind(lang, &p.org_kind).to_owned(),
                ]
                .into_iter()
                .chain(counts(&p.counts))
                .collect(),
            );
        }
        let group = |first: Label, rows: &[crate::trace::GroupRow], kinds: bool| {
            let total_chars: u64 = rows.iter().map(|g| g.counts.chars_written).sum();
            let total_updates: u64 = rows.iter().map(|g| g.counts.updates).sum();
            let mut table = Table {
                header: [first, Label::Participants]
                    .map(|l| tr(lang, l).to_owned())
                    .into_iter()
                    .chain(counts_header())
                    .chain([tr(lang, Label::Share).to_owned()])
                    .collect(),
                rows: Vec::new(),
            };
            for g in rows {
                let name = if kinds {
                    labels::org_kind(lang, &g.name).to_owned()
                } else if g.name.is_empty() {
                    tr(lang, Label::Unknown).to_owned()
                } else {
                    g.name.clone()
                };
                // The share weighs what was written, and falls back to updates when nobody
                // wrote text (votes only, moves only).
                let share = if total_chars > 0 {
                    g.counts.chars_written as f64 / total_chars as f64
                } else if total_updates > 0 {
                    g.counts.updates as f64 / total_updates as f64
                } else {
                    0.0
                };
                table.rows.push(
                    [name, g.participants.to_string()]
                        .into_iter()
                        .chain(counts(&g.counts))
                        .chain([format!("{:.0} %", share * 100.0)])
                        .collect(),
                );
            }
            table
        };
        vec![
            (tr(lang, Label::Participants).to_owned(), participants),
            (
                tr(lang, Label::Organisations).to_owned(),
                group(
                    Label::Organisation,
                    &self.contributions.organisations,
                    false,
                ),
            ),
            (
                tr(lang, Label::OrgKinds).to_owned(),
                group(Label::OrgKind, &self.contributions.org_kinds, true),
            ),
        ]
    }

    /// The timeline, one entry per session, one line per change.
    pub fn sessions(&self, lang: Lang) -> Vec<SessionLines> {
        let mut out = Vec::new();
        let mut entries = self.history.entries.iter().peekable();
        for session in &self.history.sessions {
            let who: Vec<&str> = session
                .participants
                .iter()
                .map(|pid| self.names.get(pid).map(String::as_str).unwrap_or(pid))
                .collect();
            let heading = format!(
                "{} — {} → {} ({} {}) : {}",
                tr(lang, Label::WorkingSession),
                utc(session.start),
                utc(session.end),
                session.entries,
                tr(lang, Label::Entries),
                who.join(", ")
            );
            // Consecutive entries of one person doing the same thing (the keystrokes of a
            // sentence) make one line: "17:03–17:05 Lina a modifié « … » (×20)".
            let mut runs: Vec<(i64, i64, String, usize)> = Vec::new();
            while let Some(entry) = entries.next_if(|e| e.ts <= session.end) {
                let mut did = Vec::new();
                for (verb, ids) in [
                    (Label::CreatedVerb, &entry.created),
                    (Label::EditedVerb, &entry.edited),
                    (Label::DeletedVerb, &entry.deleted),
                ] {
                    if !ids.is_empty() {
                        let named: Vec<String> = ids
                            .iter()
                            .map(|id| match self.labels.get(id) {
                                Some(text) => format!("« {text} »"),
                                None => format!("#{id}"),
                            })
                            .collect();
                        did.push(format!("{} {}", tr(lang, verb), named.join(", ")));
                    }
                }
                if entry.votes_cast > 0 {
                    did.push(format!(
                        "{} ({})",
                        tr(lang, Label::VotedVerb),
                        entry.votes_cast
                    ));
                }
                if did.is_empty() {
                    continue;
                }
                let who = super::text::byline(&entry.name, &entry.org);
                let what = format!("{who} {}", did.join(" ; "));
                match runs.last_mut() {
                    Some((_, end, last, count)) if *last == what => {
                        *end = entry.ts;
                        *count += 1;
                    }
                    _ => runs.push((entry.ts, entry.ts, what, 1)),
                }
            }
            let lines = runs
                .into_iter()
                .map(|(start, end, what, count)| {
                    let (from, to) = (time_of_day(start), time_of_day(end));
                    let when = if from == to {
                        from
                    } else {
                        format!("{from}–{to}")
                    };
                    if count > 1 {
                        format!("{when} {what} (×{count})")
                    } else {
                        format!("{when} {what}")
                    }
                })
                .collect();
            out.push(SessionLines { heading, lines });
        }
        out
    }
}

/// "HH:MM" (UTC) of a time in milliseconds.
fn time_of_day(ms: i64) -> String {
    utc(ms).get(11..16).unwrap_or_default().to_owned()
}
