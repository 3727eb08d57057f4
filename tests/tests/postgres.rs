//! PostgreSQL storage (issue 24): the relay and its persistence on `--database-url`, and a
//! SQLite data directory moved into PostgreSQL by `nouage migrate`. Each test makes a database
//! of its own on the server `NOUAGE_TEST_DATABASE_URL` names (`cargo xtask test` sets it, and
//! starts PostgreSQL where it is not running); without it, these tests say so and pass only
//! outside the test command (`NOUAGE_E2E` unset).

use nouage_tests::{
    TempDir, TestServer, YClient, create_board, export_bytes, get_ok_json, join, post_json,
    prerequisites,
};
use serde_json::json;
use server::store::TestDatabase;
use yrs::Transact;

fn database() -> Option<TestDatabase> {
    let url = std::env::var("NOUAGE_TEST_DATABASE_URL").ok();
    if !prerequisites("PostgreSQL (NOUAGE_TEST_DATABASE_URL)", url.is_some()) {
        return None;
    }
    Some(TestDatabase::create(&url.unwrap()).expect("a test database"))
}

async fn start_on(dir: &std::path::Path, database: &TestDatabase) -> TestServer {
    let url = database.url.clone();
    TestServer::start_with(dir, move |config| config.database_url = Some(url)).await
}

fn note_texts(roots: &shared::Roots, client: &YClient) -> Vec<String> {
    let txn = client.doc().transact();
    let mut texts: Vec<String> = roots.notes(&txn).into_iter().map(|n| n.text).collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn edits_relayed_on_postgres_survive_a_restart_with_their_record() {
    let Some(database) = database() else { return };
    let dir = TempDir::new();
    let server = start_on(dir.path(), &database).await;
    let board = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let (anne, roots) = join(&server, &board, "p-anne", "Anne", "Lodève", "commune").await;
    let (lina, lina_roots) = join(
        &server,
        &board,
        "p-lina",
        "Lina",
        "Vélo Vert",
        "association",
    )
    .await;
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", "Une navette", "#fff", "p-anne"));
    lina.edit(|txn| lina_roots.add_note(txn, "n2", "s2", "Des arceaux", "#fff", "p-lina"));
    // Relayed only once stored: each sees the other's note.
    anne.wait_until(|_| note_texts(&roots, &anne).len() == 2)
        .await
        .unwrap();
    lina.wait_until(|_| note_texts(&lina_roots, &lina).len() == 2)
        .await
        .unwrap();
    // A join code and a credential it mints are stored there too.
    let api = format!("{}/api/boards/{}", server.base, board.id);
    let (status, code) =
        post_json(&format!("{api}/join-code"), &board.facilitator, &json!({})).await;
    assert_eq!(status, 200, "{code}");
    let code = code["code"].as_str().unwrap().to_owned();
    drop((anne, lina));
    server.stop().await;

    // Nothing on disk: the data directory holds no database.
    assert!(!dir.path().join(server::store::DB_FILE_NAME).exists());
    let server = start_on(dir.path(), &database).await;
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let reader_roots = shared::Roots::new(reader.doc());
    assert_eq!(
        note_texts(&reader_roots, &reader),
        ["Des arceaux", "Une navette"]
    );
    let api = format!("{}/api/boards/{}", server.base, board.id);
    let contributions = get_ok_json(&format!("{api}/contributions"), &board.viewer).await;
    let created = |name: &str| {
        contributions["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["created"].clone())
    };
    assert_eq!(created("Anne"), Some(json!(1)), "{contributions}");
    assert_eq!(created("Lina"), Some(json!(1)), "{contributions}");
    let (status, joined) = post_json(
        &format!("{}/api/join", server.base),
        "",
        &json!({"code": code}),
    )
    .await;
    assert_eq!(
        (status, joined["id"].as_str()),
        (200, Some(board.id.as_str())),
        "{joined}"
    );
    let (status, csv) = export_bytes(&server.base, &board, "csv").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&csv).contains("Une navette"));
    server.stop().await;
}

#[tokio::test]
async fn a_sqlite_data_directory_moves_into_postgres_whole() {
    let Some(database) = database() else { return };
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let gone = create_board(&server.base, "mindmap", "Brouillon").await;
    let (anne, roots) = join(&server, &board, "p-anne", "Anne", "Lodève", "commune").await;
    for i in 0..20 {
        anne.edit(|txn| {
            roots.add_note(
                txn,
                &format!("n{i}"),
                "s1",
                &format!("Idée {i}"),
                "#fff",
                "p-anne",
            )
        });
    }
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = shared::Roots::new(viewer.doc());
    viewer
        .wait_until(|_| note_texts(&viewer_roots, &viewer).len() == 20)
        .await
        .unwrap();
    let history_before = get_ok_json(
        &format!("{}/api/boards/{}/history", server.base, board.id),
        &board.viewer,
    )
    .await;
    let http = nouage_tests::http();
    let deleted = http
        .delete(format!("{}/api/boards/{}", server.base, gone.id))
        .bearer_auth(&gone.facilitator)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    drop((anne, viewer));
    server.stop().await;

    let migrate = || {
        let (from, url) = (dir.path().to_owned(), database.url.clone());
        tokio::task::spawn_blocking(move || {
            server::store::migrate::sqlite_to_postgres(&from, &url).unwrap()
        })
    };
    let moved = migrate().await.unwrap();
    assert_eq!(moved.boards, 2, "{moved:?}");
    assert!(moved.entries >= 21, "{moved:?}");
    // Run again: nothing moves twice.
    let again = migrate().await.unwrap();
    assert_eq!((again.boards, again.already_there), (0, 2));

    let elsewhere = TempDir::new();
    let server = start_on(elsewhere.path(), &database).await;
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let reader_roots = shared::Roots::new(reader.doc());
    assert_eq!(note_texts(&reader_roots, &reader).len(), 20);
    let history_after = get_ok_json(
        &format!("{}/api/boards/{}/history", server.base, board.id),
        &board.viewer,
    )
    .await;
    assert_eq!(history_before, history_after);
    // The deleted board stays deleted; the editor link still writes, after the last seq.
    let unknown = YClient::open(
        &server.ws_base(),
        &gone.id,
        &format!("token={}", gone.viewer),
    )
    .await
    .unwrap();
    assert_eq!(
        unknown.closed().await.unwrap().0,
        shared::wire::close::UNKNOWN_BOARD
    );
    let (writer, writer_roots) = join(
        &server,
        &board,
        "p-lina",
        "Lina",
        "Vélo Vert",
        "association",
    )
    .await;
    writer.edit(|txn| {
        writer_roots.add_note(
            txn,
            "after",
            "s2",
            "Après le déménagement",
            "#fff",
            "p-lina",
        )
    });
    reader
        .wait_until(|_| note_texts(&reader_roots, &reader).len() == 21)
        .await
        .unwrap();
    server.stop().await;
}
