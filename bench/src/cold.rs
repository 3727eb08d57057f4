//! Cold join: boards holding a mind map of N nodes are written, the server is restarted (by
//! the caller, `cargo xtask bench`), then a client joins each board in turn — none is in the
//! server's memory — and the time from opening the websocket to the sync step 2 applied is
//! measured. The client checks it received every node.

use std::time::Instant;
use yrs::updates::decoder::Decode;

use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use shared::{BoardKind, Lang, Roots};

use crate::client::{Target, join_timed, quantile};

/// The encoded state of a mind map board with `nodes` nodes under its root (plus the root), in
/// the shape the web app writes (`Roots::add_sample_node`).
pub fn mind_map(nodes: usize) -> anyhow::Result<Vec<u8>> {
    let initial = shared::doc::initial_update(BoardKind::MindMap, "Carte du territoire", Lang::Fr);
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    let mut txn = doc.transact_mut();
    txn.apply_update(Update::decode_v1(&initial)?)?;
    for i in 0..nodes {
        roots.add_sample_node(&mut txn, i);
    }
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}

/// Writes `boards` boards of `nodes` nodes; returns their websocket URLs.
pub async fn seed(target: &Target, boards: usize, nodes: usize) -> anyhow::Result<Vec<String>> {
    let update = mind_map(nodes)?;
    let mut urls = Vec::with_capacity(boards);
    for i in 0..boards {
        urls.push(target.seeded_room(&format!("cold-{i}"), &update).await?);
    }
    Ok(urls)
}

/// Joins each URL once, in turn; reports the join times (to the step 2 arrived, to it applied)
/// and the nodes the client received.
pub async fn join_each(urls: &[String], nodes: usize) -> anyhow::Result<serde_json::Value> {
    let mut times_ms = Vec::new();
    let mut arrival_ms = Vec::new();
    let mut received = Vec::new();
    let mut state_bytes = 0;
    for url in urls {
        let joined = join_timed(url).await?;
        let (socket, doc) = (joined.socket, joined.doc);
        times_ms.push(joined.applied.as_secs_f64() * 1_000.0);
        arrival_ms.push(joined.received.as_secs_f64() * 1_000.0);
        let roots = Roots::new(&doc);
        let txn = doc.transact();
        state_bytes = txn.encode_state_as_update_v1(&StateVector::default()).len();
        // The root is a node too.
        received.push(roots.nodes(&txn).len().saturating_sub(1));
        drop(txn);
        drop(socket);
    }
    let complete = received.iter().all(|&n| n == nodes);
    let mut sorted = times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(serde_json::json!({
        "boards": urls.len(),
        "nodes": nodes,
        "state_bytes": state_bytes,
        "complete": complete,
        "nodes_received": received,
        "cold_join_ms": times_ms,
        // The part the server takes: until the step 2 has arrived, before the client applies it.
        "step2_arrived_ms": arrival_ms,
        "cold_join_p50_ms": quantile(&sorted, 0.5),
        "cold_join_max_ms": sorted.last().copied().unwrap_or(0.0),
    }))
}

/// A client's part of a cold join, alone: decoding the step 2 of a `nodes` mind map and applying
/// it to an empty document, five times each (milliseconds).
pub fn decode_times(nodes: usize) -> anyhow::Result<serde_json::Value> {
    let update = mind_map(nodes)?;
    let (mut decode_ms, mut apply_ms) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let decoded = Update::decode_v1(&update)?;
        let decoded_at = Instant::now();
        let doc = Doc::new();
        doc.transact_mut().apply_update(decoded)?;
        decode_ms.push((decoded_at - started).as_secs_f64() * 1_000.0);
        apply_ms.push(decoded_at.elapsed().as_secs_f64() * 1_000.0);
    }
    Ok(serde_json::json!({
        "nodes": nodes,
        "state_bytes": update.len(),
        "decode_ms": decode_ms,
        "apply_ms": apply_ms,
    }))
}
