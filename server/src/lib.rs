//! The Nouage server: REST API, the y-websocket relay, storage and the embedded web app.
//!
//! Only this crate knows axum and SQL. `app::start` runs a whole server in-process, which is
//! how both the `nouage` binary and the tests start one.

pub mod api;
pub mod app;
pub mod cluster;
pub mod config;
pub mod erase;
pub mod export;
pub mod fanout;
pub mod import;
pub mod join;
pub mod journal;
pub mod limit;
pub mod meeting;
pub mod path;
pub mod pressure;
pub mod private;
pub mod pseudo;
pub mod restore;
pub mod room;
pub mod rooms;
pub mod store;
pub mod tokens;
pub mod trace;
pub mod web_assets;
pub mod ws;
pub mod wsframe;

pub use app::{RunningServer, start, start_with_store};
pub use config::{Config, Limits};
