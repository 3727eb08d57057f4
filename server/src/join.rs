//! Join codes: six characters a room reads off the projector to join a board as an editor.
//!
//! Tokens are kept only as hashes, so a code cannot hand out the editor link: resolving one
//! mints a credential of its own for that browser (role [`Role::CodeEditor`]), stored hashed
//! and tied to the code. Renewing, disabling or the expiry of a code stop new joins only; the
//! facilitator can revoke every credential minted through codes (those connections close with
//! 4401). Failed attempts, not joins, are limited per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{ApiError, authorize, facilitator_only, json_body, link_base, on_store};
use crate::app::AppState;
use crate::store::{BoardId, JoinCode, StoreError};
use crate::tokens::{Role, random_token, sha256};

/// The characters of a code: no 0/O, 1/I/L, nothing to confuse read aloud or from a screen.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_CHARS: usize = 6;
/// Attempts at drawing a code no other board holds before giving up (with 887 million codes,
/// a second attempt is already rare).
const DRAWS_MAX: usize = 8;

/// A new random code, each character drawn uniformly from [`ALPHABET`].
pub fn random_code() -> String {
    let mut code = String::with_capacity(CODE_CHARS);
    // Bytes at or past the largest multiple of the alphabet's size are drawn again, so that
    // every character is equally likely.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    while code.len() < CODE_CHARS {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        for byte in bytes {
            if byte < limit && code.len() < CODE_CHARS {
                code.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
            }
        }
    }
    code
}

/// The code a person typed, without spaces and dashes, in capitals; `None` when it cannot be
/// a code (so the store is not even asked).
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The address a request comes from: the peer's, or, when the peer is the trusted proxy, the
/// last address of `X-Forwarded-For` (the one that proxy added; earlier ones are the client's
/// own say and prove nothing).
pub fn client_address(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if app.config.trusted_proxy == Some(peer.ip())
        && let Some(forwarded) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return forwarded;
    }
    peer.ip()
}

/// Gives `board` a new code, expiring after the configured time.
pub async fn renew(app: &AppState, board: &BoardId) -> Result<JoinCode, ApiError> {
    for _ in 0..DRAWS_MAX {
        let code = JoinCode {
            code: random_code(),
            expires_ms: app.config.clock.now_ms() + app.config.join_code_ttl_ms,
        };
        let (id, stored) = (board.clone(), code.clone());
        // The store's answer as it is: a code another board holds means drawing again.
        match on_store(
            app,
            move |store| Ok(store.set_join_code(&id, Some(&stored))),
        )
        .await?
        {
            Ok(()) => return Ok(code),
            Err(StoreError::JoinCodeTaken(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::unavailable(
        "no free join code was found; try again",
    ))
}

/// `BASE/j/CODE`.
pub fn join_link(base: &str, code: &str) -> String {
    format!("{base}/j/{code}")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeAnswer {
    /// `None` when the code is disabled.
    code: Option<String>,
    expires_ms: Option<i64>,
    expired: bool,
    link: Option<String>,
}

fn answer(app: &AppState, headers: &HeaderMap, code: Option<JoinCode>) -> Json<CodeAnswer> {
    let now = app.config.clock.now_ms();
    let base = link_base(app, headers);
    Json(match code {
        Some(code) => CodeAnswer {
            link: Some(join_link(&base, &code.code)),
            expired: code.expires_ms <= now,
            expires_ms: Some(code.expires_ms),
            code: Some(code.code),
        },
        None => CodeAnswer {
            code: None,
            expires_ms: None,
            expired: false,
            link: None,
        },
    })
}

/// `GET /api/boards/{id}/join-code`: the code and its expiry, for any link of the board (the
/// presenter view projects it, and the projector may hold only the viewer link).
pub async fn get_code(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<CodeAnswer>, ApiError> {
    let (record, _) = authorize(&app, &id, &query, &headers).await?;
    let code = on_store(&app, move |store| store.join_code(&record.id)).await?;
    Ok(answer(&app, &headers, code))
}

async fn facilitator(
    app: &AppState,
    id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<BoardId, ApiError> {
    let refusal = "only the facilitator link may change the join code";
    Ok(facilitator_only(app, id, query, headers, refusal).await?.id)
}

/// `POST /api/boards/{id}/join-code`: a new code (the old one stops admitting at once; nobody
/// already in is disconnected).
pub async fn renew_code(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<CodeAnswer>, ApiError> {
    let board = facilitator(&app, &id, &query, &headers).await?;
    let code = renew(&app, &board).await?;
    tracing::info!(board = %board, "join code renewed");
    Ok(answer(&app, &headers, Some(code)))
}

/// `DELETE /api/boards/{id}/join-code`: no code admits anybody until one is made again.
pub async fn disable_code(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let board = facilitator(&app, &id, &query, &headers).await?;
    let stored = board.clone();
    on_store(&app, move |store| store.set_join_code(&stored, None)).await?;
    tracing::info!(board = %board, "join code disabled");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/boards/{id}/join-code/credentials`: every credential minted through the
/// board's codes stops working, and the connections made with them close (4401).
pub async fn revoke_credentials(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let board = facilitator(&app, &id, &query, &headers).await?;
    let (stored, now) = (board.clone(), app.config.clock.now_ms());
    let revoked = on_store(&app, move |store| {
        store.revoke_code_credentials(&stored, now)
    })
    .await?;
    app.rooms
        .close_connections(
            &board,
            Some(Role::CodeEditor),
            shared::wire::close::UNAUTHORIZED,
            "the facilitator revoked the access given by join codes",
        )
        .await;
    tracing::info!(board = %board, revoked, "join code credentials revoked");
    Ok(Json(json!({ "revoked": revoked })))
}

/// `GET /api/boards/{id}/join-code/qr.svg`: the QR code of the join link, drawn here so the
/// web app carries no QR encoder; for any link of the board, like the code itself.
pub async fn qr_svg(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (record, _) = authorize(&app, &id, &query, &headers).await?;
    let code = on_store(&app, move |store| store.join_code(&record.id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "this board has no join code"))?;
    let link = join_link(&link_base(&app, &headers), &code.code);
    let qr = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(ApiError::internal)?;
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    code: String,
}

/// `POST /api/join` `{"code"}`: an editor credential for this browser →
/// `{"id", "kind", "title", "lang", "token"}`; an unknown, expired or disabled code is a 404.
pub async fn join(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let address = client_address(&app, peer, &headers);
    let request: JoinRequest = json_body(&body)?;
    let refused = async || {
        // Only failures count: the check comes after the lookup, and a success takes nothing.
        if app.join_failures.allow(address).await {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown, expired or disabled join code",
            )
        } else {
            too_many(&app)
        }
    };
    if app.join_failures.is_over(address).await {
        return Err(too_many(&app));
    }
    let Some(code) = normalize(&request.code) else {
        return Err(refused().await);
    };
    let found = on_store(&app, move |store| store.board_of_join_code(&code)).await?;
    let now = app.config.clock.now_ms();
    let Some((board, join_code)) = found.filter(|(_, c)| c.expires_ms > now) else {
        return Err(refused().await);
    };
    let Some(record) = app.board(&board).await? else {
        return Err(refused().await);
    };
    let token = random_token();
    let (id, hash, max) = (
        board.clone(),
        sha256(&token),
        app.config.limits.max_code_credentials_per_board,
    );
    let minted = on_store(&app, move |store| {
        store.add_code_credential(&id, hash, &join_code.code, now, max)
    })
    .await?;
    if !minted {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this board already holds {max} participants who joined by code; \
                 the facilitator can revoke them"
            ),
        ));
    }
    tracing::info!(board = %board, "participant joined by code");
    Ok(Json(json!({
        "id": record.id.to_string(),
        "kind": record.kind.as_str(),
        "title": record.title,
        "lang": record.lang.as_str(),
        "token": token,
    }))
    .into_response())
}

fn too_many(app: &AppState) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "more than {} wrong join codes from this address in a minute; try again later",
            app.config.limits.max_failed_joins_per_minute
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_typing_is_forgiving() {
        for _ in 0..200 {
            let code = random_code();
            assert_eq!(code.len(), CODE_CHARS);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize(" abc-d23 ").as_deref(), Some("ABCD23"));
        assert_eq!(normalize("ab cd 23").as_deref(), Some("ABCD23"));
        assert_eq!(normalize("ABCD2"), None, "too short");
        assert_eq!(normalize("ABCD230"), None, "too long");
        assert_eq!(normalize("ABCD20"), None, "0 is not in the alphabet");
        assert_eq!(normalize("ABCDÉ2"), None);
    }
}
