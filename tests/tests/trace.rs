//! The trace of who contributed what, as the API reports it from the journal.

use nouage_tests::{TempDir, TestServer, YClient, create_board, get_json, http, join, post_json};
use serde_json::Value;
use shared::Roots;
use yrs::{Text, Transact};

fn row<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {rows}"))
}

#[tokio::test]
async fn contributions_count_exactly_what_each_participant_did_whatever_the_author_fields_say() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Mobilités").await;
    let (anne, anne_roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne",
        "Baie-Saint-Paul",
        "commune",
    )
    .await;
    let (bruno, bruno_roots) = join(
        &server,
        &board,
        "p-bruno",
        "Bruno",
        "Baie-Saint-Paul",
        "commune",
    )
    .await;
    let (zoe, zoe_roots) = join(
        &server,
        &board,
        "p-zoe",
        "Zoé",
        "Vélo Charlevoix",
        "association",
    )
    .await;
    anne.edit(|txn| anne_roots.add_node(txn, "n1", Some("root"), 1.0, "Navette", "p-anne"));
    anne.edit(|txn| anne_roots.add_node(txn, "n2", Some("root"), 2.0, "Train", "p-anne"));
    bruno
        .wait_until(|doc| bruno_roots.nodes(&doc.transact()).len() == 3)
        .await
        .unwrap();
    bruno.edit(|txn| {
        let text = shared::doc::child_text(&bruno_roots.nodes, txn, "n1", "text").unwrap();
        text.insert(txn, 7, " d'été");
    });
    zoe.wait_until(|doc| zoe_roots.nodes(&doc.transact()).len() == 3)
        .await
        .unwrap();
    // Zoé writes Anne's pid in the author field of her node: the record is still hers.
    zoe.edit(|txn| zoe_roots.add_node(txn, "n3", Some("root"), 3.0, "Vélos", "p-anne"));
    zoe.edit(|txn| {
        yrs::Map::remove(&zoe_roots.nodes, txn, "n2");
    });
    // Everything is committed once a late client sees it.
    let late = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let late_roots = Roots::new(late.doc());
    late.wait_until(|doc| {
        let nodes = late_roots.nodes(&doc.transact());
        nodes.len() == 3 && nodes.iter().any(|n| n.text == "Navette d'été")
    })
    .await
    .unwrap();

    let report: Value = get_json(
        &format!("{}/api/boards/{}/contributions", server.base, board.id),
        &board.viewer,
    )
    .await;
    let people = &report["participants"];
    assert_eq!(people.as_array().unwrap().len(), 3, "{report}");
    let counts = |pid: &str| {
        let r = row(people, "pid", pid);
        [
            &r["updates"],
            &r["created"],
            &r["edited"],
            &r["deleted"],
            &r["charsWritten"],
            &r["votesCast"],
        ]
        .map(|v| v.as_u64().unwrap())
    };
    // updates include the participant's own entry in `participants`, written when they joined.
    assert_eq!(counts("p-anne"), [3, 2, 0, 0, 12, 0]);
    assert_eq!(counts("p-bruno"), [2, 0, 1, 0, 6, 0]);
    assert_eq!(counts("p-zoe"), [3, 1, 0, 1, 5, 0]);
    assert_eq!(row(people, "pid", "p-zoe")["org"], "Vélo Charlevoix");
    let baie = row(&report["organisations"], "name", "Baie-Saint-Paul");
    assert_eq!(
        (
            baie["participants"].as_u64(),
            baie["created"].as_u64(),
            baie["edited"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );
    let history: Value = get_json(
        &format!("{}/api/boards/{}/history", server.base, board.id),
        &board.viewer,
    )
    .await;
    // Newest first: Zoé's deletion, then her note.
    let zoe_entries: Vec<&Value> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["pid"] == "p-zoe")
        .collect();
    assert_eq!(
        zoe_entries[0]["deleted"],
        serde_json::json!(["n2"]),
        "{history}"
    );
    assert_eq!(zoe_entries[1]["created"], serde_json::json!(["n3"]));
    assert_eq!(history["nextBefore"], Value::Null, "one page holds it all");
    // The timeline's runs: each participant's entries in a row as one line (joining, which
    // writes only the participant's card, changes no element).
    let runs: Vec<(String, u64, u64, u64)> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["created"].as_u64().unwrap(),
                r["edited"].as_u64().unwrap(),
                r["deleted"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs.into_iter()
            .filter(|r| r.1 + r.2 + r.3 > 0)
            .collect::<Vec<_>>(),
        [
            ("Anne".to_owned(), 2, 0, 0),
            ("Bruno".to_owned(), 0, 1, 0),
            ("Zoé".to_owned(), 1, 0, 1)
        ],
        "{history}"
    );
    let sessions = history["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "one working session");
    assert_eq!(sessions[0]["participants"].as_array().unwrap().len(), 3);
    let associations = row(&report["orgKinds"], "name", "association");
    assert_eq!(
        (
            associations["created"].as_u64(),
            associations["deleted"].as_u64()
        ),
        (Some(1), Some(1))
    );
    server.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn the_board_at_a_past_moment_is_the_document_as_it_was_then() {
    let dir = TempDir::new();
    // Snapshots every 5 entries, so time travel crosses snapshots as well as the journal.
    let server = TestServer::start_with(dir.path(), |c| c.limits.snapshot_every_updates = 5).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let writer = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let roots = Roots::new(writer.doc());
    let witness = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let witness_roots = Roots::new(witness.doc());
    let mut moments = Vec::new();
    let snapshots = || nouage_tests::db_count(dir.path(), "SELECT count(*) FROM snapshots");
    for batch in 0..3 {
        let snapshots_before = snapshots();
        for i in 0..7 {
            writer.edit(|txn| {
                roots.add_node(
                    txn,
                    &format!("b{batch}-{i}"),
                    Some("root"),
                    i as f64,
                    "idée",
                    "p",
                )
            });
        }
        let expected = 1 + 7 * (batch + 1);
        witness
            .wait_until(|doc| witness_roots.nodes(&doc.transact()).len() == expected)
            .await
            .unwrap();
        // The room's tick writes a snapshot of the batch's seven entries; then the moment and
        // what a client saw are noted.
        nouage_tests::poll_until(&format!("a snapshot after batch {batch}"), || async {
            (snapshots() > snapshots_before).then_some(())
        })
        .await;
        let seen: Vec<String> = witness_roots
            .nodes(&witness.doc().transact())
            .into_iter()
            .map(|n| n.id)
            .collect();
        let at = now_ms();
        moments.push((at, seen));
        // The next batch's entries are stamped after the moment: the clock has moved on.
        nouage_tests::poll_until("the clock to pass the moment", || async {
            (now_ms() > at).then_some(())
        })
        .await;
    }
    let snapshots = snapshots();
    assert!(
        snapshots >= 2,
        "the history crosses snapshots ({snapshots})"
    );
    for (at, seen) in &moments {
        let json: Value = get_json(
            &format!(
                "{}/api/boards/{}/export?format=json&at={at}",
                server.base, board.id
            ),
            &board.viewer,
        )
        .await;
        let mut ids: Vec<String> = json["nodes"].as_object().unwrap().keys().cloned().collect();
        ids.sort();
        assert_eq!(&ids, seen, "the board at {at}");
    }
    let before_creation = http()
        .get(format!(
            "{}/api/boards/{}/export?format=json&at=yesterday",
            server.base, board.id
        ))
        .bearer_auth(&board.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(before_creation.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_note_is_listed_and_restored_with_its_text_author_and_votes() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let (anne, anne_roots) = join(&server, &board, "p-anne", "Anne", "Lodève", "commune").await;
    let (zoe, zoe_roots) = join(&server, &board, "p-zoe", "Zoé", "Vélo Vert", "association").await;
    anne.edit(|txn| {
        anne_roots.add_note(
            txn,
            "n1",
            "s2",
            "Peu de bus le dimanche",
            "#fde68a",
            "p-anne",
        );
        anne_roots.add_note(txn, "n2", "s2", "Une note de passage", "", "p-anne");
    });
    zoe.wait_until(|doc| zoe_roots.notes(&doc.transact()).len() == 2)
        .await
        .unwrap();
    zoe.edit(|txn| zoe_roots.set_vote(txn, "n1", "p-zoe", 2));
    zoe.edit(|txn| {
        let text = shared::doc::child_text(&zoe_roots.notes, txn, "n2", "text").unwrap();
        text.push(txn, " (à vérifier)");
    });
    // Zoé deletes Anne's note by mistake.
    zoe.edit(|txn| zoe_roots.delete_note(txn, "n1"));
    anne.wait_until(|doc| anne_roots.notes(&doc.transact()).len() == 1)
        .await
        .unwrap();

    let url = |path: &str| format!("{}/api/boards/{}/{path}", server.base, board.id);
    let listed = get_json(&url("deleted"), &board.viewer).await;
    let elements = listed["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 1, "{listed}");
    assert_eq!(elements[0]["id"], "n1");
    assert_eq!(elements[0]["kind"], "note");
    assert_eq!(elements[0]["text"], "Peu de bus le dimanche");
    assert_eq!(elements[0]["deletedBy"], "Zoé");

    let restore = |token: String, element: &str| {
        let body = serde_json::json!({ "element": element });
        let url = url("restore");
        async move { post_json(&url, &token, &body).await.0 }
    };
    assert_eq!(restore(board.viewer.clone(), "n1").await, 403);
    assert_eq!(restore(board.editor.clone(), "no-such-note").await, 404);
    assert_eq!(
        restore(board.editor.clone(), "n2").await,
        404,
        "n2 was never deleted"
    );
    assert_eq!(restore(board.editor.clone(), "n1").await, 200);
    assert_eq!(
        restore(board.editor.clone(), "n1").await,
        409,
        "it is back already"
    );

    // Both participants see it back as it was: text, section, colour, author, votes.
    for (client, roots) in [(&anne, &anne_roots), (&zoe, &zoe_roots)] {
        client
            .wait_until(|doc| roots.notes(&doc.transact()).len() == 2)
            .await
            .unwrap();
        let notes = roots.notes(&client.doc().transact());
        let note = notes.iter().find(|n| n.id == "n1").unwrap();
        assert_eq!(note.text, "Peu de bus le dimanche");
        assert_eq!(note.section, "s2");
        assert_eq!(note.color, "#fde68a");
        assert_eq!(note.author, "p-anne");
        assert_eq!(note.votes.get("p-zoe"), Some(&2));
    }
    // It is no longer listed, and the record still credits Anne with writing it.
    let listed = get_json(&url("deleted"), &board.viewer).await;
    assert_eq!(listed["elements"], serde_json::json!([]));
    let report = get_json(&url("contributions"), &board.viewer).await;
    let anne_row = row(&report["participants"], "name", "Anne");
    assert_eq!(anne_row["created"], 2);
    // Per element: who created it and who changed it last. Votes are not changes of the note,
    // and the server's restore counts for nobody; Zoé's edit of n2's text does.
    let elements = get_json(&url("elements"), &board.viewer).await;
    let element = |id: &str| row(&elements["elements"], "id", id).clone();
    let n1 = &element("n1");
    assert_eq!(n1["createdBy"], "Anne", "{elements}");
    assert_eq!(n1["changedBy"], "Anne", "{elements}");
    let n2 = &element("n2");
    assert_eq!(
        (&n2["createdBy"], &n2["changedBy"]),
        (&serde_json::json!("Anne"), &serde_json::json!("Zoé")),
        "{elements}"
    );
    assert!(n2["changedMs"].as_i64() >= n2["createdMs"].as_i64());
    assert_eq!(n2["createdOrg"], "Lodève");
    assert_eq!(n2["changedOrg"], "Vélo Vert");
    // One element's whole story: created by Anne, deleted by Zoé, restored (by the server, on
    // someone's request); the vote is not a change of the note.
    let story = get_json(&url("elements/n1"), &board.viewer).await;
    let lines: Vec<(&str, &str)> = story["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["what"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [("created", "Anne"), ("deleted", "Zoé"), ("restored", "")],
        "{story}"
    );
    let story = get_json(&url("elements/n2"), &board.viewer).await;
    let last = story["changes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["what"], &last["name"], &last["org"]),
        (
            &serde_json::json!("edited"),
            &serde_json::json!("Zoé"),
            &serde_json::json!("Vélo Vert")
        ),
        "{story}"
    );
    let unknown = http()
        .get(url("elements/never-there"))
        .bearer_auth(&board.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    server.stop().await;
}

#[tokio::test]
async fn the_history_pages_newest_first_and_bad_trace_requests_get_clear_errors() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let other = create_board(&server.base, "mindmap", "Autre").await;
    let (client, roots) = join(&server, &board, "p-anne", "Anne", "Commune", "commune").await;
    for i in 0..7 {
        client.edit(|txn| {
            roots.add_node(
                txn,
                &format!("k{i}"),
                Some("root"),
                i as f64,
                "Idée",
                "p-anne",
            )
        });
    }
    // Relayed means committed: once a watcher has the seven nodes, the journal has them.
    let watcher = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let seen = Roots::new(watcher.doc());
    watcher
        .wait_until(|doc| seen.nodes(&doc.transact()).len() >= 8)
        .await
        .unwrap();
    let url = |query: &str| format!("{}/api/boards/{}/history{query}", server.base, board.id);
    // Seven nodes, pages of three, newest first, each page's cursor leading to the next.
    let mut created = Vec::new();
    let mut query = "?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = get_json(&url(&query), &board.viewer).await;
        pages += 1;
        for entry in page["entries"].as_array().unwrap() {
            created.extend(
                entry["created"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned()),
            );
        }
        match page["nextBefore"].as_u64() {
            Some(before) => query = format!("?limit=3&before={before}"),
            None => break,
        }
        assert!(pages < 10, "the cursor does not move: {page}");
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("k{i}")).collect();
    assert_eq!(created, expected, "every node once, newest first");
    assert!(pages >= 3, "{pages} pages");

    // A bad history page, as the board's viewer.
    let page = |query: &str, message| (url(query), board.viewer.clone(), 400, message);
    let cases = [
        page("?limit=0", "limit must be between 1 and 5000"),
        page("?limit=5001", "limit must be between 1 and 5000"),
        page("?before=0", "before must be a journal seq"),
        page("?before=abc", "before must be"),
        page("?from=soon", "from must be a time"),
        (url(""), other.viewer.clone(), 401, "wrong or revoked token"),
        (
            format!(
                "{}/api/boards/{}/elements/nothing-here",
                server.base, board.id
            ),
            board.viewer.clone(),
            404,
            "never had an element",
        ),
    ];
    for (url, token, status, message) in cases {
        let response = http().get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap_or("").contains(message),
            "{url}: {body}"
        );
    }
    // Nothing changed: the whole history is still there.
    let all = get_json(&url(""), &board.viewer).await;
    assert!(all["entries"].as_array().unwrap().len() >= 7, "{all}");
    server.stop().await;
}
