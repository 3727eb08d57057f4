//! What this browser remembers: the participant's profile and the boards opened recently.

use crate::json::{self, Builder, Json};

const PROFILE_KEY: &str = "nouage.profile";
const RECENT_KEY: &str = "nouage.recent";
const UI_LANG_KEY: &str = "nouage.lang";
/// Boards kept in the recent list.
const RECENT_BOARDS_MAX: usize = 20;

/// The participant as they introduced themselves; `pid` is stable for this browser.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub pid: String,
    pub name: String,
    pub org: String,
    pub org_kind: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecentBoard {
    pub id: String,
    pub title: String,
    pub kind: String,
    /// Path and fragment of the link the board was opened with (it carries the token).
    pub link: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn read(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

fn write(key: &str, text: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(key, text);
    }
}

fn read_profile() -> Option<Profile> {
    let j = Json::parse(&read(PROFILE_KEY)?)?;
    Some(Profile {
        pid: j.get("pid").str(),
        name: j.get("name").str(),
        org: j.get("org").str(),
        org_kind: j.get("orgKind").str(),
        color: j.get("color").str(),
    })
}

pub fn profile() -> Option<Profile> {
    read_profile().filter(|p| !p.pid.is_empty() && !p.name.trim().is_empty())
}

pub fn save_profile(profile: &Profile) {
    let text = Builder::new()
        .set("pid", profile.pid.as_str())
        .set("name", profile.name.as_str())
        .set("org", profile.org.as_str())
        .set("orgKind", profile.org_kind.as_str())
        .set("color", profile.color.as_str())
        .text();
    write(PROFILE_KEY, &text);
}

/// Where this browser keeps the secret of its private spaces (private writing rounds).
const PRIVATE_SECRET_KEY: &str = "nouage.privateSecret";

/// The secret that opens this browser's private spaces, made on first use from the browser's
/// random source (32 bytes in hex) and kept beside the profile; sent to nobody but the server.
pub fn private_secret() -> String {
    if let Some(secret) = read(PRIVATE_SECRET_KEY).filter(|s| s.len() >= 32) {
        return secret;
    }
    let mut bytes = [0u8; 32];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // No crypto in this browser: two random UUIDs' worth from the page's generator.
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write(PRIVATE_SECRET_KEY, &secret);
    secret
}

/// The pid this browser uses, created on first use.
pub fn pid() -> String {
    read_profile()
        .map(|p| p.pid)
        .filter(|pid| !pid.is_empty())
        .unwrap_or_else(|| {
            web_sys::window()
                .and_then(|w| w.crypto().ok())
                .map(|c| c.random_uuid())
                .unwrap_or_else(crate::session::new_id)
        })
}

pub fn recent_boards() -> Vec<RecentBoard> {
    let Some(j) = read(RECENT_KEY).and_then(|text| Json::parse(&text)) else {
        return Vec::new();
    };
    j.items()
        .iter()
        .map(|b| RecentBoard {
            id: b.get("id").str(),
            title: b.get("title").str(),
            kind: b.get("kind").str(),
            link: b.get("link").str(),
        })
        .filter(|b| !b.id.is_empty())
        .collect()
}

pub fn remember_board(board: RecentBoard) {
    let mut boards = recent_boards();
    boards.retain(|b| b.id != board.id);
    boards.insert(0, board);
    boards.truncate(RECENT_BOARDS_MAX);
    let items = boards.iter().map(|b| {
        Builder::new()
            .set("id", b.id.as_str())
            .set("title", b.title.as_str())
            .set("kind", b.kind.as_str())
            .set("link", b.link.as_str())
            .value()
    });
    let text = json::stringify(&json::array(items));
    write(RECENT_KEY, &text);
}

pub fn ui_lang() -> Option<String> {
    storage()?.get_item(UI_LANG_KEY).ok()?
}

pub fn save_ui_lang(lang: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(UI_LANG_KEY, lang);
    }
}

/// What the server said of a board last time (kind, title, language, this link's role), so a
/// board opened before opens again without a network.
pub fn save_board_info(info: &crate::api::BoardInfo) {
    let text = Builder::new()
        .set("id", info.id.as_str())
        .set("kind", info.kind.as_str())
        .set("title", info.title.as_str())
        .set("lang", info.lang.as_str())
        .set("role", info.role.as_str())
        .text();
    write(&format!("nouage.board.{}", info.id), &text);
}

pub fn board_info(id: &str) -> Option<crate::api::BoardInfo> {
    let j = Json::parse(&read(&format!("nouage.board.{id}"))?)?;
    Some(crate::api::BoardInfo {
        id: j.get("id").opt_str()?,
        kind: j.get("kind").str(),
        title: j.get("title").str(),
        lang: j.get("lang").str(),
        role: j.get("role").opt_str()?,
    })
}
