//! Erasure of a name (issue 23), the part that rewrites what the journal stores: a Yjs v1
//! update read block by block, the plain JSON values it holds (`ContentAny`: a participant's
//! entry in `participants`, an `onBehalfOf`, a decision's `byName`) passed through a function,
//! and every other byte copied as it is. An item keeps its id and its length (a value is
//! replaced by one value), so the updates written after it, which refer to its items, still
//! apply; only what the values say changes.

use yrs::Any;
use yrs::encoding::read::{Cursor, Read};

/// Why a stored update could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("the update does not decode: {0}")]
    Malformed(String),
    #[error("the update holds a kind of content the server never stores (ref {0})")]
    Unsupported(u8),
}

impl From<yrs::encoding::read::Error> for RewriteError {
    fn from(e: yrs::encoding::read::Error) -> Self {
        RewriteError::Malformed(e.to_string())
    }
}

const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;
const GC: u8 = 0;
const SKIP: u8 = 10;
const DELETED: u8 = 1;
const JSON: u8 = 2;
const BINARY: u8 = 3;
const STRING: u8 = 4;
const EMBED: u8 = 5;
const FORMAT: u8 = 6;
const TYPE: u8 = 7;
const ANY: u8 = 8;
const DOC: u8 = 9;
const TYPE_XML_ELEMENT: u8 = 3;

/// `update` with each plain JSON value `change` returns `Some` for replaced by it; `None` when
/// nothing changed (the stored bytes can stay).
pub fn rewrite_values(
    update: &[u8],
    change: &mut impl FnMut(&Any) -> Option<Any>,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let mut cursor = Cursor::new(update);
    let mut out: Vec<u8> = Vec::with_capacity(update.len());
    let mut changed = false;
    // Copies what the cursor read since `from`.
    let copy = |out: &mut Vec<u8>, cursor: &Cursor, from: usize| {
        out.extend_from_slice(&cursor.buf[from..cursor.next]);
    };
    let mut from = cursor.next;
    let clients: u32 = cursor.read_var()?;
    for _ in 0..clients {
        let blocks: u32 = cursor.read_var()?;
        let _client: u64 = cursor.read_var()?;
        let _clock: u32 = cursor.read_var()?;
        for _ in 0..blocks {
            let info = cursor.read_u8()?;
            match info {
                SKIP | GC => {
                    let _len: u32 = cursor.read_var()?;
                    continue;
                }
                _ => {}
            }
            for flag in [HAS_ORIGIN, HAS_RIGHT_ORIGIN] {
                if info & flag != 0 {
                    let _client: u64 = cursor.read_var()?;
                    let _clock: u32 = cursor.read_var()?;
                }
            }
            if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
                let named: u32 = cursor.read_var()?;
                if named == 1 {
                    cursor.read_string()?;
                } else {
                    let _client: u64 = cursor.read_var()?;
                    let _clock: u32 = cursor.read_var()?;
                }
                if info & HAS_PARENT_SUB != 0 {
                    cursor.read_string()?;
                }
            }
            match info & 0b1_1111 {
                DELETED => {
                    let _len: u32 = cursor.read_var()?;
                }
                // As yrs reads it (the server stored only what yrs decoded).
                JSON => {
                    let mut remaining = cursor.read_var::<u32>()? as i64;
                    while remaining >= 0 {
                        cursor.read_string()?;
                        remaining -= 1;
                    }
                }
                BINARY => {
                    cursor.read_buf()?;
                }
                STRING | EMBED => {
                    cursor.read_string()?;
                }
                FORMAT => {
                    cursor.read_string()?;
                    cursor.read_string()?;
                }
                TYPE => {
                    if cursor.read_u8()? == TYPE_XML_ELEMENT {
                        cursor.read_string()?;
                    }
                }
                ANY => {
                    let len: u32 = cursor.read_var()?;
                    copy(&mut out, &cursor, from);
                    for _ in 0..len {
                        let start = cursor.next;
                        let value = Any::decode(&mut cursor)?;
                        match change(&value) {
                            Some(new) => {
                                changed = true;
                                new.encode(&mut out);
                            }
                            // Unchanged values keep their bytes (a number keeps its encoding).
                            None => copy(&mut out, &cursor, start),
                        }
                    }
                    from = cursor.next;
                }
                DOC => {
                    cursor.read_string()?;
                    Any::decode(&mut cursor)?;
                }
                other => return Err(RewriteError::Unsupported(other)),
            }
        }
    }
    // The delete set names ids only.
    cursor.next = cursor.buf.len();
    copy(&mut out, &cursor, from);
    Ok(changed.then_some(out))
}

/// `update` with every string value equal to one of `names` replaced by
/// [`shared::proxy::ERASED_NAME`]; `None` when it names none of them.
pub fn erase_in_update(
    update: &[u8],
    names: &[String],
) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
    let pairs = to_marker(names);
    rewrite_values(update, &mut |value| renamed(value, &pairs))
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
}

/// `value` with every string equal to the first of one of `pairs` (anywhere inside it, keys
/// aside) replaced by its second, in one walk; `None` when it holds none of them.
pub fn renamed(value: &Any, pairs: &[(String, String)]) -> Option<Any> {
    match value {
        Any::String(s) => pairs
            .iter()
            .find(|(from, _)| !from.is_empty() && from.as_str() == s.as_ref())
            .map(|(_, to)| Any::from(to.as_str())),
        Any::Map(map) => {
            let mut changed = false;
            let replaced: std::collections::HashMap<String, Any> = map
                .iter()
                .map(|(k, v)| match renamed(v, pairs) {
                    Some(new) => {
                        changed = true;
                        (k.clone(), new)
                    }
                    None => (k.clone(), v.clone()),
                })
                .collect();
            changed.then(|| Any::from(replaced))
        }
        Any::Array(items) => {
            let mut changed = false;
            let replaced: Vec<Any> = items
                .iter()
                .map(|v| match renamed(v, pairs) {
                    Some(new) => {
                        changed = true;
                        new
                    }
                    None => v.clone(),
                })
                .collect();
            changed.then(|| Any::from(replaced))
        }
        _ => None,
    }
}

/// Each of `names` paired with the marker of a name taken back.
fn to_marker(names: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.clone(), shared::proxy::ERASED_NAME.to_owned()))
        .collect()
}

/// The names `pid` went by on board `id`: a participant's (the journal's identities and their
/// entry in `participants`), or a person entered by proxy (every spelling of their
/// `onBehalfOf`). Empty when the board never had them.
fn names_of(
    store: &dyn crate::store::Store,
    id: &crate::store::BoardId,
    pid: &str,
) -> crate::store::StoreResult<Vec<String>> {
    use shared::proxy::Represented;
    let (doc, ..) =
        crate::room::load_doc(store.load(id)?).map_err(crate::store::StoreError::Corrupt)?;
    let roots = shared::Roots::new(&doc);
    let txn = yrs::Transact::transact(&doc);
    let mut names: Vec<String> = Vec::new();
    if Represented::is_proxy_pid(pid) {
        for root in [&roots.nodes, &roots.notes, &roots.projects] {
            for (_, value) in yrs::Map::iter(root, &txn) {
                if let yrs::Out::YMap(element) = value
                    && let Some(person) = Represented::of(&element, &txn)
                    && person.pid() == pid
                {
                    names.push(person.name);
                }
            }
        }
        for contributor in store.trace_contributions(id)?.contributors {
            if contributor.actor.pid == pid {
                names.push(contributor.actor.name);
            }
        }
    } else {
        if let Some(p) = roots.participants(&txn).get(pid) {
            names.push(p.name.clone());
        }
        for row in store.journal(id)? {
            if row.actor.pid == pid {
                names.push(row.actor.name);
            }
        }
    }
    names.retain(|n| !n.trim().is_empty() && n != shared::proxy::ERASED_NAME);
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every plain JSON value of the board's participants and elements naming one of `names`,
/// written again without it: a server edit, so every replica and every page gets it live.
fn scrub_document(roots: &shared::Roots, txn: &mut yrs::TransactionMut, names: &[String]) {
    replace_names(roots, txn, &to_marker(names), true);
}

/// Every plain JSON value of the board's elements (and of its `participants` when
/// `in_participants`) holding a string equal to the first of one of `pairs`, written again with
/// the second instead.
pub(crate) fn replace_names(
    roots: &shared::Roots,
    txn: &mut yrs::TransactionMut,
    pairs: &[(String, String)],
    in_participants: bool,
) {
    use yrs::{Map, Out};
    let replaced = |value: &Any| renamed(value, pairs);
    if in_participants {
        let changes: Vec<(String, Any)> = roots
            .participants
            .iter(txn)
            .filter_map(|(pid, value)| match value {
                Out::Any(any) => replaced(&any).map(|new| (pid.to_owned(), new)),
                _ => None,
            })
            .collect();
        for (pid, value) in changes {
            roots.participants.insert(txn, pid, value);
        }
    }
    for root in [&roots.nodes, &roots.notes, &roots.projects] {
        let elements: Vec<yrs::MapRef> = root
            .iter(txn)
            .filter_map(|(_, value)| match value {
                Out::YMap(map) => Some(map),
                _ => None,
            })
            .collect();
        for element in elements {
            let changes: Vec<(String, Any)> = element
                .iter(txn)
                .filter_map(|(key, value)| match value {
                    Out::Any(any) => replaced(&any).map(|new| (key.to_owned(), new)),
                    _ => None,
                })
                .collect();
            for (key, value) in changes {
                element.insert(txn, key, value);
            }
        }
    }
}

/// `POST /api/boards/{id}/participants/{pid}/erase` (facilitator): takes the name of a
/// participant, or of a person entered by proxy (`pid` = their `proxy:…` id from the
/// contributions), out of the board: first live (a server edit rewrites every value naming
/// them, so every page shows the marker), then from the stored data, the board unloaded
/// meanwhile (its connections closed; they come back). `404` for a pid the board never had.
pub async fn erase_participant(
    axum::extract::State(app): axum::extract::State<crate::app::AppState>,
    axum::extract::Path((id, pid)): axum::extract::Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<axum::Json<serde_json::Value>, crate::api::ApiError> {
    use crate::api::{ApiError, on_store};
    let record = crate::api::facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may erase a name",
    )
    .await?;
    let board = record.id.clone();
    let names = {
        let (board, pid) = (board.clone(), pid.clone());
        on_store(&app, move |store| names_of(store, &board, &pid)).await?
    };
    if names.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("this board has no participant {pid:?} (or their name is already erased)"),
        ));
    }
    let live = names.clone();
    app.rooms
        .edit(
            &board,
            std::sync::Arc::new(move |roots, txn| {
                scrub_document(roots, txn, &live);
                Ok(())
            }),
            std::sync::Arc::new(crate::store::Actor::system()),
        )
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    let held = app.rooms.hold(&board).await;
    let rewritten = {
        let (board, pid) = (board.clone(), pid.clone());
        on_store(&app, move |store| store.erase_names(&board, &pid, &names)).await?
    };
    drop(held);
    tracing::info!(board = %board, entries = rewritten, "a name was erased");
    Ok(axum::Json(serde_json::json!({
        "erased": pid,
        "entriesRewritten": rewritten,
    })))
}

/// `nouage erase --data DIR --name NAME` (the server stopped): takes `name` out of every
/// board, deleted ones included: the participants and people entered by proxy who went by it,
/// and every value holding it. For each board that had it, a server entry first writes the
/// current values again without it (so a device that comes back with its own copy takes the
/// marker), then the journal is rewritten as `erase_participant` does. Answers the boards
/// touched and the journal entries rewritten.
/// The document after the last of `updates` (a board's whole journal, rewritten), as one
/// snapshot's state, with that entry's seq; `None` for no entry. Erasure's stores write it in
/// place of the snapshots that held the names.
pub(crate) fn whole_state(
    updates: Vec<(u64, Vec<u8>)>,
) -> crate::store::StoreResult<Option<(u64, Vec<u8>)>> {
    let Some(&(last, _)) = updates.last() else {
        return Ok(None);
    };
    let stored = crate::store::StoredDoc {
        snapshot: None,
        updates,
    };
    let (doc, ..) = crate::room::load_doc(stored).map_err(crate::store::StoreError::Corrupt)?;
    let state = yrs::ReadTxn::encode_state_as_update_v1(
        &yrs::Transact::transact(&doc),
        &yrs::StateVector::default(),
    );
    Ok(Some((last, state)))
}

pub fn erase_everywhere(
    store: &dyn crate::store::Store,
    name: &str,
) -> crate::store::StoreResult<(usize, usize)> {
    use crate::store::{Actor, Append, NewEntry};
    use shared::proxy::Represented;
    use yrs::{Map, Out, Transact};
    let names = vec![name.to_owned()];
    let (mut boards, mut entries) = (0, 0);
    for id in store.all_board_ids()? {
        let journal = store.any_journal(&id)?;
        if !journal.iter().any(|row| {
            row.actor.name == name
                || row
                    .update_v1
                    .windows(name.len())
                    .any(|w| w == name.as_bytes())
        }) {
            continue;
        }
        let stored = crate::store::StoredDoc {
            snapshot: None,
            updates: journal
                .iter()
                .map(|row| (row.seq, row.update_v1.clone()))
                .collect(),
        };
        let (doc, ..) = crate::room::load_doc(stored).map_err(crate::store::StoreError::Corrupt)?;
        let roots = shared::Roots::new(&doc);
        let mut pids: Vec<String> = journal
            .iter()
            .filter(|row| row.actor.name == name)
            .map(|row| row.actor.pid.clone())
            .collect();
        {
            let txn = doc.transact();
            pids.extend(
                roots
                    .participants(&txn)
                    .into_iter()
                    .filter(|(_, p)| p.name == name)
                    .map(|(pid, _)| pid),
            );
            for root in [&roots.nodes, &roots.notes, &roots.projects] {
                for (_, value) in root.iter(&txn) {
                    if let Out::YMap(element) = value
                        && let Some(person) = Represented::of(&element, &txn)
                        && person.name == name
                    {
                        pids.push(person.pid());
                    }
                }
            }
        }
        pids.sort();
        pids.dedup();
        let scrub = {
            let mut txn = doc.transact_mut();
            scrub_document(&roots, &mut txn, &names);
            txn.encode_update_v1()
        };
        // An update that changes nothing encodes as two empty sets.
        if scrub.len() > 2 {
            let entry = NewEntry {
                ts_ms: crate::room::now_ms(),
                actor: std::sync::Arc::new(Actor::system()),
                update_v1: bytes::Bytes::from(scrub),
            };
            store.append(&[Append::new(&id, vec![entry])])?;
        }
        if pids.is_empty() {
            pids.push(String::new());
        }
        for pid in &pids {
            entries += store.erase_names(&id, pid, &names)?;
        }
        boards += 1;
    }
    Ok((boards, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::doc::Participant;
    use shared::{BoardKind, Lang, Roots};
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, ReadTxn, Transact, Update};

    fn apply(doc: &Doc, update: &[u8]) {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
    }

    /// A board's journal: the initial document, a participant joining, notes typed, an idea
    /// entered for someone, a decision, deletions.
    fn journal() -> Vec<Vec<u8>> {
        let doc = Doc::with_client_id(7);
        let roots = Roots::new(&doc);
        let initial = shared::doc::initial_update(BoardKind::Diagnosis, "Atelier", Lang::Fr);
        apply(&doc, &initial);
        let mut updates = vec![initial];
        let mut step = |f: &dyn Fn(&mut yrs::TransactionMut)| {
            let mut txn = doc.transact_mut();
            f(&mut txn);
            updates.push(txn.encode_update_v1());
        };
        step(&|txn| {
            let anne = Participant {
                name: "Anne Bérubé".into(),
                color: "#2563eb".into(),
                org: "Commune de Lodève".into(),
                org_kind: Some(shared::OrgKind::Commune),
            };
            roots.add_participant(txn, "p-anne", &anne);
        });
        step(&|txn| roots.add_note(txn, "n1", "s1", "Une navette", "#fff", "p-anne"));
        step(&|txn| {
            let text = shared::doc::child_text(&roots.notes, txn, "n1", "text").unwrap();
            yrs::Text::insert(&text, txn, 0, "Vite : ");
        });
        step(&|txn| {
            roots.add_note(txn, "n2", "s1", "Un café", "#fff", "p-bruno");
            let person = shared::proxy::Represented {
                name: "Anne Bérubé".into(),
                org: "Commune de Lodève".into(),
                org_kind: None,
            };
            roots.mark_entered_for(txn, "n2", &person);
        });
        step(&|txn| {
            let decision = shared::path::Decision {
                status: shared::path::Status::Kept,
                reason: "Elle y tient".into(),
                at_ms: 5,
                by_pid: "p-anne".into(),
                by_name: "Anne Bérubé".into(),
            };
            roots.set_decision(txn, "n1", Some(&decision));
            roots.set_vote(txn, "n1", "p-anne", 2);
        });
        step(&|txn| roots.delete_note(txn, "n2"));
        updates
    }

    #[test]
    fn an_update_rewritten_with_no_change_is_left_as_it_is_and_reencoded_values_mean_the_same() {
        let (original, reencoded) = (Doc::new(), Doc::new());
        for update in journal() {
            assert!(rewrite_values(&update, &mut |_| None).unwrap().is_none());
            // A change that returns nothing new for every value but one kept the same: the
            // bytes around it are the original's.
            let mut seen = false;
            let one = rewrite_values(&update, &mut |v| {
                (!seen).then(|| {
                    seen = true;
                    v.clone()
                })
            })
            .unwrap();
            if let Some(one) = &one {
                assert_eq!(
                    one.len(),
                    update.len(),
                    "one value re-encoded, all else copied"
                );
            }
            // Every value re-encoded as itself (a map's keys may come in another order).
            let same = rewrite_values(&update, &mut |v| Some(v.clone()))
                .unwrap()
                .unwrap_or_else(|| update.clone());
            apply(&original, &update);
            apply(&reencoded, &same);
        }
        let json = |doc: &Doc| {
            let roots = Roots::new(doc);
            let txn = doc.transact();
            format!(
                "{:?} {:?} {:?}",
                roots.notes(&txn),
                roots.participants(&txn),
                roots.sections(&txn)
            )
        };
        assert_eq!(json(&original), json(&reencoded));
        assert_eq!(
            original.transact().state_vector(),
            reencoded.transact().state_vector()
        );
    }

    #[test]
    fn a_name_rewritten_out_of_a_journal_leaves_the_board_whole_but_for_the_name() {
        let journal = journal();
        let name = "Anne Bérubé";
        let rewritten: Vec<Vec<u8>> = journal
            .iter()
            .map(|u| {
                rewrite_values(u, &mut |v| renamed(v, &[(name.to_owned(), String::new())]))
                    .unwrap()
                    .unwrap_or_else(|| u.clone())
            })
            .collect();
        for update in &rewritten {
            let found = update.windows(name.len()).any(|w| w == name.as_bytes());
            assert!(!found, "the name is gone from every stored byte");
        }
        // The rewritten journal replays, and so does an update written after it against the
        // original items (ids and lengths are kept).
        let (before, after) = (Doc::new(), Doc::new());
        for (old, new) in journal.iter().zip(&rewritten) {
            apply(&before, old);
            apply(&after, new);
        }
        let (roots_before, roots_after) = (Roots::new(&before), Roots::new(&after));
        let later = {
            let doc = Doc::with_client_id(9);
            for old in &journal {
                apply(&doc, old);
            }
            let roots = Roots::new(&doc);
            let mut txn = doc.transact_mut();
            let text = shared::doc::child_text(&roots.notes, &txn, "n1", "text").unwrap();
            yrs::Text::push(&text, &mut txn, " le samedi");
            txn.encode_update_v1()
        };
        apply(&after, &later);
        apply(&before, &later);
        assert_eq!(
            after.transact().state_vector(),
            before.transact().state_vector()
        );
        let notes_after = roots_after.notes(&after.transact());
        let notes_before = roots_before.notes(&before.transact());
        assert_eq!(notes_after.len(), 1);
        assert_eq!(notes_after[0].text, "Vite : Une navette le samedi");
        assert_eq!(notes_after[0].text, notes_before[0].text);
        assert_eq!(notes_after[0].votes, notes_before[0].votes);
        let decision = notes_after[0].decision.clone().unwrap();
        assert_eq!(decision.by_name, "");
        assert_eq!(decision.reason, "Elle y tient");
        let participants = roots_after.participants(&after.transact());
        assert_eq!(participants["p-anne"].name, "");
        assert_eq!(participants["p-anne"].org, "Commune de Lodève");
    }
}
