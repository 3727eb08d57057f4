//! Joining a board by its short code (issue 21): what a room of phones does with the code on
//! the projector, and what the facilitator does with it.

use nouage_tests::{TempDir, TestServer, YClient, create_board, http};
use serde_json::{Value, json};
use yrs::{Map, Transact};

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn join(server: &TestServer, code: &str) -> (u16, Value) {
    send(
        http()
            .post(format!("{}/api/join", server.base))
            .json(&json!({ "code": code })),
    )
    .await
}

const ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

#[tokio::test]
async fn a_code_read_off_the_screen_lets_a_phone_edit_the_board() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Atelier mobilités").await;
    let code = board.response["joinCode"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| ALPHABET.contains(c)), "{code}");
    assert_eq!(
        board.response["links"]["join"].as_str().unwrap(),
        format!("{}/j/{code}", server.base)
    );

    // Typed as people type it: lower case, with a space.
    let typed = format!("{} {}", &code[..3], &code[3..]).to_lowercase();
    let (status, joined) = join(&server, &typed).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["id"], board.id.as_str());
    assert_eq!(joined["kind"], "mindmap");
    assert_eq!(joined["title"], "Atelier mobilités");
    assert_eq!(joined["lang"], "fr");
    let token = joined["token"].as_str().unwrap().to_owned();
    assert_ne!(
        token, board.editor,
        "a credential of its own, not the editor link"
    );

    let (status, info) = send(
        http()
            .get(format!("{}/api/boards/{}", server.base, board.id))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!((status, info["role"].as_str()), (200, Some("editor")));

    // The phone's edits reach everybody.
    let phone = YClient::connect(&server.ws_base(), &board.id, &token)
        .await
        .unwrap();
    let laptop = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let nodes = phone.doc().get_or_insert_map("nodes");
    phone.edit(|txn| {
        nodes.insert(txn, "from-phone", "Navette");
    });
    let seen = laptop.doc().get_or_insert_map("nodes");
    laptop
        .wait_until(|doc| seen.get(&doc.transact(), "from-phone").is_some())
        .await
        .unwrap();

    // The page at the join link is the web app.
    let page = http()
        .get(format!("{}/j/{code}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));

    let (status, error) = join(&server, "ZZZZ22").await;
    assert_eq!(status, 404);
    assert!(error["error"].as_str().unwrap().contains("join code"));
    let (status, _) = join(&server, "not a code at all").await;
    assert_eq!(status, 404);
    let (status, _) = send(
        http()
            .post(format!("{}/api/join", server.base))
            .json(&json!({ "code": 12 })),
    )
    .await;
    assert_eq!(status, 400, "a body that is not a code is a bad request");
}

#[tokio::test]
async fn renewing_disabling_and_expiry_stop_new_joins_and_disconnect_nobody() {
    let dir = TempDir::new();
    let mut clock = None;
    let server = TestServer::start_with(dir.path(), |config| {
        config.join_code_ttl_ms = 3_600_000;
        clock = Some(config.clock.clone());
    })
    .await;
    let clock = clock.unwrap();
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let url = format!("{}/api/boards/{}/join-code", server.base, board.id);
    let first = board.response["joinCode"].as_str().unwrap().to_owned();
    let (_, joined) = join(&server, &first).await;
    let early = YClient::connect(
        &server.ws_base(),
        &board.id,
        joined["token"].as_str().unwrap(),
    )
    .await
    .unwrap();

    // Anyone holding a link reads the code (the projector may hold only the viewer link).
    let (status, read) = send(http().get(&url).bearer_auth(&board.viewer)).await;
    assert_eq!(status, 200);
    assert_eq!(read["code"], first.as_str());
    assert_eq!(read["expired"], false);
    assert!(read["expiresMs"].as_i64().unwrap() > 0);
    // Only the facilitator changes it.
    let (status, _) = send(http().post(&url).bearer_auth(&board.editor)).await;
    assert_eq!(status, 403);
    let (status, _) = send(http().delete(&url).bearer_auth(&board.editor)).await;
    assert_eq!(status, 403);

    let (status, renewed) = send(http().post(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(status, 200);
    let second = renewed["code"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(join(&server, &first).await.0, 404, "the old code is gone");
    assert_eq!(join(&server, &second).await.0, 200);

    // Past its time the code admits nobody, and says so when read.
    clock.advance(3_600_001);
    assert_eq!(join(&server, &second).await.0, 404, "expired");
    let (_, read) = send(http().get(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(read["expired"], true);

    let (_, renewed) = send(http().post(&url).bearer_auth(&board.facilitator)).await;
    let third = renewed["code"].as_str().unwrap().to_owned();
    let (status, _) = send(http().delete(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(status, 204);
    assert_eq!(join(&server, &third).await.0, 404, "disabled");
    let (_, read) = send(http().get(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!(read["code"], Value::Null);

    // The participant who joined with the first code is still in, and still edits.
    let notes = early.doc().get_or_insert_map("probe");
    early.edit(|txn| {
        notes.insert(txn, "still-here", true);
    });
    let check = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let seen = check.doc().get_or_insert_map("probe");
    check
        .wait_until(|doc| seen.get(&doc.transact(), "still-here").is_some())
        .await
        .unwrap();
    assert_eq!(early.close_reason(), None);
}

#[tokio::test]
async fn the_facilitator_revokes_everybody_who_came_by_code_and_nobody_else() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "portfolio", "Projets").await;
    let code = board.response["joinCode"].as_str().unwrap().to_owned();
    let (_, joined) = join(&server, &code).await;
    let token = joined["token"].as_str().unwrap().to_owned();
    let by_code = YClient::connect(&server.ws_base(), &board.id, &token)
        .await
        .unwrap();
    let by_link = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let url = format!(
        "{}/api/boards/{}/join-code/credentials",
        server.base, board.id
    );
    let (status, _) = send(http().delete(&url).bearer_auth(&board.editor)).await;
    assert_eq!(status, 403);
    let (status, revoked) = send(http().delete(&url).bearer_auth(&board.facilitator)).await;
    assert_eq!((status, revoked["revoked"].as_u64()), (200, Some(1)));
    assert_eq!(by_code.closed().await.unwrap().0, 4401);
    let again = YClient::open(&server.ws_base(), &board.id, &format!("token={token}"))
        .await
        .unwrap();
    assert_eq!(
        again.closed().await.unwrap().0,
        4401,
        "the credential is dead"
    );
    assert_eq!(
        by_link.close_reason(),
        None,
        "the editor link's holder stays"
    );
    // The code itself still works: a new join gets a new credential.
    assert_eq!(join(&server, &code).await.0, 200);
}

#[tokio::test]
async fn wrong_codes_are_limited_per_address_behind_the_trusted_proxy_only() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |config| {
        config.limits.max_failed_joins_per_minute = 3;
        config.trusted_proxy = Some("127.0.0.1".parse().unwrap());
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let code = board.response["joinCode"].as_str().unwrap().to_owned();
    let from = |address: &str, code: &str| {
        http()
            .post(format!("{}/api/join", server.base))
            .header("x-forwarded-for", format!("203.0.113.50, {address}"))
            .json(&json!({ "code": code }))
    };
    // Successful joins from the venue's one address are not counted.
    for _ in 0..5 {
        assert_eq!(send(from("198.51.100.7", &code)).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(send(from("198.51.100.7", "WRONG2")).await.0, 404);
    }
    let (status, error) = send(from("198.51.100.7", "WRONG2")).await;
    assert_eq!(status, 429);
    assert!(error["error"].as_str().unwrap().contains("join codes"));
    assert_eq!(
        send(from("198.51.100.7", &code)).await.0,
        429,
        "an address over the limit waits out its minute"
    );
    // The address the proxy added counts, not the one the client claimed before it.
    assert_eq!(send(from("198.51.100.8", &code)).await.0, 200);
}

#[tokio::test]
async fn the_qr_code_is_drawn_by_the_server() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let response = http()
        .get(format!(
            "{}/api/boards/{}/join-code/qr.svg",
            server.base, board.id
        ))
        .bearer_auth(&board.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    let denied = http()
        .get(format!(
            "{}/api/boards/{}/join-code/qr.svg",
            server.base, board.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
}
