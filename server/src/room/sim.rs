//! Deterministic simulation of a room (in the manner of TigerBeetle's VOPR and FoundationDB's
//! simulator): one seed drives the `RoomCore` with simulated clients (real yrs documents) that
//! edit, join, leave, read slowly or stop reading, send malformed, poisoned or oversized
//! messages, lose their connection and come back; a simulated store whose commits take random
//! time, fail, or are lost in a crash (the process restarts from what was committed); and
//! virtual time for awareness expiry, sleeping and unloading.
//!
//! After every step it checks the invariants of ARCHITECTURE.md:
//! - nothing is relayed before it is committed (every update frame sent is a committed journal
//!   entry; every sync answer holds nothing the journal does not);
//! - every snapshot is the journal's state at its seq;
//! - nothing any client received is lost across a crash;
//! - awareness of a gone connection is gone, and no state outlives its timeout by more than a
//!   tick;
//! - queues stay within their bounds (connections per board, inputs held while loading, each
//!   connection's outbox);
//! - the journal never holds an update that skips changes of its client;
//!
//! and, after quiescence, that every client's document and the room's equal the stored one.
//!
//! `cargo xtask sim --seed S` replays one seed with its trace (`NOUAGE_SIM_SEED`); the test
//! `simulated_rooms_keep_their_invariants` runs `NOUAGE_SIM_SEEDS` seeds (1,000 by default) of
//! `NOUAGE_SIM_STEPS` steps (200 by default).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use shared::Participant;
use shared::protocol::{self, AwarenessEntry, Message};
use shared::wire::close;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Update};

use super::apply::load_doc_into;
use super::core::{Action, ConnId, Input, LOADING_DEFERRED_MAX, Now, RoomCore};
use super::full_state::FullState;
use super::outbox::Refused;
use crate::config::Limits;
use crate::store::{Actor, BoardId, Snapshot, StoredDoc};
use crate::tokens::Role;

const CLIENTS: usize = 5;
/// Frames and bytes one simulated connection's outbox holds before the client counts as slow.
const OUTBOX_FRAMES_MAX: usize = 48;
const OUTBOX_BYTES_MAX: usize = 48 * 1024;
const TICK_EVERY_MS: u64 = 1_000;
/// The longest a step moves the clock.
const STEP_MS_MAX: u64 = 400;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn limits() -> Limits {
    Limits {
        max_document_bytes: 24 * 1024,
        max_clients_per_board: CLIENTS,
        awareness_timeout_ms: 5_000,
        room_sleep_after_ms: 3_000,
        room_idle_unload_ms: 4_000,
        snapshot_every_updates: 16,
        max_awareness_clients_per_connection: 2,
        ..Limits::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Normal,
    Slow,
    Stopped,
}

struct Client {
    doc: Doc,
    role: Role,
    pid: String,
    /// The current connection, and whether the room let it in.
    conn: Option<(ConnId, bool)>,
    inbox: VecDeque<Bytes>,
    inbox_bytes: usize,
    reading: Reading,
    /// It made an edit the board refuses for its size: after the close it starts afresh (as a
    /// person reloading the page).
    oversized: bool,
    awareness_clock: u64,
}

impl Client {
    fn new(i: usize, rng: &mut Rng) -> Self {
        Client {
            doc: Doc::with_client_id(1 + rng.below(u32::MAX as u64)),
            role: if i == CLIENTS - 1 {
                Role::Viewer
            } else {
                Role::Editor
            },
            pid: format!("p{i}"),
            conn: None,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            reading: Reading::Normal,
            oversized: false,
            awareness_clock: 0,
        }
    }

    fn disconnected(&mut self, rng: &mut Rng) {
        self.conn = None;
        self.inbox.clear();
        self.inbox_bytes = 0;
        if self.oversized {
            self.doc = Doc::with_client_id(1 + rng.below(u32::MAX as u64));
            self.oversized = false;
        }
    }
}

/// A batch handed to the simulated store.
struct InFlight {
    room: u64,
    batch: u64,
    entries: Vec<Bytes>,
    due_ms: u64,
    fails: bool,
    /// Written (or failed) at `due_ms`; the answer reaches the room at `answer_ms`: a head
    /// check meanwhile reads the batch's entries back before the room knows their seqs.
    written: Option<Result<u64, String>>,
    answer_ms: u64,
}

/// The simulated store: the journal, the newest snapshot, and the batches being written.
struct Store {
    journal: Vec<Bytes>,
    /// The state every committed entry makes, kept up to date.
    committed: Doc,
    snapshot: Option<Snapshot>,
    in_flight: VecDeque<InFlight>,
    failed_rooms: BTreeSet<u64>,
    /// A load under way: when it answers, and whether it read already.
    load: Option<(u64, bool)>,
}

impl Store {
    fn commit(&mut self, entries: &[Bytes]) -> u64 {
        let first = self.journal.len() as u64 + 1;
        for entry in entries {
            let update = Update::decode_v1(entry).expect("committed entries decode");
            let held = self.committed.transact().state_vector();
            assert!(
                update
                    .state_vector_lower()
                    .iter()
                    .all(|(client, clock)| *clock <= held.get(client)),
                "the journal holds an update that skips changes of its client (entry {})",
                self.journal.len() + 1
            );
            let mut txn = self.committed.transact_mut();
            txn.apply_update(update).expect("committed entries apply");
            assert!(
                !txn.has_missing_updates(),
                "the journal holds an update without one it builds on (entry {})",
                self.journal.len() + 1
            );
            drop(txn);
            self.journal.push(entry.clone());
        }
        first
    }

    fn stored(&self) -> StoredDoc {
        let after = self.snapshot.as_ref().map_or(0, |s| s.upto_seq);
        StoredDoc {
            snapshot: self.snapshot.clone(),
            updates: self
                .journal
                .iter()
                .enumerate()
                .skip(after as usize)
                .map(|(i, u)| (i as u64 + 1, u.to_vec()))
                .collect(),
        }
    }

    /// The journal's state after entry `upto_seq`.
    fn state_at(&self, upto_seq: u64) -> Doc {
        let doc = Doc::with_client_id(1);
        for entry in &self.journal[..upto_seq as usize] {
            let update = Update::decode_v1(entry).unwrap();
            doc.transact_mut().apply_update(update).unwrap();
        }
        doc
    }
}

struct Sim {
    rng: Rng,
    now_ms: u64,
    next_tick_ms: u64,
    limits: Limits,
    board: BoardId,
    core: Option<RoomCore>,
    /// Which room (core instance) is current: the store fails a room's later batches after one
    /// failed, as the journal writer does.
    room: u64,
    store: Store,
    clients: Vec<Client>,
    next_conn: ConnId,
    /// Connections the current room knows of, to their client.
    conns: BTreeMap<ConnId, usize>,
    /// Server edits asked and not answered yet.
    edits_waiting: BTreeSet<u64>,
    next_edit: u64,
    /// Every update frame any client received, to check none is lost in a crash.
    received: Vec<Bytes>,
    trace: bool,
}

impl Sim {
    fn new(seed: u64, trace: bool) -> Self {
        let mut rng = Rng(seed);
        // Odd seeds share the board with other nodes: the room checks the store's head now
        // and then (and never sleeps).
        let limits = Limits {
            head_check_interval_ms: if seed % 2 == 1 { 500 } else { 0 },
            ..limits()
        };
        let clients = (0..CLIENTS).map(|i| Client::new(i, &mut rng)).collect();
        let store = Store {
            journal: Vec::new(),
            committed: Doc::with_client_id(1),
            snapshot: None,
            in_flight: VecDeque::new(),
            failed_rooms: BTreeSet::new(),
            load: None,
        };
        let mut sim = Sim {
            rng,
            now_ms: 0,
            next_tick_ms: TICK_EVERY_MS,
            limits,
            board: BoardId::parse("simulated").unwrap(),
            core: None,
            room: 0,
            store,
            clients,
            next_conn: 0,
            conns: BTreeMap::new(),
            edits_waiting: BTreeSet::new(),
            next_edit: 0,
            received: Vec::new(),
            trace,
        };
        // The board as created: its first entry.
        let first =
            shared::doc::initial_update(shared::BoardKind::MindMap, "Carte", shared::Lang::Fr);
        sim.store.commit(&[Bytes::from(first)]);
        sim
    }

    fn now(&self) -> Now {
        Now {
            mono_ms: self.now_ms,
            wall_ms: 1_790_000_000_000 + self.now_ms as i64,
        }
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{:>6} ms] {}", self.now_ms, what());
        }
    }

    /// Gives the current room an input (starting one if none is loaded), then performs what it
    /// answers.
    fn input(&mut self, input: Input) {
        if self.core.is_none() {
            self.room += 1;
            self.log(|| "room starts".into());
            self.core = Some(RoomCore::new(
                self.board.clone(),
                self.limits.clone(),
                self.now(),
            ));
            self.perform();
        }
        let now = self.now();
        let core = self.core.as_mut().unwrap();
        core.step(now, input);
        // The store gives each seq once: a room that finds one of its seqs taken has mistaken
        // its own entries, read back from the store, for another writer's.
        if let super::core::Phase::Draining {
            failure: Some(failure),
            ..
        } = &core.phase
        {
            assert!(
                !failure.contains("again"),
                "the room failed on its own seqs: {failure}"
            );
        }
        self.perform();
    }

    fn wants_input(&self) -> bool {
        self.core.as_ref().is_none_or(|core| core.wants_input())
    }

    fn perform(&mut self) {
        loop {
            let Some(core) = self.core.as_mut() else {
                return;
            };
            let Some(action) = core.next_action() else {
                return;
            };
            self.action(action);
        }
    }

    fn action(&mut self, action: Action) {
        match action {
            Action::Send { conn, frame } => self.deliver(conn, &frame),
            Action::Broadcast { except, frame } => {
                let joined: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(conn, client)| {
                        Some(**conn) != except
                            && self.clients[**client].conn == Some((**conn, true))
                    })
                    .map(|(conn, _)| *conn)
                    .collect();
                for conn in joined {
                    self.deliver(conn, &frame);
                }
            }
            Action::Joined { conn, result } => {
                let Some(&client) = self.conns.get(&conn) else {
                    return;
                };
                self.log(|| format!("client {client} joined as {conn}: {result:?}"));
                if result.is_ok() {
                    self.clients[client].conn = Some((conn, true));
                    self.greet(client);
                } else {
                    self.conns.remove(&conn);
                    self.clients[client].disconnected(&mut self.rng);
                }
            }
            Action::Edited { request, result } => {
                self.log(|| format!("server edit {request}: {result:?}"));
                assert!(
                    self.edits_waiting.remove(&request),
                    "edit {request} answered twice"
                );
            }
            Action::Close { conn, code, reason } => {
                if let Some(client) = self.conns.remove(&conn) {
                    self.log(|| format!("client {client} closed {code} ({reason})"));
                    if code == close::LIMIT && reason.contains("size limit") {
                        assert!(self.clients[client].oversized, "{reason}");
                    }
                    self.clients[client].disconnected(&mut self.rng);
                }
            }
            Action::Forget { conn } => {
                if let Some(client) = self.conns.remove(&conn) {
                    self.clients[client].disconnected(&mut self.rng);
                }
            }
            Action::Load => {
                assert!(self.store.load.is_none(), "two loads at once");
                let due = self.now_ms + self.rng.below(600);
                self.store.load = Some((due, false));
            }
            Action::Journal { batch, entries } => {
                let due_ms = self.now_ms + self.rng.below(300);
                let fails = self.rng.chance(2);
                self.store.in_flight.push_back(InFlight {
                    room: self.room,
                    batch,
                    entries: entries.into_iter().map(|e| e.update_v1).collect(),
                    due_ms,
                    fails,
                    written: None,
                    answer_ms: due_ms,
                });
            }
            Action::Snapshot(snapshot) => self.write_snapshot(snapshot),
            Action::CatchUp { after } => {
                // One writer here, so the room never lacks an entry: what the store answers
                // is only its own, which it holds already (and may not have been told the
                // seqs of yet: batches written, their answers on the way).
                let entries = self
                    .store
                    .journal
                    .iter()
                    .enumerate()
                    .map(|(i, update)| (i as u64 + 1, Bytes::from(update.to_vec())))
                    .filter(|(seq, _)| *seq > after)
                    .collect();
                self.input(Input::CaughtUp(Ok(entries)));
            }
            Action::TraceHint | Action::Asleep(_) | Action::ShareAwareness(_) => {}
            Action::Stop { snapshot, refuse } => {
                self.log(|| format!("room stops ({refuse:?})"));

                if let Some(snapshot) = snapshot {
                    self.write_snapshot(snapshot);
                }
                assert!(
                    self.conns.is_empty(),
                    "a stopped room still had connections {:?}",
                    self.conns
                );
                // What the driver answers for the room (`driver.rs`, `stop`).
                self.edits_waiting.clear();
                self.core = None;
                self.store.load = None;
            }
        }
    }

    /// A frame towards a connection: the invariant that nothing is relayed before it is
    /// committed is checked here, then the client's outbox takes it or refuses it.
    fn deliver(&mut self, conn: ConnId, frame: &Bytes) {
        self.check_committed(frame);
        let Some(&client) = self.conns.get(&conn) else {
            return self.input(Input::Refused {
                conn,
                why: Refused::Closed,
            });
        };
        let c = &mut self.clients[client];
        if c.inbox.len() >= OUTBOX_FRAMES_MAX || c.inbox_bytes + frame.len() > OUTBOX_BYTES_MAX {
            self.log(|| format!("client {client} reads too slowly"));
            return self.input(Input::Refused {
                conn,
                why: Refused::Full,
            });
        }
        c.inbox_bytes += frame.len();
        c.inbox.push_back(frame.clone());
    }

    fn check_committed(&mut self, frame: &[u8]) {
        for message in protocol::decode_frame(frame, usize::MAX).expect("the room sends frames") {
            match message {
                Message::Update(update) => {
                    assert!(
                        self.store.journal.iter().any(|e| e.as_ref() == update),
                        "an update was relayed before it was committed"
                    );
                    self.received.push(Bytes::copy_from_slice(update));
                }
                Message::SyncStep2(update) => {
                    assert!(
                        self.adds_nothing_to_committed(update),
                        "a sync answer held something not committed"
                    );
                    self.received.push(Bytes::copy_from_slice(update));
                }
                _ => {}
            }
        }
    }

    fn write_snapshot(&mut self, snapshot: Snapshot) {
        let at = self.store.state_at(snapshot.upto_seq);
        let taken = Doc::with_client_id(3);
        taken
            .transact_mut()
            .apply_update(Update::decode_v1(&snapshot.state_v1).unwrap())
            .unwrap();
        assert_eq!(
            (content(&taken.transact()), taken.transact().state_vector()),
            (content(&at.transact()), at.transact().state_vector()),
            "snapshot at seq {} is not the journal's state there",
            snapshot.upto_seq
        );
        if self
            .store
            .snapshot
            .as_ref()
            .is_none_or(|s| s.upto_seq < snapshot.upto_seq)
        {
            self.store.snapshot = Some(snapshot);
        }
    }

    /// What a y-websocket client sends once it is in: its sync step 1 and its presence.
    fn greet(&mut self, client: usize) {
        let state_vector = self.clients[client]
            .doc
            .transact()
            .state_vector()
            .encode_v1();
        self.send(client, protocol::encode(&Message::SyncStep1(&state_vector)));
        self.send_awareness(client, false);
    }

    fn send(&mut self, client: usize, frame: Vec<u8>) {
        if let Some((conn, true)) = self.clients[client].conn {
            self.input(Input::Frame {
                conn,
                frame: Bytes::from(frame),
            });
        }
    }

    fn send_awareness(&mut self, client: usize, removal: bool) {
        let c = &mut self.clients[client];
        c.awareness_clock += 1;
        let entry = AwarenessEntry {
            client_id: c.doc.client_id().get(),
            clock: c.awareness_clock,
            state: if removal {
                "null".into()
            } else {
                format!(r#"{{"user":{{"name":"{}"}}}}"#, c.pid)
            },
        };
        let payload = protocol::encode_awareness([&entry]);
        self.send(client, protocol::encode(&Message::Awareness(&payload)));
    }

    fn connect(&mut self, client: usize) {
        if self.clients[client].conn.is_some() || !self.wants_input() {
            return;
        }
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conns.insert(conn, client);
        self.clients[client].conn = Some((conn, false));
        let c = &self.clients[client];
        self.log(|| format!("client {client} connects as {conn}"));
        let actor = Arc::new(Actor {
            pid: c.pid.clone(),
            name: c.pid.clone(),
            ..Actor::default()
        });
        let participant = Participant {
            name: c.pid.clone(),
            color: "#336699".into(),
            org: String::new(),
            org_kind: None,
        };
        let role = c.role;
        self.input(Input::Join {
            conn,
            role,
            actor,
            participant: Some(participant),
        });
    }

    fn disconnect(&mut self, client: usize) {
        if let Some((conn, _)) = self.clients[client].conn {
            self.log(|| format!("client {client} loses its connection {conn}"));
            self.conns.remove(&conn);
            self.clients[client].disconnected(&mut self.rng);
            if self.core.is_some() {
                self.input(Input::Leave { conn });
            }
        }
    }

    /// The client reads what its connection holds: all of it, one frame, or nothing.
    fn read(&mut self, client: usize, all: bool) {
        let count = match (self.clients[client].reading, all) {
            (_, true) | (Reading::Normal, false) => usize::MAX,
            (Reading::Slow, false) => 1,
            (Reading::Stopped, false) => 0,
        };
        for _ in 0..count {
            let Some(frame) = self.clients[client].inbox.pop_front() else {
                return;
            };
            self.clients[client].inbox_bytes -= frame.len();
            for message in protocol::decode_frame(&frame, usize::MAX).unwrap() {
                match message {
                    Message::SyncStep1(sv) => {
                        let sv = StateVector::decode_v1(sv).unwrap();
                        let diff = self.clients[client].doc.transact().encode_diff_v1(&sv);
                        self.send(client, protocol::encode(&Message::SyncStep2(&diff)));
                    }
                    Message::SyncStep2(update) | Message::Update(update) => {
                        let update = Update::decode_v1(update).unwrap();
                        self.clients[client]
                            .doc
                            .transact_mut()
                            .apply_update(update)
                            .unwrap();
                    }
                    _ => {}
                }
            }
            // A frame may have ended the connection (an answer refused).
            if self.clients[client].conn.is_none() {
                return;
            }
        }
    }

    /// A local edit; sent at once when connected, uploaded by the next sync otherwise.
    fn edit(&mut self, client: usize, oversized: bool) {
        let c = &mut self.clients[client];
        if c.role == Role::Viewer {
            // The app offers a viewer no editing; what a viewer sends anyway is dropped
            // (`send_poisoned` and `send_garbage` send it some).
            return;
        }
        let before = c.doc.transact().state_vector();
        let text = c.doc.get_or_insert_text("t");
        let map = c.doc.get_or_insert_map("m");
        {
            let mut txn = c.doc.transact_mut();
            let len = text.len(&txn);
            match self.rng.below(4) {
                _ if oversized => {
                    c.oversized = true;
                    text.insert(&mut txn, 0, &"x".repeat(self.limits.max_document_bytes));
                }
                0 if len > 4 => {
                    let at = self.rng.below(len as u64 - 2) as u32;
                    text.remove_range(&mut txn, at, 2);
                }
                1 => {
                    let key = format!("k{}", self.rng.below(8));
                    map.insert(&mut txn, key, self.rng.below(1000) as i64);
                }
                _ => {
                    let at = self.rng.below(len as u64 + 1) as u32;
                    text.insert(&mut txn, at, &format!("{client}"));
                }
            }
        }
        let update = c.doc.transact().encode_diff_v1(&before);
        let id = c.doc.client_id();
        self.log(|| format!("client {client} ({id}) edits, from {before:?}"));
        self.send(client, protocol::encode(&Message::Update(&update)));
    }

    /// An update that builds on changes the server never saw: either later changes of a
    /// client whose earlier ones it never got (the room asks for them and applies nothing), or
    /// changes placed after another client's unknown item (the room refuses it and reloads).
    /// Either way nothing committed is lost.
    fn send_poisoned(&mut self, client: usize) {
        let author = Doc::with_client_id(7_000 + self.rng.below(1_000));
        let text = author.get_or_insert_text("t");
        text.insert(&mut author.transact_mut(), 0, "a");
        let update = if self.rng.chance(50) {
            let before = author.transact().state_vector();
            text.insert(&mut author.transact_mut(), 1, "b");
            author.transact().encode_diff_v1(&before)
        } else {
            let other = Doc::with_client_id(8_000 + self.rng.below(1_000));
            let first = author.transact().encode_diff_v1(&StateVector::default());
            other
                .transact_mut()
                .apply_update(Update::decode_v1(&first).unwrap())
                .unwrap();
            let before = other.transact().state_vector();
            let text = other.get_or_insert_text("t");
            text.insert(&mut other.transact_mut(), 1, "c");
            other.transact().encode_diff_v1(&before)
        };
        self.send(client, protocol::encode(&Message::Update(&update)));
    }

    fn send_garbage(&mut self, client: usize) {
        let frame = if self.rng.chance(50) {
            // A well-framed update whose payload is noise.
            let noise: Vec<u8> = (0..self.rng.below(24))
                .map(|_| self.rng.next() as u8)
                .collect();
            protocol::encode(&Message::Update(&noise))
        } else {
            (0..1 + self.rng.below(24))
                .map(|_| self.rng.next() as u8)
                .collect()
        };
        self.send(client, frame);
    }

    fn server_edit(&mut self) {
        self.next_edit += 1;
        let request = self.next_edit;
        let value = self.rng.below(1000) as i64;
        self.edits_waiting.insert(request);
        self.input(Input::Edit {
            request,
            edit: Arc::new(move |roots, txn| {
                roots.meta.insert(txn, "serverEdit", value);
                Ok(())
            }),
            actor: Arc::new(Actor::system()),
        });
    }

    /// The store writes the batches that are due, in order, and answers them once their
    /// answers are due (in clustered runs, up to 200 ms after the write).
    fn store_answers(&mut self, all: bool) {
        while let Some(front) = self.store.in_flight.front() {
            if front.written.is_none() {
                if !all && front.due_ms > self.now_ms {
                    break;
                }
                let (room, fails) = (front.room, front.fails);
                let result = if self.store.failed_rooms.contains(&room) || fails {
                    self.store.failed_rooms.insert(room);
                    Err("simulated write failure".to_owned())
                } else {
                    let entries = front.entries.clone();
                    Ok(self.store.commit(&entries))
                };
                let delay = if self.limits.head_check_interval_ms > 0 {
                    self.rng.below(200)
                } else {
                    0
                };
                let front = self.store.in_flight.front_mut().unwrap();
                front.written = Some(result);
                front.answer_ms = self.now_ms + delay;
                continue;
            }
            if !all && front.answer_ms > self.now_ms {
                break;
            }
            let job = self.store.in_flight.pop_front().unwrap();
            let result = job.written.expect("written above");
            self.log(|| {
                format!(
                    "store answers batch {} of room {}: {result:?}",
                    job.batch, job.room
                )
            });
            if job.room == self.room && self.core.is_some() {
                self.input(Input::Committed {
                    batch: job.batch,
                    result,
                });
            }
        }
    }

    fn store_loads(&mut self, all: bool) {
        let Some((due_ms, read)) = self.store.load else {
            return;
        };
        if !all && due_ms > self.now_ms {
            return;
        }
        let stored = self.store.stored();
        if !read {
            self.store.load = Some((due_ms, true));
            self.input(Input::Read(FullState::of(&stored)));
            if !all && self.rng.chance(50) {
                return;
            }
        }
        self.store.load = None;
        let doc = Doc::with_client_id(100 + self.room);
        let loaded = load_doc_into(doc, stored);
        self.input(Input::Loaded(loaded));
    }

    /// The process dies: batches under way are committed or lost (a prefix of them reached
    /// the disk), connections drop, and the next join starts a room from the store.
    fn crash(&mut self) {
        let reached = self.rng.below(self.store.in_flight.len() as u64 + 1) as usize;
        self.log(|| {
            format!(
                "crash: {reached} of {} batches under way reached the disk",
                self.store.in_flight.len()
            )
        });
        let in_flight: Vec<InFlight> = self.store.in_flight.drain(..).collect();
        for job in in_flight.into_iter().take(reached) {
            // As the journal writer: after a room's failed batch, its later ones fail too.
            if job.fails {
                self.store.failed_rooms.insert(job.room);
            }
            if !self.store.failed_rooms.contains(&job.room) {
                self.store.commit(&job.entries);
            }
        }
        self.core = None;
        self.store.load = None;
        self.conns.clear();
        self.edits_waiting.clear();
        for client in 0..CLIENTS {
            self.clients[client].disconnected(&mut self.rng);
        }
        for update in &self.received {
            assert!(
                self.store.journal.iter().any(|e| e == update)
                    || self.adds_nothing_to_committed(update),
                "a client received something the crash lost"
            );
        }
    }

    /// Whether applying `update` to the committed state changes nothing a person sees nor its
    /// state vector.
    fn adds_nothing_to_committed(&self, update: &[u8]) -> bool {
        let probe = Doc::with_client_id(4);
        let committed = self
            .store
            .committed
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let mut txn = probe.transact_mut();
        txn.apply_update(Update::decode_v1(&committed).unwrap())
            .unwrap();
        let before = (content(&txn), txn.state_vector());
        txn.apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
        (content(&txn), txn.state_vector()) == before
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        while self.now_ms >= self.next_tick_ms {
            self.next_tick_ms += TICK_EVERY_MS;
            if self.core.is_some() {
                self.input(Input::Tick);
                if let Some(core) = &self.core {
                    self.log(|| {
                        let held: Vec<_> = core.awareness.held().collect();
                        format!("tick: {} awareness {held:?}", core.phase_name())
                    });
                }
            }
        }
    }

    /// One random step.
    fn step(&mut self) {
        let advance = self.rng.below(STEP_MS_MAX);
        self.advance(advance);
        self.store_answers(false);
        self.store_loads(false);
        let client = self.rng.below(CLIENTS as u64) as usize;
        match self.rng.below(100) {
            0..=29 => self.edit(client, false),
            30..=44 => self.read(client, false),
            45..=54 => self.connect(client),
            55..=59 => self.disconnect(client),
            60..=64 => {
                let removal = self.rng.chance(10);
                self.send_awareness(client, removal);
            }
            65..=67 => {
                let reading = [Reading::Normal, Reading::Slow, Reading::Stopped];
                self.clients[client].reading = reading[self.rng.below(3) as usize];
            }
            68 => self.send_garbage(client),
            69 if self.rng.chance(30) => self.send_poisoned(client),
            70 if self.rng.chance(30) => self.edit(client, true),
            71 if self.rng.chance(20) => self.crash(),
            72..=73 if self.core.is_some() => self.server_edit(),
            74 if self.core.is_some() && self.rng.chance(30) => {
                self.input(Input::CloseRole {
                    role: Some(Role::Viewer),
                    code: close::UNAUTHORIZED,
                    reason: "link rotated".into(),
                });
            }
            // A client that went quiet stays connected for a while: awareness expires.
            75..=89 => {
                let ms = self.rng.below(3 * TICK_EVERY_MS);
                self.advance(ms);
            }
            _ => {
                if let Some(core) = self.core.as_mut() {
                    core.flush();
                    self.perform();
                }
            }
        }
        // The driver commits what a wake produced.
        if let Some(core) = self.core.as_mut() {
            core.flush();
            self.perform();
        }
        self.check();
    }

    /// The invariants that hold after every step.
    fn check(&self) {
        let Some(core) = &self.core else {
            return;
        };
        let peers: BTreeSet<ConnId> = core.peer_ids().collect();
        assert!(peers.len() <= self.limits.max_clients_per_board);
        // A loading room holds the departures that came meanwhile with the rest, in order.
        let loading = core.phase_name() == "loading";
        for conn in peers.iter().filter(|_| !loading) {
            assert!(
                self.conns.contains_key(conn),
                "the room holds connection {conn}, gone"
            );
        }
        let late_ms = self.limits.awareness_timeout_ms + TICK_EVERY_MS + STEP_MS_MAX;
        for (client_id, owner, renewed_ms) in core.awareness.held() {
            assert!(
                peers.contains(&owner),
                "awareness of client {client_id} outlived its connection {owner}"
            );
            assert!(
                self.now_ms - renewed_ms <= late_ms,
                "awareness of client {client_id} outlived its timeout (renewed at {renewed_ms} ms, the room {})",
                core.phase_name()
            );
        }
        if let super::core::Phase::Loading { deferred, .. } = &core.phase {
            assert!(deferred.len() <= LOADING_DEFERRED_MAX);
        }
        for client in &self.clients {
            assert!(
                client.inbox.len() <= OUTBOX_FRAMES_MAX && client.inbox_bytes <= OUTBOX_BYTES_MAX
            );
        }
    }

    /// Everybody behaves, reconnects and reads until nothing moves; then every document must
    /// equal the stored one.
    fn quiesce(&mut self) {
        self.log(|| "quiescence".into());
        for client in &mut self.clients {
            client.reading = Reading::Normal;
        }
        for _round in 0..50 {
            self.advance(10);
            for client in 0..CLIENTS {
                self.connect(client);
            }
            if self
                .core
                .as_ref()
                .is_some_and(|c| c.phase_name() == "asleep")
            {
                // y-websocket clients sync again now and then (`resyncInterval`): it wakes the room.
                for client in 0..CLIENTS {
                    self.greet(client);
                }
            }
            self.store_loads(true);
            for client in 0..CLIENTS {
                self.read(client, true);
            }
            if let Some(core) = self.core.as_mut() {
                core.flush();
                self.perform();
            }
            self.store_answers(true);
            let settled = self.store.in_flight.is_empty()
                && self.store.load.is_none()
                && self
                    .core
                    .as_ref()
                    .is_some_and(|c| c.phase_name() == "awake")
                && self.clients.iter().all(|c| {
                    matches!(c.conn, Some((_, true))) && c.inbox.is_empty() && !c.oversized
                });
            if settled {
                break;
            }
        }
        let stored = content(&self.store.committed.transact());
        let stored_sv = self.store.committed.transact().state_vector();
        let core = self
            .core
            .as_ref()
            .expect("a room is loaded after quiescence");
        assert_eq!(core.phase_name(), "awake", "the room settled awake");
        assert!(
            core.pipeline.idle(),
            "nothing waits for a commit after quiescence"
        );
        let room_doc = core.doc().unwrap();
        assert_eq!(
            content(&room_doc.transact()),
            stored,
            "the room's document is the stored one"
        );
        assert_eq!(room_doc.transact().state_vector(), stored_sv);
        assert!(
            self.edits_waiting.is_empty(),
            "every server edit was answered"
        );
        for (i, client) in self.clients.iter().enumerate() {
            assert!(
                matches!(client.conn, Some((_, true))),
                "client {i} is connected"
            );
            assert_eq!(
                (
                    content(&client.doc.transact()),
                    client.doc.transact().state_vector()
                ),
                (stored.clone(), stored_sv.clone()),
                "client {i} has the stored document"
            );
        }
    }
}

/// What a person sees of the simulated document: the shared text, the map, and the board's
/// participants and meta.
fn content(txn: &impl ReadTxn) -> String {
    let text = txn
        .get_text("t")
        .map(|t| t.get_string(txn))
        .unwrap_or_default();
    // Sorted: a map's JSON follows a hash map's order.
    let sorted = |name: &str| {
        txn.get_map(name).map(|m| {
            m.iter(txn)
                .map(|(k, v)| (k.to_owned(), v.to_string(txn)))
                .collect::<BTreeMap<String, String>>()
        })
    };
    // A root a document never wrote to reads as empty, present or not.
    let map = sorted("m").unwrap_or_default();
    let participants = txn.get_map("participants").map(|m| m.len(txn));
    let meta = sorted("meta");
    format!("{text:?} {map:?} {participants:?} {meta:?}")
}

/// Runs one seed; panics with the seed in the message when an invariant breaks.
pub fn run_seed(seed: u64, steps: u64, trace: bool) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sim = Sim::new(seed, trace);
        for _ in 0..steps {
            sim.step();
        }
        sim.quiesce();
    }));
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "simulation seed {seed} failed: {message}\nreplay it with: cargo xtask sim --seed {seed}"
        );
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn simulated_rooms_keep_their_invariants() {
    let steps = env_u64("NOUAGE_SIM_STEPS").unwrap_or(200);
    if let Some(seed) = env_u64("NOUAGE_SIM_SEED") {
        return run_seed(seed, steps, true);
    }
    let seeds = env_u64("NOUAGE_SIM_SEEDS").unwrap_or(1_000);
    let started = std::time::Instant::now();
    // The seeds split over the machine's cores; each seed is one thread's, start to end.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut failed = Vec::new();
                for seed in (t..seeds).step_by(threads as usize) {
                    if std::panic::catch_unwind(|| run_seed(seed, steps, false)).is_err() {
                        failed.push(seed);
                    }
                }
                assert!(failed.is_empty(), "simulation seeds failed: {failed:?}");
            })
        })
        .collect();
    for handle in handles {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }
    eprintln!(
        "simulation: {seeds} seeds of {steps} steps in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_simulation_catches_a_room_that_relays_before_the_commit() {
    // The check itself must fail on a broken room: an update frame that is not in the journal.
    let mut sim = Sim::new(1, false);
    let frame = protocol::encode(&Message::Update(&[1, 2, 3]));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.check_committed(&frame);
    }));
    assert!(caught.is_err());
}
