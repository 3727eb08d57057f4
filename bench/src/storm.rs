//! Reconnect storm: C clients spread over R rooms (each a mind map of N nodes) are connected
//! and synced; all drop their connection at once and reconnect at once, as after a network
//! cut. Reports the time from the storm to each client synced again (sync step 2 applied).

use std::time::{Duration, Instant};

use crate::client::{Target, join, quantile};
use crate::cold::mind_map;

pub async fn run(
    target: &Target,
    clients: usize,
    rooms: usize,
    nodes: usize,
) -> anyhow::Result<serde_json::Value> {
    let update = mind_map(nodes)?;
    let mut urls = Vec::with_capacity(rooms);
    for i in 0..rooms.max(1) {
        urls.push(target.seeded_room(&format!("storm-{i}"), &update).await?);
    }
    let mut sockets = Vec::with_capacity(clients);
    for i in 0..clients {
        sockets.push(join(&urls[i % urls.len()]).await?.0);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Every connection drops at once, without a closing handshake.
    drop(sockets);
    let storm = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            tokio::spawn(async move {
                let (socket, _, _) = join(&url).await?;
                let elapsed = storm.elapsed();
                anyhow::Ok((socket, elapsed))
            })
        })
        .collect();
    let mut times_ms = Vec::with_capacity(clients);
    let mut failures = 0;
    let mut sockets = Vec::with_capacity(clients);
    for task in tasks {
        match task.await? {
            Ok((socket, elapsed)) => {
                times_ms.push(elapsed.as_secs_f64() * 1_000.0);
                sockets.push(socket);
            }
            Err(error) => {
                failures += 1;
                eprintln!("  storm: a client failed: {error}");
            }
        }
    }
    times_ms.sort_by(f64::total_cmp);
    Ok(serde_json::json!({
        "clients": clients,
        "rooms": urls.len(),
        "nodes_per_room": nodes,
        "failures": failures,
        "resync_p50_ms": quantile(&times_ms, 0.5),
        "resync_p99_ms": quantile(&times_ms, 0.99),
        "all_resynced_ms": times_ms.last().copied().unwrap_or(0.0),
    }))
}
