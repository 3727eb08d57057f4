//! Private writing rounds (silent brainstorming). The facilitator opens a round; until it is
//! revealed, what each participant adds in the app goes to a *private space*: a document of
//! its own, stored as a board no token opens, reached at `/ws/{board}/private` with a secret
//! the browser keeps (the server keeps its SHA-256). Nothing of a space reaches the board's
//! document, its other connections, the API or the exports before the reveal, which copies each
//! space's elements into the board as an edit of its writer (the record credits them; each
//! element carries when it was written), then removes the space. Cancelling removes the spaces
//! unread.
//!
//! Withholding updates inside the board's own document cannot work: a Yjs client's later
//! updates depend on its earlier ones, so a peer could not apply them without the private ones.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use shared::private_round::{self, PrivateRound, WRITTEN_KEY};
use shared::wire::{close, field};
use yrs::types::ToJson;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, GetString, Map, MapPrelim, MapRef, Out, ReadTxn, TextPrelim,
    Transact, TransactionMut,
};

use crate::api::{ApiError, authorize, decided_edit, facilitator_only, on_store};
use crate::app::AppState;
use crate::room::CloseReason;
use crate::store::{Actor, BoardId, BoardRecord, PrivateSpace, SpaceOpening};
use crate::tokens::{Role, TokenHashes, random_token, sha256};

/// The shortest and longest secret accepted (a browser sends 32 random bytes in hex).
const SECRET_CHARS_MIN: usize = 16;
const SECRET_CHARS_MAX: usize = 128;

/// Opening, revealing and cancelling rounds, and opening spaces, take turns: a space cannot
/// open while its round is revealed, and a round is revealed once.
static ROUNDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The space that `/ws/{board}/private` leads this connection to, created on its participant's
/// first visit in the round. `role` and `actor` come from the token and the query, as for the
/// board's own socket.
pub(crate) async fn space_for(
    app: &AppState,
    record: &BoardRecord,
    role: Role,
    actor: &Actor,
    params: &HashMap<String, String>,
) -> Result<BoardId, CloseReason> {
    if role == Role::Viewer {
        let reason = "a viewer's link cannot write in a private round";
        return Err((close::FORBIDDEN, reason.into()));
    }
    if actor.pid.is_empty() {
        return Err((close::POLICY, "a private space needs a pid".into()));
    }
    let secret = params.get(field::SECRET).map(String::as_str).unwrap_or("");
    if !(SECRET_CHARS_MIN..=SECRET_CHARS_MAX).contains(&secret.chars().count()) {
        let reason = format!(
            "a private space needs a secret of {SECRET_CHARS_MIN} to {SECRET_CHARS_MAX} characters"
        );
        return Err((close::POLICY, reason));
    }
    let storage = |_| (close::INTERNAL, "storage error".to_owned());
    let _turn = ROUNDS.lock().await;
    let board = record.id.clone();
    let round = on_store(app, move |store| store.private_round(&board))
        .await
        .map_err(storage)?;
    let Some(round) = round else {
        return Err((close::ROUND_OVER, "no private writing round is open".into()));
    };
    let now_ms = app.config.clock.now_ms();
    let space = PrivateSpace {
        space: BoardId::new_random(),
        board: record.id.clone(),
        round: round.id,
        secret_sha256: sha256(secret),
        actor: actor.clone(),
        created_ms: now_ms,
    };
    let space_record = BoardRecord {
        id: space.space.clone(),
        kind: record.kind,
        title: String::new(),
        lang: record.lang,
        created_ms: now_ms,
        // Tokens nobody was given: no link, REST call or export reaches the space.
        token_hashes: TokenHashes {
            facilitator: sha256(&random_token()),
            editor: sha256(&random_token()),
            viewer: sha256(&random_token()),
        },
    };
    let initial = private_round::space_initial_update(record.kind, record.lang);
    let spaces_max = app.config.limits.max_participants_per_board;
    let opening = on_store(app, move |store| {
        store.open_private_space(&space, &space_record, &initial, spaces_max)
    })
    .await
    .map_err(storage)?;
    match opening {
        SpaceOpening::Space(space) => Ok(space.space),
        SpaceOpening::OtherSecret => Err((
            close::FORBIDDEN,
            "this participant's private space was opened with another secret".into(),
        )),
        SpaceOpening::NoRound => Err((close::ROUND_OVER, "the private round is over".into())),
        SpaceOpening::Full => Err((close::LIMIT, "the private round is full".into())),
    }
}

fn round_json(round: Option<&PrivateRound>, writers: usize) -> Value {
    json!({
        "open": round.is_some(),
        "id": round.map(|r| r.id.clone()),
        "openedAtMs": round.map(|r| r.opened_at_ms),
        "writers": writers,
    })
}

/// `GET /api/boards/{id}/private-round` (any link): whether a round is open, since when, and
/// how many participants have a private space in it (never what they wrote).
pub async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (record, _) = authorize(&app, &id, &query, &headers).await?;
    let (round, spaces) = on_store(&app, move |store| {
        let round = store.private_round(&record.id)?;
        let spaces = match &round {
            Some(round) => store.private_spaces(&record.id, &round.id)?.len(),
            None => 0,
        };
        Ok((round, spaces))
    })
    .await?;
    Ok(Json(round_json(round.as_ref(), spaces)))
}

/// `POST /api/boards/{id}/private-round` (facilitator): opens a round; 409 when one is open.
pub async fn open(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let refusal = "only the facilitator link may open a private round";
    let record = facilitator_only(&app, &id, &query, &headers, refusal).await?;
    let _turn = ROUNDS.lock().await;
    let round = PrivateRound {
        id: uuid::Uuid::new_v4().simple().to_string(),
        opened_at_ms: app.config.clock.now_ms(),
    };
    let (board, stored) = (record.id.clone(), round.clone());
    let opened = on_store(&app, move |store| store.open_private_round(&board, &stored)).await?;
    if !opened {
        let reason = "a private writing round is already open";
        return Err(ApiError::new(StatusCode::CONFLICT, reason));
    }
    let shown = round.clone();
    let written = decided_edit(&app, &record.id, Actor::system(), move |roots, txn| {
        PrivateRound::write(roots, txn, Some(&shown));
        Ok(())
    })
    .await;
    if let Err(error) = written {
        // The pages could not be told: the round is not open.
        let (board, round_id) = (record.id.clone(), round.id.clone());
        on_store(&app, move |store| {
            store.close_private_round(&board, &round_id)
        })
        .await?;
        return Err(error);
    }
    tracing::info!(board = %record.id, round = %round.id, "private round opened");
    Ok((StatusCode::CREATED, Json(round_json(Some(&round), 0))))
}

/// `POST /api/boards/{id}/private-round/reveal` (facilitator): every space's elements enter
/// the board, each space's as an edit of its writer; then the round closes.
pub async fn reveal(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let refusal = "only the facilitator link may reveal a private round";
    let record = facilitator_only(&app, &id, &query, &headers, refusal).await?;
    let _turn = ROUNDS.lock().await;
    let (round, spaces) = open_round(&app, &record.id).await?;
    let mut revealed = 0;
    let mut writers = 0;
    for space in &spaces {
        let why = "the private round was revealed";
        let elements = take_space(&app, space, record.kind, why).await?;
        if !elements.is_empty() {
            writers += 1;
            revealed += elements.len();
            let kind = record.kind;
            decided_edit(&app, &record.id, space.actor.clone(), move |roots, txn| {
                let root = private_round::elements(roots, kind);
                for element in &elements {
                    insert(root, txn, &element.id, &element.value);
                    if let Some(Out::YMap(map)) = root.get(txn, &element.id) {
                        map.insert(txn, WRITTEN_KEY, element.written_ms as f64);
                    }
                }
                Ok(())
            })
            .await?;
        }
        // Revealed: the space goes (a reveal that stops before this would copy it again,
        // under the same ids).
        let purged = space.space.clone();
        on_store(&app, move |store| store.purge_board(&purged)).await?;
    }
    close_round(&app, &record.id, &round).await?;
    tracing::info!(board = %record.id, round = %round.id, revealed, writers, "private round revealed");
    Ok(Json(json!({
        "revealed": revealed,
        "writers": writers,
        "spaces": spaces.len(),
    })))
}

/// `DELETE /api/boards/{id}/private-round` (facilitator): the round closes and every space is
/// removed unread.
pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let refusal = "only the facilitator link may cancel a private round";
    let record = facilitator_only(&app, &id, &query, &headers, refusal).await?;
    let _turn = ROUNDS.lock().await;
    let (round, spaces) = open_round(&app, &record.id).await?;
    for space in &spaces {
        let _held = hold_space(&app, space, "the private round was cancelled").await;
        let purged = space.space.clone();
        on_store(&app, move |store| store.purge_board(&purged)).await?;
    }
    close_round(&app, &record.id, &round).await?;
    tracing::info!(board = %record.id, round = %round.id, spaces = spaces.len(), "private round cancelled");
    Ok(Json(json!({ "discarded": spaces.len() })))
}

async fn open_round(
    app: &AppState,
    board: &BoardId,
) -> Result<(PrivateRound, Vec<PrivateSpace>), ApiError> {
    let board = board.clone();
    let found = on_store(app, move |store| {
        let Some(round) = store.private_round(&board)? else {
            return Ok(None);
        };
        let spaces = store.private_spaces(&board, &round.id)?;
        Ok(Some((round, spaces)))
    })
    .await?;
    found.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no private writing round is open"))
}

/// Closes the round in the store, then takes it out of the board's document (the pages leave
/// their spaces).
async fn close_round(
    app: &AppState,
    board: &BoardId,
    round: &PrivateRound,
) -> Result<(), ApiError> {
    let (id, round_id) = (board.clone(), round.id.clone());
    on_store(app, move |store| store.close_private_round(&id, &round_id)).await?;
    decided_edit(app, board, Actor::system(), |roots, txn| {
        PrivateRound::write(roots, txn, None);
        Ok(())
    })
    .await
}

/// Closes the space's connections (telling the pages the round is over) and keeps its room
/// unloaded, with everything it applied committed.
async fn hold_space(app: &AppState, space: &PrivateSpace, why: &str) -> crate::rooms::Held {
    app.rooms
        .close_connections(&space.space, None, close::ROUND_OVER, why)
        .await;
    app.rooms.hold(&space.space).await
}

/// One element of a private space, ready to enter the board.
struct Element {
    id: String,
    value: Copied,
    /// When its writer created it in the space (server ms).
    written_ms: i64,
}

/// A space's elements that hold some text, its room held unloaded meanwhile.
async fn take_space(
    app: &AppState,
    space: &PrivateSpace,
    kind: shared::BoardKind,
    why: &str,
) -> Result<Vec<Element>, ApiError> {
    let _held = hold_space(app, space, why).await;
    let (id, created_ms) = (space.space.clone(), space.created_ms);
    on_store(app, move |store| {
        // One read: the space's whole journal gives its document and when each element was
        // written.
        let journal = store.journal(&id)?;
        let written = crate::trace::element_traces(&journal);
        let stored = crate::store::StoredDoc {
            snapshot: None,
            updates: journal.into_iter().map(|r| (r.seq, r.update_v1)).collect(),
        };
        let (doc, ..) = crate::room::load_doc(stored).map_err(crate::store::StoreError::Corrupt)?;
        let roots = shared::Roots::new(&doc);
        let txn = doc.transact();
        let root = private_round::elements(&roots, kind);
        let text_key = private_round::text_key(kind);
        let mut elements = Vec::new();
        for (key, out) in root.iter(&txn) {
            let Out::YMap(map) = &out else { continue };
            let has_text = match map.get(&txn, text_key) {
                Some(Out::YText(text)) => !text.get_string(&txn).trim().is_empty(),
                _ => false,
            };
            // The central topic is the board's; an empty note was abandoned.
            if key == "root" || !has_text {
                continue;
            }
            elements.push(Element {
                id: key.to_owned(),
                value: read(&txn, out),
                written_ms: written.get(key).map_or(created_ms, |t| t.created_ms),
            });
        }
        elements.sort_by(|a, b| (a.written_ms, &a.id).cmp(&(b.written_ms, &b.id)));
        Ok(elements)
    })
    .await
}

/// A value of a document read out of it, to be written into another.
enum Copied {
    Plain(Any),
    Text(String),
    Map(Vec<(String, Copied)>),
    Array(Vec<Copied>),
}

fn read<T: ReadTxn>(txn: &T, out: Out) -> Copied {
    match out {
        Out::Any(any) => Copied::Plain(any),
        Out::YText(text) => Copied::Text(text.get_string(txn)),
        Out::YMap(map) => Copied::Map(
            map.iter(txn)
                .map(|(key, value)| (key.to_owned(), read(txn, value)))
                .collect(),
        ),
        Out::YArray(array) => Copied::Array(array.iter(txn).map(|v| read(txn, v)).collect()),
        // Not in a board's shape: kept as its JSON.
        other => Copied::Plain(other.to_json(txn)),
    }
}

fn insert(map: &MapRef, txn: &mut TransactionMut, key: &str, value: &Copied) {
    match value {
        Copied::Plain(any) => {
            map.insert(txn, key, any.clone());
        }
        Copied::Text(text) => {
            map.insert(txn, key, TextPrelim::new(text.as_str()));
        }
        Copied::Map(entries) => {
            let inner = map.insert(txn, key, MapPrelim::default());
            for (key, value) in entries {
                insert(&inner, txn, key, value);
            }
        }
        Copied::Array(items) => {
            let inner = map.insert(txn, key, ArrayPrelim::default());
            for item in items {
                push(&inner, txn, item);
            }
        }
    }
}

fn push(array: &ArrayRef, txn: &mut TransactionMut, value: &Copied) {
    match value {
        Copied::Plain(any) => {
            array.push_back(txn, any.clone());
        }
        Copied::Text(text) => {
            array.push_back(txn, TextPrelim::new(text.as_str()));
        }
        Copied::Map(entries) => {
            let inner = array.push_back(txn, MapPrelim::default());
            for (key, value) in entries {
                insert(&inner, txn, key, value);
            }
        }
        Copied::Array(items) => {
            let inner = array.push_back(txn, ArrayPrelim::default());
            for item in items {
                push(&inner, txn, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::Doc;

    #[test]
    fn an_element_is_copied_whole_into_another_document() {
        let (from, to) = (Doc::new(), Doc::new());
        let (a, b) = (shared::Roots::new(&from), shared::Roots::new(&to));
        {
            let mut txn = from.transact_mut();
            a.add_note(
                &mut txn,
                "n1",
                "s2",
                "Une navette le samedi",
                "#fde68a",
                "p1",
            );
            let Some(Out::YMap(note)) = a.notes.get(&txn, "n1") else {
                panic!()
            };
            let votes = note.insert(&mut txn, "tags", ArrayPrelim::default());
            votes.push_back(&mut txn, "mobilité");
        }
        let value = {
            let txn = from.transact();
            read(&txn, a.notes.get(&txn, "n1").unwrap())
        };
        insert(&b.notes, &mut to.transact_mut(), "n1", &value);
        let (x, y) = (from.transact(), to.transact());
        assert_eq!(a.notes.to_json(&x), b.notes.to_json(&y));
        assert_eq!(b.notes(&y)[0].text, "Une navette le samedi");
    }
}
