//! Nouage's shared core: the kinds of board, the document shape of each board over `yrs`, and
//! the y-websocket wire codec.
//!
//! This crate does no I/O (no tokio, no SQL, no web-sys) so that the server and the web app,
//! compiled to WebAssembly, agree on one definition of the document shape and of the protocol.

pub mod board;
pub mod canvas;
pub mod doc;
pub mod layout;
pub mod path;
pub mod portfolio;
pub mod private_round;
pub mod protocol;
pub mod proxy;
pub mod pseudonym;
pub mod reactions;
pub mod template;
pub mod text;
pub mod timer;
pub mod trace;
pub mod wire;

pub use board::{BoardKind, Lang, OrgKind, UnknownValue};
pub use doc::{Node, Note, Participant, Roots, Section, Tree};
pub use portfolio::Project;
