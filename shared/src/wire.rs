//! The websocket contract between the relay and its clients, in one place: the address of a
//! board's socket, the query fields the server reads there, and the close codes it answers
//! with. The server (`ws.rs`, the room) and the web app (`session.rs`) both name these, so a
//! change is made once. `docs/api.md` documents them for other clients.

/// The path of a board's websocket, before the board's id: `/ws/{board}`.
pub const WS_PATH_PREFIX: &str = "/ws/";

/// The path after a board's id that leads to this participant's private space during a private
/// writing round: `/ws/{board}/private` (see `private_round`).
pub const PRIVATE_PATH_SUFFIX: &str = "/private";

/// The query fields of the websocket address.
pub mod field {
    /// The board link's token (required): decides the role (viewer, editor, facilitator).
    pub const TOKEN: &str = "token";
    /// The participant's id, chosen by the client; the key of `participants`.
    pub const PID: &str = "pid";
    /// The participant's display name.
    pub const NAME: &str = "name";
    /// The participant's organisation.
    pub const ORG: &str = "org";
    /// The kind of the organisation (`commune`, `epci`, `association`, ...).
    pub const ORG_KIND: &str = "orgKind";
    /// The participant's colour, `#rrggbb`.
    pub const COLOR: &str = "color";
    /// A private space's secret (`/ws/{board}/private` only): random, kept by the browser
    /// beside its pid and never published; the server keeps only its SHA-256.
    pub const SECRET: &str = "secret";
}

/// Close codes. Those of RFC 6455 below 4000, the application's own from 4000.
pub mod close {
    /// A normal closure: the client said goodbye.
    pub const NORMAL: u16 = 1000;
    /// The client or the server is going away (shutdown, silence, the board reloads).
    pub const GOING_AWAY: u16 = 1001;
    /// The websocket framing broke the protocol (RFC 6455).
    pub const PROTOCOL: u16 = 1002;
    /// A message the y-websocket protocol cannot read: malformed frame, update, awareness.
    pub const MALFORMED: u16 = 1003;
    /// A handshake field over its limit or of the wrong form.
    pub const POLICY: u16 = 1008;
    /// One message over `max_message_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (the board could not be loaded or written).
    pub const INTERNAL: u16 = 1011;
    /// The board is unloading; joining again works.
    pub const TRY_AGAIN: u16 = 1013;
    /// The storage does not answer (the database server is down or unreachable): nothing is
    /// relayed that is not stored, so editing is paused; reconnecting with backoff resumes it
    /// once the storage is back. The web app says "enregistrement en pause".
    pub const STORAGE_PAUSED: u16 = 4503;
    /// Missing, wrong, rotated or revoked token.
    pub const UNAUTHORIZED: u16 = 4401;
    /// No such board, or it was deleted.
    pub const UNKNOWN_BOARD: u16 = 4404;
    /// This link may not open a private space (a viewer's), or the participant's space was
    /// opened with another secret.
    pub const FORBIDDEN: u16 = 4403;
    /// No private writing round is open (any more): it was revealed or cancelled.
    pub const ROUND_OVER: u16 = 4410;
    /// A limit was reached: board size, connections, send queue, rate, awareness.
    pub const LIMIT: u16 = 4429;

    /// Whether reconnecting after this code cannot help: the link is not valid (any more).
    pub fn is_final(code: u16) -> bool {
        matches!(code, UNAUTHORIZED | UNKNOWN_BOARD | FORBIDDEN | ROUND_OVER)
    }

    /// Whether the server refused what the client sent: reconnecting at once would repeat it,
    /// so a client waits its longest delay first.
    pub fn is_refusal(code: u16) -> bool {
        matches!(code, MALFORMED | POLICY | TOO_BIG | LIMIT)
    }
}
