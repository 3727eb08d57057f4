//! The room's awareness table: who is there, where their cursor is. It is never stored; each
//! state belongs to the connection that announced it and goes away with it, or when it is not
//! renewed within `awareness_timeout_ms`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use shared::protocol::{self, AwarenessEntry, Message};

use super::core::ConnId;

/// The largest integer lib0 decodes exactly on the JavaScript side.
const AWARENESS_CLOCK_MAX: u64 = (1 << 53) - 1;

struct State {
    entry: AwarenessEntry,
    renewed_ms: u64,
    owner: ConnId,
}

/// The field of an awareness state by which the facilitator brings everybody to their view.
pub const SUMMON_FIELD: &str = "summon";

/// `state` without its `summon` field: only the facilitator may summon (the web app follows
/// whoever's state carries a new one).
fn without_summon(state: String) -> String {
    if !state.contains(SUMMON_FIELD) {
        return state;
    }
    match serde_json::from_str::<serde_json::Value>(&state) {
        Ok(serde_json::Value::Object(mut fields)) if fields.contains_key(SUMMON_FIELD) => {
            fields.remove(SUMMON_FIELD);
            serde_json::Value::Object(fields).to_string()
        }
        _ => state,
    }
}

/// Why a connection's awareness update was refused (the connection is closed).
pub enum Refusal {
    Malformed(String),
    Limit(String),
}

#[derive(Default)]
pub struct Awareness {
    states: BTreeMap<u64, State>,
    /// The client ids each connection announced and still owns.
    by_conn: BTreeMap<ConnId, BTreeSet<u64>>,
}

impl Awareness {
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Applies a connection's awareness payload; returns the frame to relay to everybody (the
    /// sender included: stock clients count the echo of their own renewals as the sign that
    /// the connection is alive), holding only the entries accepted, if any.
    pub fn apply(
        &mut self,
        conn: ConnId,
        payload: &[u8],
        now_ms: u64,
        limits: &crate::config::Limits,
        may_summon: bool,
    ) -> Result<Option<Bytes>, Refusal> {
        self.apply_from(conn, payload, now_ms, limits, may_summon, false)
    }

    /// `apply`, for a connection or for another relay node (`relayed`: the states of all its
    /// clients, already checked there, so no per-connection cap).
    pub fn apply_from(
        &mut self,
        conn: ConnId,
        payload: &[u8],
        now_ms: u64,
        limits: &crate::config::Limits,
        may_summon: bool,
        relayed: bool,
    ) -> Result<Option<Bytes>, Refusal> {
        let entries = protocol::decode_awareness(payload, limits.max_awareness_entries)
            .map_err(|e| Refusal::Malformed(format!("malformed awareness: {e}")))?;
        let state_bytes_max = limits.max_awareness_state_bytes;
        if entries.iter().any(|e| e.state.len() > state_bytes_max) {
            let reason = format!("an awareness state is over {state_bytes_max} bytes");
            return Err(Refusal::Limit(reason));
        }
        let clients_max = limits.max_awareness_clients_per_connection;
        let mut accepted = Vec::new();
        for mut entry in entries {
            if !may_summon {
                entry.state = without_summon(entry.state);
            }
            let newer = match self.states.get(&entry.client_id) {
                None => true,
                Some(current) => {
                    entry.clock > current.entry.clock
                        || (entry.clock == current.entry.clock && entry.is_removal())
                }
            };
            if !newer {
                continue;
            }
            let client_id = entry.client_id;
            let owned = self.by_conn.entry(conn).or_default();
            if !relayed
                && !entry.is_removal()
                && !owned.contains(&client_id)
                && owned.len() >= clients_max
            {
                let reason = format!("more than {clients_max} awareness clients on one connection");
                return Err(Refusal::Limit(reason));
            }
            let previous = if entry.is_removal() {
                self.states.remove(&client_id)
            } else {
                let state = State {
                    entry: entry.clone(),
                    renewed_ms: now_ms,
                    owner: conn,
                };
                self.states.insert(client_id, state)
            };
            if let Some(previous) = previous
                && let Some(owned) = self.by_conn.get_mut(&previous.owner)
            {
                owned.remove(&client_id);
            }
            if !entry.is_removal() {
                self.by_conn.entry(conn).or_default().insert(client_id);
            }
            accepted.push(entry);
        }
        Ok((!accepted.is_empty()).then(|| frame(accepted.iter())))
    }

    /// Every state, as one frame (for a connection that joins or asks).
    pub fn frame_of_all(&self) -> Bytes {
        frame(self.states.values().map(|s| &s.entry))
    }

    /// Removes the states not renewed for `timeout_ms`; returns the frame telling they are gone.
    pub fn expire(&mut self, now_ms: u64, timeout_ms: u64) -> Option<Bytes> {
        let expired: Vec<u64> = self
            .states
            .iter()
            .filter(|(_, s)| now_ms.saturating_sub(s.renewed_ms) >= timeout_ms)
            .map(|(id, _)| *id)
            .collect();
        self.remove(&expired)
    }

    /// Removes the states a connection owns (it left or was closed); returns the frame telling
    /// they are gone.
    pub fn forget(&mut self, conn: ConnId) -> Option<Bytes> {
        let owned: Vec<u64> = self
            .by_conn
            .remove(&conn)
            .map(|ids| ids.into_iter().collect())
            .unwrap_or_default();
        self.remove(&owned)
    }

    fn remove(&mut self, client_ids: &[u64]) -> Option<Bytes> {
        let removals: Vec<AwarenessEntry> = client_ids
            .iter()
            .filter_map(|id| self.states.remove(id))
            .map(|state| {
                if let Some(owned) = self.by_conn.get_mut(&state.owner) {
                    owned.remove(&state.entry.client_id);
                }
                AwarenessEntry {
                    client_id: state.entry.client_id,
                    // lib0 clients read clocks as 53-bit integers.
                    clock: (state.entry.clock + 1).min(AWARENESS_CLOCK_MAX),
                    state: "null".into(),
                }
            })
            .collect();
        (!removals.is_empty()).then(|| frame(removals.iter()))
    }

    /// The client ids held, with their owner and when they were last renewed (for the
    /// simulation's checks).
    #[cfg(test)]
    pub fn held(&self) -> impl Iterator<Item = (u64, ConnId, u64)> + '_ {
        self.states
            .iter()
            .map(|(id, s)| (*id, s.owner, s.renewed_ms))
    }
}

fn frame<'a>(entries: impl IntoIterator<Item = &'a AwarenessEntry>) -> Bytes {
    let payload = protocol::encode_awareness(entries);
    Bytes::from(protocol::encode(&Message::Awareness(&payload)))
}
