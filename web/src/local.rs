//! What this browser remembers: the participant's profile and the boards opened recently.

use serde::{Deserialize, Serialize};

const PROFILE_KEY: &str = "nouage.profile";
const RECENT_KEY: &str = "nouage.recent";
const UI_LANG_KEY: &str = "nouage.lang";
/// Boards kept in the recent list.
const RECENT_BOARDS_MAX: usize = 20;

/// The participant as they introduced themselves; `pid` is stable for this browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub pid: String,
    pub name: String,
    pub org: String,
    #[serde(rename = "orgKind")]
    pub org_kind: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

fn read<T: for<'de> Deserialize<'de>>(key: &str) -> Option<T> {
    let text = storage()?.get_item(key).ok()??;
    serde_json::from_str(&text).ok()
}

fn write<T: Serialize>(key: &str, value: &T) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(value)) {
        let _ = storage.set_item(key, &text);
    }
}

pub fn profile() -> Option<Profile> {
    read(PROFILE_KEY).filter(|p: &Profile| !p.pid.is_empty() && !p.name.trim().is_empty())
}

pub fn save_profile(profile: &Profile) {
    write(PROFILE_KEY, profile);
}

/// The pid this browser uses, created on first use.
pub fn pid() -> String {
    read::<Profile>(PROFILE_KEY)
        .map(|p| p.pid)
        .filter(|pid| !pid.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub fn recent_boards() -> Vec<RecentBoard> {
    read(RECENT_KEY).unwrap_or_default()
}

pub fn remember_board(board: RecentBoard) {
    let mut boards = recent_boards();
    boards.retain(|b| b.id != board.id);
    boards.insert(0, board);
    boards.truncate(RECENT_BOARDS_MAX);
    write(RECENT_KEY, &boards);
}

pub fn ui_lang() -> Option<String> {
    storage()?.get_item(UI_LANG_KEY).ok()?
}

pub fn save_ui_lang(lang: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(UI_LANG_KEY, lang);
    }
}
