//! What is stored stays stored: restarts, unloading and reloading, snapshots, SIGKILL.

use nouage_tests::{ProcessServer, TempDir, TestServer, YClient, create_board};
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
        // Wait for the room to unload (nobody connected for 200 ms, checked every second).
        tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    }
    let snapshots: i64 = rusqlite::Connection::open(dir.path().join("nouage.sqlite3"))
        .unwrap()
        .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
        .unwrap();
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
    let check: String = rusqlite::Connection::open(dir.path().join("nouage.sqlite3"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_keeps_everything() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = ProcessServer::start(dir.path(), &[]).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let map = client.doc().get_or_insert_map("m");
    for i in 0..50 {
        client.edit(|txn| {
            map.insert(txn, format!("k{i}"), i as f64);
        });
    }
    let witness = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let seen = witness.doc().get_or_insert_map("m");
    witness
        .wait_until(|doc| seen.len(&doc.transact()) == 50)
        .await
        .unwrap();
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    let code = client.closed().await.unwrap().0;
    assert_eq!(code, 1001, "clients are told the server is going away");

    let server = ProcessServer::start(dir.path(), &[]).await;
    let after = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let map = after.doc().get_or_insert_map("m");
    assert_eq!(map.len(&after.doc().transact()), 50);
    server.kill().await;
}
