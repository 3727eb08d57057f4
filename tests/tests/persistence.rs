//! What is stored stays stored: restarts, unloading and reloading, snapshots, SIGKILL.

use nouage_tests::run_nouage as nouage;
use nouage_tests::{Board, ProcessServer, TempDir, TestServer, YClient, create_board};
use yrs::{Array, GetString, Map, Text, Transact};

#[tokio::test]
async fn edits_survive_a_restart_of_the_server() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let text = client.doc().get_or_insert_text("t");
    client.edit(|txn| text.insert(txn, 0, "avant redémarrage"));
    let witness = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let seen = witness.doc().get_or_insert_text("t");
    witness
        .wait_until(|doc| !seen.get_string(&doc.transact()).is_empty())
        .await
        .unwrap();
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let after = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let text = after.doc().get_or_insert_text("t");
    assert_eq!(
        text.get_string(&after.doc().transact()),
        "avant redémarrage"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_room_unloaded_when_idle_reloads_from_snapshot_and_journal() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.limits.room_idle_unload_ms = 200;
        c.limits.snapshot_every_updates = 5;
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    for round in 0..3 {
        let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .unwrap();
        let array = client.doc().get_or_insert_array("a");
        assert_eq!(
            array.len(&client.doc().transact()),
            round * 7,
            "round {round} starts from what was stored"
        );
        for i in 0..7 {
            client.edit(|txn| {
                array.push_back(txn, format!("{round}-{i}"));
            });
        }
        // A second client sees the seven items: they are committed.
        let witness = YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .unwrap();
        let seen = witness.doc().get_or_insert_array("a");
        let expected = (round + 1) * 7;
        witness
            .wait_until(|doc| seen.len(&doc.transact()) == expected)
            .await
            .unwrap();
        client.close();
        witness.close();
        // The room unloads (nobody connected for 200 ms, checked every second): the next round
        // reads the board back from its snapshot and journal.
        stats_until(&server.base, |s| s["roomsLoaded"] == 0).await;
    }
    let snapshots = nouage_tests::db_count(dir.path(), "SELECT count(*) FROM snapshots");
    assert!(snapshots >= 1, "idle unloads wrote no snapshot");
    server.stop().await;
}

#[tokio::test]
async fn an_update_a_second_client_received_survives_sigkill() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    for round in 0..3 {
        let server = ProcessServer::start(dir.path(), &[]).await;
        let board = create_board(&server.base, "mindmap", "Carte").await;
        let sender = YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .unwrap();
        let receiver = YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .unwrap();
        let map = sender.doc().get_or_insert_map("m");
        sender.edit(|txn| {
            map.insert(txn, "value", format!("round {round}"));
        });
        let seen = receiver.doc().get_or_insert_map("m");
        receiver
            .wait_until(|doc| seen.get(&doc.transact(), "value").is_some())
            .await
            .unwrap();
        // Killed right after the second client received the update: no clean shutdown.
        server.kill().await;

        let server = ProcessServer::start(dir.path(), &[]).await;
        let after = YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .unwrap();
        let map = after.doc().get_or_insert_map("m");
        let value = map
            .get(&after.doc().transact(), "value")
            .map(|v| v.to_string(&after.doc().transact()));
        assert_eq!(value.as_deref(), Some(format!("round {round}").as_str()));
        server.kill().await;
    }
    if !nouage_tests::on_postgres() {
        let check = nouage_tests::db_value(dir.path(), "PRAGMA integrity_check");
        assert_eq!(check, rusqlite::types::Value::Text("ok".into()));
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_keeps_everything() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = ProcessServer::start(dir.path(), &[]).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let client = write_committed(&server.ws_base(), &board, "k", 50).await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    let code = client.closed().await.unwrap().0;
    assert_eq!(code, 1001, "clients are told the server is going away");

    let server = ProcessServer::start(dir.path(), &[]).await;
    assert_eq!(keys_on_join(&server.ws_base(), &board).await, 50);
    server.kill().await;
}

/// Writes `count` keys named `prefix`N from a new editor connection and waits until a second
/// connection has them all: the relay sends an edit on only once it is committed, so they are
/// stored. Returns the writer, still connected.
async fn write_committed(ws: &str, board: &Board, prefix: &str, count: usize) -> YClient {
    let writer = YClient::connect(ws, &board.id, &board.editor)
        .await
        .unwrap();
    writer.write_keys(prefix, count);
    let witness = YClient::connect(ws, &board.id, &board.viewer)
        .await
        .unwrap();
    witness.wait_keys(count).await.unwrap();
    writer
}

/// How many keys of the test map a viewer joining now receives.
async fn keys_on_join(ws: &str, board: &Board) -> usize {
    let viewer = YClient::connect(ws, &board.id, &board.viewer)
        .await
        .unwrap();
    viewer.keys().len()
}

/// The environment block a running process was started with, its variables one per line
/// (glibc may split `GLIBC_TUNABLES` at its colons in place while reading it).
fn environment_of(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    String::from_utf8_lossy(&raw).replace('\0', "\n")
}

#[tokio::test]
async fn the_server_runs_with_its_allocator_settings_and_keeps_an_operators_own() {
    if !nouage_tests::binary_ready() || !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let dir = TempDir::new();
    // Started plainly, the process that serves (same pid) holds the settings that let freed
    // memory go back to the system; and it serves.
    let server = ProcessServer::start(dir.path(), &[]).await;
    let environment = environment_of(server.pid());
    assert!(
        environment.contains("GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
            && environment.contains("glibc.malloc.mxfast=0"),
        "{environment}"
    );
    let board = create_board(&server.base, "mindmap", "Carte").await;
    write_committed(&server.ws_base(), &board, "k", 3).await;
    server.kill().await;
    // An operator's own tunables are left as they are, and the server still starts.
    let server = ProcessServer::start_with_env(
        dir.path(),
        &[],
        &[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")],
    )
    .await;
    let environment = environment_of(server.pid());
    assert!(
        environment.contains("GLIBC_TUNABLES=glibc.malloc.arena_max=2")
            && !environment.contains("tcache_count"),
        "{environment}"
    );
    assert_eq!(keys_on_join(&server.ws_base(), &board).await, 3);
    server.kill().await;
}

#[tokio::test]
async fn a_crash_loop_under_concurrent_writing_loses_nothing_any_client_received() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let mut server = ProcessServer::start(dir.path(), &[]).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let mut received = std::collections::BTreeSet::new();
    // Kill moments spread over the writing, in milliseconds.
    for (round, kill_after_ms) in [173u64, 251, 337, 409, 97].into_iter().enumerate() {
        let observer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
            .await
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for writer in 0..3 {
            let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
                .await
                .unwrap();
            let stop = stop.clone();
            writers.push(tokio::spawn(async move {
                let map = client.doc().get_or_insert_map("m");
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    client.edit(|txn| {
                        map.insert(txn, format!("r{round}-w{writer}-{n}"), n as f64);
                    });
                    n += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }));
        }
        // Counted from the first relayed edit of the round: a slow disk flush must not leave
        // the round with nothing relayed to check.
        let map = observer.doc().get_or_insert_map("m");
        let prefix = format!("r{round}-");
        observer
            .wait_until(|doc| map.keys(&doc.transact()).any(|k| k.starts_with(&prefix)))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(kill_after_ms)).await;
        server.kill().await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for writer in writers {
            writer.await.unwrap();
        }
        // What the observer received came through the relay: it must all be stored.
        let observed = observer.keys();
        assert!(
            observed
                .iter()
                .any(|k| k.starts_with(&format!("r{round}-"))),
            "round {round}: nothing was relayed before the kill"
        );
        received.extend(observed);
        server = ProcessServer::start(dir.path(), &[]).await;
        let checker = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
            .await
            .unwrap();
        let stored = checker.keys();
        let lost: Vec<&String> = received.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} received updates lost, e.g. {:?}",
            lost.len(),
            lost.first()
        );
    }
    server.kill().await;
    if !nouage_tests::on_postgres() {
        let check = nouage_tests::db_value(dir.path(), "PRAGMA integrity_check");
        assert_eq!(check, rusqlite::types::Value::Text("ok".into()));
    }
}

#[tokio::test]
async fn a_backup_taken_while_writing_restores_into_a_new_directory() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let (dir_a, dir_b) = (TempDir::new(), TempDir::new());
    let backup_file = dir_b.path().join("backup.sqlite3");
    let server = ProcessServer::start(dir_a.path(), &[]).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let writer = write_committed(&server.ws_base(), &board, "before-", 50).await;
    // The backup runs while edits keep arriving.
    writer.write_keys("during-", 20);
    let data_a = dir_a.path().to_str().unwrap();
    let (ok, stdout, stderr) = nouage(&[
        "backup",
        "--data",
        data_a,
        "--out",
        backup_file.to_str().unwrap(),
    ]);
    assert!(ok, "backup failed: {stderr}");
    assert!(
        stdout.starts_with("backup written to") && stdout.contains("1 boards"),
        "{stdout}"
    );

    // Nothing restores into a directory a server holds, and a second server cannot start there.
    let (ok, _, stderr) = nouage(&[
        "restore",
        "--data",
        data_a,
        "--from",
        backup_file.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("another nouage process"), "{stderr}");
    let (ok, _, stderr) = nouage(&["serve", "--listen", "127.0.0.1:0", "--data", data_a]);
    assert!(!ok && stderr.contains("another nouage process"), "{stderr}");
    server.kill().await;

    // A file that is not a backup is refused and the data stays as it was.
    let garbage = dir_b.path().join("garbage");
    std::fs::write(&garbage, b"not a database at all").unwrap();
    let (ok, _, stderr) = nouage(&[
        "restore",
        "--data",
        data_a,
        "--from",
        garbage.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("not a SQLite database"), "{stderr}");

    let data_b = dir_b.path().join("data");
    let (ok, stdout, stderr) = nouage(&[
        "restore",
        "--data",
        data_b.to_str().unwrap(),
        "--from",
        backup_file.to_str().unwrap(),
    ]);
    assert!(ok, "restore failed: {stderr}");
    assert!(stdout.starts_with("restored"), "{stdout}");
    let server = ProcessServer::start(&data_b, &[]).await;
    let restored = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let keys = restored.keys();
    assert!(
        (0..50).all(|i| keys.contains(&format!("before-{i}"))),
        "every edit made before the backup is there"
    );
    server.kill().await;

    let server = ProcessServer::start(dir_a.path(), &[]).await;
    let original = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    assert!(
        original
            .doc()
            .get_or_insert_map("m")
            .len(&original.doc().transact())
            >= 50
    );
    server.kill().await;
}

/// A mind map of `nodes` sample nodes as one Yjs state: with 3,000 about half a megabyte, so
/// the room keeps it ready for clients that join with nothing.
fn large_map_state(nodes: usize) -> Vec<u8> {
    use shared::{BoardKind, Lang, Roots};
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, ReadTxn, StateVector, Update};
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    let mut txn = doc.transact_mut();
    let initial = shared::doc::initial_update(BoardKind::MindMap, "Grande carte", Lang::Fr);
    txn.apply_update(Update::decode_v1(&initial).unwrap())
        .unwrap();
    for i in 0..nodes {
        roots.add_sample_node(&mut txn, i);
    }
    let state = txn.encode_state_as_update_v1(&StateVector::default());
    assert!(state.len() > 256 * 1024, "{} bytes", state.len());
    state
}

#[tokio::test]
async fn a_large_board_loaded_whole_is_sent_whole_then_with_the_changes_since() {
    use shared::Roots;
    let state = large_map_state(3_000);
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let (status, answer) = nouage_tests::import_board(&server.base, "yjs", state).await;
    assert_eq!(status, 201, "{answer}");
    let board = nouage_tests::board_from(&answer);
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let first = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let first_roots = Roots::new(first.doc());
    assert_eq!(first_roots.nodes(&first.doc().transact()).len(), 3_001);
    first.edit(|txn| {
        first_roots.add_node(
            txn,
            "late",
            Some("root"),
            -1.0,
            "Ajoutée après le chargement",
            "",
        )
    });
    // Committed before the second client comes: it can only learn of it from its sync answer.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let second = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let second_roots = Roots::new(second.doc());
    second
        .wait_until(|doc| second_roots.nodes(&doc.transact()).len() == 3_002)
        .await
        .unwrap();
    let nodes = second_roots.nodes(&second.doc().transact());
    assert!(
        nodes
            .iter()
            .any(|n| n.text == "Ajoutée après le chargement")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_joining_a_large_cold_board_gets_it_before_the_server_decoded_it_and_keeps_its_edits()
 {
    use shared::Roots;
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let (status, answer) =
        nouage_tests::import_board(&server.base, "yjs", large_map_state(3_000)).await;
    assert_eq!(status, 201, "{answer}");
    let board = nouage_tests::board_from(&answer);
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let query = format!("token={}", board.editor);
    let first = YClient::open(&server.ws_base(), &board.id, &query)
        .await
        .unwrap();
    // Typed at once, while the room is still decoding the board it has just read.
    let roots = Roots::new(first.doc());
    first.edit(|txn| roots.add_node(txn, "early", Some("root"), -1.0, "Tout de suite", ""));
    first
        .wait_until(|doc| roots.nodes(&doc.transact()).len() == 3_002)
        .await
        .unwrap();
    // The whole board came first; the server asks for what it misses (its own step 1) only
    // once it holds the decoded document.
    assert_eq!(
        first.sync_steps().first(),
        Some(&2),
        "{:?}",
        first.sync_steps()
    );

    let second = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let second_roots = Roots::new(second.doc());
    second
        .wait_until(|doc| {
            let nodes = second_roots.nodes(&doc.transact());
            nodes.len() == 3_002 && nodes.iter().any(|n| n.text == "Tout de suite")
        })
        .await
        .unwrap();
    server.stop().await;

    // Kept, not only relayed.
    let server = TestServer::start(dir.path()).await;
    let third = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let third_roots = Roots::new(third.doc());
    let nodes = third_roots.nodes(&third.doc().transact());
    assert!(nodes.iter().any(|n| n.text == "Tout de suite"));
    server.stop().await;
}

/// The server's in-memory statistics, polled until `condition` holds on them.
async fn stats_until(
    base: &str,
    condition: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + nouage_tests::WAIT;
    loop {
        let stats = nouage_tests::get_json(&format!("{base}/api/stats"), "").await;
        if condition(&stats) {
            return stats;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stats stayed at {stats}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_board_whose_clients_are_quiet_lets_its_document_go_and_wakes_for_the_next_edit() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| c.limits.room_sleep_after_ms = 300).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let anne = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let bruno = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let text = anne.doc().get_or_insert_text("t");
    anne.edit(|txn| text.insert(txn, 0, "avant la pause"));
    let seen = bruno.doc().get_or_insert_text("t");
    bruno
        .wait_until(|doc| seen.get_string(&doc.transact()) == "avant la pause")
        .await
        .unwrap();

    // Both stay connected, quiet: the room lets the document go.
    let stats = stats_until(&server.base, |s| s["roomsAsleep"] == 1).await;
    assert_eq!(stats["roomsLoaded"], 1, "{stats}");
    assert_eq!(stats["connections"], 2, "{stats}");
    // Presence is still relayed, without waking it.
    anne.set_awareness(7, 1, r#"{"user":{"name":"Anne"}}"#);
    bruno
        .wait_awareness(|states| states.get(&7).is_some_and(|s| s.contains("Anne")))
        .await
        .unwrap();
    assert_eq!(stats_until(&server.base, |_| true).await["roomsAsleep"], 1);

    // The next edit wakes it: relayed, and built on what was there.
    anne.edit(|txn| text.push(txn, " et après"));
    bruno
        .wait_until(|doc| seen.get_string(&doc.transact()) == "avant la pause et après")
        .await
        .unwrap();
    // (Not asked whether it is awake now: 300 ms later it may sleep again.)
    let zoe = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let zoe_text = zoe.doc().get_or_insert_text("t");
    assert_eq!(
        zoe_text.get_string(&zoe.doc().transact()),
        "avant la pause et après"
    );
    // Asleep again, then stopped: nothing is lost.
    stats_until(&server.base, |s| s["roomsAsleep"] == 1).await;
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let after = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let after_text = after.doc().get_or_insert_text("t");
    assert_eq!(
        after_text.get_string(&after.doc().transact()),
        "avant la pause et après"
    );
    server.stop().await;
}
