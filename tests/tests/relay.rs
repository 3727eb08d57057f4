//! The relay as several yrs clients see it: convergence, roles, awareness, participants.

use nouage_tests::{TempDir, TestServer, YClient, create_board, export_json};
use tokio_tungstenite::tungstenite::Message;
use yrs::types::ToJson;
use yrs::{Array, GetString, Map, Text, Transact};

#[tokio::test]
async fn three_clients_converge_on_concurrent_text_map_and_array_edits() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(
            YClient::connect(&server.ws_base(), &board.id, &board.editor)
                .await
                .unwrap(),
        );
    }
    // Each client edits the same text, map and array without waiting for the others.
    for (i, client) in clients.iter().enumerate() {
        let text = client.doc().get_or_insert_text("t");
        let map = client.doc().get_or_insert_map("m");
        let array = client.doc().get_or_insert_array("a");
        client.edit(|txn| {
            text.insert(txn, 0, &format!("[{i}]"));
            map.insert(txn, format!("k{i}"), i as f64);
            map.insert(txn, "shared", i as f64);
            array.push_back(txn, format!("item{i}"));
        });
    }
    let complete = |doc: &yrs::Doc| {
        let text = doc.get_or_insert_text("t");
        let array = doc.get_or_insert_array("a");
        let txn = doc.transact();
        text.get_string(&txn).len() == 9 && array.len(&txn) == 3
    };
    for client in &clients {
        client.wait_until(complete).await.unwrap();
    }
    let snapshot = |client: &YClient| {
        let doc = client.doc();
        let (text, map, array) = (
            doc.get_or_insert_text("t"),
            doc.get_or_insert_map("m"),
            doc.get_or_insert_array("a"),
        );
        let txn = doc.transact();
        (
            text.get_string(&txn),
            map.to_json(&txn),
            array.to_json(&txn),
        )
    };
    let first = snapshot(&clients[0]);
    for client in &clients[1..] {
        assert_eq!(snapshot(client), first);
    }
    for i in 0..3 {
        assert!(
            first.0.contains(&format!("[{i}]")),
            "text {:?} lacks [{i}]",
            first.0
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_viewer_update_is_neither_applied_nor_relayed_nor_stored() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let editor = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_map = viewer.doc().get_or_insert_map("m");
    viewer.edit(|txn| {
        viewer_map.insert(txn, "by-viewer", "x");
    });
    // An editor's later update does arrive: so the viewer's, sent first, was dropped.
    let editor_map = editor.doc().get_or_insert_map("m");
    editor.edit(|txn| {
        editor_map.insert(txn, "by-editor", "y");
    });
    let late = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let late_map = late.doc().get_or_insert_map("m");
    late.wait_until(|doc| late_map.get(&doc.transact(), "by-editor").is_some())
        .await
        .unwrap();
    viewer
        .wait_until(|doc| viewer_map.get(&doc.transact(), "by-editor").is_some())
        .await
        .unwrap();
    assert!(late_map.get(&late.doc().transact(), "by-viewer").is_none());
    assert!(
        editor_map
            .get(&editor.doc().transact(), "by-viewer")
            .is_none()
    );
    // The viewer is still connected: its update was dropped, not punished.
    assert_eq!(viewer.close_reason(), None);
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let reloaded = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let reloaded_map = reloaded.doc().get_or_insert_map("m");
    let txn = reloaded.doc().transact();
    assert!(reloaded_map.get(&txn, "by-editor").is_some());
    assert!(reloaded_map.get(&txn, "by-viewer").is_none());
    drop(txn);
    server.stop().await;
}

#[tokio::test]
async fn when_a_crowd_leaves_at_once_every_presence_goes_and_the_board_goes_on() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let ws = server.ws_base();
    let board = create_board(&server.base, "mindmap", "Réunion").await;
    let host = YClient::connect(&ws, &board.id, &board.editor)
        .await
        .unwrap();
    host.set_awareness(1, 1, r#"{"user":{"name":"Animatrice"}}"#);
    let mut crowd = Vec::new();
    for i in 0..150_u64 {
        let client = YClient::connect(&ws, &board.id, &board.viewer)
            .await
            .unwrap();
        client.set_awareness(1_000 + i, 1, &format!(r#"{{"user":{{"name":"P{i}"}}}}"#));
        crowd.push(client);
    }
    host.wait_awareness(|states| states.len() == 151)
        .await
        .unwrap();
    // Everybody but the host leaves at once: while the room forgets one, the others' outboxes
    // are already closed, and each presence removal it relays finds them.
    for client in &crowd {
        client.close();
    }
    drop(crowd);
    host.wait_awareness(|states| states.len() == 1 && states.contains_key(&1))
        .await
        .unwrap();
    assert_eq!(host.close_reason(), None);
    // The board goes on: an edit reaches a newcomer, who sees the host alone.
    host.write_keys("after", 3);
    let newcomer = YClient::connect(&ws, &board.id, &board.viewer)
        .await
        .unwrap();
    newcomer.wait_keys(3).await.unwrap();
    newcomer
        .wait_awareness(|states| states.len() == 1)
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn awareness_is_echoed_shared_and_removed_when_a_connection_closes() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let anne = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let bruno = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    anne.set_awareness(11, 1, r#"{"user":{"name":"Anne"}}"#);
    bruno.set_awareness(22, 1, r#"{"user":{"name":"Bruno"}}"#);
    // The sender hears its own state back (stock clients rely on this echo to stay alive).
    anne.wait_awareness(|states| states.contains_key(&11) && states.contains_key(&22))
        .await
        .unwrap();
    bruno
        .wait_awareness(|states| states.contains_key(&11) && states.contains_key(&22))
        .await
        .unwrap();
    // A client joining later receives the current states right away.
    let late = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    late.wait_awareness(|states| states.len() == 2)
        .await
        .unwrap();
    bruno.close();
    anne.wait_awareness(|states| !states.contains_key(&22))
        .await
        .unwrap();
    late.wait_awareness(|states| states.keys().collect::<Vec<_>>() == [&11])
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn awareness_not_renewed_expires_on_the_server() {
    let dir = TempDir::new();
    let server =
        TestServer::start_with(dir.path(), |c| c.limits.awareness_timeout_ms = 1_500).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let quiet = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let watcher = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    quiet.set_awareness(5, 1, r#"{"user":{"name":"Q"}}"#);
    watcher
        .wait_awareness(|states| states.contains_key(&5))
        .await
        .unwrap();
    watcher
        .wait_awareness(|states| !states.contains_key(&5))
        .await
        .unwrap();
    assert_eq!(
        quiet.close_reason(),
        None,
        "expiry removes the state, not the connection"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_server_records_each_participant_once_from_the_connection_parameters() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let query = format!(
        "token={}&pid=p-anne&name=Anne%20B%C3%A9rub%C3%A9&org=Commune%20des%20%C3%89boulements&orgKind=commune&color=%23123456",
        board.viewer
    );
    let anne = YClient::connect_with(&server.ws_base(), &board.id, &query)
        .await
        .unwrap();
    let participants = anne.doc().get_or_insert_map("participants");
    anne.wait_until(|doc| participants.get(&doc.transact(), "p-anne").is_some())
        .await
        .unwrap();
    anne.close();
    // A second visit with another name does not rewrite the first record.
    let again = query.replace("Anne%20B%C3%A9rub%C3%A9", "Autre");
    let _second = YClient::connect_with(&server.ws_base(), &board.id, &again)
        .await
        .unwrap();
    let json = export_json(&server.base, &board).await;
    let anne = &json["participants"]["p-anne"];
    assert_eq!(anne["name"], "Anne Bérubé");
    assert_eq!(anne["org"], "Commune des Éboulements");
    assert_eq!(anne["orgKind"], "commune");
    assert_eq!(anne["color"], "#123456");
    assert_eq!(json["participants"].as_object().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_disconnected_while_the_others_get_every_update() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.limits.send_queue_frames_max = 16;
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    // A raw socket that never reads: the server's queue towards it fills.
    let url = format!("{}/{}?token={}", server.ws_base(), board.id, board.editor);
    let (stalled, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let array = writer.doc().get_or_insert_array("a");
    let reader_array = reader.doc().get_or_insert_array("a");
    let payload = "x".repeat(64 * 1024);
    // Each edit waits until the reader has it, as a reader that keeps up would: its queue
    // never holds more than one frame, whatever the disk's or the scheduler's pace, while the
    // stalled socket's queue takes one more each time.
    for i in 0..200 {
        writer.edit(|txn| {
            array.push_back(txn, format!("{i}{payload}"));
        });
        reader
            .wait_until(|doc| reader_array.len(&doc.transact()) == i + 1)
            .await
            .unwrap();
    }
    assert_eq!(reader.close_reason(), None);
    // The stalled socket, read at last, holds fewer than all updates and then ends.
    let (mut received, mut close_code) = (0, None);
    let mut stalled = stalled;
    let drained = tokio::time::timeout(nouage_tests::WAIT, async {
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut stalled).await {
            match message {
                Message::Binary(_) => received += 1,
                Message::Close(frame) => close_code = frame.map(|f| u16::from(f.code)),
                _ => {}
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the stalled connection was not closed");
    assert!(
        received < 200,
        "the stalled reader got {received} frames, as if never cut off"
    );
    if let Some(code) = close_code {
        assert_eq!(code, 4429);
    }
    server.stop().await;
}
