//! PostgreSQL storage (issue 24): the relay and its persistence on `--database-url`, and a
//! SQLite data directory moved into PostgreSQL by `nouage migrate`. Each test makes a database
//! of its own on the server `NOUAGE_TEST_DATABASE_URL` names (`cargo xtask test` sets it, and
//! starts PostgreSQL where it is not running); without it, these tests say so and pass only
//! outside the test command (`NOUAGE_E2E` unset).

use nouage_tests::run_nouage as nouage;
use nouage_tests::{
    TempDir, TestServer, YClient, create_board, export_bytes, get_ok_json, join, post_json,
    prerequisites,
};
use serde_json::json;
use server::store::TestDatabase;
use yrs::{Map, ReadTxn, Transact};

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
    let created =
        |name: &str| nouage_tests::contributor(&contributions, name).map(|p| p["created"].clone());
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
    let viewing = format!("token={}", gone.viewer);
    assert_eq!(
        nouage_tests::close_code(&server.ws_base(), &gone.id, &viewing).await,
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

/// A TCP proxy of the test's own in front of PostgreSQL, which the test cuts (every
/// connection dropped, new ones refused) and restores: the shared server is never stopped.
struct CuttableProxy {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl CuttableProxy {
    async fn start(target: (String, u16)) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (generation, watcher) = tokio::sync::watch::channel(0u64);
        let is_cut = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let mut cuts = watcher.clone();
                // Only a cut after this connection ends it.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        CuttableProxy {
            port,
            cut,
            generation,
        }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
        if cut {
            self.generation.send_modify(|g| *g += 1);
        }
    }
}

/// The database URL through the proxy: `postgres://user@host:PORT/db` with the proxy's port.
fn through(url: &str, port: u16) -> (String, (String, u16)) {
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host_port, path) = rest.split_once('/').unwrap();
    let (host, target_port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
    (
        format!("{scheme_user}@127.0.0.1:{port}/{path}"),
        (host.to_owned(), target_port.parse().unwrap()),
    )
}

#[tokio::test]
async fn while_postgres_is_unreachable_nothing_unstored_is_relayed_and_everything_converges_after()
{
    let Some(database) = database() else { return };
    // The outage's length, a setting of the test: it lasts until this many joins were refused.
    const OUTAGE_REFUSED_JOINS: usize = 3;
    let (_, target) = through(&database.url, 0);
    let proxy = CuttableProxy::start(target).await;
    let (proxied, _) = through(&database.url, proxy.port);
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), move |config| {
        config.database_url = Some(proxied);
    })
    .await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let (map, seen) = (
        writer.doc().get_or_insert_map("m"),
        reader.doc().get_or_insert_map("m"),
    );
    writer.edit(|txn| {
        map.insert(txn, "before", 1.0);
    });
    reader
        .wait_until(|doc| seen.get(&doc.transact(), "before").is_some())
        .await
        .unwrap();

    proxy.set_cut(true);
    writer.edit(|txn| {
        map.insert(txn, "during", 2.0);
    });
    // Neither is told anything unstored: both are closed with the documented signal.
    let (code, reason) = writer.closed().await.unwrap();
    assert_eq!(code, shared::wire::close::STORAGE_PAUSED, "{reason}");
    let (code, _) = reader.closed().await.unwrap();
    assert_eq!(code, shared::wire::close::STORAGE_PAUSED);
    assert!(
        seen.get(&reader.doc().transact(), "during").is_none(),
        "an update that was not stored reached a peer"
    );
    // Clients joining meanwhile are told the same, for as long as the outage lasts.
    let viewing = format!("token={}", board.viewer);
    for _ in 0..OUTAGE_REFUSED_JOINS {
        assert_eq!(
            nouage_tests::close_code(&server.ws_base(), &board.id, &viewing).await,
            shared::wire::close::STORAGE_PAUSED
        );
    }
    proxy.set_cut(false);

    // Back: the writer's client reconnects and sends what it has; everything converges.
    let back = nouage_tests::poll_until("the board to load again", || async {
        YClient::connect(&server.ws_base(), &board.id, &board.editor)
            .await
            .ok()
    })
    .await;
    let update = writer
        .doc()
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default());
    back.send_raw(shared::protocol::encode(
        &shared::protocol::Message::Update(&update),
    ));
    let after = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let stored = after.doc().get_or_insert_map("m");
    after
        .wait_until(|doc| {
            let txn = doc.transact();
            stored.get(&txn, "before").is_some() && stored.get(&txn, "during").is_some()
        })
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn the_operators_commands_work_on_postgres_too() {
    let Some(database) = database() else { return };
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = start_on(dir.path(), &database).await;
    let board = create_board(&server.base, "diagnosis", "Atelier").await;
    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne Bérubé",
        "Lodève",
        "commune",
    )
    .await;
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", "Une navette", "#fff", "p-anne"));
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = shared::Roots::new(viewer.doc());
    viewer
        .wait_until(|_| note_texts(&viewer_roots, &viewer).len() == 1)
        .await
        .unwrap();
    drop((anne, viewer));
    server.stop().await;

    let out = dir.path().join("board.csv");
    let url = database.url.clone();
    // `nouage ARGS` on a blocking thread (the test's runtime drives the proxy-less server).
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            nouage(&args)
        })
        .await
        .unwrap()
    };
    let export_csv = || {
        let args = ["export", &board.id, "--format", "csv", "--out"]
            .iter()
            .map(|a| a.to_string())
            .chain([
                out.display().to_string(),
                "--database-url".into(),
                url.clone(),
            ])
            .collect();
        run(args)
    };
    let exported = export_csv().await;
    assert!(exported.0, "{exported:?}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.contains("Une navette") && csv.contains("Anne Bérubé"),
        "{csv}"
    );
    let erased = run(["erase", "--name", "Anne Bérubé", "--database-url", &url]
        .map(String::from)
        .to_vec())
    .await;
    assert!(erased.0 && erased.1.contains("erased"), "{erased:?}");
    let again = export_csv().await;
    assert!(again.0, "{again:?}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.contains("Une navette") && !csv.contains("Anne Bérubé"),
        "{csv}"
    );

    // The record is built again from the journal, and says the same.
    let reindexed = run(["reindex", "--database-url", &url]
        .map(String::from)
        .to_vec())
    .await;
    assert!(
        reindexed.0 && reindexed.1.contains("reindexed 1 boards"),
        "{reindexed:?}"
    );
    let rebuilt = export_csv().await;
    assert!(rebuilt.0, "{rebuilt:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);

    // PostgreSQL's backups are its own tools': said, not half done.
    let backup_out = dir.path().join("b.sqlite3").display().to_string();
    let backup = run(["backup", "--out", &backup_out, "--database-url", &url]
        .map(String::from)
        .to_vec())
    .await;
    assert!(!backup.0 && backup.2.contains("pg_dump"), "{backup:?}");
}
