//! The small REST client of the app. Wire types are explicit structs here, at the edge.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[derive(Serialize)]
pub struct CreateBoard<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RoleStrings {
    pub facilitator: String,
    pub editor: String,
    pub viewer: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreatedBoard {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub lang: String,
    pub links: RoleStrings,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BoardInfo {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub lang: String,
    pub role: String,
}

/// One participant's (or one group's) contributions, as the server counts them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContributionRow {
    #[serde(default)]
    pub pid: String,
    pub name: String,
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub participants: u64,
    pub created: u64,
    pub edited: u64,
    pub deleted: u64,
    pub chars_written: u64,
    pub votes_cast: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contributions {
    pub participants: Vec<ContributionRow>,
    pub org_kinds: Vec<ContributionRow>,
}

pub async fn contributions(id: &str, token: &str) -> Result<Contributions, String> {
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/contributions"),
        None,
        Some(token),
    )
    .await
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

pub async fn create_board(request: &CreateBoard<'_>) -> Result<CreatedBoard, String> {
    let body = serde_json::to_string(request).map_err(|e| e.to_string())?;
    fetch_json("POST", "/api/boards", Some(&body), None).await
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `static/main.js`: posts the chosen file to `/api/boards/import`.
    #[wasm_bindgen(js_name = nouageImport, catch)]
    fn nouage_import(input_id: &str, lang: &str) -> Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

/// Imports the file chosen in the input `input_id` as a new board.
pub async fn import_board(input_id: &str, lang: &str) -> Result<CreatedBoard, String> {
    let js_error = |e: wasm_bindgen::JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let answer = JsFuture::from(nouage_import(input_id, lang).map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&answer).map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct Rename<'a> {
    title: &'a str,
}

/// Renames the board (facilitator); every page sees the new title through the document.
pub async fn rename_board(id: &str, token: &str, title: &str) -> Result<BoardInfo, String> {
    let body = serde_json::to_string(&Rename { title }).map_err(|e| e.to_string())?;
    fetch_json(
        "PATCH",
        &format!("/api/boards/{id}"),
        Some(&body),
        Some(token),
    )
    .await
}

pub async fn board_info(id: &str, token: &str) -> Result<BoardInfo, String> {
    fetch_json("GET", &format!("/api/boards/{id}"), None, Some(token)).await
}

async fn fetch_json<T: for<'de> Deserialize<'de>>(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<T, String> {
    let js_error = |e: wasm_bindgen::JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(js_error)?;
    if let Some(body) = body {
        headers
            .set("Content-Type", "application/json")
            .map_err(js_error)?;
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    if let Some(token) = token {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(js_error)?;
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {}", response.status()));
        return Err(message);
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
