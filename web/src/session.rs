//! The one place that owns the board's Y.Doc in the browser: it speaks the y-websocket
//! protocol to the relay, reconnects with backoff, keeps awareness, and turns document and
//! awareness changes into signals. Components read those signals and call [`Session::edit`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use crate::json::{Builder, Json};
use leptos::prelude::*;
use shared::canvas::{Link, Voting};
use shared::protocol::{self, AwarenessEntry, Message};
use shared::proxy::Represented;
use shared::wire::{self, close, field};
use shared::{BoardKind, Node, Note, Participant, Project, Roots, Section};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};
use yrs::undo::{Options as UndoOptions, UndoManager};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Origin, ReadTxn, StateVector, Transact, TransactionMut, Update};

use crate::local::Profile;

/// Origin of transactions applying what the relay sent; they are not sent back.
const ORIGIN_REMOTE: &str = "remote";
/// Origin of this participant's edits; the undo manager tracks only these.
const ORIGIN_LOCAL: &str = "local";
const RECONNECT_DELAY_MIN_MS: u32 = 500;
const RECONNECT_DELAY_MAX_MS: u32 = 10_000;
/// Awareness is renewed this often so the relay keeps it (it expires states after 30 s).
const AWARENESS_RENEW_MS: u32 = 15_000;
/// Peers not heard of for this long are dropped from the presence list.
const PEER_TIMEOUT_MS: f64 = 35_000.0;
/// Pointer positions are sent at most this often.
const POINTER_SEND_INTERVAL_MS: f64 = 80.0;
/// Failed attempts after which the reconnect delay is at its longest.
const RECONNECT_ATTEMPTS_SLOWEST: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting,
    Offline,
    /// The server's storage does not answer: nothing is saved or relayed until it is back
    /// (`close::STORAGE_PAUSED`); edits wait on this device and the page reconnects.
    Paused,
    Refused,
    UnknownBoard,
}

impl Status {
    /// The name the page exposes in `data-status` (tests and styles read it).
    pub fn name(self) -> &'static str {
        match self {
            Status::Connecting => "Connecting",
            Status::Connected => "Connected",
            Status::Reconnecting => "Reconnecting",
            Status::Offline => "Offline",
            Status::Paused => "Paused",
            Status::Refused => "Refused",
            Status::UnknownBoard => "UnknownBoard",
        }
    }
}

/// Somebody present on the board, from awareness.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub client_id: u64,
    pub name: String,
    pub org: String,
    pub color: String,
    pub selected: Option<String>,
    pub pointer: Option<(f64, f64)>,
    /// What they look at on a mind map: the map point at the centre of their screen, and
    /// their zoom.
    pub view: Option<View>,
    /// Set by a facilitator who brings everybody to their view; a new value is a new summons.
    pub summon: f64,
    pub is_self: bool,
}

/// Where somebody looks on a mind map: the map point at the centre of their screen, and their
/// zoom (so screens of other sizes centre on the same place).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub center_x: f64,
    pub center_y: f64,
    pub scale: f64,
}

/// What components read; all are cheap `Copy` handles.
#[derive(Clone, Copy)]
pub struct Signals {
    pub status: RwSignal<Status>,
    /// The first sync with the relay is in: the page shows the board as the server has it.
    pub synced: RwSignal<bool>,
    pub nodes: RwSignal<Vec<Node>>,
    pub sections: RwSignal<Vec<Section>>,
    pub notes: RwSignal<Vec<Note>>,
    pub links: RwSignal<Vec<Link>>,
    pub voting: RwSignal<Voting>,
    pub projects: RwSignal<Vec<Project>>,
    pub participants: RwSignal<BTreeMap<String, Participant>>,
    /// The document's `meta.title` (the facilitator may rename the board).
    pub title: RwSignal<String>,
    /// The meeting's timer, `meta.timer` (written by the server).
    pub timer: RwSignal<Option<shared::timer::Timer>>,
    /// Each element's reactions, as this participant sees them (`mine`: their own).
    pub reactions: RwSignal<BTreeMap<String, shared::reactions::Tally>>,
    pub peers: RwSignal<Vec<Peer>>,
    /// The peer (awareness client id) whose view this page follows, if any.
    pub following: RwSignal<Option<u64>>,
    /// The person this page is entering ideas for (proxy entry), if any: every node, note or
    /// project it adds is marked as theirs in the transaction that creates it.
    pub entering_for: RwSignal<Option<Represented>>,
    /// The board shows pseudonyms (`meta.pseudonyms`).
    pub pseudonyms: RwSignal<bool>,
    /// The private writing round open on the board (`meta.privateRound`), if any.
    pub private_round: RwSignal<Option<shared::private_round::PrivateRound>>,
}

struct LocalPresence {
    clock: u64,
    selected: Option<String>,
    pointer: Option<(f64, f64)>,
    pointer_sent_ms: f64,
    view: Option<View>,
    /// A send of the view is scheduled (the last view of a pan or zoom is never dropped).
    view_pending: bool,
    summon: f64,
}

pub struct Session {
    kind: BoardKind,
    board_id: String,
    token: String,
    profile: Profile,
    pub can_edit: bool,
    doc: Doc,
    roots: Roots,
    undo: RefCell<UndoManager<()>>,
    socket: RefCell<Option<WebSocket>>,
    /// The socket's callbacks; replaced (and so freed) with each new socket.
    handlers: RefCell<Vec<Box<dyn std::any::Any>>>,
    presence: RefCell<LocalPresence>,
    remote_peers: RefCell<HashMap<u64, (u64, Peer, f64)>>,
    /// This page's pseudonym and its organisation, on a board showing pseudonyms.
    pseudonym: RefCell<Option<(String, String)>>,
    attempts: Cell<u32>,
    offline_by_choice: Cell<bool>,
    /// Updates written to this device's copy since it was last compacted.
    kept_updates: Cell<u32>,
    /// The device's copy is being read into the document (not written back meanwhile).
    restoring: Cell<bool>,
    /// The secret of this participant's private space, when this session is that space
    /// (`/ws/{board}/private`) rather than the board.
    secret: Option<String>,
    /// The private space that takes the nodes, notes and projects this page adds while a
    /// private writing round is open.
    divert: RefCell<Option<Rc<Session>>>,
    pub signals: Signals,
}

impl Session {
    pub fn start(
        kind: BoardKind,
        board_id: String,
        token: String,
        profile: Profile,
        can_edit: bool,
    ) -> Rc<Self> {
        Self::start_with(kind, board_id, token, profile, can_edit, None)
    }

    /// This participant's private space during a private writing round: a document of its
    /// own, reached with the browser's secret, never kept on the device.
    pub fn start_private(
        kind: BoardKind,
        board_id: String,
        token: String,
        profile: Profile,
        secret: String,
    ) -> Rc<Self> {
        Self::start_with(kind, board_id, token, profile, true, Some(secret))
    }

    fn start_with(
        kind: BoardKind,
        board_id: String,
        token: String,
        profile: Profile,
        can_edit: bool,
        secret: Option<String>,
    ) -> Rc<Self> {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let mut undo = UndoManager::with_options(UndoOptions {
            capture_timeout_millis: 500,
            tracked_origins: HashSet::from([Origin::from(ORIGIN_LOCAL)]),
            capture_transaction: None,
            timestamp: Arc::new(|| js_sys::Date::now() as u64),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        // Undo covers the content of this kind of board, not the participants list.
        match kind {
            BoardKind::MindMap => undo.expand_scope(&doc, &roots.nodes),
            BoardKind::Diagnosis => {
                for root in [&roots.sections, &roots.notes, &roots.links, &roots.voting] {
                    undo.expand_scope(&doc, root);
                }
            }
            BoardKind::Portfolio => undo.expand_scope(&doc, &roots.projects),
        }
        let signals = Signals {
            status: RwSignal::new(Status::Connecting),
            synced: RwSignal::new(false),
            nodes: RwSignal::new(Vec::new()),
            sections: RwSignal::new(Vec::new()),
            notes: RwSignal::new(Vec::new()),
            links: RwSignal::new(Vec::new()),
            voting: RwSignal::new(Voting {
                open: false,
                per_participant: 0,
                hidden: false,
            }),
            projects: RwSignal::new(Vec::new()),
            participants: RwSignal::new(BTreeMap::new()),
            title: RwSignal::new(String::new()),
            timer: RwSignal::new(None),
            reactions: RwSignal::new(BTreeMap::new()),
            peers: RwSignal::new(Vec::new()),
            following: RwSignal::new(None),
            entering_for: RwSignal::new(None),
            pseudonyms: RwSignal::new(false),
            private_round: RwSignal::new(None),
        };
        let session = Rc::new(Session {
            kind,
            board_id,
            token,
            profile,
            can_edit,
            doc,
            roots,
            undo: RefCell::new(undo),
            socket: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            presence: RefCell::new(LocalPresence {
                clock: 0,
                selected: None,
                pointer: None,
                pointer_sent_ms: 0.0,
                view: None,
                view_pending: false,
                summon: 0.0,
            }),
            remote_peers: RefCell::new(HashMap::new()),
            pseudonym: RefCell::new(None),
            attempts: Cell::new(0),
            offline_by_choice: Cell::new(false),
            kept_updates: Cell::new(0),
            restoring: Cell::new(false),
            secret,
            divert: RefCell::new(None),
            signals,
        });
        session.observe_local_updates();
        if session.secret.is_some() {
            session.connect();
        } else {
            session.keep_on_device();
            // The copy kept on this device first (edits made offline, a board opened without
            // a network), then the relay: the sync exchange sends the server what it lacks.
            let restoring = session.clone();
            leptos::task::spawn_local(async move {
                restoring.restore_from_device().await;
                restoring.connect();
            });
        }
        session.start_renewals();
        session.refresh_peers();
        session
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    pub fn pid(&self) -> &str {
        &self.profile.pid
    }

    pub fn board_id(&self) -> &str {
        &self.board_id
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Who this page is, as a request's `by` names the person making it (the record credits
    /// them, as it credits this page's connection).
    pub fn by(&self) -> Builder {
        Builder::new()
            .set("pid", self.profile.pid.as_str())
            .set("name", self.profile.name.as_str())
            .set("org", self.profile.org.as_str())
            .set("orgKind", self.profile.org_kind.as_str())
    }

    /// Makes a local edit; the update goes to the relay (or waits for the connection).
    pub fn edit(&self, f: impl FnOnce(&Roots, &mut TransactionMut)) {
        if !self.can_edit {
            return;
        }
        {
            let mut txn = self.doc.transact_mut_with(ORIGIN_LOCAL);
            f(&self.roots, &mut txn);
        }
        self.refresh_doc();
    }

    /// Adds the node, note or project `id` that `f` creates, marked as entered for the person
    /// this page is entering for, if any: in the same transaction, the only one the record
    /// honours.
    /// While a private writing round is open, it goes to this participant's private space.
    pub fn create(&self, id: &str, f: impl FnOnce(&Roots, &mut TransactionMut)) {
        let person = self.signals.entering_for.get_untracked();
        let diverted = self.divert.borrow().clone();
        diverted.as_deref().unwrap_or(self).edit(|roots, txn| {
            f(roots, txn);
            if let Some(person) = &person {
                roots.mark_entered_for(txn, id, person);
            }
        });
    }

    /// Sends the elements this page adds to `space` (a private round's), or back to the board.
    pub fn set_divert(&self, space: Option<Rc<Session>>) {
        *self.divert.borrow_mut() = space;
    }

    pub fn undo(&self) {
        if self.can_edit && self.undo.borrow_mut().undo_blocking() {
            self.refresh_doc();
        }
    }

    pub fn redo(&self) {
        if self.can_edit && self.undo.borrow_mut().redo_blocking() {
            self.refresh_doc();
        }
    }

    /// Ends the current undo step, so the next edit is undone on its own.
    pub fn undo_checkpoint(&self) {
        self.undo.borrow_mut().reset();
    }

    pub fn set_selected(&self, selected: Option<String>) {
        let changed = {
            let mut presence = self.presence.borrow_mut();
            let changed = presence.selected != selected;
            presence.selected = selected;
            changed
        };
        if changed {
            self.send_presence();
        }
    }

    pub fn set_pointer(&self, pointer: Option<(f64, f64)>) {
        let now = js_sys::Date::now();
        {
            let mut presence = self.presence.borrow_mut();
            presence.pointer = pointer;
            if now - presence.pointer_sent_ms < POINTER_SEND_INTERVAL_MS {
                return;
            }
            presence.pointer_sent_ms = now;
        }
        self.send_presence();
    }

    /// Publishes where this page looks on a mind map, at most every
    /// `POINTER_SEND_INTERVAL_MS`, the last one always.
    pub fn set_view(self: &Rc<Self>, view: View) {
        let now = js_sys::Date::now();
        {
            let mut presence = self.presence.borrow_mut();
            if presence.view == Some(view) {
                return;
            }
            presence.view = Some(view);
            if presence.view_pending {
                return;
            }
            if now - presence.pointer_sent_ms < POINTER_SEND_INTERVAL_MS {
                presence.view_pending = true;
                let weak = Rc::downgrade(self);
                set_timeout(
                    move || {
                        if let Some(session) = weak.upgrade() {
                            session.presence.borrow_mut().view_pending = false;
                            session.presence.borrow_mut().pointer_sent_ms = js_sys::Date::now();
                            session.send_presence();
                        }
                    },
                    std::time::Duration::from_millis(POINTER_SEND_INTERVAL_MS as u64),
                );
                return;
            }
            presence.pointer_sent_ms = now;
        }
        self.send_presence();
    }

    /// Brings everybody to this page's view (the relay keeps this only from the facilitator).
    pub fn summon(&self) {
        self.presence.borrow_mut().summon = js_sys::Date::now();
        self.send_presence();
    }

    /// Cuts or restores the connection by choice (also used by the browser tests).
    pub fn set_offline(self: &Rc<Self>, offline: bool) {
        self.offline_by_choice.set(offline);
        if offline {
            if let Some(socket) = self.socket.borrow_mut().take() {
                // Detach the callbacks before they are freed: the close event comes later.
                socket.set_onopen(None);
                socket.set_onmessage(None);
                socket.set_onclose(None);
                let _ = socket.close();
            }
            self.handlers.borrow_mut().clear();
            self.remote_peers.borrow_mut().clear();
            self.refresh_peers();
            self.signals.status.set(Status::Offline);
        } else if self.socket.borrow().is_none() {
            self.connect();
        }
    }

    fn url(&self) -> String {
        let location = web_sys::window().unwrap().location();
        let scheme = if location.protocol().unwrap_or_default() == "https:" {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        let p = &self.profile;
        let encode = |s: &str| String::from(js_sys::encode_uri_component(s));
        let mut url = format!(
            "{scheme}://{host}{}{}?{}={}&{}={}&{}={}&{}={}",
            wire::WS_PATH_PREFIX,
            encode(&self.board_id),
            field::TOKEN,
            encode(&self.token),
            field::PID,
            encode(&p.pid),
            field::NAME,
            encode(&p.name),
            field::COLOR,
            encode(&p.color)
        );
        if !p.org.is_empty() {
            url.push_str(&format!("&{}={}", field::ORG, encode(&p.org)));
        }
        if !p.org_kind.is_empty() {
            url.push_str(&format!("&{}={}", field::ORG_KIND, encode(&p.org_kind)));
        }
        if let Some(secret) = &self.secret {
            url = url.replacen(
                "?",
                &format!(
                    "{}?{}={}&",
                    wire::PRIVATE_PATH_SUFFIX,
                    field::SECRET,
                    encode(secret)
                ),
                1,
            );
        }
        url
    }

    fn connect(self: &Rc<Self>) {
        let Ok(socket) = WebSocket::new(&self.url()) else {
            return self.schedule_reconnect();
        };
        socket.set_binary_type(BinaryType::Arraybuffer);
        let weak = Rc::downgrade(self);
        let on_open = Closure::<dyn FnMut()>::new({
            let weak = weak.clone();
            move || {
                if let Some(session) = weak.upgrade() {
                    session.on_open();
                }
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |event: MessageEvent| {
                let Some(session) = weak.upgrade() else {
                    return;
                };
                if let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() {
                    session.on_frame(&js_sys::Uint8Array::new(&buffer).to_vec());
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(session) = weak.upgrade() {
                session.on_close(event.code());
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.handlers.borrow_mut() =
            vec![Box::new(on_open), Box::new(on_message), Box::new(on_close)];
        *self.socket.borrow_mut() = Some(socket);
    }

    fn on_open(&self) {
        self.signals.status.set(Status::Connected);
        let state_vector = self.doc.transact().state_vector().encode_v1();
        self.send(&protocol::encode(&Message::SyncStep1(&state_vector)));
        self.send_presence();
    }

    fn on_close(self: &Rc<Self>, code: u16) {
        self.socket.borrow_mut().take();
        self.remote_peers.borrow_mut().clear();
        self.refresh_peers();
        match code {
            close::UNAUTHORIZED => self.signals.status.set(Status::Refused),
            close::UNKNOWN_BOARD => self.signals.status.set(Status::UnknownBoard),
            _ if self.offline_by_choice.get() => self.signals.status.set(Status::Offline),
            close::STORAGE_PAUSED => {
                self.schedule_reconnect();
                self.signals.status.set(Status::Paused);
            }
            // A private space refused or closed (the round is over): nothing to retry.
            code if close::is_final(code) => self.signals.status.set(Status::Refused),
            code if close::is_refusal(code) => {
                // The server refused what this client sends: retrying at once would repeat it.
                self.attempts
                    .set(self.attempts.get().max(RECONNECT_ATTEMPTS_SLOWEST));
                self.schedule_reconnect();
            }
            _ => self.schedule_reconnect(),
        }
    }

    fn schedule_reconnect(self: &Rc<Self>) {
        let attempt = self.attempts.get();
        self.attempts.set(attempt + 1);
        self.signals.status.set(if attempt == 0 {
            Status::Reconnecting
        } else {
            Status::Offline
        });
        // Exponential backoff with jitter, so a restarted server is not hit by every client at once.
        let base = RECONNECT_DELAY_MIN_MS
            .saturating_mul(1 << attempt.min(5))
            .min(RECONNECT_DELAY_MAX_MS);
        let delay = f64::from(base) * (0.75 + js_sys::Math::random() / 2.0);
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(session) = weak.upgrade()
                    && !session.offline_by_choice.get()
                    && session.socket.borrow().is_none()
                {
                    session.connect();
                }
            },
            std::time::Duration::from_millis(delay as u64),
        );
    }

    fn send(&self, frame: &[u8]) {
        if let Some(socket) = self.socket.borrow().as_ref()
            && socket.ready_state() == WebSocket::OPEN
        {
            let _ = socket.send_with_u8_array(frame);
        }
    }

    fn on_frame(&self, frame: &[u8]) {
        let Ok(messages) = protocol::decode_frame(frame, usize::MAX) else {
            return;
        };
        let mut doc_changed = false;
        for message in messages {
            match message {
                Message::SyncStep1(state_vector) => {
                    if let Ok(sv) = StateVector::decode_v1(state_vector) {
                        let diff = self.doc.transact().encode_diff_v1(&sv);
                        self.send(&protocol::encode(&Message::SyncStep2(&diff)));
                    }
                }
                Message::SyncStep2(update) | Message::Update(update) => {
                    if matches!(message, Message::SyncStep2(_)) {
                        // Synced: only now does the connection count as good for the backoff.
                        self.attempts.set(0);
                        if !self.signals.synced.get_untracked() {
                            self.signals.synced.set(true);
                        }
                    }
                    if let Ok(update) = Update::decode_v1(update) {
                        let mut txn = self.doc.transact_mut_with(ORIGIN_REMOTE);
                        doc_changed |= txn.apply_update(update).is_ok();
                    }
                }
                Message::Awareness(payload) => {
                    if let Ok(entries) = protocol::decode_awareness(payload, usize::MAX) {
                        self.apply_awareness(entries);
                    }
                }
                Message::QueryAwareness => self.send_presence(),
                Message::Auth(_) => {}
            }
        }
        if doc_changed {
            self.refresh_doc();
        }
    }

    /// The name of this board's copy on the device (an IndexedDB database).
    fn device_copy(&self) -> String {
        format!("nouage-{}", self.board_id)
    }

    /// Reads the board's copy kept on this device into the document.
    async fn restore_from_device(&self) {
        let Ok(promise) = local_doc_load(&self.device_copy()) else {
            return;
        };
        let Ok(updates) = wasm_bindgen_futures::JsFuture::from(promise).await else {
            return;
        };
        let updates = js_sys::Array::from(&updates);
        if updates.length() == 0 {
            return;
        }
        self.restoring.set(true);
        {
            let mut txn = self.doc.transact_mut_with(ORIGIN_REMOTE);
            for update in updates.iter() {
                let bytes = js_sys::Uint8Array::new(&update).to_vec();
                if let Ok(update) = Update::decode_v1(&bytes) {
                    let _ = txn.apply_update(update);
                }
            }
        }
        self.restoring.set(false);
        self.kept_updates.set(updates.length());
        self.refresh_doc();
    }

    /// Keeps every change of the document (local or relayed) in the device's copy; past
    /// `DEVICE_UPDATES_MAX` updates, the copy is replaced by the whole document.
    fn keep_on_device(self: &Rc<Self>) {
        let weak: Weak<Session> = Rc::downgrade(self);
        let _ = self.doc.observe_update_v1("device", move |txn, event| {
            let Some(session) = weak.upgrade() else {
                return;
            };
            if session.restoring.get() {
                return;
            }
            let name = session.device_copy();
            let kept = session.kept_updates.get() + 1;
            // The writes never fail (a browser without IndexedDB works online only).
            if kept > DEVICE_UPDATES_MAX {
                session.kept_updates.set(1);
                let whole = txn.encode_state_as_update_v1(&StateVector::default());
                let _ = local_doc_replace(&name, &js_sys::Uint8Array::from(whole.as_slice()));
            } else {
                session.kept_updates.set(kept);
                let _ = local_doc_append(&name, &js_sys::Uint8Array::from(event.update.as_slice()));
            }
        });
    }

    fn observe_local_updates(self: &Rc<Self>) {
        let weak: Weak<Session> = Rc::downgrade(self);
        let remote = Origin::from(ORIGIN_REMOTE);
        let _ = self.doc.observe_update_v1("relay", move |txn, event| {
            if txn.origin() == Some(&remote) {
                return;
            }
            if let Some(session) = weak.upgrade() {
                session.send(&protocol::encode(&Message::Update(&event.update)));
            }
        });
    }

    /// Reads the document into the signals of this kind of board; a signal is set only when
    /// its value changed, so components re-render only what changed.
    fn refresh_doc(&self) {
        let txn = self.doc.transact();
        let s = &self.signals;
        match self.kind {
            BoardKind::MindMap => set_if_changed(s.nodes, self.roots.nodes(&txn)),
            BoardKind::Diagnosis => {
                set_if_changed(s.sections, self.roots.sections(&txn));
                set_if_changed(s.notes, self.roots.notes(&txn));
                set_if_changed(s.links, self.roots.links(&txn));
                set_if_changed(s.voting, self.roots.voting(&txn));
            }
            BoardKind::Portfolio => set_if_changed(s.projects, self.roots.projects(&txn)),
        }
        set_if_changed(s.title, self.roots.meta(&txn).title);
        set_if_changed(s.timer, shared::timer::Timer::read(&self.roots, &txn));
        set_if_changed(
            s.private_round,
            shared::private_round::PrivateRound::read(&self.roots, &txn),
        );
        set_if_changed(
            s.reactions,
            shared::reactions::tallies(&self.roots.reactions, &txn, &self.profile.pid),
        );
        let participants = self.roots.participants(&txn);
        // On a board showing pseudonyms, presence says the pseudonym the server wrote.
        let pseudonyms = shared::pseudonym::is_on(&self.roots, &txn);
        set_if_changed(self.signals.pseudonyms, pseudonyms);
        let shown = if pseudonyms {
            participants
                .get(&self.profile.pid)
                .map(|p| (p.name.clone(), p.org.clone()))
        } else {
            None
        };
        drop(txn);
        if self
            .signals
            .participants
            .with_untracked(|p| *p != participants)
        {
            self.signals.participants.set(participants);
        }
        if *self.pseudonym.borrow() != shown {
            *self.pseudonym.borrow_mut() = shown;
            self.send_presence();
            self.refresh_peers();
        }
    }

    /// The name and organisation this page shows others: its pseudonym on a board showing
    /// them, else the profile's.
    fn shown_identity(&self) -> (String, String) {
        self.pseudonym
            .borrow()
            .clone()
            .unwrap_or_else(|| (self.profile.name.clone(), self.profile.org.clone()))
    }

    fn apply_awareness(&self, entries: Vec<AwarenessEntry>) {
        let now = js_sys::Date::now();
        let own = self.client_id();
        let mut reannounce_above = None;
        let mut summoned_by = None;
        {
            let mut peers = self.remote_peers.borrow_mut();
            for entry in entries {
                if entry.client_id == own {
                    // Somebody (the relay's expiry) announced this client gone: announce it
                    // again, with a clock above theirs, as y-protocols does.
                    if entry.is_removal() {
                        reannounce_above = Some(entry.clock);
                    }
                    continue;
                }
                let newer = peers
                    .get(&entry.client_id)
                    .is_none_or(|(clock, _, _)| entry.clock >= *clock);
                if !newer {
                    continue;
                }
                if entry.is_removal() {
                    peers.remove(&entry.client_id);
                    continue;
                }
                // Any client may send any state: what is missing or mistyped reads as empty.
                let state = Json::parse(&entry.state);
                let field = |key: &str| state.as_ref().map(|s| s.get(key));
                let user = field("user");
                let user_field =
                    |key: &str| user.as_ref().map(|u| u.get(key).str()).unwrap_or_default();
                let pointer =
                    field("pointer")
                        .map(|p| p.items())
                        .and_then(|xy| match xy.as_slice() {
                            [x, y] => Some((x.num()?, y.num()?)),
                            _ => None,
                        });
                let view = field("view")
                    .map(|v| v.items())
                    .and_then(|v| match v.as_slice() {
                        [x, y, scale] => Some(View {
                            center_x: x.num()?,
                            center_y: y.num()?,
                            scale: scale.num().filter(|s| *s > 0.0)?,
                        }),
                        _ => None,
                    });
                let summon = field("summon").and_then(|s| s.num()).unwrap_or(0.0);
                // A summons this page saw change (not one already there when it arrived):
                // follow whoever sent it. The relay passes `summon` only from the facilitator.
                if let Some((_, known, _)) = peers.get(&entry.client_id)
                    && summon > known.summon
                {
                    summoned_by = Some(entry.client_id);
                }
                let peer = Peer {
                    client_id: entry.client_id,
                    name: user_field("name"),
                    org: user_field("org"),
                    color: safe_color(&user_field("color")).to_owned(),
                    selected: field("selected").and_then(|s| s.opt_str()),
                    pointer,
                    view,
                    summon,
                    is_self: false,
                };
                peers.insert(entry.client_id, (entry.clock, peer, now));
            }
        }
        if summoned_by.is_some() {
            self.signals.following.set(summoned_by);
        }
        if let Some(clock) = reannounce_above {
            let mut presence = self.presence.borrow_mut();
            presence.clock = presence.clock.max(clock);
            drop(presence);
            self.send_presence();
        }
        self.refresh_peers();
    }

    fn refresh_peers(&self) {
        let presence = self.presence.borrow();
        let (name, org) = self.shown_identity();
        let mut peers = vec![Peer {
            client_id: self.client_id(),
            name,
            org,
            color: self.profile.color.clone(),
            selected: presence.selected.clone(),
            pointer: None,
            view: presence.view,
            summon: presence.summon,
            is_self: true,
        }];
        let mut others: Vec<Peer> = self
            .remote_peers
            .borrow()
            .values()
            .map(|(_, p, _)| p.clone())
            .collect();
        others.sort_by(|a, b| crate::collate(&a.name, &b.name).then(a.client_id.cmp(&b.client_id)));
        peers.extend(others);
        if self.signals.peers.with_untracked(|p| *p != peers) {
            self.signals.peers.set(peers);
        }
    }

    fn send_presence(&self) {
        let state = {
            let mut presence = self.presence.borrow_mut();
            presence.clock += 1;
            let p = &self.profile;
            let (name, org) = self.shown_identity();
            let user = Builder::new()
                .set("name", name.as_str())
                .set("color", p.color.as_str())
                .set("org", org.as_str())
                .set("orgKind", p.org_kind.as_str())
                .set("pid", p.pid.as_str());
            let pointer = presence.pointer.map_or(JsValue::NULL, |(x, y)| {
                crate::json::array([JsValue::from_f64(x), JsValue::from_f64(y)])
            });
            Builder::new()
                .object("user", user)
                .set(
                    "selected",
                    presence
                        .selected
                        .as_deref()
                        .map_or(JsValue::NULL, JsValue::from_str),
                )
                .set("pointer", pointer)
                .set(
                    "view",
                    presence.view.map_or(JsValue::NULL, |v| {
                        crate::json::array([
                            JsValue::from_f64(v.center_x),
                            JsValue::from_f64(v.center_y),
                            JsValue::from_f64(v.scale),
                        ])
                    }),
                )
                .set_if(presence.summon > 0.0, "summon", presence.summon)
                .text()
        };
        let entry = AwarenessEntry {
            client_id: self.client_id(),
            clock: self.presence.borrow().clock,
            state,
        };
        let payload = protocol::encode_awareness([&entry]);
        self.send(&protocol::encode(&Message::Awareness(&payload)));
        self.refresh_peers();
    }

    /// Renews this participant's awareness and forgets peers that went silent.
    fn start_renewals(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let _ = set_interval_with_handle(
            move || {
                let Some(session) = weak.upgrade() else {
                    return;
                };
                session.send_presence();
                let now = js_sys::Date::now();
                session
                    .remote_peers
                    .borrow_mut()
                    .retain(|_, (_, _, seen)| now - *seen < PEER_TIMEOUT_MS);
                session.refresh_peers();
            },
            std::time::Duration::from_millis(u64::from(AWARENESS_RENEW_MS)),
        );
    }
}

fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

/// A new element id that sorts by creation time (notes and projects list in creation order).
pub fn new_id() -> String {
    let millis = js_sys::Date::now() as u64;
    let random = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{millis:011x}{random:08x}")
}

/// How an author is shown: their name, and their organisation when they gave one.
pub fn who(participants: &BTreeMap<String, Participant>, pid: &str) -> String {
    participants
        .get(pid)
        .map(|p| person(&p.name, &p.org))
        .unwrap_or_default()
}

/// "Anne (Commune de Lodève)", or the name alone; a name taken back reads "un·e participant·e".
pub fn person(name: &str, org: &str) -> String {
    let name = crate::i18n::shown_name(name);
    if org.is_empty() {
        name
    } else {
        format!("{name} ({org})")
    }
}

/// Whom an element is credited to: its author, or the person it was entered for and who typed
/// it ("Marie (Saint-Camille), saisi par Anne").
pub fn credit(
    participants: &BTreeMap<String, Participant>,
    author: &str,
    on_behalf_of: Option<&Represented>,
    entered_by: &str,
) -> String {
    match on_behalf_of {
        None => who(participants, author),
        Some(person) => {
            let name = self::person(&person.name, &person.org);
            match participants.get(author) {
                Some(typist) => format!(
                    "{name}, {entered_by} {}",
                    crate::i18n::shown_name(&typist.name)
                ),
                None => name,
            }
        }
    }
}

/// A `Copy` handle on the session for closures that Leptos requires to be `Send` (reactive
/// children, `<For>` and `<Show>`): the session itself stays on the browser's one thread.
pub type SessionRef = StoredValue<Rc<Session>, LocalStorage>;

pub fn session_ref(session: Rc<Session>) -> SessionRef {
    StoredValue::new_local(session)
}

/// A colour from the document or from awareness, safe to put in a style attribute.
pub fn safe_color(color: &str) -> &str {
    if shared::layout::is_css_color(color) {
        color
    } else {
        "#64748b"
    }
}

/// Updates kept on the device before the copy is replaced by the whole document.
const DEVICE_UPDATES_MAX: u32 = 500;

#[wasm_bindgen]
extern "C" {
    /// `static/main.js`: the board's copy on this device (IndexedDB, y-indexeddb's layout).
    #[wasm_bindgen(js_namespace = nouageLocalDoc, js_name = load, catch)]
    fn local_doc_load(name: &str) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_namespace = nouageLocalDoc, js_name = append, catch)]
    fn local_doc_append(
        name: &str,
        update: &js_sys::Uint8Array,
    ) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_namespace = nouageLocalDoc, js_name = replace, catch)]
    fn local_doc_replace(
        name: &str,
        update: &js_sys::Uint8Array,
    ) -> Result<js_sys::Promise, JsValue>;
}
