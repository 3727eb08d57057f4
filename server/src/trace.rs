//! `GET /api/boards/{id}/contributions`: who contributed what, from the journal.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Serialize;
use shared::trace::{Counts, Tally};

use crate::api::{ApiError, authorize};
use crate::app::AppState;
use crate::store::{
    Actor, BoardId, Contributions, Contributor, EntryPage, JournalRow, Store, TraceEntry,
};

pub mod replay;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CountsJson {
    pub(crate) updates: u64,
    pub(crate) created: u64,
    pub(crate) edited: u64,
    pub(crate) deleted: u64,
    pub(crate) chars_written: u64,
    pub(crate) votes_cast: u64,
    pub(crate) entered_for_others: u64,
}

impl From<&Counts> for CountsJson {
    fn from(c: &Counts) -> Self {
        CountsJson {
            updates: c.updates,
            created: c.created,
            edited: c.edited,
            deleted: c.deleted,
            chars_written: c.chars_written,
            votes_cast: c.votes_cast,
            entered_for_others: c.entered_for_others,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ParticipantRow {
    pub(crate) pid: String,
    pub(crate) name: String,
    pub(crate) org: String,
    pub(crate) org_kind: String,
    /// A person entered by proxy (someone typed their ideas for them), not a participant.
    pub(crate) represented: bool,
    #[serde(flatten)]
    pub(crate) counts: CountsJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupRow {
    pub(crate) name: String,
    pub(crate) participants: usize,
    #[serde(flatten)]
    pub(crate) counts: CountsJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContributionsResponse {
    pub(crate) journal_entries: usize,
    pub(crate) participants: Vec<ParticipantRow>,
    pub(crate) organisations: Vec<GroupRow>,
    pub(crate) org_kinds: Vec<GroupRow>,
}

pub async fn contributions(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<JsonBody, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    read_trace(&app, &record, move |store, id| {
        let mut contributions = store.trace_contributions(id)?;
        if crate::pseudo::masked(store, id, role)? {
            // Masked before grouping: the organisations table groups people as others see
            // them (two organisations of one kind make one row).
            let masks = crate::pseudo::masks(store, id, &contributions)?;
            for contributor in &mut contributions.contributors {
                masks.actor(&mut contributor.actor);
            }
        }
        JsonBody::of(&grouped(&contributions))
    })
    .await
}

/// A JSON answer serialised where it was computed (on a blocking thread), so that large
/// answers read by many people at once do not hold the async workers the relay runs on.
pub struct JsonBody(Vec<u8>);

impl JsonBody {
    pub(crate) fn of(value: &impl Serialize) -> Result<Self, ApiError> {
        serde_json::to_vec(value)
            .map(JsonBody)
            .map_err(ApiError::internal)
    }
}

impl axum::response::IntoResponse for JsonBody {
    fn into_response(self) -> axum::response::Response {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.0,
        )
            .into_response()
    }
}

/// Brings the board's trace up to date (waiting at most `trace_wait_ms`) and reads it, in one
/// trip to a blocking thread.
pub(crate) async fn read_trace<T: Send + 'static>(
    app: &AppState,
    record: &crate::store::BoardRecord,
    read: impl FnOnce(&dyn Store, &BoardId) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let (store, id) = (app.store.clone(), record.id.clone());
    let wait = std::time::Duration::from_millis(app.config.limits.trace_wait_ms);
    let result = tokio::task::spawn_blocking(move || {
        store.trace_catch_up(&id, wait)?;
        read(store.as_ref(), &id)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(result)
}

/// The contributions per participant, and summed per organisation and per kind of
/// organisation.
pub(crate) fn grouped(contributions: &Contributions) -> ContributionsResponse {
    let mut participants = Vec::new();
    let mut organisations: BTreeMap<String, (usize, Counts)> = BTreeMap::new();
    let mut org_kinds: BTreeMap<String, (usize, Counts)> = BTreeMap::new();
    for Contributor { actor, counts } in &contributions.contributors {
        let org_kind = actor.org_kind.map(|k| k.as_str()).unwrap_or("").to_owned();
        for (groups, key) in [
            (&mut organisations, &actor.org),
            (&mut org_kinds, &org_kind),
        ] {
            let group = groups.entry(key.clone()).or_default();
            group.0 += 1;
            group.1.add(counts);
        }
        participants.push(ParticipantRow {
            pid: actor.pid.clone(),
            name: actor.name.clone(),
            org: actor.org.clone(),
            org_kind,
            represented: shared::proxy::Represented::is_proxy_pid(&actor.pid),
            counts: counts.into(),
        });
    }
    let groups = |map: BTreeMap<String, (usize, Counts)>| {
        map.into_iter()
            .map(|(name, (participants, counts))| GroupRow {
                name,
                participants,
                counts: (&counts).into(),
            })
            .collect()
    };
    ContributionsResponse {
        journal_entries: contributions.journal_entries as usize,
        participants,
        organisations: groups(organisations),
        org_kinds: groups(org_kinds),
    }
}

/// Entries one history page holds when the request names no `limit`, and at most.
pub const HISTORY_PAGE_ENTRIES_DEFAULT: usize = 500;
pub const HISTORY_PAGE_ENTRIES_MAX: usize = 5_000;
/// A pause longer than this between two entries starts a new working session.
const SESSION_GAP_MS: i64 = 30 * 60 * 1_000;
/// Entries of one participant closer than this to each other form one run of the timeline
/// (the keystrokes of a sentence, the nodes of a brainstorm).
pub(crate) const RUN_GAP_MS: i64 = 2 * 60 * 1_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryEntry {
    pub(crate) seq: u64,
    pub(crate) ts: i64,
    pub(crate) pid: String,
    pub(crate) name: String,
    pub(crate) org: String,
    pub(crate) created: Vec<String>,
    pub(crate) edited: Vec<String>,
    pub(crate) deleted: Vec<String>,
    pub(crate) chars_written: u64,
    pub(crate) votes_cast: u64,
}

impl From<TraceEntry> for HistoryEntry {
    fn from(entry: TraceEntry) -> Self {
        HistoryEntry {
            seq: entry.seq,
            ts: entry.ts_ms,
            pid: entry.actor.pid,
            name: entry.actor.name,
            org: entry.actor.org,
            created: entry.report.created,
            edited: entry.report.edited,
            deleted: entry.report.deleted,
            chars_written: entry.report.chars_written,
            votes_cast: entry.report.votes_cast,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Session {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) entries: usize,
    pub(crate) participants: Vec<String>,
}

/// Consecutive entries of one participant, each less than `RUN_GAP_MS` after the previous:
/// one line of the timeline. Counts are of distinct elements.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Run {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) pid: String,
    pub(crate) name: String,
    pub(crate) org: String,
    pub(crate) entries: usize,
    pub(crate) created: usize,
    pub(crate) edited: usize,
    pub(crate) deleted: usize,
    pub(crate) chars_written: u64,
    pub(crate) votes_cast: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryResponse {
    /// The page's entries, newest first.
    pub(crate) entries: Vec<HistoryEntry>,
    /// The page's working sessions and runs, oldest first.
    pub(crate) sessions: Vec<Session>,
    pub(crate) runs: Vec<Run>,
    /// True when older entries (in the range) exist: ask for them with `before=nextBefore`.
    pub(crate) truncated: bool,
    pub(crate) next_before: Option<u64>,
}

/// `GET /api/boards/{id}/history?from=MS&to=MS&before=SEQ&limit=N`: who did what and when,
/// newest first, a page at a time, grouped in sessions and runs.
pub async fn history(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<JsonBody, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    let page = history_page(&query)?;
    // One more than asked tells whether an older page exists.
    let asked = EntryPage {
        limit: page.limit + 1,
        ..page
    };
    read_trace(&app, &record, move |store, id| {
        let answer = timeline(store.trace_entries(id, &asked)?, page.limit);
        crate::pseudo::answer(store, id, role, &answer)
    })
    .await
}

/// The page a history request asks for, or a 400 saying which parameter is wrong.
fn history_page(query: &std::collections::HashMap<String, String>) -> Result<EntryPage, ApiError> {
    let number = |key: &str, what: &str| -> Result<Option<i64>, ApiError> {
        query
            .get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("{key} must be {what}, not {v:?}")))
            })
            .transpose()
    };
    let time = "a time in milliseconds since 1970";
    let from_ms = number("from", time)?.unwrap_or(i64::MIN);
    let to_ms = number("to", time)?.unwrap_or(i64::MAX);
    let before_seq = match number("before", "a journal seq (a whole number from 1)")? {
        None => None,
        Some(seq) if seq >= 1 => Some(seq as u64),
        Some(seq) => {
            return Err(ApiError::bad_request(format!(
                "before must be a journal seq from 1, not {seq}"
            )));
        }
    };
    let limit = match number("limit", "a whole number of entries")? {
        None => HISTORY_PAGE_ENTRIES_DEFAULT,
        Some(n) if (1..=HISTORY_PAGE_ENTRIES_MAX as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {HISTORY_PAGE_ENTRIES_MAX}, not {n}"
            )));
        }
    };
    Ok(EntryPage {
        before_seq,
        from_ms,
        to_ms,
        limit,
    })
}

/// A history page from entries newest first (at most `limit + 1`: one more than the page
/// says an older page exists).
pub(crate) fn timeline(mut newest_first: Vec<TraceEntry>, limit: usize) -> HistoryResponse {
    let truncated = newest_first.len() > limit;
    newest_first.truncate(limit);
    let entries: Vec<HistoryEntry> = newest_first.into_iter().map(HistoryEntry::from).collect();
    let next_before = truncated.then(|| entries.last().map(|e| e.seq)).flatten();
    let mut sessions: Vec<Session> = Vec::new();
    for entry in entries.iter().rev() {
        match sessions.last_mut() {
            Some(session) if entry.ts - session.end <= SESSION_GAP_MS => {
                session.end = entry.ts;
                session.entries += 1;
                if !session.participants.contains(&entry.pid) {
                    session.participants.push(entry.pid.clone());
                }
            }
            _ => sessions.push(Session {
                start: entry.ts,
                end: entry.ts,
                entries: 1,
                participants: vec![entry.pid.clone()],
            }),
        }
    }
    let runs = runs(entries.iter().rev());
    HistoryResponse {
        entries,
        sessions,
        runs,
        truncated,
        next_before,
    }
}

/// Groups the entries into runs (see [`Run`]).
fn runs<'a>(entries: impl Iterator<Item = &'a HistoryEntry>) -> Vec<Run> {
    use std::collections::BTreeSet;
    let mut runs: Vec<Run> = Vec::new();
    let mut ids: [BTreeSet<&str>; 3] = Default::default();
    for entry in entries {
        let extends = runs
            .last()
            .is_some_and(|run| run.pid == entry.pid && entry.ts - run.end <= RUN_GAP_MS);
        if !extends {
            ids = Default::default();
            runs.push(Run {
                start: entry.ts,
                end: entry.ts,
                pid: entry.pid.clone(),
                name: entry.name.clone(),
                org: entry.org.clone(),
                entries: 0,
                created: 0,
                edited: 0,
                deleted: 0,
                chars_written: 0,
                votes_cast: 0,
            });
        }
        let run = runs.last_mut().expect("a run was just pushed");
        run.end = entry.ts;
        run.entries += 1;
        run.chars_written += entry.chars_written;
        run.votes_cast += entry.votes_cast;
        for (set, list) in ids
            .iter_mut()
            .zip([&entry.created, &entry.edited, &entry.deleted])
        {
            set.extend(list.iter().map(String::as_str));
        }
        let [created, edited, deleted] = &ids;
        run.created = created.len();
        // An element created and then typed into within the run counts as created only.
        run.edited = edited.difference(created).count();
        run.deleted = deleted.len();
    }
    runs
}

/// Who created an element and who changed it last, with when, from the journal.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ElementTrace {
    pub(crate) id: String,
    pub(crate) created_by: String,
    pub(crate) created_org: String,
    pub(crate) created_ms: i64,
    pub(crate) changed_by: String,
    pub(crate) changed_org: String,
    pub(crate) changed_ms: i64,
    /// Who typed it, when it was entered on behalf of `created_by` (proxy entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entered_org: Option<String>,
}

#[derive(Serialize)]
pub struct ElementsResponse {
    elements: Vec<ElementTrace>,
}

/// `GET /api/boards/{id}/elements`: for every node, note and project on the board, who created
/// it and who changed it last (the journal's participants; the server's own edits, such as a
/// restore, count for nobody).
pub async fn elements(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<JsonBody, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    read_trace(&app, &record, move |store, id| {
        let answer = ElementsResponse {
            elements: store.trace_elements(id)?,
        };
        crate::pseudo::answer(store, id, role, &answer)
    })
    .await
}

pub fn element_traces(rows: &[JournalRow]) -> BTreeMap<String, ElementTrace> {
    let system = Actor::system().pid;
    let mut tally = Tally::new();
    let mut traces: BTreeMap<String, ElementTrace> = BTreeMap::new();
    for row in rows {
        let report = tally.apply(&row.actor.pid, &row.update_v1);
        if row.actor.pid == system {
            continue;
        }
        for id in &report.created {
            traces.entry(id.clone()).or_insert_with(|| {
                let (created_by, created_org, entered) = match proxy_of(&report, id) {
                    Some(person) => (person.name.clone(), person.org.clone(), true),
                    None => (row.actor.name.clone(), row.actor.org.clone(), false),
                };
                ElementTrace {
                    id: id.clone(),
                    created_by,
                    created_org,
                    created_ms: row.ts_ms,
                    changed_by: row.actor.name.clone(),
                    changed_org: row.actor.org.clone(),
                    changed_ms: row.ts_ms,
                    entered_by: entered.then(|| row.actor.name.clone()),
                    entered_org: entered.then(|| row.actor.org.clone()),
                }
            });
        }
        for id in report.created.iter().chain(&report.edited) {
            if let Some(trace) = traces.get_mut(id) {
                trace.changed_by = row.actor.name.clone();
                trace.changed_org = row.actor.org.clone();
                trace.changed_ms = row.ts_ms;
            }
        }
    }
    // Only what is on the board now.
    let roots = shared::Roots::new(tally.doc());
    let txn = yrs::Transact::transact(tally.doc());
    traces.retain(|id, _| crate::restore::ElementKind::of(&roots, &txn, id).is_some());
    traces
}

/// The person `element` was entered for by the entry that `report` describes, if any.
pub(crate) fn proxy_of<'a>(
    report: &'a shared::trace::EntryReport,
    element: &str,
) -> Option<&'a shared::proxy::Represented> {
    report
        .proxies
        .iter()
        .find(|p| p.element == element)
        .map(|p| &p.person)
}

/// Adds one entry's change to an element's story: an edit by the same participant as the
/// line before, less than `RUN_GAP_MS` after it, extends that line. `entered_by` names the
/// typist of an element created on behalf of `name`.
pub(crate) fn push_change(
    changes: &mut Vec<ElementChange>,
    ts_ms: i64,
    name: String,
    org: String,
    what: &'static str,
    entered_by: Option<String>,
) {
    match changes.last_mut() {
        Some(last)
            if what == "edited"
                && last.what == "edited"
                && last.name == name
                && last.org == org
                && ts_ms - last.end <= RUN_GAP_MS =>
        {
            last.end = ts_ms;
            last.count += 1;
        }
        _ => changes.push(ElementChange {
            start: ts_ms,
            end: ts_ms,
            name,
            org,
            what,
            count: 1,
            entered_by,
        }),
    }
}

/// Lines one element's history holds at most (the latest).
const ELEMENT_CHANGES_MAX: usize = 200;

/// What happened to an element: consecutive changes of the same kind by the same participant,
/// each less than `RUN_GAP_MS` after the previous, form one line.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ElementChange {
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Empty for the server's own changes (a restore).
    pub(crate) name: String,
    pub(crate) org: String,
    /// `created`, `edited`, `deleted`, `restored`, or a step of an idea's path
    /// (`shared::trace::STEPS`).
    pub(crate) what: &'static str,
    /// Journal entries the line stands for.
    pub(crate) count: usize,
    /// Who typed it, for an element created on behalf of `name` (proxy entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entered_by: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementHistoryResponse {
    id: String,
    changes: Vec<ElementChange>,
    /// True when older lines were left out (`ELEMENT_CHANGES_MAX`).
    truncated: bool,
}

/// `GET /api/boards/{id}/elements/{element}`: everything the journal records about one node,
/// note or project — who created it, each run of changes, deletions and restores (404 for an
/// id the board never had).
pub async fn element_history(
    State(app): State<AppState>,
    Path((id, element)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<JsonBody, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    read_trace(&app, &record, move |store, id| {
        let mut changes = store.trace_element(id, &element)?;
        if changes.is_empty() {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                format!("this board never had an element {element:?}"),
            ));
        }
        let truncated = changes.len() > ELEMENT_CHANGES_MAX;
        if truncated {
            changes.drain(..changes.len() - ELEMENT_CHANGES_MAX);
        }
        let answer = ElementHistoryResponse {
            id: element,
            changes,
            truncated,
        };
        crate::pseudo::answer(store, id, role, &answer)
    })
    .await
}

pub fn element_changes(rows: &[JournalRow], element: &str) -> Vec<ElementChange> {
    let system = Actor::system().pid;
    let mut tally = Tally::new();
    let mut changes: Vec<ElementChange> = Vec::new();
    for row in rows {
        let report = tally.apply(&row.actor.pid, &row.update_v1);
        let has = |list: &[String]| list.iter().any(|id| id == element);
        let by_server = row.actor.pid == system;
        let what = if has(&report.created) {
            // The server's restore brings back what a deletion took away.
            if by_server { "restored" } else { "created" }
        } else if has(&report.deleted) {
            "deleted"
        } else if has(&report.edited) {
            match report.steps.get(element) {
                _ if by_server => "restored",
                Some(step) => step,
                None => "edited",
            }
        } else {
            continue;
        };
        let first_creation = what == "created" && !changes.iter().any(|c| c.what == "created");
        let (name, org, entered_by) = match proxy_of(&report, element) {
            Some(person) if first_creation => (
                person.name.clone(),
                person.org.clone(),
                Some(row.actor.name.clone()),
            ),
            _ if by_server => (String::new(), String::new(), None),
            _ => (row.actor.name.clone(), row.actor.org.clone(), None),
        };
        push_change(&mut changes, row.ts_ms, name, org, what, entered_by);
    }
    changes
}
