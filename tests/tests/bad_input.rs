//! Bad input gets a clear answer, closes only its own connection, and stores nothing.

use nouage_tests::{TempDir, TestServer, YClient, create_board, db_count, http};
use serde_json::{Value, json};
use shared::protocol::{self, Message};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::updates::encoder::Encode;
use yrs::{Array, Map, ReadTxn, Transact};

/// Connects with `query`, sends `frame` if any, and returns the close code.
async fn close_code(
    server: &TestServer,
    board: &str,
    query: &str,
    frame: Option<WsMessage>,
) -> u16 {
    let client = YClient::open(&server.ws_base(), board, query)
        .await
        .unwrap();
    if let Some(frame) = frame {
        client.send_message(frame);
    }
    client.closed().await.unwrap().0
}

#[tokio::test]
async fn websocket_refusals_close_with_the_contract_codes() {
    let dir = TempDir::new();
    let server =
        TestServer::start_with(dir.path(), |c| c.limits.max_message_bytes = 64 * 1024).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let editor = format!("token={}", board.editor);
    let bin = |bytes: Vec<u8>| Some(WsMessage::Binary(bytes.into()));
    let cases: Vec<(&str, &str, String, Option<WsMessage>, u16)> = vec![
        (
            "unknown board",
            "0123456789abcdef",
            editor.clone(),
            None,
            4404,
        ),
        ("malformed board id", "..%2F..", editor.clone(), None, 4404),
        ("missing token", &board.id, String::new(), None, 4401),
        (
            "wrong token",
            &board.id,
            "token=not-a-token".into(),
            None,
            4401,
        ),
        (
            "unknown message type",
            &board.id,
            editor.clone(),
            bin(vec![9, 0]),
            1003,
        ),
        (
            "truncated sync message",
            &board.id,
            editor.clone(),
            bin(vec![0, 2, 200, 1]),
            1003,
        ),
        (
            "garbage update",
            &board.id,
            editor.clone(),
            bin(protocol::encode(&Message::Update(&[
                255, 255, 255, 1, 2, 3,
            ]))),
            1003,
        ),
        (
            "garbage state vector",
            &board.id,
            editor.clone(),
            bin(protocol::encode(&Message::SyncStep1(&[5, 255]))),
            1003,
        ),
        (
            "text frame",
            &board.id,
            editor.clone(),
            Some(WsMessage::Text("hello".into())),
            1003,
        ),
        (
            "oversized message",
            &board.id,
            editor.clone(),
            bin(vec![0; 100 * 1024]),
            1009,
        ),
        (
            "unknown orgKind",
            &board.id,
            format!("{editor}&orgKind=kingdom"),
            None,
            1008,
        ),
    ];
    let witness = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    for (name, board_id, query, frame, expected) in cases {
        assert_eq!(
            close_code(&server, board_id, &query, frame).await,
            expected,
            "{name}"
        );
    }
    // None of that closed anybody else's connection.
    assert_eq!(witness.close_reason(), None);
    nouage_tests::assert_still_relays(&server.ws_base(), &board, &witness, "still").await;
    server.stop().await;
}

#[tokio::test]
async fn a_plain_request_to_the_websocket_route_gets_a_clear_error() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let url = format!("{}/ws/{}?token={}", server.base, board.id, board.editor);
    // A plain request, then a websocket of another version than 13 (told which one is spoken).
    let cases: [(&[(&str, &str)], &str); 2] = [
        (&[], "expected a websocket upgrade"),
        (
            &[
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "8"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            "version 13",
        ),
    ];
    for (headers, message) in cases {
        let request = headers
            .iter()
            .fold(http().get(&url), |request, (name, value)| {
                request.header(*name, *value)
            });
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{message}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(message)),
            "{body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn connecting_to_an_unknown_board_creates_nothing() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let code = close_code(
        &server,
        "feedfacefeedface",
        &format!("token={}", board.editor),
        None,
    )
    .await;
    assert_eq!(code, 4404);
    let boards = db_count(dir.path(), "SELECT count(*) FROM boards");
    assert_eq!(boards, 1);
    server.stop().await;
}

#[tokio::test]
async fn an_update_yrs_rejects_is_never_stored() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let journal_len = || db_count(dir.path(), "SELECT count(*) FROM journal");
    let before = journal_len();
    // Valid framing around bytes that are not a Yjs update.
    for garbage in [
        vec![1, 1, 1, 1, 1, 1, 1, 1],
        vec![0xff; 40],
        vec![1, 0, 8, 0, 119, 3],
    ] {
        let frame = protocol::encode(&Message::Update(&garbage));
        let code = close_code(
            &server,
            &board.id,
            &format!("token={}", board.editor),
            Some(WsMessage::Binary(frame.into())),
        )
        .await;
        assert_eq!(code, 1003, "{garbage:?}");
    }
    assert_eq!(journal_len(), before);
    server.stop().await;
}

#[tokio::test]
async fn limits_of_document_size_and_clients_per_board_close_with_4429() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.limits.max_document_bytes = 16 * 1024;
        c.limits.max_clients_per_board = 3;
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let first = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let _second = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let _third = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let fourth = close_code(&server, &board.id, &format!("token={}", board.editor), None).await;
    assert_eq!(fourth, 4429, "a fourth client on a board limited to three");

    let array = first.doc().get_or_insert_array("a");
    first.edit(|txn| {
        array.push_back(txn, "x".repeat(20 * 1024));
    });
    let (code, reason) = first.closed().await.unwrap();
    assert_eq!(code, 4429);
    assert!(reason.contains("size limit"), "{reason}");
    server.stop().await;
}

async fn post(base: &str, body: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = http()
        .post(format!("{base}/api/boards"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn get(url: &str) -> (u16, Value) {
    let response = http().get(url).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn rest_errors_are_json_with_a_4xx_status() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let base = &server.base;
    let board = create_board(base, "portfolio", "Projets").await;
    let long_title = json!({"kind": "mindmap", "title": "é".repeat(201)}).to_string();
    let create_cases: Vec<(&str, String, u16, &str)> = vec![
        ("not json", "{".into(), 400, "invalid request body"),
        (
            "unknown kind",
            r#"{"kind":"whiteboard","title":"x"}"#.into(),
            400,
            "unknown board kind",
        ),
        (
            "unknown lang",
            r#"{"kind":"mindmap","title":"x","lang":"de"}"#.into(),
            400,
            "unknown language",
        ),
        (
            "empty title",
            r#"{"kind":"mindmap","title":"  "}"#.into(),
            400,
            "title must not be empty",
        ),
        ("long title", long_title, 400, "longer than 200"),
        (
            "missing title",
            r#"{"kind":"mindmap"}"#.into(),
            400,
            "missing field `title`",
        ),
        (
            "unknown field",
            r#"{"kind":"mindmap","title":"x","owner":"me"}"#.into(),
            400,
            "unknown field",
        ),
    ];
    for (name, body, status, message) in create_cases {
        let (got_status, got) = post(base, &body, None).await;
        assert_eq!(got_status, status, "{name}");
        let error = got["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no error field in {got}"));
        assert!(error.contains(message), "{name}: {error:?}");
    }
    let id = &board.id;
    let get_cases = [
        (format!("{base}/api/boards/{id}"), 401, "missing token"),
        (
            format!("{base}/api/boards/{id}?token=nope"),
            401,
            "wrong or revoked token",
        ),
        (
            format!("{base}/api/boards/0000?token={}", board.editor),
            404,
            "board not found",
        ),
        (
            format!(
                "{base}/api/boards/{id}/export?format=doc&token={}",
                board.editor
            ),
            400,
            "unknown format",
        ),
        (
            format!("{base}/api/boards/{id}/export?token={}", board.editor),
            400,
            "missing format",
        ),
        (format!("{base}/api/nothing-here"), 404, "no such API route"),
    ];
    for (url, status, message) in get_cases {
        let (got_status, got) = get(&url).await;
        assert_eq!(got_status, status, "{url}");
        assert!(
            got["error"].as_str().unwrap_or("").contains(message),
            "{url}: {got}"
        );
    }
    let (status, got) = post(
        base,
        &format!(r#"{{"kind":"mindmap","title":"{}"}}"#, "x".repeat(100_000)),
        None,
    )
    .await;
    assert_eq!(status, 413, "an oversized body");
    assert_eq!(got["error"], "request body too large");
    let (status, got) = get(&format!("{base}/api/boards")).await;
    assert_eq!(status, 405, "a wrong method");
    assert_eq!(got["error"], "method not allowed on this route");
    let (status, got) = get(&format!("{base}/api/boards/{id}?token={}", board.viewer)).await;
    assert_eq!(status, 200);
    assert_eq!(got["role"], "viewer");
    assert_eq!(got["kind"], "portfolio");
    server.stop().await;
}

#[tokio::test]
async fn with_an_admin_token_only_its_holder_creates_boards() {
    let dir = TempDir::new();
    let server =
        TestServer::start_with(dir.path(), |c| c.admin_token = Some("s3cret".into())).await;
    let body = r#"{"kind":"mindmap","title":"x"}"#;
    assert_eq!(post(&server.base, body, None).await.0, 401);
    assert_eq!(post(&server.base, body, Some("wrong")).await.0, 401);
    let (status, created) = post(&server.base, body, Some("s3cret")).await;
    assert_eq!(status, 201);
    assert!(
        created["links"]["editor"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/b/", server.base))
    );
    server.stop().await;
}

#[tokio::test]
async fn links_use_the_public_url_when_one_is_set() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.public_url = Some("https://board.example.org/".into())
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let link = board.response["links"]["viewer"].as_str().unwrap();
    assert_eq!(
        link,
        format!(
            "https://board.example.org/b/{}#token={}",
            board.id, board.viewer
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn an_update_that_skips_changes_of_its_client_waits_for_them_and_nothing_is_lost() {
    use yrs::GetString;
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    // Two changes of one client, the second typed after the first: a client that reconnects
    // may send the second (live) before its sync carries the first.
    let doc = yrs::Doc::new();
    let text = yrs::Doc::get_or_insert_text(&doc, "t");
    let first = {
        let mut txn = doc.transact_mut();
        yrs::Text::insert(&text, &mut txn, 0, "a");
        txn.encode_update_v1()
    };
    let second = {
        let mut txn = doc.transact_mut();
        yrs::Text::insert(&text, &mut txn, 1, "b");
        txn.encode_update_v1()
    };
    assert!(!first.is_empty());
    let journal_len = || db_count(dir.path(), "SELECT count(*) FROM journal");
    let witness = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let sender = YClient::open(
        &server.ws_base(),
        &board.id,
        &format!("token={}", board.editor),
    )
    .await
    .unwrap();
    let asked = |steps: &[u8]| steps.iter().filter(|s| **s == 1).count();
    sender.wait_sync_steps(|s| asked(s) == 1).await.unwrap();
    let before = journal_len();
    sender.send_message(WsMessage::Binary(
        protocol::encode(&Message::Update(&second)).into(),
    ));
    // Not applied nor stored: the server asks the sender, with its own sync step 1, for what
    // it misses, and keeps the connection.
    sender.wait_sync_steps(|s| asked(s) == 2).await.unwrap();
    assert_eq!(journal_len(), before, "nothing of it is stored yet");
    assert!(sender.close_reason().is_none());
    // The client's answer (a sync step 2) carries both changes: both are stored and relayed.
    let both =
        yrs::ReadTxn::encode_diff_v1(&yrs::Transact::transact(&doc), &yrs::StateVector::default());
    sender.send_message(WsMessage::Binary(
        protocol::encode(&Message::SyncStep2(&both)).into(),
    ));
    let seen = witness.doc().get_or_insert_text("t");
    witness
        .wait_until(|doc| seen.get_string(&doc.transact()) == "ab")
        .await
        .unwrap();
    assert_eq!(journal_len(), before + 1);
    assert!(witness.close_reason().is_none());
    server.stop().await;
}

#[tokio::test]
async fn awareness_floods_are_refused_with_4429() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let many = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    for client in 0..9 {
        many.set_awareness(100 + client, 1, r#"{"user":{"name":"x"}}"#);
    }
    assert_eq!(
        many.closed().await.unwrap().0,
        4429,
        "nine awareness clients on one connection"
    );
    let big = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    big.set_awareness(
        7,
        1,
        &format!(r#"{{"user":{{"name":"{}"}}}}"#, "x".repeat(40 * 1024)),
    );
    assert_eq!(
        big.closed().await.unwrap().0,
        4429,
        "a 40 KB awareness state"
    );
    server.stop().await;
}

#[tokio::test]
async fn many_sync_requests_in_one_frame_get_one_answer() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    // A synced client's state vector: asked with it, the server answers an empty update.
    let synced = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let everything = synced.doc().transact().state_vector().encode_v1();
    let url = format!("{}/{}?token={}", server.ws_base(), board.id, board.viewer);
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut frame = Vec::new();
    for _ in 0..50 {
        protocol::encode_into(&mut frame, &Message::SyncStep1(&[0]));
    }
    // Then a frame of its own whose answer tells itself apart: frames on a connection are
    // handled in order, so once it is answered, every answer to the first frame has come.
    let marker = protocol::encode(&Message::SyncStep1(&everything));
    for frame in [frame, marker] {
        futures_util::SinkExt::send(&mut socket, WsMessage::Binary(frame.into()))
            .await
            .unwrap();
    }
    let mut answers = 0;
    tokio::time::timeout(nouage_tests::WAIT, async {
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut socket).await {
            let WsMessage::Binary(bytes) = message else {
                continue;
            };
            for message in protocol::decode_frame(&bytes, usize::MAX).unwrap() {
                if let Message::SyncStep2(update) = message {
                    answers += 1;
                    if update == [0, 0] {
                        return;
                    }
                }
            }
        }
        panic!("the connection ended before the marker's answer");
    })
    .await
    .expect("the marker's answer did not come");
    assert_eq!(
        answers, 2,
        "one answer to the 50 requests, one to the marker"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_connection_sending_too_fast_is_closed_and_the_others_keep_working() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.limits.max_messages_per_second = 20;
        c.limits.max_messages_burst = 20;
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let calm = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let flood = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let map = flood.doc().get_or_insert_map("m");
    for i in 0..60 {
        flood.edit(|txn| {
            map.insert(txn, format!("k{i}"), i as f64);
        });
    }
    let (code, reason) = flood.closed().await.unwrap();
    assert_eq!(code, 4429);
    assert_eq!(reason, "more than 20 messages per second");
    nouage_tests::assert_still_relays(&server.ws_base(), &board, &calm, "calm").await;
    assert_eq!(calm.close_reason(), None);
    server.stop().await;
}

#[tokio::test]
async fn board_creation_is_rate_limited_per_address_except_for_the_admin() {
    let dir = TempDir::new();
    let server =
        TestServer::start_with(dir.path(), |c| c.limits.max_board_creations_per_minute = 3).await;
    let body = r#"{"kind":"mindmap","title":"x"}"#;
    for _ in 0..3 {
        assert_eq!(post(&server.base, body, None).await.0, 201);
    }
    let (status, got) = post(&server.base, body, None).await;
    assert_eq!(status, 429);
    assert!(
        got["error"]
            .as_str()
            .unwrap()
            .contains("more than 3 boards"),
        "{got}"
    );
    server.stop().await;

    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.limits.max_board_creations_per_minute = 1;
        c.admin_token = Some("s3cret".into());
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            post(&server.base, body, Some("s3cret")).await.0,
            201,
            "the admin is not limited"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn with_an_origin_allow_list_other_browser_origins_are_refused() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |c| {
        c.allowed_origins = vec!["https://board.example.org".into()]
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let url = format!("{}/{}?token={}", server.ws_base(), board.id, board.editor);
    let with_origin = |origin: &str| {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.as_str(),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    let refused = tokio_tungstenite::connect_async(with_origin("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {:?}", other.map(|_| ())),
    }
    assert!(
        tokio_tungstenite::connect_async(with_origin("https://board.example.org"))
            .await
            .is_ok()
    );
    // Node.js and native clients send no Origin: admitted.
    YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    server.stop().await;
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn rotating_a_link_disconnects_its_holders_and_refuses_the_old_token() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let links = format!("{}/api/boards/{}/links", server.base, board.id);
    let editor = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    // Only the facilitator changes links.
    let (status, _) = send(
        http()
            .post(format!("{links}/editor"))
            .bearer_auth(&board.editor),
    )
    .await;
    assert_eq!(status, 403);
    let (status, got) = send(
        http()
            .post(format!("{links}/owner"))
            .bearer_auth(&board.facilitator),
    )
    .await;
    assert_eq!(
        (
            status,
            got["error"].as_str().unwrap_or("").contains("unknown role")
        ),
        (400, true)
    );

    let (status, rotated) = send(
        http()
            .post(format!("{links}/editor"))
            .bearer_auth(&board.facilitator),
    )
    .await;
    assert_eq!(status, 200);
    let new_token = rotated["token"].as_str().unwrap();
    assert!(
        rotated["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/b/{}#token={new_token}", board.id))
    );
    assert_eq!(
        editor.closed().await.unwrap().0,
        4401,
        "the old link's holder is disconnected"
    );
    assert_eq!(viewer.close_reason(), None, "other roles stay");
    let old = YClient::open(
        &server.ws_base(),
        &board.id,
        &format!("token={}", board.editor),
    )
    .await
    .unwrap();
    assert_eq!(old.closed().await.unwrap().0, 4401);
    YClient::connect(&server.ws_base(), &board.id, new_token)
        .await
        .unwrap();

    let (status, _) = send(
        http()
            .delete(format!("{links}/viewer"))
            .bearer_auth(&board.facilitator),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        viewer.closed().await.unwrap().0,
        4401,
        "a revoked link's holder is disconnected"
    );
    let (status, _) = send(
        http()
            .get(format!("{}/api/boards/{}", server.base, board.id))
            .bearer_auth(&board.viewer),
    )
    .await;
    assert_eq!(status, 401);
    let (status, got) = send(
        http()
            .delete(format!("{links}/facilitator"))
            .bearer_auth(&board.facilitator),
    )
    .await;
    assert_eq!(status, 400, "{got}");
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_board_is_no_longer_served_but_its_journal_is_kept() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let url = format!("{}/api/boards/{}", server.base, board.id);
    let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let (status, _) = send(http().delete(&url).bearer_auth(&board.editor)).await;
    assert_eq!(status, 403, "an editor cannot delete the board");
    let (status, _) = send(http().delete(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(status, 204);
    assert_eq!(client.closed().await.unwrap().0, 4404);
    let (status, _) = send(http().get(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(status, 404);
    let again = YClient::open(
        &server.ws_base(),
        &board.id,
        &format!("token={}", board.facilitator),
    )
    .await
    .unwrap();
    assert_eq!(again.closed().await.unwrap().0, 4404);
    server.stop().await;
    let sql = format!(
        "SELECT count(*) FROM journal WHERE board_id = '{}'",
        board.id
    );
    let entries = db_count(dir.path(), &sql);
    assert!(entries >= 1, "nothing anybody wrote disappears");
}

#[tokio::test]
async fn the_facilitator_renames_a_board_live_and_nobody_else_can() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let url = format!("{}/api/boards/{}", server.base, board.id);
    let editor = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let meta_title = |doc: &yrs::Doc| shared::Roots::new(doc).meta(&doc.transact()).title;
    let rename =
        |token: &str, body: Value| http().patch(&url).bearer_auth(token).json(&body).send();
    for token in [&board.editor, &board.viewer] {
        let response = rename(token, json!({"title": "Pris"})).await.unwrap();
        assert_eq!(response.status(), 403);
    }
    for bad in [
        json!({"title": "  "}),
        json!({"title": "x".repeat(201)}),
        json!({"name": "x"}),
    ] {
        let response = rename(&board.facilitator, bad).await.unwrap();
        assert_eq!(response.status(), 400);
    }
    let response = rename(
        &board.facilitator,
        json!({"title": "Diagnostic de la vallée de l'Hérault"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    // A connected client sees the new title in the document at once; the API reports it.
    editor
        .wait_until(|doc| meta_title(doc) == "Diagnostic de la vallée de l'Hérault")
        .await
        .unwrap();
    let (status, info) = send(http().get(&url).bearer_auth(&board.viewer)).await;
    assert_eq!(
        (status, info["title"].as_str()),
        (200, Some("Diagnostic de la vallée de l'Hérault"))
    );
    editor.close();
    server.stop().await;

    // After a restart, with the board not loaded, a rename still reaches the document.
    let server = TestServer::start(dir.path()).await;
    let url = format!("{}/api/boards/{}", server.base, board.id);
    let response = http()
        .patch(&url)
        .bearer_auth(&board.facilitator)
        .json(&json!({"title": "Diagnostic partagé"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let late = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    late.wait_until(|doc| meta_title(doc) == "Diagnostic partagé")
        .await
        .unwrap();
    server.stop().await;
}
