//! Private writing rounds (issue 23): while a round is open, what a participant writes in their
//! private space reaches no other connection, API answer or export, nor another participant
//! who tries their pid; the writer finds it again after reconnecting (and after a restart);
//! the reveal brings it into the board credited to its writer; a cancelled round leaves
//! nothing of it, not even in the data directory's files.

use nouage_tests::{
    Board, TempDir, TestServer, YClient, create_board, export_bytes, get_ok_json, http, join,
    percent, post_json,
};
use serde_json::{Value, json};
use yrs::{Map, Transact};

const ANNE_SECRET: &str = "5f1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f";
const LINA_SECRET: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn round_url(server: &TestServer, board: &Board) -> String {
    format!("{}/api/boards/{}/private-round", server.base, board.id)
}

async fn delete(url: &str, token: &str) -> (u16, Value) {
    let response = http().delete(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The query of a participant's private space: the editor link, their identity, a secret.
fn private_query(token: &str, pid: &str, name: &str, secret: &str) -> String {
    format!(
        "token={token}&pid={pid}&name={}&org={}&orgKind=commune&secret={secret}",
        percent(name),
        percent("Commune de Lodève")
    )
}

async fn private_space(
    server: &TestServer,
    board: &Board,
    pid: &str,
    name: &str,
    secret: &str,
) -> anyhow::Result<(YClient, shared::Roots)> {
    let query = private_query(&board.editor, pid, name, secret);
    let client =
        YClient::connect_with(&server.ws_base(), &format!("{}/private", board.id), &query).await?;
    let roots = shared::Roots::new(client.doc());
    Ok((client, roots))
}

/// The close code a connection to the private space gets, without ever syncing.
async fn refused_with(server: &TestServer, board: &Board, query: &str) -> u16 {
    nouage_tests::close_code(&server.ws_base(), &format!("{}/private", board.id), query).await
}

fn note_texts(roots: &shared::Roots, client: &YClient) -> Vec<String> {
    let txn = client.doc().transact();
    roots.notes(&txn).into_iter().map(|n| n.text).collect()
}

/// Everything the API answers about the board, as text: trace answers and exports.
async fn all_answers(server: &TestServer, board: &Board) -> String {
    let api = format!("{}/api/boards/{}", server.base, board.id);
    let mut text = String::new();
    for path in [
        "contributions",
        "elements",
        "history",
        "deleted",
        "private-round",
    ] {
        let answer = get_ok_json(&format!("{api}/{path}"), &board.facilitator).await;
        text.push_str(&answer.to_string());
    }
    for format in ["csv", "md", "opml", "json", "record-md", "svg"] {
        let (status, bytes) = export_bytes(&server.base, board, format).await;
        // 400: a format this kind of board does not offer.
        assert!(status == 200 || status == 400, "{format}: {status}");
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text
}

#[tokio::test]
async fn a_private_note_reaches_nobody_until_the_reveal_then_is_credited_to_its_writer() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let url = round_url(&server, &board);

    // Facilitator only; nothing to reveal or cancel yet.
    assert_eq!(post_json(&url, &board.editor, &json!({})).await.0, 403);
    assert_eq!(
        post_json(&format!("{url}/reveal"), &board.facilitator, &json!({}))
            .await
            .0,
        409
    );
    assert_eq!(delete(&url, &board.facilitator).await.0, 409);
    // No round: no private space.
    let query = private_query(&board.editor, "p-anne", "Anne", ANNE_SECRET);
    assert_eq!(
        refused_with(&server, &board, &query).await,
        shared::wire::close::ROUND_OVER
    );

    let stock = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let stock_roots = shared::Roots::new(stock.doc());
    let (status, opened) = post_json(&url, &board.facilitator, &json!({})).await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(post_json(&url, &board.facilitator, &json!({})).await.0, 409);
    // Every page learns that a round is open from the board's document.
    stock
        .wait_until(|doc| {
            shared::private_round::PrivateRound::read(&stock_roots, &doc.transact())
                .is_some_and(|r| Some(r.id.as_str()) == opened["id"].as_str())
        })
        .await
        .unwrap();

    let (anne_board, _) = join(
        &server,
        &board,
        "p-anne",
        "Anne Bérubé",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let (anne, anne_roots) = private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
        .await
        .unwrap();
    anne.edit(|txn| {
        anne_roots.add_note(
            txn,
            "n-anne",
            "s2",
            "Une navette le samedi",
            "#fde68a",
            "p-anne",
        )
    });
    let (lina, lina_roots) = private_space(&server, &board, "p-lina", "Lina Roy", LINA_SECRET)
        .await
        .unwrap();
    lina.edit(|txn| {
        lina_roots.add_note(txn, "n-lina", "s3", "Des arceaux vélo", "#bbf7d0", "p-lina")
    });
    // An empty note is left out of the reveal.
    lina.edit(|txn| lina_roots.add_note(txn, "n-empty", "s3", "", "#bbf7d0", "p-lina"));
    // A second page of Anne's (same secret) sees her note: it is stored.
    let (anne_again, again_roots) =
        private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
            .await
            .unwrap();
    anne_again
        .wait_until(|_| note_texts(&again_roots, &anne_again) == ["Une navette le samedi"])
        .await
        .unwrap();
    // And a second page of Lina's sees hers (both are stored before the server stops below).
    let (lina_again, lina_again_roots) =
        private_space(&server, &board, "p-lina", "Lina Roy", LINA_SECRET)
            .await
            .unwrap();
    lina_again
        .wait_until(|_| note_texts(&lina_again_roots, &lina_again).len() == 2)
        .await
        .unwrap();
    // Lina does not see Anne's note in her space, nor Anne Lina's.
    let mut lina_sees = note_texts(&lina_roots, &lina);
    lina_sees.sort();
    assert_eq!(lina_sees, ["", "Des arceaux vélo"]);

    // The board itself stays public: a note the stock client writes reaches Anne's board page.
    stock.edit(|txn| stock_roots.add_note(txn, "n-public", "s1", "Un marché", "#fff", ""));
    let anne_board_roots = shared::Roots::new(anne_board.doc());
    anne_board
        .wait_until(|doc| anne_board_roots.notes(&doc.transact()).len() == 1)
        .await
        .unwrap();
    assert_eq!(note_texts(&stock_roots, &stock), ["Un marché"]);
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = shared::Roots::new(viewer.doc());
    assert_eq!(note_texts(&viewer_roots, &viewer), ["Un marché"]);
    let answers = all_answers(&server, &board).await;
    for private in ["navette", "arceaux"] {
        assert!(!answers.contains(private), "{private} answered: {answers}");
    }
    let status = get_ok_json(&url, &board.viewer).await;
    assert_eq!(
        (status["open"].as_bool(), status["writers"].as_u64()),
        (Some(true), Some(2))
    );

    // Somebody else using Anne's pid with their own secret gets nothing; a viewer's link, a
    // missing secret are refused too.
    let thief = private_query(&board.editor, "p-anne", "Anne Bérubé", LINA_SECRET);
    assert_eq!(
        refused_with(&server, &board, &thief).await,
        shared::wire::close::FORBIDDEN
    );
    let viewing = private_query(&board.viewer, "p-vera", "Vera", ANNE_SECRET);
    assert_eq!(
        refused_with(&server, &board, &viewing).await,
        shared::wire::close::FORBIDDEN
    );
    let bare = format!("token={}&pid=p-noor", board.editor);
    assert_eq!(
        refused_with(&server, &board, &bare).await,
        shared::wire::close::POLICY
    );

    // Anne comes back (her pages closed, the server restarted): her note is there.
    anne.close();
    anne_again.close();
    drop((anne_board, stock, viewer, lina, lina_again));
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let (anne, anne_roots) = private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
        .await
        .unwrap();
    assert_eq!(note_texts(&anne_roots, &anne), ["Une navette le samedi"]);
    let stock = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let stock_roots = shared::Roots::new(stock.doc());

    let (status, revealed) = post_json(
        &format!("{}/reveal", round_url(&server, &board)),
        &board.facilitator,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(
        (revealed["revealed"].as_u64(), revealed["writers"].as_u64()),
        (Some(2), Some(2))
    );
    // Anne's private page is told the round is over.
    assert_eq!(
        anne.closed().await.unwrap().0,
        shared::wire::close::ROUND_OVER
    );
    stock
        .wait_until(|doc| {
            let txn = doc.transact();
            stock_roots.notes(&txn).len() == 3
                && shared::private_round::PrivateRound::read(&stock_roots, &txn).is_none()
        })
        .await
        .unwrap();
    let mut texts = note_texts(&stock_roots, &stock);
    texts.sort();
    assert_eq!(
        texts,
        ["Des arceaux vélo", "Un marché", "Une navette le samedi"]
    );
    {
        let txn = stock.doc().transact();
        let Some(yrs::Out::YMap(note)) = stock_roots.notes.get(&txn, "n-anne") else {
            panic!("n-anne revealed")
        };
        let section = note.get(&txn, "section").map(|v| v.to_string(&txn));
        assert_eq!(section.as_deref(), Some("s2"));
        assert!(note.get(&txn, shared::private_round::WRITTEN_KEY).is_some());
    }

    // Credited to its writer: the contributions and the CSV name Anne for her note.
    let api = format!("{}/api/boards/{}", server.base, board.id);
    let contributions = get_ok_json(&format!("{api}/contributions"), &board.viewer).await;
    let created = |name: &str| {
        nouage_tests::contributor(&contributions, name).map(|p| p["created"].as_u64().unwrap_or(0))
    };
    assert_eq!(created("Anne Bérubé"), Some(1), "{contributions}");
    assert_eq!(created("Lina Roy"), Some(1), "{contributions}");
    let (_, csv) = export_bytes(&server.base, &board, "csv").await;
    let csv = String::from_utf8(csv).unwrap();
    let line = csv
        .lines()
        .find(|l| l.contains("Une navette le samedi"))
        .unwrap_or_else(|| panic!("the note in the CSV: {csv}"));
    assert!(line.contains("Anne Bérubé"), "{line}");

    // The round is over: its spaces are gone, and none opens.
    let status = get_ok_json(&round_url(&server, &board), &board.viewer).await;
    assert_eq!(status["open"], false);
    assert_eq!(
        nouage_tests::db_count(dir.path(), "SELECT COUNT(*) FROM private_spaces"),
        0
    );
    assert_eq!(
        nouage_tests::db_count(dir.path(), "SELECT COUNT(*) FROM boards"),
        1
    );
    let query = private_query(&board.editor, "p-anne", "Anne", ANNE_SECRET);
    assert_eq!(
        refused_with(&server, &board, &query).await,
        shared::wire::close::ROUND_OVER
    );
    server.stop().await;
}

/// Every file of the data directory, read whole, as one buffer.
fn data_bytes(dir: &std::path::Path) -> Vec<u8> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .flat_map(|e| std::fs::read(e.path()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_cancelled_round_leaves_nothing_of_what_was_written_in_it() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Mobilités").await;
    let url = round_url(&server, &board);
    assert_eq!(delete(&url, &board.editor).await.0, 403);
    assert_eq!(post_json(&url, &board.facilitator, &json!({})).await.0, 201);
    let (anne, roots) = private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
        .await
        .unwrap();
    let idea = "Covoiturage-XYZZY-de-la-vallée";
    anne.edit(|txn| roots.add_node(txn, "x1", Some("root"), 1.0, idea, "p-anne"));
    let (witness, witness_roots) =
        private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
            .await
            .unwrap();
    witness
        .wait_until(|doc| witness_roots.nodes(&doc.transact()).len() == 1)
        .await
        .unwrap();
    assert!(
        data_bytes(dir.path())
            .windows(idea.len())
            .any(|w| w == idea.as_bytes()),
        "the private idea is stored while the round is open"
    );
    let (status, cancelled) = delete(&url, &board.facilitator).await;
    assert_eq!(
        (status, cancelled["discarded"].as_u64()),
        (200, Some(1)),
        "{cancelled}"
    );
    assert_eq!(
        anne.closed().await.unwrap().0,
        shared::wire::close::ROUND_OVER
    );
    assert_eq!(delete(&url, &board.facilitator).await.0, 409);
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = shared::Roots::new(viewer.doc());
    let nodes = viewer_roots.nodes(&viewer.doc().transact());
    assert_eq!(nodes.len(), 1, "only the central topic");
    assert!(!all_answers(&server, &board).await.contains("XYZZY"));
    server.stop().await;
    assert!(
        !data_bytes(dir.path())
            .windows(idea.len())
            .any(|w| w == idea.as_bytes()),
        "a cancelled idea is not in the data directory's files"
    );
}

#[tokio::test]
async fn a_private_idea_on_a_mind_map_keeps_its_place_and_the_central_topic_stays() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Mobilités").await;
    let url = round_url(&server, &board);
    assert_eq!(post_json(&url, &board.facilitator, &json!({})).await.0, 201);
    let (anne, roots) = private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
        .await
        .unwrap();
    anne.edit(|txn| {
        roots.add_node(
            txn,
            "x1",
            Some("root"),
            3.0,
            "Transport à la demande",
            "p-anne",
        );
        roots.add_node(txn, "x2", Some("x1"), 1.0, "Réservation par SMS", "p-anne");
    });
    let (witness, witness_roots) =
        private_space(&server, &board, "p-anne", "Anne Bérubé", ANNE_SECRET)
            .await
            .unwrap();
    witness
        .wait_until(|doc| witness_roots.nodes(&doc.transact()).len() == 2)
        .await
        .unwrap();
    let (status, revealed) =
        post_json(&format!("{url}/reveal"), &board.facilitator, &json!({})).await;
    assert_eq!(
        (status, revealed["revealed"].as_u64()),
        (200, Some(2)),
        "{revealed}"
    );
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = shared::Roots::new(viewer.doc());
    let nodes = viewer_roots.nodes(&viewer.doc().transact());
    let find = |id: &str| {
        nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{id} in {nodes:?}"))
    };
    assert_eq!(find("root").text, "Mobilités");
    assert_eq!(find("x1").parent.as_deref(), Some("root"));
    assert_eq!(find("x2").parent.as_deref(), Some("x1"));
    assert_eq!(find("x2").text, "Réservation par SMS");
    server.stop().await;
}

#[tokio::test]
async fn a_private_space_has_the_size_limit_of_a_board() {
    let dir = TempDir::new();
    let server = TestServer::start_with(dir.path(), |config| {
        config.limits.max_document_bytes = 16 * 1024;
    })
    .await;
    let board = create_board(&server.base, "diagnosis", "Atelier").await;
    assert_eq!(
        post_json(&round_url(&server, &board), &board.facilitator, &json!({}))
            .await
            .0,
        201
    );
    let (anne, roots) = private_space(&server, &board, "p-anne", "Anne", ANNE_SECRET)
        .await
        .unwrap();
    let long = "une très longue idée ".repeat(1_500);
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", &long, "#fff", "p-anne"));
    let (code, reason) = anne.closed().await.unwrap();
    assert_eq!(code, shared::wire::close::LIMIT, "{reason}");
    // Nothing of it was kept: the space opens again, empty.
    let (again, again_roots) = private_space(&server, &board, "p-anne", "Anne", ANNE_SECRET)
        .await
        .unwrap();
    assert!(note_texts(&again_roots, &again).is_empty());
    server.stop().await;
}
