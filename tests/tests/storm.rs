//! Many readers at once on a board with a long journal, while people edit it and others join
//! other boards: every trace request answers, exports answer or say when to come back, the
//! relay keeps relaying, and a SIGTERM in the middle ends the process in bounded time with
//! nothing committed lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nouage_tests::{Board, ProcessServer, TempDir, YClient, create_board, http};
use server::store::SqliteStore;

/// Journal entries of the stormed board (each a keystroke or a new note, as a long-lived
/// canvas accumulates). `NOUAGE_STORM_ENTRIES` changes it.
const ENTRIES_DEFAULT: u64 = 100_000;
const TRACE_REQUESTS: usize = 256;
const EXPORTS: usize = 32;
const EDITORS: usize = 20;
const OTHER_BOARDS: usize = 8;
/// Rounds of one timed edit per editor while the storm runs.
const TIMED_EDIT_ROUNDS: usize = 5;
/// What the server is started with: a stop takes at most this long.
const SHUTDOWN_TIMEOUT_SECS: u64 = 5;
/// The longest a request may take: the trace's and the heavy reads' waits are 10 s and 5 s.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// Writes a canvas whose journal holds `entries` entries of four participants, straight into
/// a data directory, as years of meetings would leave it.
fn long_journal(data: &std::path::Path, entries: u64) -> Board {
    let store = SqliteStore::open(data, server::store::Durability::Process).unwrap();
    let (record, tokens) = server::store::sample::long_canvas(&store, entries).unwrap();
    Board {
        id: record.id.to_string(),
        facilitator: tokens.facilitator,
        editor: tokens.editor,
        viewer: tokens.viewer,
        response: serde_json::Value::Null,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_trace_readers_and_exports_wedges_nothing_and_sigterm_ends_it() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let entries = std::env::var("NOUAGE_STORM_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ENTRIES_DEFAULT);
    let dir = TempDir::new();
    let started = Instant::now();
    let big = long_journal(dir.path(), entries);
    eprintln!(
        "storm: {entries} journal entries written in {:?}",
        started.elapsed()
    );
    // The record of a board stored before it existed is built once, here from the command line.
    let started = Instant::now();
    let reindex = std::process::Command::new(nouage_tests::nouage_binary())
        .args(["reindex", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(reindex.status.success(), "{reindex:?}");
    let said = String::from_utf8_lossy(&reindex.stdout);
    assert!(
        said.contains(&format!("({entries} journal entries)")),
        "{said}"
    );
    eprintln!("storm: reindexed in {:?}: {said}", started.elapsed());

    let timeout = SHUTDOWN_TIMEOUT_SECS.to_string();
    let server = ProcessServer::start(dir.path(), &["--shutdown-timeout-secs", &timeout]).await;
    let base = server.base.clone();
    let ws = server.ws_base();
    let mut others = Vec::new();
    for i in 0..OTHER_BOARDS {
        others.push(create_board(&base, "mindmap", &format!("Carte {i}")).await);
    }
    // Twenty people edit the big board; one more watches.
    let watcher = YClient::connect(&ws, &big.id, &big.viewer).await.unwrap();
    let mut editors = Vec::new();
    for _ in 0..EDITORS {
        editors.push(YClient::connect(&ws, &big.id, &big.editor).await.unwrap());
    }

    let kinds = [
        "contributions",
        "history?limit=200",
        "elements",
        "deleted",
        "elements/n7",
    ];
    let storm_started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    let answered = Arc::new(AtomicUsize::new(0));
    for i in 0..TRACE_REQUESTS + EXPORTS {
        let (base, id, token) = (base.clone(), big.id.clone(), big.facilitator.clone());
        let answered = answered.clone();
        requests.spawn(async move {
            let export = i >= TRACE_REQUESTS;
            let path = if export {
                ["export?format=csv", "export?format=odt"][i % 2].to_owned()
            } else {
                kinds[i % kinds.len()].to_owned()
            };
            let url = format!("{base}/api/boards/{id}/{path}");
            let sent = Instant::now();
            let response = tokio::time::timeout(
                REQUEST_DEADLINE,
                http().get(&url).bearer_auth(&token).send(),
            )
            .await
            .unwrap_or_else(|_| panic!("{path} unanswered after {REQUEST_DEADLINE:?}"))
            .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body = response.bytes().await.unwrap();
            answered.fetch_add(1, Ordering::Relaxed);
            (
                export,
                path,
                status,
                retry_after,
                body.len(),
                sent.elapsed(),
            )
        });
    }
    // Meanwhile people join the other boards, and the editors type: one edit at a time, each
    // timed from its sending to the watcher's screen, then all at once.
    let mut joining = tokio::task::JoinSet::new();
    for board in others.clone() {
        let ws = ws.clone();
        joining.spawn(async move {
            let started = Instant::now();
            YClient::connect(&ws, &board.id, &board.editor)
                .await
                .expect("a join of another board during the storm");
            started.elapsed()
        });
    }
    let mut edit_latencies = Vec::new();
    let mut written = 0;
    for round in 0..TIMED_EDIT_ROUNDS {
        for (i, editor) in editors.iter().enumerate() {
            let sent = Instant::now();
            editor.write_keys(&format!("t{round}-{i}-"), 1);
            written += 1;
            watcher
                .wait_keys(written)
                .await
                .expect("an edit made during the storm reaches the other screens");
            edit_latencies.push(sent.elapsed());
        }
    }
    let storm_still_running = TRACE_REQUESTS + EXPORTS - answered.load(Ordering::Relaxed);
    for (i, editor) in editors.iter().enumerate() {
        editor.write_keys(&format!("e{i}-"), 10);
    }
    written += EDITORS * 10;
    watcher
        .wait_keys(written)
        .await
        .expect("every edit made during the storm reaches the other screens");
    let mut joins = Vec::new();
    while let Some(took) = joining.join_next().await {
        joins.push(took.unwrap());
    }
    edit_latencies.sort();

    let (mut trace_times, mut export_times, mut unavailable) = (Vec::new(), Vec::new(), 0);
    while let Some(answer) = requests.join_next().await {
        let (export, path, status, retry_after, bytes, took) = answer.unwrap();
        if export {
            assert!(
                status == 200 || (status == 503 && retry_after),
                "{path}: {status} (503 must carry Retry-After)"
            );
            if status == 200 {
                assert!(bytes > 0, "{path}: an empty export");
                export_times.push(took);
            } else {
                unavailable += 1;
            }
        } else {
            assert_eq!(status, 200, "{path}");
            trace_times.push(took);
        }
    }
    trace_times.sort();
    export_times.sort();
    eprintln!(
        "storm: {} trace answers p50 {:?} p99 {:?} max {:?}; {} exports answered (p50 {:?}), {unavailable} told to retry; joins of other boards max {:?}; storm {:?}; {} edits timed one by one ({storm_still_running} requests still running after them): relayed p50 {:?} p99 {:?}",
        trace_times.len(),
        percentile(&trace_times, 0.5),
        percentile(&trace_times, 0.99),
        trace_times.last().unwrap(),
        export_times.len(),
        export_times.first().map(|_| percentile(&export_times, 0.5)),
        joins.iter().max().unwrap(),
        storm_started.elapsed(),
        edit_latencies.len(),
        percentile(&edit_latencies, 0.5),
        percentile(&edit_latencies, 0.99),
    );

    // A second wave, and SIGTERM in its middle: the process ends within its bound.
    let mut wave = tokio::task::JoinSet::new();
    for i in 0..EXPORTS {
        let (base, id, token) = (base.clone(), big.id.clone(), big.facilitator.clone());
        wave.spawn(async move {
            let url = format!(
                "{base}/api/boards/{id}/{}",
                ["export?format=odt", "contributions"][i % 2]
            );
            let _ = http().get(&url).bearer_auth(&token).send().await;
        });
    }
    editors[0].write_keys("last-", 5);
    watcher.wait_keys(written + 5).await.unwrap();
    let stopping = Instant::now();
    let status = server.terminate().await;
    let stopped_in = stopping.elapsed();
    eprintln!("storm: SIGTERM during the second wave: stopped in {stopped_in:?} ({status})");
    assert!(
        stopped_in < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 3),
        "the stop took {stopped_in:?}"
    );
    wave.abort_all();

    // Everything that reached the other screens is there after a restart.
    let server = ProcessServer::start(dir.path(), &[]).await;
    let after = YClient::connect(&server.ws_base(), &big.id, &big.viewer)
        .await
        .unwrap();
    assert_eq!(after.keys(), watcher.keys(), "nothing committed was lost");
    let ready = http()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the restarted server is ready");
    server.kill().await;
}
