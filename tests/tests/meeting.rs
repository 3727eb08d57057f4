//! Meeting tools (issue 22) over the API and the document: the shared timer the facilitator
//! runs, counted in the server's clock; proxy entry, credited in the record and the exports.

use nouage_tests::{
    TempDir, TestServer, YClient, create_board, export_bytes, get_ok_json, http, join, odt_parts,
    pdf_text, post_json, xml_unescape,
};
use serde_json::{Value, json};
use yrs::{Any, Map, Out, Transact};

async fn post(url: &str, token: &str, body: Value) -> (u16, Value) {
    post_json(url, token, &body).await
}

/// `meta.timer` as a client of the board reads it.
fn timer_in(client: &YClient) -> Option<std::collections::HashMap<String, Any>> {
    let doc = client.doc();
    let meta = doc.get_or_insert_map("meta");
    match meta.get(&doc.transact(), "timer") {
        Some(Out::Any(Any::Map(map))) => Some((*map).clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_facilitator_runs_the_timer_in_the_servers_clock_and_every_client_reads_it() {
    let dir = TempDir::new();
    let mut clock = None;
    let server =
        TestServer::start_with(dir.path(), |config| clock = Some(config.clock.clone())).await;
    let clock = clock.unwrap();
    // The server's clock an hour ahead of this machine's: what clients must count from.
    clock.advance(3_600_000);
    let time: Value = http()
        .get(format!("{}/api/time", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let local_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let server_ms = time["nowMs"].as_i64().unwrap();
    assert!(
        (server_ms - local_ms - 3_600_000).abs() < 5_000,
        "/api/time answers the server's clock: {server_ms} vs {local_ms}"
    );

    let board = create_board(&server.base, "mindmap", "Comité").await;
    let url = format!("{}/api/boards/{}/timer", server.base, board.id);
    let client = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();

    let (status, answer) = post(
        &url,
        &board.editor,
        json!({"action": "start", "durationMs": 300_000}),
    )
    .await;
    assert_eq!(status, 403, "an editor cannot run the timer: {answer}");
    let (status, answer) = post(&url, &board.facilitator, json!({"action": "pause"})).await;
    assert_eq!(status, 409, "no timer to pause yet: {answer}");
    let (status, answer) = post(
        &url,
        &board.facilitator,
        json!({"action": "start", "durationMs": 90_000_000}),
    )
    .await;
    assert_eq!(status, 400, "longer than a day: {answer}");
    assert!(answer["error"].as_str().unwrap().contains("durationMs"));

    let (status, started) = post(
        &url,
        &board.facilitator,
        json!({"action": "start", "durationMs": 300_000, "sound": true}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let started_at = started["timer"]["startedAtMs"].as_i64().unwrap();
    assert!(
        (started_at - server_ms).abs() < 5_000,
        "started in the server's clock: {started}"
    );
    assert_eq!(started["timer"]["remainingMs"], 300_000);
    client
        .wait_until(|doc| {
            let meta = doc.get_or_insert_map("meta");
            meta.get(&doc.transact(), "timer").is_some()
        })
        .await
        .unwrap();
    let timer = timer_in(&client).unwrap();
    assert_eq!(timer["startedAtMs"], Any::Number((started_at).into()));
    assert_eq!(timer["durationMs"], Any::Number(300_000_i64.into()));
    assert_eq!(timer["pausedAtMs"], Any::Null);
    assert_eq!(timer["sound"], Any::Bool(true));

    // Paused a minute in, it keeps the four minutes left however long the pause lasts.
    clock.advance(60_000);
    let (status, paused) = post(&url, &board.facilitator, json!({"action": "pause"})).await;
    assert_eq!(status, 200, "{paused}");
    let left = paused["timer"]["remainingMs"].as_i64().unwrap();
    assert!((239_000..=240_000).contains(&left), "{paused}");
    let (status, _) = post(&url, &board.facilitator, json!({"action": "pause"})).await;
    assert_eq!(status, 409, "already paused");
    clock.advance(600_000);
    let (status, resumed) = post(&url, &board.facilitator, json!({"action": "resume"})).await;
    assert_eq!(status, 200, "{resumed}");
    let after_pause = resumed["timer"]["remainingMs"].as_i64().unwrap();
    assert!(
        (left - 1_000..=left).contains(&after_pause),
        "{left} {resumed}"
    );
    let (status, extended) = post(
        &url,
        &board.facilitator,
        json!({"action": "extend", "byMs": 60_000}),
    )
    .await;
    assert_eq!(status, 200, "{extended}");
    assert!(extended["timer"]["remainingMs"].as_i64().unwrap() >= after_pause + 59_000);

    let (status, stopped) = post(&url, &board.facilitator, json!({"action": "stop"})).await;
    assert_eq!((status, &stopped["timer"]), (200, &Value::Null));
    client
        .wait_until(|doc| {
            let meta = doc.get_or_insert_map("meta");
            meta.get(&doc.transact(), "timer").is_none()
        })
        .await
        .unwrap();
    let (status, _) = post(&url, &board.facilitator, json!({"action": "stop"})).await;
    assert_eq!(status, 409, "nothing left to stop");
    let (status, answer) = post(&url, &board.facilitator, json!({"action": "rewind"})).await;
    assert_eq!(status, 400, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn only_the_facilitator_can_summon_everybody() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Comité").await;
    let connect = |token: String| {
        let ws = server.ws_base();
        let id = board.id.clone();
        async move { YClient::connect(&ws, &id, &token).await.unwrap() }
    };
    let facilitator = connect(board.facilitator.clone()).await;
    let editor = connect(board.editor.clone()).await;
    let watcher = connect(board.viewer.clone()).await;
    let state = |name: &str| {
        json!({"user": {"name": name}, "view": [10.0, 20.0, 1.5], "summon": 1_796_000_000_000_i64})
            .to_string()
    };
    editor.set_awareness(7001, 1, &state("Lina"));
    facilitator.set_awareness(7002, 1, &state("Animatrice"));
    watcher
        .wait_awareness(|states| states.contains_key(&7001) && states.contains_key(&7002))
        .await
        .unwrap();
    let states = watcher.awareness();
    let read = |id: u64| serde_json::from_str::<Value>(&states[&id]).unwrap();
    let (lina, animatrice) = (read(7001), read(7002));
    assert_eq!(
        lina["summon"],
        Value::Null,
        "an editor's summons is taken out: {lina}"
    );
    assert_eq!(
        lina["view"],
        json!([10.0, 20.0, 1.5]),
        "the rest is relayed: {lina}"
    );
    assert_eq!(lina["user"]["name"], "Lina");
    assert_eq!(animatrice["summon"], 1_796_000_000_000_i64, "{animatrice}");
    server.stop().await;
}

#[tokio::test]
async fn an_idea_entered_for_someone_is_theirs_in_the_record_and_the_exports_and_a_later_claim_is_not()
 {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let (lina, roots) = join(
        &server,
        &board,
        "p-lina",
        "Lina",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let (zoe, zoe_roots) = join(&server, &board, "p-zoe", "Zoé", "Vélo Vert", "association").await;
    let table = shared::proxy::Represented {
        name: "Table des citoyens".into(),
        org: "Saint-Camille".into(),
        org_kind: Some(shared::OrgKind::Citizen),
    };
    // Lina types an idea for the citizens' table, in the update that creates the note, then
    // one of her own.
    lina.edit(|txn| {
        roots.add_note(txn, "n1", "s1", "Une navette le samedi", "#fff", "p-lina");
        roots.mark_entered_for(txn, "n1", &table);
    });
    lina.edit(|txn| roots.add_note(txn, "n2", "s1", "Un marché", "#fff", "p-lina"));
    // Zoé's client (any Yjs client with an editor link) claims Lina's note for someone else.
    zoe.wait_until(|doc| zoe_roots.notes(&doc.transact()).len() == 2)
        .await
        .unwrap();
    let claimed = shared::proxy::Represented {
        name: "Quelqu'un d'autre".into(),
        org: "Ailleurs".into(),
        org_kind: None,
    };
    zoe.edit(|txn| zoe_roots.mark_entered_for(txn, "n2", &claimed));
    lina.wait_until(|doc| {
        roots
            .notes(&doc.transact())
            .iter()
            .any(|n| n.on_behalf_of.as_ref() == Some(&claimed))
    })
    .await
    .unwrap();

    let api = format!("{}/api/boards/{}", server.base, board.id);
    let contributions = get_ok_json(&format!("{api}/contributions"), &board.viewer).await;
    let row = |name: &str| {
        contributions["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    };
    let table_row = row("Table des citoyens").expect("the table is listed");
    assert_eq!(table_row["represented"], true, "{contributions}");
    assert_eq!(table_row["org"], "Saint-Camille");
    assert_eq!(table_row["orgKind"], "citizen");
    assert_eq!(table_row["created"], 1, "{contributions}");
    assert_eq!(table_row["charsWritten"], 21, "its words are its own");
    let lina_row = row("Lina").unwrap();
    assert_eq!(lina_row["represented"], false);
    assert_eq!(lina_row["created"], 1, "her own note only: {contributions}");
    assert_eq!(lina_row["enteredForOthers"], 1);
    assert_eq!(lina_row["charsWritten"], 9, "'Un marché'");
    assert!(
        row("Quelqu'un d'autre").is_none(),
        "a claim after the creation credits nobody: {contributions}"
    );
    let kinds = contributions["orgKinds"].as_array().unwrap();
    assert!(
        kinds
            .iter()
            .any(|k| k["name"] == "citizen" && k["created"] == 1),
        "the citizens count in the parity table: {contributions}"
    );

    let elements = get_ok_json(&format!("{api}/elements"), &board.viewer).await;
    let element = |id: &str| {
        elements["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(element("n1")["createdBy"], "Table des citoyens");
    assert_eq!(element("n1")["createdOrg"], "Saint-Camille");
    assert_eq!(element("n1")["enteredBy"], "Lina");
    assert_eq!(element("n2")["createdBy"], "Lina");
    assert!(element("n2").get("enteredBy").is_none(), "{elements}");
    let story = get_ok_json(&format!("{api}/elements/n1"), &board.viewer).await;
    assert_eq!(story["changes"][0]["what"], "created");
    assert_eq!(story["changes"][0]["name"], "Table des citoyens");
    assert_eq!(story["changes"][0]["enteredBy"], "Lina");

    let (status, csv_bytes) = export_bytes(&server.base, &board, "csv").await;
    assert_eq!(status, 200);
    let csv_text = String::from_utf8(csv_bytes).unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.iter().next_back(), Some("entered_by"), "{csv_text}");
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let csv_row = |text: &str| rows.iter().find(|r| &r[column("text")] == text).unwrap();
    let n1 = csv_row("Une navette le samedi");
    assert_eq!(
        (
            &n1[column("author")],
            &n1[column("organisation")],
            &n1[column("entered_by")]
        ),
        ("Table des citoyens", "Saint-Camille", "Lina")
    );
    let n2 = csv_row("Un marché");
    assert_eq!(
        (&n2[column("author")], &n2[column("entered_by")]),
        ("Lina", "")
    );
    let (_, markdown) = export_bytes(&server.base, &board, "md").await;
    let markdown = String::from_utf8(markdown).unwrap();
    assert!(
        markdown
            .contains("Une navette le samedi — Table des citoyens (Saint-Camille), saisi par Lina"),
        "{markdown}"
    );
    let (status, record_pdf) = export_bytes(&server.base, &board, "record-pdf").await;
    assert_eq!(status, 200);
    if let Some(text) = pdf_text(&record_pdf) {
        assert!(
            text.contains("Table des citoyens (représenté·e"),
            "the record's participants table lists the table: {text}"
        );
    }
}

#[tokio::test]
async fn a_note_goes_from_idea_to_project_and_both_boards_and_the_report_trace_its_path() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let canvas = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let portfolio = create_board(&server.base, "portfolio", "Projets du territoire").await;
    let (lina, roots) = join(
        &server,
        &canvas,
        "p-lina",
        "Lina",
        "Commune de Lodève",
        "commune",
    )
    .await;
    lina.edit(|txn| {
        for (id, text) in [
            ("h", "Se déplacer sans voiture"),
            ("n1", "Une navette le samedi"),
            ("n2", "Un téléphérique"),
            ("n3", "Du covoiturage"),
        ] {
            roots.add_note(txn, id, "s1", text, "#fff", "p-lina");
        }
    });
    lina.edit(|txn| {
        roots.group_note(txn, "n1", Some("h"));
        roots.group_note(txn, "n3", Some("h"));
        roots.set_vote(txn, "n1", "p-lina", 2);
    });
    // The room has them (it relays only what it stored) before the facilitator decides.
    let watcher = YClient::connect(&server.ws_base(), &canvas.id, &canvas.viewer)
        .await
        .unwrap();
    let watched = shared::Roots::new(watcher.doc());
    watcher
        .wait_until(|doc| {
            watched
                .notes(&doc.transact())
                .iter()
                .any(|n| n.id == "n3" && n.grouped_under.is_some())
        })
        .await
        .unwrap();
    let api = format!("{}/api/boards/{}", server.base, canvas.id);
    let anim = json!({"pid": "p-anim", "name": "Animatrice", "org": "MRC", "orgKind": "epci"});
    let decide = |note: &str, body: Value, token: &str| {
        let (url, token) = (format!("{api}/notes/{note}/decision"), token.to_owned());
        async move { post(&url, &token, body).await }
    };
    let (status, answer) = decide("n1", json!({"status": "kept"}), &canvas.editor).await;
    assert_eq!(status, 403, "an editor does not decide: {answer}");
    let (status, _) = decide("nope", json!({"status": "kept"}), &canvas.facilitator).await;
    assert_eq!(status, 404);
    let (status, answer) = decide("n1", json!({"status": "maybe"}), &canvas.facilitator).await;
    assert_eq!(status, 400, "{answer}");
    // A project from an idea not kept yet is refused.
    let to_project = |note: &str, token: &str| {
        let url = format!("{api}/notes/{note}/project");
        let body = json!({"portfolio": portfolio.id, "token": token, "by": anim.clone()});
        let facilitator = canvas.facilitator.clone();
        async move { post(&url, &facilitator, body).await }
    };
    let (status, answer) = to_project("n1", &portfolio.editor).await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = decide(
        "n1",
        json!({"status": "kept", "by": anim.clone()}),
        &canvas.facilitator,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"]["byName"], "Animatrice");
    let (status, _) = decide(
        "n2",
        json!({"status": "setAside", "reason": "Hors de portée du budget", "by": anim.clone()}),
        &canvas.facilitator,
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = to_project("n1", &portfolio.viewer).await;
    assert_eq!(
        status, 403,
        "a viewer link of the portfolio adds nothing: {answer}"
    );
    let (status, created) = to_project("n1", &portfolio.editor).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["title"], "Une navette le samedi");
    let (status, again) = to_project("n1", &portfolio.editor).await;
    assert_eq!(status, 409, "one project per idea: {again}");

    // Both boards show the link.
    let project_id = created["project"].as_str().unwrap().to_owned();
    lina.wait_until(|doc| {
        roots
            .notes(&doc.transact())
            .iter()
            .any(|n| n.project.as_ref().is_some_and(|p| p.project == project_id))
    })
    .await
    .unwrap();
    let reader = YClient::connect(&server.ws_base(), &portfolio.id, &portfolio.viewer)
        .await
        .unwrap();
    let portfolio_roots = shared::Roots::new(reader.doc());
    reader
        .wait_until(|doc| portfolio_roots.projects(&doc.transact()).len() == 1)
        .await
        .unwrap();
    let project = portfolio_roots.projects(&reader.doc().transact()).remove(0);
    assert_eq!(project.id, project_id);
    assert_eq!(
        project.stage,
        shared::portfolio::STAGES[0],
        "at the first stage"
    );
    assert_eq!(
        (
            project.stakes[0].board.as_str(),
            project.stakes[0].note.as_str()
        ),
        (canvas.id.as_str(), "n1"),
        "the project points back to the note"
    );

    // The note's story: proposed, grouped, kept, turned into a project, each with who.
    let story = get_ok_json(&format!("{api}/elements/n1"), &canvas.viewer).await;
    let steps: Vec<(String, String)> = story["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["what"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("created", "Lina"),
        ("grouped", "Lina"),
        ("kept", "Animatrice"),
        ("project", "Animatrice"),
    ];
    for (what, who) in expected {
        assert!(
            steps.iter().any(|(w, n)| w == what && n == who),
            "{what} by {who} in {steps:?}"
        );
    }

    // The meeting report and the record list the path.
    let (_, odt) = export_bytes(&server.base, &canvas, "odt").await;
    nouage_tests::keep_artifact("idea-path-report.odt", &odt);
    let content = xml_unescape(&odt_parts(&odt).1);
    assert!(content.contains("Des idées aux projets"), "{content}");
    assert!(
        content.contains("1 idée retenue sur 4, dont 1 devenue un projet ; 1 écartée"),
        "{content}"
    );
    assert!(
        content.contains("« Une navette le samedi » · proposée par Lina (Commune de Lodève) · regroupée sous « Se déplacer sans voiture » · 2 votes · retenue par Animatrice le "),
        "{content}"
    );
    assert!(content.contains("devenue le projet « Une navette le samedi »"));
    assert!(
        content.contains("écartée par Animatrice le ")
            && content.contains("(Hors de portée du budget)")
    );
    let (_, record_pdf) = export_bytes(&server.base, &canvas, "record-pdf").await;
    nouage_tests::keep_artifact("idea-path-record.pdf", &record_pdf);
    if let Some(text) = pdf_text(&record_pdf) {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("1 idée retenue sur 4, dont 1 devenue un projet"),
            "{flat}"
        );
    }
}
