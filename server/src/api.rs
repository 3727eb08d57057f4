//! The REST API. Request and response bodies are explicit structs here, at the edge; errors
//! are always `{"error": "..."}` with a 4xx or 5xx status.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::export::Format;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::{BoardKind, Lang};
use yrs::Map;

use crate::app::AppState;
use crate::room::now_ms;
use crate::store::{Actor, BoardId, BoardRecord, StoreError};
use crate::tokens::{BoardTokens, Role, random_token, secrets_equal, sha256};

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds after which a refused request may come back (`Retry-After`, with 503).
    retry_after_secs: Option<u64>,
}

/// What a 503 asks the client to wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 1;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 503 with `Retry-After`: the server could not get what the request needs in time.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            retry_after_secs: Some(RETRY_AFTER_SECS),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        let mut response = (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Overloaded(why) => {
                ApiError::unavailable(format!("the server is busy ({why}); try again shortly"))
            }
            StoreError::BoardNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "board not found"),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBoardRequest {
    kind: String,
    title: String,
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Serialize)]
struct RoleStrings {
    facilitator: String,
    editor: String,
    viewer: String,
}

#[derive(Serialize)]
struct Links {
    facilitator: String,
    editor: String,
    viewer: String,
    /// `BASE/j/CODE`, the page that joins with the board's join code.
    join: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBoardResponse {
    id: String,
    kind: &'static str,
    title: String,
    lang: &'static str,
    tokens: RoleStrings,
    links: Links,
    join_code: String,
}

#[derive(Serialize)]
pub struct BoardResponse {
    id: String,
    kind: &'static str,
    title: String,
    lang: &'static str,
    role: &'static str,
}

pub async fn create_board(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    admit(&app, peer, &headers).await?;
    let request: CreateBoardRequest = json_body(&body)?;
    let kind: BoardKind = request
        .kind
        .parse()
        .map_err(|e: shared::UnknownValue| ApiError::bad_request(e.to_string()))?;
    let lang = parse_lang(request.lang.as_deref())?;
    let title = checked_title(&app, &request.title)?;
    let initial = shared::doc::initial_update(kind, &title, lang);
    store_new_board(&app, &headers, kind, title, lang, initial).await
}

/// `POST /api/boards/import?format=yjs|mm|opml|md[&title=...][&lang=fr|en]`, the file as the
/// body: a new board holding what the file holds. Admitted like a creation.
pub async fn import_board(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    admit(&app, peer, &headers).await?;
    let name = query.get("format").map(String::as_str).unwrap_or("");
    let format = crate::import::ImportFormat::parse(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown import format {name:?}; formats: yjs mm opml md"
        ))
    })?;
    let lang = parse_lang(query.get("lang").map(String::as_str))?;
    let title = match query.get("title") {
        Some(title) => Some(checked_title(&app, title)?),
        None => None,
    };
    if body.len() > app.config.limits.max_document_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the file is larger than a board may be",
        ));
    }
    let max_nodes = app.config.limits.max_import_nodes;
    let permit = app.pressure.heavy_permit("this import").await?;
    let imported = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::import::import(format, &body, title.as_deref(), lang, max_nodes)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // A title read from the file is shortened to fit rather than refused.
    let title: String = imported
        .title
        .chars()
        .take(app.config.limits.max_title_chars)
        .collect();
    let title = checked_title(&app, &title).or_else(|_| checked_title(&app, "Import"))?;
    store_new_board(
        &app,
        &headers,
        imported.kind,
        title,
        imported.lang,
        imported.initial_update_v1,
    )
    .await
}

/// What the server holds in memory now: boards loaded (`roomsLoaded`), among them those that
/// let their document go while their connections are quiet (`roomsAsleep`), and websocket
/// connections. Needs the admin token when the instance has one.
pub async fn stats(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    if app.config.admin_token.is_some() && !presents_admin_token(&app, &headers) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the statistics of this instance need its admin token (Authorization: Bearer ...)",
        ));
    }
    let reads = app.store.read_pool_stats();
    Ok(Json(json!({
        "roomsLoaded": app.rooms.loaded_count(),
        "roomsAsleep": app.rooms.asleep_count(),
        "connections": app.connections.load(std::sync::atomic::Ordering::Relaxed),
        "readPool": {"waits": reads.waits, "timeouts": reads.timeouts},
        "heavyReads": app.pressure.stats(),
    })))
}

/// `GET /readyz`: 200 when the store answers a read and the journal writer takes a job, each
/// within `ready_probe_ms`; 503 (JSON, with `Retry-After`) otherwise. `/healthz` only says the
/// process answers.
pub async fn ready(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let within = std::time::Duration::from_millis(app.config.limits.ready_probe_ms);
    let store = app.store.clone();
    let probe = BoardId::parse("readyz").expect("a valid id");
    let read = tokio::time::timeout(
        within,
        tokio::task::spawn_blocking(move || store.board(&probe)),
    )
    .await;
    match read {
        Ok(Ok(Ok(_))) => {}
        Ok(Ok(Err(e))) => {
            return Err(ApiError::unavailable(format!(
                "not ready: the store failed a read: {e}"
            )));
        }
        Ok(Err(e)) => {
            return Err(ApiError::unavailable(format!(
                "not ready: the store read panicked: {e}"
            )));
        }
        Err(_) => {
            return Err(ApiError::unavailable(format!(
                "not ready: the store did not answer a read within {} ms",
                within.as_millis()
            )));
        }
    }
    if let Err(why) = app.writer.ping(within).await {
        return Err(ApiError::unavailable(format!("not ready: {why}")));
    }
    Ok(Json(json!({"ready": true})))
}

/// Whether the request carries the instance's admin token (false when it has none).
fn presents_admin_token(app: &AppState, headers: &HeaderMap) -> bool {
    let presented = bearer(headers).unwrap_or("");
    app.config
        .admin_token
        .as_deref()
        .is_some_and(|admin_token| secrets_equal(presented, admin_token))
}

/// Board creation (and import) needs the admin token when the instance has one, and is
/// rate-limited per address for everybody else.
async fn admit(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Result<(), ApiError> {
    let is_admin = presents_admin_token(app, headers);
    if app.config.admin_token.is_some() && !is_admin {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "creating a board on this instance needs its admin token (Authorization: Bearer ...)",
        ));
    }
    // The admin is not rate-limited; everybody else is, per address.
    if !is_admin && !app.creations.allow(peer.ip()).await {
        let per_minute = app.config.limits.max_board_creations_per_minute;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "more than {per_minute} boards created from this address in a minute; try again later"
            ),
        ));
    }
    Ok(())
}

/// A JSON request body, or a 400 that says what is wrong with it.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

fn parse_lang(lang: Option<&str>) -> Result<Lang, ApiError> {
    match lang {
        None => Ok(Lang::default()),
        Some(lang) => lang
            .parse()
            .map_err(|e: shared::UnknownValue| ApiError::bad_request(e.to_string())),
    }
}

fn checked_title(app: &AppState, title: &str) -> Result<String, ApiError> {
    let title = title.trim().to_owned();
    let title_chars_max = app.config.limits.max_title_chars;
    if title.is_empty() {
        return Err(ApiError::bad_request("title must not be empty"));
    }
    if title.chars().count() > title_chars_max {
        return Err(ApiError::bad_request(format!(
            "title is longer than {title_chars_max} characters"
        )));
    }
    Ok(title)
}

async fn store_new_board(
    app: &AppState,
    headers: &HeaderMap,
    kind: BoardKind,
    title: String,
    lang: Lang,
    initial: Vec<u8>,
) -> Result<Response, ApiError> {
    let tokens = BoardTokens::generate();
    let record = BoardRecord {
        id: BoardId::new_random(),
        kind,
        title,
        lang,
        created_ms: now_ms(),
        token_hashes: tokens.hashes(),
    };
    let store = app.store.clone();
    let stored = record.clone();
    tokio::task::spawn_blocking(move || store.create_board(&stored, &initial))
        .await
        .map_err(ApiError::internal)??;
    tracing::info!(board = %record.id, kind = kind.as_str(), "board created");
    let join_code = crate::join::renew(app, &record.id).await?;

    let base = link_base(app, headers);
    let link = |token: &str| format!("{base}/b/{}#token={token}", record.id);
    let response = CreateBoardResponse {
        id: record.id.to_string(),
        kind: kind.as_str(),
        title: record.title.clone(),
        lang: lang.as_str(),
        links: Links {
            facilitator: link(&tokens.facilitator),
            editor: link(&tokens.editor),
            viewer: link(&tokens.viewer),
            join: crate::join::join_link(&base, &join_code.code),
        },
        join_code: join_code.code,
        tokens: RoleStrings {
            facilitator: tokens.facilitator,
            editor: tokens.editor,
            viewer: tokens.viewer,
        },
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

pub async fn get_board(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<BoardResponse>, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    Ok(Json(BoardResponse {
        id: record.id.to_string(),
        kind: record.kind.as_str(),
        title: record.title,
        lang: record.lang.as_str(),
        role: role.as_str(),
    }))
}

pub async fn export_board(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    let format = query.get("format").map(String::as_str).unwrap_or("");
    // `at` (milliseconds since the epoch) exports the board as it was then (time travel).
    let at_ms = match query.get("at") {
        None => None,
        Some(at) => Some(at.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!(
                "at must be a time in milliseconds since 1970, not {at:?}"
            ))
        })?),
    };
    let offered = || Format::names_for(record.kind).join(" ");
    let format = match Format::parse(format) {
        Some(format) if format.fits(record.kind) => format,
        Some(format) => {
            return Err(ApiError::bad_request(format!(
                "a {} board cannot be exported as {}; formats: {}",
                record.kind.as_str(),
                format.as_str(),
                offered()
            )));
        }
        None if format.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "missing format; formats: {}",
                offered()
            )));
        }
        None => {
            return Err(ApiError::bad_request(format!(
                "unknown format {format:?}; formats: {}",
                offered()
            )));
        }
    };
    let _permit = app.pressure.heavy_permit("this export").await?;
    let store = app.store.clone();
    let board = record.clone();
    let started = std::time::Instant::now();
    let trace_wait = std::time::Duration::from_millis(app.config.limits.trace_wait_ms);
    // Dropped with this request's future when its client goes away: the export stops.
    let cancel = crate::pressure::Cancel::default();
    let _cancel_on_drop = cancel.on_drop();
    let bytes = tokio::task::spawn_blocking(move || {
        let masked = crate::pseudo::masked(store.as_ref(), &board.id, role)?;
        crate::export::export(
            store.as_ref(),
            &board,
            format,
            at_ms,
            trace_wait,
            &cancel,
            masked,
        )
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        crate::export::ExportError::Store(e) => ApiError::from(e),
        other => ApiError::internal(other),
    })?;
    tracing::info!(
        board = %record.id,
        format = format.as_str(),
        bytes = bytes.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "board exported"
    );
    let filename = format!(
        "attachment; filename=\"{}.{}\"",
        record.id,
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameRequest {
    #[serde(default)]
    title: Option<String>,
    /// Pseudonyms on or off (`shared::pseudonym`).
    #[serde(default)]
    pseudonyms: Option<bool>,
}

/// `PATCH /api/boards/{id}` with `{"title": "..."}` (facilitator): renames the board, in its
/// record and in its document's `meta.title`, which every connected client sees at once.
pub async fn rename_board(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BoardResponse>, ApiError> {
    let record = facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may rename the board",
    )
    .await?;
    let request: RenameRequest = json_body(&body)?;
    if request.title.is_none() && request.pseudonyms.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give a title or pseudonyms",
        ));
    }
    if let Some(on) = request.pseudonyms {
        crate::pseudo::switch(&app, &record, on).await?;
    }
    let Some(title) = request.title else {
        return Ok(Json(BoardResponse {
            id: record.id.to_string(),
            kind: record.kind.as_str(),
            title: record.title.clone(),
            lang: record.lang.as_str(),
            role: Role::Facilitator.as_str(),
        }));
    };
    let title = checked_title(&app, &title)?;
    let store = app.store.clone();
    let (board, stored_title) = (record.id.clone(), title.clone());
    tokio::task::spawn_blocking(move || store.set_title(&board, &stored_title))
        .await
        .map_err(ApiError::internal)??;
    let new_title = title.clone();
    app.rooms
        .edit(
            &record.id,
            Arc::new(move |roots, txn| {
                roots.meta.insert(txn, "title", new_title.as_str());
                Ok(())
            }),
            Arc::new(Actor::system()),
        )
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    tracing::info!(board = %record.id, "board renamed");
    Ok(Json(BoardResponse {
        id: record.id.to_string(),
        kind: record.kind.as_str(),
        title,
        lang: record.lang.as_str(),
        role: Role::Facilitator.as_str(),
    }))
}

#[derive(Serialize)]
pub struct RotatedLink {
    role: &'static str,
    token: String,
    link: String,
}

/// Gives a role a new link; holders of the old one are disconnected (4401).
pub async fn rotate_link(
    State(app): State<AppState>,
    Path((id, role)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<RotatedLink>, ApiError> {
    let (record, role) = authorize_facilitator(&app, &id, &role, &query, &headers).await?;
    let token = random_token();
    replace_token(
        &app,
        &record.id,
        role,
        sha256(&token),
        "this link was replaced by a new one",
    )
    .await?;
    let link = format!(
        "{}/b/{}#token={token}",
        link_base(&app, &headers),
        record.id
    );
    Ok(Json(RotatedLink {
        role: role.as_str(),
        token,
        link,
    }))
}

/// Revokes a role's link: nobody holds a valid one until it is rotated.
pub async fn revoke_link(
    State(app): State<AppState>,
    Path((id, role)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (record, role) = authorize_facilitator(&app, &id, &role, &query, &headers).await?;
    if role == Role::Facilitator {
        return Err(ApiError::bad_request(
            "the facilitator link can be rotated, not revoked",
        ));
    }
    // The hash of a secret nobody is given: no token matches it.
    replace_token(
        &app,
        &record.id,
        role,
        sha256(&random_token()),
        "this link was revoked",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a board: it is no longer served (its journal is kept on disk).
pub async fn delete_board(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let record = facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may delete the board",
    )
    .await?;
    let store = app.store.clone();
    let board = record.id.clone();
    tokio::task::spawn_blocking(move || store.delete_board(&board))
        .await
        .map_err(ApiError::internal)??;
    app.rooms
        .close_connections(
            &record.id,
            None,
            shared::wire::close::UNKNOWN_BOARD,
            "the board was deleted",
        )
        .await;
    tracing::info!(board = %record.id, "board deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn authorize_facilitator(
    app: &AppState,
    id: &str,
    role: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(BoardRecord, Role), ApiError> {
    let (record, who) = authorize(app, id, query, headers).await?;
    if who != Role::Facilitator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the facilitator link may change links",
        ));
    }
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown role {role:?}; roles: facilitator, editor, viewer"
        ))
    })?;
    Ok((record, role))
}

async fn replace_token(
    app: &AppState,
    board: &BoardId,
    role: Role,
    hash: [u8; 32],
    reason: &str,
) -> Result<(), ApiError> {
    let store = app.store.clone();
    let id = board.clone();
    tokio::task::spawn_blocking(move || store.set_token_hash(&id, role, hash))
        .await
        .map_err(ApiError::internal)??;
    app.rooms
        .close_connections(board, Some(role), shared::wire::close::UNAUTHORIZED, reason)
        .await;
    tracing::info!(board = %board, role = role.as_str(), "link replaced");
    Ok(())
}

/// Checks the board exists and the request carries its facilitator's token; any other role is
/// answered `403` with `refusal`.
pub(crate) async fn facilitator_only(
    app: &AppState,
    id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    refusal: &'static str,
) -> Result<BoardRecord, ApiError> {
    let (record, role) = authorize(app, id, query, headers).await?;
    if role != Role::Facilitator {
        return Err(ApiError::new(StatusCode::FORBIDDEN, refusal));
    }
    Ok(record)
}

/// Runs `decide` in the board's room as `actor`'s edit and answers what it decided. `decide`
/// sees the document as the room holds it when it applies the edit, and writes nothing when it
/// refuses: its error is the answer. The room may run it again if it met one unloading.
pub(crate) async fn decided_edit<T: Send + 'static>(
    app: &AppState,
    board: &BoardId,
    actor: crate::store::Actor,
    decide: impl Fn(&shared::Roots, &mut yrs::TransactionMut) -> Result<T, ApiError>
    + Send
    + Sync
    + 'static,
) -> Result<T, ApiError> {
    let outcome = Arc::new(std::sync::Mutex::new(None::<Result<T, ApiError>>));
    let seen = outcome.clone();
    let edit = app
        .rooms
        .edit(
            board,
            Arc::new(move |roots, txn| {
                let result = decide(roots, txn);
                let refused = result.is_err();
                *seen.lock().unwrap() = Some(result);
                if refused {
                    Err("refused".into())
                } else {
                    Ok(())
                }
            }),
            Arc::new(actor),
        )
        .await;
    let decided = outcome.lock().unwrap().take();
    match (edit, decided) {
        (Ok(()), Some(Ok(value))) => Ok(value),
        (_, Some(Err(refused))) => Err(refused),
        (Err(crate::room::JoinError::Full), _) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many boards are open on this server",
        )),
        (edit, _) => Err(ApiError::internal(format!("{edit:?}"))),
    }
}

/// Checks the board exists and the request carries one of its tokens.
pub async fn authorize(
    app: &AppState,
    id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(BoardRecord, Role), ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "board not found");
    let id = BoardId::parse(id).ok_or_else(not_found)?;
    let record = app.board(&id).await?.ok_or_else(not_found)?;
    let token = bearer(headers).or(query.get("token").map(String::as_str));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "missing token"));
    };
    let role = role_of(app, &record, token)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "wrong or revoked token"))?;
    Ok((record, role))
}

/// Runs `call` on the store off the async threads; a store error is answered as the API
/// answers store errors.
pub(crate) async fn on_store<T: Send + 'static>(
    app: &AppState,
    call: impl FnOnce(&dyn crate::store::Store) -> crate::store::StoreResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.store.clone();
    Ok(tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .map_err(ApiError::internal)??)
}

/// The role `token` grants on the board: one of its links' tokens, or a credential minted
/// through its join code ([`Role::CodeEditor`]).
pub async fn role_of(
    app: &AppState,
    record: &BoardRecord,
    token: &str,
) -> Result<Option<Role>, ApiError> {
    if let Some(role) = record.token_hashes.role_of(token) {
        return Ok(Some(role));
    }
    let (id, hash) = (record.id.clone(), sha256(token));
    let minted = on_store(app, move |store| store.has_code_credential(&id, &hash)).await?;
    Ok(minted.then_some(Role::CodeEditor))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub(crate) fn link_base(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(public_url) = &app.config.public_url {
        return public_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Errors produced by axum itself (a body over the limit, a wrong method) arrive as plain
/// text or empty; the API answers every error as JSON.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    ApiError::new(status, message).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such API route")
}
