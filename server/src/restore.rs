//! Deleted elements and their restoration: `GET /api/boards/{id}/deleted` lists the nodes,
//! notes and projects deleted and still absent, from the journal; `POST .../restore` puts one
//! back as it was just before its deletion (text, author, section or parent, votes, fields),
//! as an edit of the server journaled and relayed like any other.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use shared::Roots;
use shared::trace::Tally;
use yrs::types::ToJson;
use yrs::{
    Any, Array, ArrayPrelim, Doc, GetString, Map, MapPrelim, MapRef, Out, ReadTxn, TextPrelim,
    Transact,
};

use crate::api::{ApiError, authorize};
use crate::app::AppState;
use crate::room::{JoinError, ServerEdit};
use crate::store::{Actor, JournalRow};
use crate::tokens::Role;

/// Deleted elements one answer lists at most (the most recent first).
pub const DELETED_LISTED_MAX: usize = 200;

/// Which element map an element lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    Node,
    Note,
    Project,
}

impl ElementKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ElementKind::Node => "node",
            ElementKind::Note => "note",
            ElementKind::Project => "project",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [ElementKind::Node, ElementKind::Note, ElementKind::Project]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    fn root(self, roots: &Roots) -> &MapRef {
        match self {
            ElementKind::Node => &roots.nodes,
            ElementKind::Note => &roots.notes,
            ElementKind::Project => &roots.projects,
        }
    }

    /// The element `id` and the map it lives in, if it is on the board.
    pub(crate) fn of<T: ReadTxn>(
        roots: &Roots,
        txn: &T,
        id: &str,
    ) -> Option<(ElementKind, MapRef)> {
        [ElementKind::Node, ElementKind::Note, ElementKind::Project]
            .into_iter()
            .find_map(|kind| match kind.root(roots).get(txn, id) {
                Some(Out::YMap(map)) => Some((kind, map)),
                _ => None,
            })
    }
}

/// The text an element is known by: a node's or note's text, a project's title.
pub(crate) fn label<T: ReadTxn>(map: &MapRef, txn: &T) -> String {
    ["text", "title"]
        .iter()
        .find_map(|key| match map.get(txn, key) {
            Some(Out::YText(text)) => Some(text.get_string(txn)),
            _ => None,
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedElement {
    pub id: String,
    pub kind: ElementKind,
    pub text: String,
    pub deleted_ms: i64,
    pub deleted_by: String,
    pub deleted_by_org: String,
}

/// The elements deleted in `rows` (a board's journal) and absent at its end, newest first.
pub fn deleted_elements(rows: &[JournalRow]) -> Vec<DeletedElement> {
    let mut tally = Tally::new();
    let roots = Roots::new(tally.doc());
    let mut known: HashMap<String, (ElementKind, String)> = HashMap::new();
    let mut deleted: HashMap<String, DeletedElement> = HashMap::new();
    for row in rows {
        let report = tally.apply(&row.actor.pid, &row.update_v1);
        let txn = tally.doc().transact();
        for id in report.created.iter().chain(&report.edited) {
            if let Some((kind, map)) = ElementKind::of(&roots, &txn, id) {
                known.insert(id.clone(), (kind, label(&map, &txn)));
            }
            deleted.remove(id);
        }
        for id in report.deleted {
            if let Some((kind, text)) = known.get(&id).cloned() {
                deleted.insert(
                    id.clone(),
                    DeletedElement {
                        id,
                        kind,
                        text,
                        deleted_ms: row.ts_ms,
                        deleted_by: row.actor.name.clone(),
                        deleted_by_org: row.actor.org.clone(),
                    },
                );
            }
        }
    }
    let txn = tally.doc().transact();
    let mut list: Vec<DeletedElement> = deleted
        .into_values()
        .filter(|d| ElementKind::of(&roots, &txn, &d.id).is_none())
        .collect();
    list.sort_by(|a, b| b.deleted_ms.cmp(&a.deleted_ms).then(a.id.cmp(&b.id)));
    list
}

/// A field of an element, owned, to be written back.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Value(Any),
    Text(String),
    Map(Vec<(String, Any)>),
    List(Vec<Any>),
}

/// An element as it was: its kind and fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    kind: ElementKind,
    fields: Vec<(String, Field)>,
}

/// The element `element` as it was just before its last deletion, or `None` when the journal
/// never deleted it: the record gives the deleting entry, and the board is rebuilt up to the
/// entry before it from the nearest snapshot (a bounded number of applies).
pub fn element_before_last_deletion(
    store: &dyn crate::store::Store,
    board: &crate::store::BoardId,
    element: &str,
) -> crate::store::StoreResult<Option<Snapshot>> {
    let Some(seq) = store.trace_last_deletion(board, element)? else {
        return Ok(None);
    };
    let stored = store.load_upto_seq(board, seq - 1)?;
    let (doc, ..) = crate::room::load_doc(stored).map_err(crate::store::StoreError::Corrupt)?;
    Ok(element_in(&doc, element))
}

/// The element `id` of `doc`, its fields owned.
fn element_in(doc: &Doc, id: &str) -> Option<Snapshot> {
    let roots = Roots::new(doc);
    let txn = doc.transact();
    let (kind, map) = ElementKind::of(&roots, &txn, id)?;
    let mut fields: Vec<(String, Field)> = map
        .iter(&txn)
        .map(|(key, value)| {
            let field = match value {
                Out::Any(any) => Field::Value(any),
                Out::YText(text) => Field::Text(text.get_string(&txn)),
                Out::YMap(inner) => {
                    let mut entries: Vec<(String, Any)> = inner
                        .iter(&txn)
                        .map(|(k, v)| (k.to_owned(), v.to_json(&txn)))
                        .collect();
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    Field::Map(entries)
                }
                Out::YArray(items) => {
                    Field::List(items.iter(&txn).map(|v| v.to_json(&txn)).collect())
                }
                other => Field::Value(other.to_json(&txn)),
            };
            (key.to_owned(), field)
        })
        .collect();
    // In key order (a note's votes too), so a restore writes the fields the same way whatever
    // the maps' order.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Snapshot { kind, fields })
}

/// The server edit that writes `snapshot` back under `id`; refused when `id` exists again.
fn restore_edit(id: String, snapshot: Snapshot) -> ServerEdit {
    Arc::new(move |roots, txn| {
        let root = snapshot.kind.root(roots);
        if root.get(txn, &id).is_some() {
            return Err("the element exists".into());
        }
        let element = root.insert(txn, id.as_str(), MapPrelim::default());
        for (key, field) in &snapshot.fields {
            match field {
                Field::Value(any) => {
                    element.insert(txn, key.as_str(), any.clone());
                }
                Field::Text(text) => {
                    element.insert(txn, key.as_str(), TextPrelim::new(text.as_str()));
                }
                Field::Map(entries) => {
                    let map = element.insert(txn, key.as_str(), MapPrelim::default());
                    for (k, v) in entries {
                        map.insert(txn, k.as_str(), v.clone());
                    }
                }
                Field::List(items) => {
                    let list = element.insert(txn, key.as_str(), ArrayPrelim::default());
                    for item in items {
                        list.push_back(txn, item.clone());
                    }
                }
            }
        }
        // A note whose section is gone goes to the first section there is.
        if snapshot.kind == ElementKind::Note {
            let section = match element.get(txn, "section") {
                Some(Out::Any(Any::String(s))) => s.to_string(),
                _ => String::new(),
            };
            let sections = roots.sections(txn);
            if !sections.iter().any(|s| s.id == section)
                && let Some(first) = sections.first()
            {
                element.insert(txn, "section", first.id.as_str());
            }
        }
        Ok(())
    })
}

#[derive(Serialize)]
pub struct DeletedResponse {
    elements: Vec<DeletedElement>,
    /// True when more elements were deleted than `DELETED_LISTED_MAX`.
    truncated: bool,
}

/// `GET /api/boards/{id}/deleted` (any role).
pub async fn deleted(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<crate::trace::JsonBody, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    crate::trace::read_trace(&app, &record, move |store, id| {
        let mut elements = store.trace_deleted(id, DELETED_LISTED_MAX + 1)?;
        let truncated = elements.len() > DELETED_LISTED_MAX;
        elements.truncate(DELETED_LISTED_MAX);
        let answer = DeletedResponse {
            elements,
            truncated,
        };
        crate::pseudo::answer(store, id, role, &answer)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreRequest {
    element: String,
}

#[derive(Serialize)]
pub struct RestoreResponse {
    restored: String,
    kind: ElementKind,
}

/// `POST /api/boards/{id}/restore` with `{"element": ID}` (editor or facilitator).
pub async fn restore(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RestoreResponse>, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    if role == Role::Viewer {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a viewer cannot restore elements",
        ));
    }
    let request: RestoreRequest = crate::api::json_body(&body)?;
    let permit = app.pressure.heavy_permit("this restore").await?;
    let element = request.element.clone();
    let snapshot = crate::trace::read_trace(&app, &record, move |store, id| {
        let _permit = permit;
        Ok(element_before_last_deletion(store, id, &element)?)
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no deleted element with this id on this board",
        )
    })?;
    let kind = snapshot.kind;
    let result = app
        .rooms
        .edit(
            &record.id,
            restore_edit(request.element.clone(), snapshot),
            Arc::new(Actor::system()),
        )
        .await;
    match result {
        Ok(()) => {}
        Err(JoinError::Failed(reason)) if reason == "the element exists" => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "the element is on the board (already restored?)",
            ));
        }
        Err(e) => return Err(ApiError::internal(format!("{e:?}"))),
    }
    tracing::info!(board = %record.id, element = %request.element, "element restored");
    Ok(Json(RestoreResponse {
        restored: request.element,
        kind,
    }))
}
