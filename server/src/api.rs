//! The REST API. Request and response bodies are explicit structs here, at the edge; errors
//! are always `{"error": "..."}` with a 4xx or 5xx status.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::{BoardKind, Lang};

use yrs::{ReadTxn, StateVector, Transact};

use crate::app::AppState;
use crate::room::now_ms;
use crate::store::{BoardId, BoardRecord, StoreError};
use crate::tokens::{BoardTokens, Role, random_token, secrets_equal, sha256};

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
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
        (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(error)
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
struct CreateBoardResponse {
    id: String,
    kind: &'static str,
    title: String,
    lang: &'static str,
    tokens: RoleStrings,
    links: RoleStrings,
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
    let presented = bearer(&headers).unwrap_or("");
    let is_admin = app
        .config
        .admin_token
        .as_deref()
        .is_some_and(|admin_token| secrets_equal(presented, admin_token));
    if app.config.admin_token.is_some() && !is_admin {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "creating a board on this instance needs its admin token (Authorization: Bearer ...)",
        ));
    }
    // The admin is not rate-limited; everybody else is, per address.
    if !is_admin && !app.creations.allow(peer.ip(), std::time::Instant::now()) {
        let per_minute = app.config.limits.max_board_creations_per_minute;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "more than {per_minute} boards created from this address in a minute; try again later"
            ),
        ));
    }
    let request: CreateBoardRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    let kind: BoardKind = request
        .kind
        .parse()
        .map_err(|e: shared::UnknownValue| ApiError::bad_request(e.to_string()))?;
    let lang: Lang = match request.lang.as_deref() {
        None => Lang::default(),
        Some(lang) => lang
            .parse()
            .map_err(|e: shared::UnknownValue| ApiError::bad_request(e.to_string()))?,
    };
    let title = request.title.trim().to_owned();
    let title_chars_max = app.config.limits.max_title_chars;
    if title.is_empty() {
        return Err(ApiError::bad_request("title must not be empty"));
    }
    if title.chars().count() > title_chars_max {
        return Err(ApiError::bad_request(format!(
            "title is longer than {title_chars_max} characters"
        )));
    }
    let tokens = BoardTokens::generate();
    let record = BoardRecord {
        id: BoardId::new_random(),
        kind,
        title,
        lang,
        created_ms: now_ms(),
        token_hashes: tokens.hashes(),
    };
    let initial = shared::doc::initial_update(kind, &record.title, lang);
    let store = app.store.clone();
    let stored = record.clone();
    tokio::task::spawn_blocking(move || store.create_board(&stored, &initial))
        .await
        .map_err(ApiError::internal)??;
    tracing::info!(board = %record.id, kind = kind.as_str(), "board created");

    let base = link_base(&app, &headers);
    let link = |token: &str| format!("{base}/b/{}#token={token}", record.id);
    let response = CreateBoardResponse {
        id: record.id.to_string(),
        kind: kind.as_str(),
        title: record.title.clone(),
        lang: lang.as_str(),
        links: RoleStrings {
            facilitator: link(&tokens.facilitator),
            editor: link(&tokens.editor),
            viewer: link(&tokens.viewer),
        },
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
    let (record, _role) = authorize(&app, &id, &query, &headers).await?;
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
    let store = app.store.clone();
    let board = record.id.clone();
    let stored = tokio::task::spawn_blocking(move || match at_ms {
        Some(at_ms) => store.load_at(&board, at_ms),
        None => store.load(&board),
    })
    .await
    .map_err(ApiError::internal)??;
    let (doc, ..) = crate::room::load_doc(stored).map_err(ApiError::internal)?;
    let filename = |ext: &str| format!("attachment; filename=\"{}.{ext}\"", record.id);
    match format {
        "yjs" => {
            let state = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            Ok((
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_DISPOSITION, filename("yjs")),
                ],
                state,
            )
                .into_response())
        }
        "json" => {
            let json = crate::export::document_json(&doc, record.kind);
            Ok((
                [(header::CONTENT_DISPOSITION, filename("json"))],
                Json(json),
            )
                .into_response())
        }
        "svg" | "png" | "pdf" | "md" | "opml" | "mm" | "csv" | "odt" => Err(ApiError::bad_request(
            format!("format {format} is not available yet on this server; available: json, yjs"),
        )),
        "" => Err(ApiError::bad_request(
            "missing format; available: json, yjs",
        )),
        other => Err(ApiError::bad_request(format!(
            "unknown format {other:?}; formats: svg png pdf md opml mm csv json yjs odt"
        ))),
    }
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
    let (record, role) = authorize(&app, &id, &query, &headers).await?;
    if role != Role::Facilitator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the facilitator link may delete the board",
        ));
    }
    let store = app.store.clone();
    let board = record.id.clone();
    tokio::task::spawn_blocking(move || store.delete_board(&board))
        .await
        .map_err(ApiError::internal)??;
    app.rooms
        .close_connections(&record.id, None, 4404, "the board was deleted")
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
        .close_connections(board, Some(role), 4401, reason)
        .await;
    tracing::info!(board = %board, role = role.as_str(), "link replaced");
    Ok(())
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
    let role = record
        .token_hashes
        .role_of(token)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "wrong or revoked token"))?;
    Ok((record, role))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn link_base(app: &AppState, headers: &HeaderMap) -> String {
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
