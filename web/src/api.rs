//! The small REST client of the app. Wire types are explicit structs here, at the edge.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::json::{Builder, Json};

pub struct CreateBoard<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
}

#[derive(Clone, PartialEq)]
pub struct RoleStrings {
    pub facilitator: String,
    pub editor: String,
    pub viewer: String,
}

#[derive(Clone, PartialEq)]
pub struct CreatedBoard {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub lang: String,
    pub links: RoleStrings,
    /// The board's join code and the page that joins with it (`BASE/j/CODE`).
    pub join_code: String,
    pub join_link: String,
}

/// What `POST /api/join` answers: the board and an editor credential for this browser.
#[derive(Clone, PartialEq)]
pub struct Joined {
    pub id: String,
    pub token: String,
}

/// A board's join code as `GET /api/boards/{id}/join-code` answers it (`code` is `None` when
/// it is turned off).
#[derive(Clone, PartialEq, Default)]
pub struct JoinCode {
    pub code: Option<String>,
    pub expires_ms: f64,
    pub expired: bool,
    pub link: String,
}

#[derive(Clone, PartialEq)]
pub struct BoardInfo {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub lang: String,
    pub role: String,
}

/// One participant's (or one group's) contributions, as the server counts them.
#[derive(Clone, PartialEq)]
pub struct ContributionRow {
    pub pid: String,
    pub name: String,
    pub org: String,
    pub participants: u64,
    pub created: u64,
    pub edited: u64,
    pub deleted: u64,
    pub chars_written: u64,
    pub votes_cast: u64,
    /// A person entered by proxy, not a participant.
    pub represented: bool,
}

#[derive(Clone, PartialEq)]
pub struct Contributions {
    pub participants: Vec<ContributionRow>,
    pub organisations: Vec<ContributionRow>,
    pub org_kinds: Vec<ContributionRow>,
}

/// Reads an API answer of type `Self`.
pub trait FromJson: Sized {
    fn from_json(json: &Json) -> Option<Self>;
}

impl FromJson for CreatedBoard {
    fn from_json(j: &Json) -> Option<Self> {
        let links = j.get("links");
        Some(CreatedBoard {
            id: j.get("id").opt_str()?,
            kind: j.get("kind").str(),
            title: j.get("title").str(),
            lang: j.get("lang").str(),
            links: RoleStrings {
                facilitator: links.get("facilitator").opt_str()?,
                editor: links.get("editor").opt_str()?,
                viewer: links.get("viewer").opt_str()?,
            },
            join_code: j.get("joinCode").str(),
            join_link: links.get("join").str(),
        })
    }
}

impl FromJson for Joined {
    fn from_json(j: &Json) -> Option<Self> {
        Some(Joined {
            id: j.get("id").opt_str()?,
            token: j.get("token").opt_str()?,
        })
    }
}

impl FromJson for JoinCode {
    fn from_json(j: &Json) -> Option<Self> {
        Some(JoinCode {
            code: j.get("code").opt_str(),
            expires_ms: j.get("expiresMs").num().unwrap_or(0.0),
            expired: j.get("expired").bool(),
            link: j.get("link").str(),
        })
    }
}

impl FromJson for BoardInfo {
    fn from_json(j: &Json) -> Option<Self> {
        Some(BoardInfo {
            id: j.get("id").opt_str()?,
            kind: j.get("kind").str(),
            title: j.get("title").str(),
            lang: j.get("lang").str(),
            role: j.get("role").opt_str()?,
        })
    }
}

fn contribution_row(j: &Json) -> ContributionRow {
    ContributionRow {
        pid: j.get("pid").str(),
        name: j.get("name").str(),
        org: j.get("org").str(),
        participants: j.get("participants").count(),
        created: j.get("created").count(),
        edited: j.get("edited").count(),
        deleted: j.get("deleted").count(),
        chars_written: j.get("charsWritten").count(),
        votes_cast: j.get("votesCast").count(),
        represented: j.get("represented").bool(),
    }
}

impl FromJson for Contributions {
    fn from_json(j: &Json) -> Option<Self> {
        let rows = |key: &str| j.get(key).items().iter().map(contribution_row).collect();
        Some(Contributions {
            participants: rows("participants"),
            organisations: rows("organisations"),
            org_kinds: rows("orgKinds"),
        })
    }
}

/// A node, note or project deleted and still absent, as `GET /deleted` lists it.
#[derive(Clone, PartialEq)]
pub struct DeletedElement {
    pub id: String,
    pub text: String,
    pub deleted_by: String,
}

#[derive(Clone)]
pub struct Deleted(pub Vec<DeletedElement>);

impl FromJson for Deleted {
    fn from_json(j: &Json) -> Option<Self> {
        let elements = j.get("elements").items();
        Some(Deleted(
            elements
                .iter()
                .map(|e| DeletedElement {
                    id: e.get("id").str(),
                    text: e.get("text").str(),
                    deleted_by: e.get("deletedBy").str(),
                })
                .collect(),
        ))
    }
}

impl FromJson for () {
    fn from_json(_: &Json) -> Option<Self> {
        Some(())
    }
}

/// One line of the timeline: a participant's entries in a row (a run, see docs/api.md), with
/// counts of distinct elements.
#[derive(Clone, PartialEq)]
pub struct Run {
    pub start: f64,
    pub end: f64,
    pub entries: u64,
    pub who: ContributionRow,
}

#[derive(Clone, PartialEq)]
pub struct History {
    /// The latest entries' time and participant, oldest first: the stops of the time slider.
    pub entries: Vec<(f64, String)>,
    pub runs: Vec<Run>,
    pub sessions: usize,
    /// The cursor of the next (older) page, when older entries exist.
    pub next_before: Option<u64>,
}

impl FromJson for History {
    fn from_json(j: &Json) -> Option<Self> {
        let runs = j
            .get("runs")
            .items()
            .iter()
            .map(|r| Run {
                start: r.get("start").num().unwrap_or(0.0),
                end: r.get("end").num().unwrap_or(0.0),
                entries: r.get("entries").count(),
                who: contribution_row(r),
            })
            .collect();
        // The server pages newest first; the slider runs oldest to newest.
        let entries = j
            .get("entries")
            .items()
            .iter()
            .rev()
            .map(|e| (e.get("ts").num().unwrap_or(0.0), e.get("name").str()))
            .collect();
        Some(History {
            entries,
            runs,
            sessions: j.get("sessions").items().len(),
            next_before: j.get("nextBefore").num().map(|n| n as u64),
        })
    }
}

/// Entries the history panel loads: the latest page of the timeline.
const HISTORY_PAGE_ENTRIES: usize = 1_000;

/// The latest page of the timeline, or the page of entries before `before` (a journal seq).
pub async fn history(id: &str, token: &str, before: Option<u64>) -> Result<History, String> {
    let before = before
        .map(|seq| format!("&before={seq}"))
        .unwrap_or_default();
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/history?limit={HISTORY_PAGE_ENTRIES}{before}"),
        None,
        Some(token),
    )
    .await
}

/// Who created each element and who changed it last (`GET /elements`): (id, created by,
/// their organisation, changed by, their organisation, when).
/// The last two texts name who typed an element entered on behalf of its creator (empty
/// otherwise).
pub struct Elements(pub Vec<[String; 7]>, pub Vec<f64>);

impl FromJson for Elements {
    fn from_json(j: &Json) -> Option<Self> {
        let items = j.get("elements").items();
        let texts = [
            "id",
            "createdBy",
            "createdOrg",
            "changedBy",
            "changedOrg",
            "enteredBy",
            "enteredOrg",
        ];
        Some(Elements(
            items
                .iter()
                .map(|e| texts.map(|k| e.get(k).str()))
                .collect(),
            items
                .iter()
                .map(|e| e.get("changedMs").num().unwrap_or(0.0))
                .collect(),
        ))
    }
}

/// One line of an element's story (`GET /elements/{id}`): when (first, last), who, their
/// organisation, what (`created`, `edited`, `deleted`, `restored`) and how many changes.
#[derive(Clone)]
pub struct Change {
    pub start: f64,
    pub end: f64,
    pub name: String,
    pub org: String,
    pub what: String,
    pub count: u64,
    /// Who typed it, for an element created on behalf of `name`.
    pub entered_by: String,
}

#[derive(Clone)]
pub struct Story(pub Vec<Change>);

impl FromJson for Story {
    fn from_json(j: &Json) -> Option<Self> {
        Some(Story(
            j.get("changes")
                .items()
                .iter()
                .map(|c| Change {
                    start: c.get("start").num().unwrap_or(0.0),
                    end: c.get("end").num().unwrap_or(0.0),
                    name: c.get("name").str(),
                    org: c.get("org").str(),
                    what: c.get("what").str(),
                    count: c.get("count").count(),
                    entered_by: c.get("enteredBy").str(),
                })
                .collect(),
        ))
    }
}

pub async fn story(id: &str, token: &str, element: &str) -> Result<Story, String> {
    let element = String::from(js_sys::encode_uri_component(element));
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/elements/{element}"),
        None,
        Some(token),
    )
    .await
}

pub async fn elements(id: &str, token: &str) -> Result<Elements, String> {
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/elements"),
        None,
        Some(token),
    )
    .await
}

pub async fn deleted(id: &str, token: &str) -> Result<Deleted, String> {
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/deleted"),
        None,
        Some(token),
    )
    .await
}

/// Puts a deleted element back as it was (text, author, votes).
pub async fn restore(id: &str, token: &str, element: &str) -> Result<(), String> {
    let body = Builder::new().set("element", element).text();
    fetch_json(
        "POST",
        &format!("/api/boards/{id}/restore"),
        Some(&body),
        Some(token),
    )
    .await
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

pub async fn create_board(request: &CreateBoard<'_>) -> Result<CreatedBoard, String> {
    let body = Builder::new()
        .set("kind", request.kind)
        .set("title", request.title)
        .set("lang", request.lang)
        .text();
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
    read_answer(&answer)
}

/// Renames the board (facilitator); every page sees the new title through the document.
pub async fn rename_board(id: &str, token: &str, title: &str) -> Result<BoardInfo, String> {
    patch_board(id, token, Builder::new().set("title", title)).await
}

/// `PATCH /api/boards/{id}` (facilitator).
async fn patch_board(id: &str, token: &str, body: Builder) -> Result<BoardInfo, String> {
    let body = body.text();
    fetch_json(
        "PATCH",
        &format!("/api/boards/{id}"),
        Some(&body),
        Some(token),
    )
    .await
}

/// Turns the board's pseudonyms on or off (facilitator).
pub async fn set_pseudonyms(id: &str, token: &str, on: bool) -> Result<BoardInfo, String> {
    patch_board(id, token, Builder::new().set("pseudonyms", on)).await
}

/// Resolves a join code (as typed: the server ignores case, spaces and dashes).
pub async fn join(code: &str) -> Result<Joined, String> {
    let body = Builder::new().set("code", code).text();
    fetch_json("POST", "/api/join", Some(&body), None).await
}

pub async fn join_code(id: &str, token: &str) -> Result<JoinCode, String> {
    fetch_json(
        "GET",
        &format!("/api/boards/{id}/join-code"),
        None,
        Some(token),
    )
    .await
}

/// `POST` (a new code), `DELETE` (the code turned off) or, with `credentials`, `DELETE` of
/// every credential minted through codes.
pub async fn change_join_code(
    id: &str,
    token: &str,
    method: &str,
    credentials: bool,
) -> Result<(), String> {
    let tail = if credentials { "/credentials" } else { "" };
    fetch_json(
        method,
        &format!("/api/boards/{id}/join-code{tail}"),
        None,
        Some(token),
    )
    .await
}

/// The QR code of the join link, as SVG drawn by the server.
pub async fn join_qr_svg(id: &str, token: &str) -> Result<String, String> {
    fetch_text(
        "GET",
        &format!("/api/boards/{id}/join-code/qr.svg"),
        None,
        Some(token),
    )
    .await
}

/// Opens (`open`), reveals (`reveal`) or cancels (`cancel`) the board's private writing
/// round (facilitator); every page sees the result in the document.
pub async fn private_round(id: &str, token: &str, what: &str) -> Result<(), String> {
    let url = format!("/api/boards/{id}/private-round");
    let (method, url) = match what {
        "open" => ("POST", url),
        "reveal" => ("POST", format!("{url}/reveal")),
        _ => ("DELETE", url),
    };
    fetch_text(method, &url, Some("{}"), Some(token))
        .await
        .map(drop)
}

/// How many participants opened their private space in the board's open round (never what
/// they wrote): `GET /api/boards/{id}/private-round`.
pub async fn private_round_writers(id: &str, token: &str) -> Result<u64, String> {
    let text = fetch_text(
        "GET",
        &format!("/api/boards/{id}/private-round"),
        None,
        Some(token),
    )
    .await?;
    Json::parse(&text)
        .and_then(|j| j.get("writers").num())
        .map(|n| n as u64)
        .ok_or_else(|| "unexpected answer from the server".to_owned())
}

/// The server's clock, in milliseconds since the Unix epoch.
pub async fn server_time() -> Result<f64, String> {
    let text = fetch_text("GET", "/api/time", None, None).await?;
    Json::parse(&text)
        .and_then(|j| j.get("nowMs").num())
        .ok_or_else(|| "unexpected answer from the server".to_owned())
}

/// Starts, pauses, resumes, extends or stops the board's timer (facilitator); `body` is the
/// request of `POST /api/boards/{id}/timer`. Every page sees the result in the document.
pub async fn timer(id: &str, token: &str, body: &str) -> Result<(), String> {
    fetch_text(
        "POST",
        &format!("/api/boards/{id}/timer"),
        Some(body),
        Some(token),
    )
    .await
    .map(drop)
}

/// The facilitator's decision on a note (`POST /api/boards/{id}/notes/{note}/decision`);
/// every page sees it in the document.
pub async fn decide(id: &str, token: &str, note: &str, body: &str) -> Result<(), String> {
    let note = String::from(js_sys::encode_uri_component(note));
    fetch_text(
        "POST",
        &format!("/api/boards/{id}/notes/{note}/decision"),
        Some(body),
        Some(token),
    )
    .await
    .map(drop)
}

/// Turns a kept note into a project of a portfolio board; answers the project's title.
pub async fn to_project(id: &str, token: &str, note: &str, body: &str) -> Result<String, String> {
    let note = String::from(js_sys::encode_uri_component(note));
    let text = fetch_text(
        "POST",
        &format!("/api/boards/{id}/notes/{note}/project"),
        Some(body),
        Some(token),
    )
    .await?;
    Ok(Json::parse(&text)
        .map(|j| j.get("title").str())
        .unwrap_or_default())
}

pub async fn board_info(id: &str, token: &str) -> Result<BoardInfo, String> {
    fetch_json("GET", &format!("/api/boards/{id}"), None, Some(token)).await
}

fn read_answer<T: FromJson>(text: &str) -> Result<T, String> {
    Json::parse(text)
        .and_then(|json| T::from_json(&json))
        .ok_or_else(|| "unexpected answer from the server".to_owned())
}

/// What a request answers when the server could not be reached at all (no network).
pub const OFFLINE: &str = "the server cannot be reached";

async fn fetch_json<T: FromJson>(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<T, String> {
    let text = fetch_text(method, url, body, token).await?;
    // `204 No Content` answers nothing: read as an empty object.
    read_answer(if text.is_empty() { "{}" } else { &text })
}

/// The body of a successful answer, as text; an error's `error` field otherwise.
async fn fetch_text(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<String, String> {
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
        .map_err(|_| OFFLINE.to_owned())?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        let message = Json::parse(&text)
            .and_then(|body| body.get("error").opt_str())
            .unwrap_or_else(|| format!("HTTP {}", response.status()));
        return Err(message);
    }
    Ok(text)
}
