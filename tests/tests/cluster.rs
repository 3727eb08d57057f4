//! Several relay nodes on one PostgreSQL database with Redis as their doorbell (issue 24):
//! clients spread over the nodes converge, the journal stays whole, and a publish lost between
//! a commit and its fan-out still reaches the other nodes' clients, from the store. Needs
//! `NOUAGE_TEST_DATABASE_URL` and `NOUAGE_TEST_REDIS_URL` (`cargo xtask test` sets both and
//! starts the servers where they are not running); each test has a database and a channel
//! prefix of its own.

use std::time::Duration;

use nouage_tests::{TempDir, TestServer, YClient, create_board, prerequisites};
use server::store::{PgStore, Store, TestDatabase};
use yrs::{Array, GetString, Map, ReadTxn, Text, Transact};

/// The key the test cluster's nodes sign their Redis messages with.
const CLUSTER_KEY: &str = "the test cluster's key";

struct Cluster {
    database: TestDatabase,
    redis_url: String,
    prefix: String,
    dirs: Vec<TempDir>,
}

impl Cluster {
    fn new() -> Option<Cluster> {
        let database_url = std::env::var("NOUAGE_TEST_DATABASE_URL").ok();
        let redis_url = std::env::var("NOUAGE_TEST_REDIS_URL").ok();
        let present = database_url.is_some() && redis_url.is_some();
        if !prerequisites(
            "PostgreSQL and Redis (NOUAGE_TEST_DATABASE_URL, NOUAGE_TEST_REDIS_URL)",
            present,
        ) {
            return None;
        }
        Some(Cluster {
            database: TestDatabase::create(&database_url.unwrap()).expect("a test database"),
            redis_url: redis_url.unwrap(),
            prefix: format!("nouage-test-{}", uuid::Uuid::new_v4().simple()),
            dirs: Vec::new(),
        })
    }

    /// A node of the cluster, its rooms checking the store's head every `head_check_ms`.
    async fn node(
        &mut self,
        head_check_ms: u64,
    ) -> (TestServer, std::sync::Arc<server::fanout::Failpoints>) {
        self.node_with(head_check_ms, |_| {}).await
    }

    /// A node whose settings `adjust` changes after the cluster's own.
    async fn node_with(
        &mut self,
        head_check_ms: u64,
        adjust: impl FnOnce(&mut server::Config) + Send + 'static,
    ) -> (TestServer, std::sync::Arc<server::fanout::Failpoints>) {
        let dir = TempDir::new();
        let failpoints = std::sync::Arc::new(server::fanout::Failpoints::default());
        let (database, redis, prefix, injected) = (
            self.database.url.clone(),
            self.redis_url.clone(),
            self.prefix.clone(),
            failpoints.clone(),
        );
        let server = TestServer::start_with(dir.path(), move |config| {
            config.database_url = Some(database);
            config.redis_url = Some(redis);
            config.redis_channel_prefix = prefix;
            config.redis_secret = Some(CLUSTER_KEY.into());
            config.failpoints = injected;
            config.limits.head_check_interval_ms = head_check_ms;
            // Tests make many boards from one address.
            config.limits.max_board_creations_per_minute = 10_000;
            adjust(config);
        })
        .await;
        self.dirs.push(dir);
        (server, failpoints)
    }

    /// The board's document rebuilt from PostgreSQL's journal alone, and its seqs.
    async fn stored(&self, board: &str) -> (yrs::Doc, Vec<u64>) {
        let url = self.database.url.clone();
        let board = server::store::BoardId::parse(board).unwrap();
        tokio::task::spawn_blocking(move || {
            let store = PgStore::connect(&url).unwrap();
            let journal = store.journal(&board).unwrap();
            let seqs = journal.iter().map(|row| row.seq).collect();
            let stored = server::store::StoredDoc {
                snapshot: None,
                updates: journal.into_iter().map(|r| (r.seq, r.update_v1)).collect(),
            };
            (server::room::load_doc(stored).unwrap().0, seqs)
        })
        .await
        .unwrap()
    }
}

/// What a document holds, for comparing (in an order of its own: yrs keeps clients and map
/// keys in hash maps): its state vector, its test text, map and array.
type Content = (Vec<(u64, u32)>, String, Vec<(String, String)>, Vec<String>);

fn content(doc: &yrs::Doc) -> Content {
    // Root types first: getting one takes a write transaction.
    let (text, map, array) = (
        doc.get_or_insert_text("t"),
        doc.get_or_insert_map("m"),
        doc.get_or_insert_array("a"),
    );
    let txn = doc.transact();
    let mut clients: Vec<(u64, u32)> = txn
        .state_vector()
        .iter()
        .map(|(c, k)| (c.get(), *k))
        .collect();
    clients.sort();
    let mut entries: Vec<(String, String)> = map
        .iter(&txn)
        .map(|(k, v)| (k.to_owned(), v.to_string(&txn)))
        .collect();
    entries.sort();
    let items = array.iter(&txn).map(|v| v.to_string(&txn)).collect();
    (clients, text.get_string(&txn), entries, items)
}

#[tokio::test]
async fn clients_spread_over_three_nodes_converge_on_what_postgres_holds() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(cluster.node(2_000).await.0);
    }
    let board = create_board(&nodes[0].base, "mindmap", "Carte partagée").await;
    let mut clients = Vec::new();
    for node in &nodes {
        for _ in 0..2 {
            clients.push(
                YClient::connect(&node.ws_base(), &board.id, &board.editor)
                    .await
                    .unwrap(),
            );
        }
    }
    // Concurrent edits of one text, one map and one array from every client at once.
    for round in 0..5 {
        for (i, client) in clients.iter().enumerate() {
            let (text, map, array) = (
                client.doc().get_or_insert_text("t"),
                client.doc().get_or_insert_map("m"),
                client.doc().get_or_insert_array("a"),
            );
            client.edit(|txn| {
                text.insert(txn, 0, &format!("[{i}.{round}]"));
                map.insert(txn, format!("k{i}"), round as f64);
                array.push_back(txn, format!("{i}.{round}"));
            });
        }
    }
    let expected_items = clients.len() * 5;
    for client in &clients {
        let array = client.doc().get_or_insert_array("a");
        client
            .wait_until(|doc| array.len(&doc.transact()) as usize == expected_items)
            .await
            .unwrap();
    }
    let (stored, seqs) = cluster.stored(&board.id).await;
    let expected = content(&stored);
    for (i, client) in clients.iter().enumerate() {
        assert_eq!(
            content(client.doc()),
            expected,
            "client {i} differs from PostgreSQL's"
        );
    }
    // One journal, its seqs from 1 without a gap, written by three nodes.
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn three_nodes_writing_one_board_fast_keep_its_journal_whole() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(cluster.node(2_000).await.0);
    }
    let board = create_board(&nodes[0].base, "mindmap", "Carte").await;
    let mut writers = Vec::new();
    for node in &nodes {
        writers.push(
            YClient::connect(&node.ws_base(), &board.id, &board.editor)
                .await
                .unwrap(),
        );
    }
    // Every writer as fast as it can: 300 keys each, interleaved.
    for n in 0..300 {
        for (w, writer) in writers.iter().enumerate() {
            let map = writer.doc().get_or_insert_map("m");
            writer.edit(|txn| {
                map.insert(txn, format!("w{w}-{n}"), n as f64);
            });
        }
    }
    for writer in &writers {
        let map = writer.doc().get_or_insert_map("m");
        writer
            .wait_until(|doc| map.len(&doc.transact()) == 900)
            .await
            .unwrap();
    }
    let (stored, seqs) = cluster.stored(&board.id).await;
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "seqs with a gap"
    );
    let map = stored.get_or_insert_map("m");
    assert_eq!(
        map.len(&stored.transact()),
        900,
        "the replay of the journal"
    );
    for writer in &writers {
        assert_eq!(content(writer.doc()), content(&stored));
    }
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn an_update_committed_but_never_published_still_reaches_the_other_nodes_clients() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let (quiet, failpoints) = cluster.node(500).await;
    let (other, _) = cluster.node(500).await;
    let board = create_board(&quiet.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&quiet.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let reader = YClient::connect(&other.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let seen = reader.doc().get_or_insert_map("m");
    // Published: there in a moment.
    let map = writer.doc().get_or_insert_map("m");
    writer.edit(|txn| {
        map.insert(txn, "published", 1.0);
    });
    reader
        .wait_until(|doc| seen.get(&doc.transact(), "published").is_some())
        .await
        .unwrap();
    // The node dies, as it were, between its commit and its publish: nothing goes to Redis.
    failpoints
        .skip_publish
        .store(true, std::sync::atomic::Ordering::Relaxed);
    writer.edit(|txn| {
        map.insert(txn, "never published", 2.0);
    });
    // The writer's own node relays it (committed) ...
    let watcher = YClient::connect(&quiet.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let watched = watcher.doc().get_or_insert_map("m");
    watcher
        .wait_until(|doc| watched.get(&doc.transact(), "never published").is_some())
        .await
        .unwrap();
    // ... and the other node's room finds it in the store at its next check.
    reader
        .wait_until_within(Duration::from_secs(3), |doc| {
            seen.get(&doc.transact(), "never published").is_some()
        })
        .await
        .expect("the other node's client gets it within 3 s");
    quiet.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn who_is_there_shows_across_nodes_and_goes_when_they_leave() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let (one, _) = cluster.node(2_000).await;
    let (two, _) = cluster.node(2_000).await;
    let board = create_board(&one.base, "mindmap", "Carte").await;
    let anne = YClient::connect(&one.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let lina = YClient::connect(&two.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    anne.set_awareness(101, 1, r#"{"user":{"name":"Anne"}}"#);
    lina.wait_awareness(|states| states.get(&101).is_some_and(|s| s.contains("Anne")))
        .await
        .expect("Lina, on the other node, sees Anne");
    lina.set_awareness(202, 1, r#"{"user":{"name":"Lina"}}"#);
    anne.wait_awareness(|states| states.contains_key(&202))
        .await
        .expect("and Anne sees Lina");
    // A newcomer on the second node is greeted with both.
    let noor = YClient::connect(&two.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    noor.wait_awareness(|states| states.contains_key(&101) && states.contains_key(&202))
        .await
        .unwrap();
    anne.close();
    lina.wait_awareness(|states| !states.contains_key(&101))
        .await
        .expect("Anne's presence goes when she leaves");
    one.stop().await;
    two.stop().await;
}

/// A `redis-server` of the test's own on a free port (the fault tests restart and flush it,
/// never the machine's).
struct OwnRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start(port: Option<u16>) -> OwnRedis {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let redis = OwnRedis {
            port,
            child: Some(child),
        };
        nouage_tests::poll_until("redis-server to answer", || async {
            redis
                .command("PING")
                .await
                .filter(|a| a.starts_with("+PONG"))
        })
        .await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command; its first line of answer.
    async fn command(&self, command: &str) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .ok()?;
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer[..n]).into_owned())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

#[tokio::test]
async fn redis_restarted_and_flushed_during_edits_loses_nothing() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let mut redis = OwnRedis::start(None).await;
    cluster.redis_url = redis.url();
    let (one, _) = cluster.node(500).await;
    let (two, _) = cluster.node(500).await;
    let board = create_board(&one.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&one.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let reader = YClient::connect(&two.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let (map, seen) = (
        writer.doc().get_or_insert_map("m"),
        reader.doc().get_or_insert_map("m"),
    );
    let write = |from: usize, to: usize| {
        for n in from..to {
            writer.edit(|txn| {
                map.insert(txn, format!("k{n}"), n as f64);
            });
        }
    };
    write(0, 50);
    reader
        .wait_until(|doc| seen.len(&doc.transact()) == 50)
        .await
        .unwrap();
    // Redis goes away in the middle of the writing, comes back empty, and is flushed.
    redis.kill().await;
    write(50, 100);
    // People still join meanwhile (each node counts the board's seats alone).
    for _ in 0..3 {
        YClient::connect(&two.ws_base(), &board.id, &board.viewer)
            .await
            .expect("a join while Redis is away");
    }
    let mut redis = OwnRedis::start(Some(redis.port)).await;
    assert!(
        redis
            .command("FLUSHALL")
            .await
            .is_some_and(|a| a.starts_with("+OK"))
    );
    write(100, 150);
    reader
        .wait_until(|doc| seen.len(&doc.transact()) == 150)
        .await
        .expect("every key reaches the other node's client");
    let (stored, seqs) = cluster.stored(&board.id).await;
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(content(reader.doc()), content(&stored));
    // Each of the 150 edits reached the reader once: through the fan-out or from the store,
    // never both.
    assert_eq!(reader.updates_received(), 150);
    one.stop().await;
    two.stop().await;
    redis.kill().await;
}

#[tokio::test]
async fn a_node_killed_loses_nothing_anyone_received_and_its_clients_go_on_elsewhere() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    if !nouage_tests::binary_ready() {
        return;
    }
    let node = |dir: &std::path::Path| {
        let (database, redis, prefix) = (
            cluster.database.url.clone(),
            cluster.redis_url.clone(),
            cluster.prefix.clone(),
        );
        let dir = dir.to_owned();
        async move {
            nouage_tests::ProcessServer::start(
                &dir,
                &[
                    "--database-url",
                    &database,
                    "--redis-url",
                    &redis,
                    "--redis-channel-prefix",
                    &prefix,
                    "--redis-secret",
                    CLUSTER_KEY,
                ],
            )
            .await
        }
    };
    let (dir_a, dir_b) = (TempDir::new(), TempDir::new());
    let (a, b) = (node(dir_a.path()).await, node(dir_b.path()).await);
    let board = create_board(&a.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&a.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let observer = YClient::connect(&b.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let (map, seen) = (
        writer.doc().get_or_insert_map("m"),
        observer.doc().get_or_insert_map("m"),
    );
    for n in 0..100 {
        writer.edit(|txn| {
            map.insert(txn, format!("k{n}"), n as f64);
        });
    }
    observer
        .wait_until(|doc| seen.len(&doc.transact()) >= 20)
        .await
        .unwrap();
    writer.set_awareness(303, 1, r#"{"user":{"name":"Anne"}}"#);
    observer
        .wait_awareness(|states| states.contains_key(&303))
        .await
        .unwrap();
    // Killed while the writing goes on: no clean shutdown.
    a.kill().await;
    // Its clients' presence goes once its key expires (3 s), not after the 30 s of the
    // awareness timeout (the wait's deadline is 10 s).
    observer
        .wait_awareness(|states| !states.contains_key(&303))
        .await
        .expect("a dead node's clients leave the presence list");
    let received = observer.keys();
    assert!(!received.is_empty());
    // The writer's client comes back through the other node with what it has.
    let back = YClient::connect(&b.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let update = writer
        .doc()
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default());
    back.send_raw(shared::protocol::encode(
        &shared::protocol::Message::Update(&update),
    ));
    observer
        .wait_until(|doc| seen.len(&doc.transact()) == 100)
        .await
        .expect("the writer's edits reach the observer through the surviving node");
    let (stored, _) = cluster.stored(&board.id).await;
    let stored_keys: std::collections::BTreeSet<String> = {
        let map = stored.get_or_insert_map("m");
        map.keys(&stored.transact()).map(str::to_owned).collect()
    };
    let lost: Vec<&String> = received.difference(&stored_keys).collect();
    assert!(lost.is_empty(), "received then lost: {lost:?}");
    b.kill().await;
}

#[tokio::test]
async fn a_thousand_joins_racing_the_loads_of_their_boards_all_converge() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    // Writers on one node; the joins on another, whose rooms wait a random time (up to
    // 150 ms) between registering (from then on the fan-out reaches them) and reading the
    // store, and never check the store's head by themselves in the test's time: what they
    // lack must come from the load or from the fan-out buffered meanwhile.
    let (writers_node, _) = cluster.node(0).await;
    let (joins_node, failpoints) = cluster.node(600_000).await;
    failpoints
        .load_delay_max_ms
        .store(150, std::sync::atomic::Ordering::Relaxed);
    const BOARDS: usize = 50;
    const JOINS_PER_BOARD: usize = 20;
    const KEYS: usize = 10;
    let mut boards = Vec::new();
    for b in 0..BOARDS {
        boards.push(create_board(&writers_node.base, "mindmap", &format!("Carte {b}")).await);
    }
    let mut writers = Vec::new();
    for board in &boards {
        writers.push(
            YClient::connect(&writers_node.ws_base(), &board.id, &board.editor)
                .await
                .unwrap(),
        );
    }
    let ws = joins_node.ws_base();
    // Paces the writing: each round waits until the writers' node relayed the round's key of
    // the first board (stored), so the joins spawned between rounds meet writes still to come.
    let pacer = YClient::connect(&writers_node.ws_base(), &boards[0].id, &boards[0].viewer)
        .await
        .unwrap();
    let paced = pacer.doc().get_or_insert_map("m");
    let mut joins = tokio::task::JoinSet::new();
    for n in 0..KEYS {
        for writer in &writers {
            let map = writer.doc().get_or_insert_map("m");
            writer.edit(|txn| {
                map.insert(txn, format!("k{n}"), n as f64);
            });
        }
        // This round's share of the joins, spread over the writing.
        for (b, board) in boards.iter().enumerate() {
            for j in (n..JOINS_PER_BOARD).step_by(KEYS) {
                let (ws, id, token) = (ws.clone(), board.id.clone(), board.viewer.clone());
                joins.spawn(async move {
                    let client = YClient::connect(&ws, &id, &token).await.unwrap();
                    let map = client.doc().get_or_insert_map("m");
                    client
                        .wait_until(|doc| map.len(&doc.transact()) as usize == KEYS)
                        .await
                        .map_err(|e| format!("board {b}, join {j}: {e}"))
                });
            }
        }
        pacer
            .wait_until(|doc| paced.get(&doc.transact(), &format!("k{n}")).is_some())
            .await
            .unwrap();
    }
    let mut converged = 0;
    while let Some(joined) = joins.join_next().await {
        joined.unwrap().unwrap();
        converged += 1;
    }
    assert_eq!(converged, BOARDS * JOINS_PER_BOARD);
    writers_node.stop().await;
    joins_node.stop().await;
}

#[tokio::test]
async fn a_boards_seats_and_an_addresss_creations_are_counted_across_nodes() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let limited = |config: &mut server::Config| {
        config.limits.max_clients_per_board = 3;
        config.limits.max_board_creations_per_minute = 3;
    };
    let (one, _) = cluster.node_with(2_000, limited).await;
    let (two, _) = cluster.node_with(2_000, limited).await;
    // Three boards from this address: two through one node, one through the other; a fourth
    // is refused by either.
    let board = create_board(&one.base, "diagnosis", "Diagnostic").await;
    create_board(&one.base, "diagnosis", "Deux").await;
    create_board(&two.base, "diagnosis", "Trois").await;
    for node in [&two, &one] {
        let (status, body) = nouage_tests::post_json(
            &format!("{}/api/boards", node.base),
            "",
            &serde_json::json!({"kind": "diagnosis", "title": "Quatre"}),
        )
        .await;
        assert_eq!(status, 429, "a fourth board in the minute: {body}");
    }
    // Three seats: two taken on one node, one on the other; the fourth is refused on either.
    let join = |base: String| {
        let board = board.clone();
        async move { YClient::connect(&base, &board.id, &board.editor).await }
    };
    let anne = join(one.ws_base()).await.unwrap();
    let _lina = join(one.ws_base()).await.unwrap();
    let _noor = join(two.ws_base()).await.unwrap();
    for node in [&two, &one] {
        let refused = join(node.ws_base()).await.err().expect("the board is full");
        assert!(refused.to_string().contains("4429"), "{refused}");
    }
    // Anne leaves the first node: her seat is free on the second.
    anne.close();
    let _yann = nouage_tests::poll_until("a seat freed on another node", || {
        let join = join(two.ws_base());
        async move { join.await.ok() }
    })
    .await;
    let refused = join(one.ws_base()).await.err().expect("full again");
    assert!(refused.to_string().contains("4429"), "{refused}");
    // A node that stops takes its seats with it.
    one.stop().await;
    let _zoe = nouage_tests::poll_until("the stopped node's seats are free", || {
        let join = join(two.ws_base());
        async move { join.await.ok() }
    })
    .await;
    two.stop().await;
}

#[tokio::test]
async fn a_message_forged_on_redis_is_not_applied() {
    let Some(mut cluster) = Cluster::new() else {
        return;
    };
    let (one, _) = cluster.node(2_000).await;
    let (two, _) = cluster.node(2_000).await;
    let board = create_board(&one.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&one.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let observer = YClient::connect(&two.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let (map, seen) = (
        writer.doc().get_or_insert_map("m"),
        observer.doc().get_or_insert_map("m"),
    );
    writer.edit(|txn| {
        map.insert(txn, "before", 1.0);
    });
    observer
        .wait_until(|doc| seen.get(&doc.transact(), "before").is_some())
        .await
        .unwrap();
    // Someone who can publish on the cluster's Redis, without its key, sends an update at the
    // board's next seq: unsigned, and signed with another key.
    let (_, seqs) = cluster.stored(&board.id).await;
    let next = seqs.last().unwrap() + 1;
    let forged = {
        let doc = yrs::Doc::new();
        let map = doc.get_or_insert_map("m");
        let mut txn = doc.transact_mut();
        map.insert(&mut txn, "forged", 666.0);
        txn.encode_update_v1()
    };
    let message = server::fanout::Published {
        node: [9; 16],
        board: server::store::BoardId::parse(&board.id).unwrap(),
        payload: server::fanout::Payload::Updates {
            first_seq: next,
            updates: vec![forged.into()],
        },
    };
    let channel = format!("{}:b:{}", cluster.prefix, board.id);
    let other_key = server::fanout::Signer::new(b"not the cluster's key");
    let mut redis = redis::Client::open(cluster.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for signer in [None, Some(&other_key)] {
        let bytes = server::fanout::seal(&message, &channel, signer);
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(bytes)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(receivers, 2, "both nodes are subscribed");
    }
    // The real entry at that seq arrives, and the forged one never did.
    writer.edit(|txn| {
        map.insert(txn, "after", 2.0);
    });
    observer
        .wait_until(|doc| seen.get(&doc.transact(), "after").is_some())
        .await
        .expect("the real update at the forged seq reaches the other node");
    let late = YClient::connect(&two.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    for client in [&observer, &late] {
        let m = client.doc().get_or_insert_map("m");
        assert!(
            m.get(&client.doc().transact(), "forged").is_none(),
            "a forged update was applied"
        );
    }
    one.stop().await;
    two.stop().await;
}
