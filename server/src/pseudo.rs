//! What every role but the facilitator sees of people on a board that shows pseudonyms
//! (`shared::pseudonym`): the document already holds only pseudonyms; the server's record
//! (the journal's actors) holds the real names, so its answers and exports are masked here.

use std::collections::HashMap;

use serde::Serialize;
use yrs::Doc;

use crate::api::ApiError;
use crate::store::{Actor, BoardId, Store, StoreResult};
use crate::tokens::Role;

/// Per participant id, the pseudonym and its organisation the document holds, and the real
/// names and organisations they stand for.
#[derive(Default)]
pub struct Masks {
    by_pid: HashMap<String, (String, String)>,
    by_name: HashMap<String, String>,
    by_org: HashMap<String, String>,
}

impl Masks {
    /// The pseudonyms of `doc`'s `participants`.
    pub fn from_doc(doc: &Doc) -> Self {
        let roots = shared::Roots::new(doc);
        let txn = yrs::Transact::transact(doc);
        Masks {
            by_pid: roots
                .participants(&txn)
                .into_iter()
                .map(|(pid, p)| (pid, (p.name, p.org)))
                .collect(),
            ..Masks::default()
        }
    }

    /// Learns the real names and organisations `actors` went by.
    pub fn learn<'a>(&mut self, actors: impl IntoIterator<Item = &'a Actor>) {
        for actor in actors {
            if let Some((name, org)) = self.by_pid.get(&actor.pid) {
                if !actor.name.is_empty() {
                    self.by_name.insert(actor.name.clone(), name.clone());
                }
                if !actor.org.is_empty() {
                    self.by_org.insert(actor.org.clone(), org.clone());
                }
            }
        }
    }

    /// `actor` as others may see them.
    pub fn actor(&self, actor: &mut Actor) {
        if let Some((name, org)) = self.by_pid.get(&actor.pid) {
            actor.name = name.clone();
            actor.org = org.clone();
        }
    }

    /// Every string of `value` that is a real name or organisation, replaced.
    pub fn json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Some(shown) = self.by_name.get(s.as_str()).or(self.by_org.get(s.as_str())) {
                    *s = shown.clone();
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }
}

/// Whether `role`'s answers on board `id` are masked.
pub fn masked(store: &dyn Store, id: &BoardId, role: Role) -> StoreResult<bool> {
    Ok(role != Role::Facilitator && store.pseudonyms(id)?)
}

/// The masks of board `id`: the document's pseudonyms, and the names `known` (its record's
/// contributions) holds.
pub fn masks(
    store: &dyn Store,
    id: &BoardId,
    known: &crate::store::Contributions,
) -> StoreResult<Masks> {
    let (doc, ..) =
        crate::room::load_doc(store.load(id)?).map_err(crate::store::StoreError::Corrupt)?;
    let mut masks = Masks::from_doc(&doc);
    masks.learn(known.contributors.iter().map(|c| &c.actor));
    Ok(masks)
}

/// `answer` as `role` may read it: masked on a board showing pseudonyms, except for the
/// facilitator.
pub fn answer(
    store: &dyn Store,
    id: &BoardId,
    role: Role,
    answer: &impl Serialize,
) -> Result<crate::trace::JsonBody, ApiError> {
    if !masked(store, id, role)? {
        return crate::trace::JsonBody::of(answer);
    }
    let mut value = serde_json::to_value(answer).map_err(ApiError::internal)?;
    masks(store, id, &store.trace_contributions(id)?)?.json(&mut value);
    crate::trace::JsonBody::of(&value)
}

/// Turns the board's pseudonyms on or off (`PATCH /api/boards/{id}` with `{"pseudonyms"}`):
/// the store's option (what masks answers), and a server edit of the document: `meta`'s flag,
/// and every `participants` entry written again, as a pseudonym numbered in the order people
/// first came (on), or with the name and organisation the record last knew (off).
pub async fn switch(
    app: &crate::app::AppState,
    record: &crate::store::BoardRecord,
    on: bool,
) -> Result<(), ApiError> {
    let journal = {
        let (store, id) = (app.store.clone(), record.id.clone());
        tokio::task::spawn_blocking(move || -> StoreResult<Vec<crate::store::JournalRow>> {
            store.set_pseudonyms(&id, on)?;
            store.journal(&id)
        })
        .await
        .map_err(ApiError::internal)??
    };
    // Who came first, and the identity each last used.
    let mut order: Vec<String> = Vec::new();
    let mut real: HashMap<String, Actor> = HashMap::new();
    for row in journal {
        if row.actor.pid == shared::trace::SERVER_PID {
            continue;
        }
        if !real.contains_key(&row.actor.pid) {
            order.push(row.actor.pid.clone());
        }
        real.insert(row.actor.pid.clone(), row.actor);
    }
    let lang = record.lang;
    app.rooms
        .edit(
            &record.id,
            std::sync::Arc::new(move |roots, txn| {
                shared::pseudonym::set(roots, txn, on);
                let entries = roots.participants(txn);
                let mut pids: Vec<&String> = entries.keys().collect();
                pids.sort_by_key(|pid| order.iter().position(|p| p == *pid).unwrap_or(usize::MAX));
                // Names in the elements' values (a decision's `byName`) follow the entries.
                let mut renamed: Vec<(String, String)> = Vec::new();
                for (n, pid) in pids.into_iter().enumerate() {
                    let entry = &entries[pid];
                    let written = if on {
                        shared::pseudonym::pseudonym(lang, n + 1, entry)
                    } else {
                        match real.get(pid) {
                            Some(actor) => shared::doc::Participant {
                                name: actor.name.clone(),
                                org: actor.org.clone(),
                                org_kind: actor.org_kind,
                                color: entry.color.clone(),
                            },
                            None => continue,
                        }
                    };
                    let was = match real.get(pid) {
                        Some(actor) if on => actor.name.clone(),
                        _ => entry.name.clone(),
                    };
                    renamed.push((was, written.name.clone()));
                    roots.set_participant(txn, pid, &written);
                }
                crate::erase::replace_names(roots, txn, &renamed, false);
                Ok(())
            }),
            std::sync::Arc::new(Actor::system()),
        )
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    tracing::info!(board = %record.id, on, "pseudonyms");
    Ok(())
}
