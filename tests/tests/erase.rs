//! Erasure of a name (issue 23): a participant's, and a person's entered by proxy. Afterwards
//! the name is in no API answer, export or document, and not in the data directory's files;
//! the board still loads, its contributions still add up, and the journal keeps its seqs.

use nouage_tests::{
    TempDir, TestServer, YClient, create_board, export_bytes, get_ok_json, http, join, percent,
    post_json,
};
use serde_json::{Value, json};
use yrs::Transact;

/// Every file of the data directory, read whole.
fn data_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[tokio::test]
async fn an_erased_name_is_gone_from_answers_exports_and_files_and_its_contributions_stay() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier mobilités").await;
    let other = create_board(&server.base, "diagnosis", "Autre atelier").await;
    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne Bérubé",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let (lina, lina_roots) = join(
        &server,
        &board,
        "p-lina",
        "Lina",
        "Vélo Vert",
        "association",
    )
    .await;
    let (anne_elsewhere, other_roots) = join(
        &server,
        &other,
        "p-anne",
        "Anne Bérubé",
        "Commune de Lodève",
        "commune",
    )
    .await;
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", "Une navette le samedi", "#fff", "p-anne"));
    lina.edit(|txn| {
        lina_roots.add_note(txn, "n2", "s1", "Un café associatif", "#fff", "p-lina");
        let marie = shared::proxy::Represented {
            name: "Marie Tremblay".into(),
            org: "Saint-Camille".into(),
            org_kind: Some(shared::OrgKind::Citizen),
        };
        lina_roots.mark_entered_for(txn, "n2", &marie);
    });
    anne_elsewhere.edit(|txn| other_roots.add_note(txn, "x1", "s1", "Ailleurs", "#fff", "p-anne"));
    // The rooms have them (they relay only what they stored) before anything else happens.
    for (b, count) in [(&board, 2), (&other, 1)] {
        let watcher = YClient::connect(&server.ws_base(), &b.id, &b.viewer)
            .await
            .unwrap();
        let watched = shared::Roots::new(watcher.doc());
        watcher
            .wait_until(|doc| watched.notes(&doc.transact()).len() == count)
            .await
            .unwrap();
    }
    let api = format!("{}/api/boards/{}", server.base, board.id);
    let by = json!({"pid": "p-anne", "name": "Anne Bérubé", "org": "Commune de Lodève"});
    let (status, _) = post_json(
        &format!("{api}/notes/n1/decision"),
        &board.facilitator,
        &json!({"status": "kept", "by": by}),
    )
    .await;
    assert_eq!(status, 200);
    lina.wait_until(|doc| {
        lina_roots
            .notes(&doc.transact())
            .iter()
            .any(|n| n.decision.is_some())
    })
    .await
    .unwrap();
    let before = get_ok_json(&format!("{api}/contributions"), &board.viewer).await;
    assert!(before.to_string().contains("Anne Bérubé"));
    let history_before = get_ok_json(&format!("{api}/history"), &board.viewer).await;
    let seqs = |history: &Value| -> Vec<u64> {
        history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };

    // Only the facilitator erases; an unknown pid is a 404.
    let erase = |pid: &str| format!("{api}/participants/{}/erase", percent(pid));
    let (status, _) = post_json(&erase("p-anne"), &board.editor, &json!({})).await;
    assert_eq!(status, 403);
    let (status, answer) = post_json(&erase("p-nobody"), &board.facilitator, &json!({})).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = post_json(&erase("p-anne"), &board.facilitator, &json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["entriesRewritten"].as_u64().unwrap() >= 2,
        "{answer}"
    );
    let marie = "proxy:marie tremblay|saint-camille";
    let (status, answer) = post_json(&erase(marie), &board.facilitator, &json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post_json(&erase("p-anne"), &board.facilitator, &json!({})).await;
    assert_eq!(status, 404, "already erased");
    // Exports say "un·e participant·e" in the board's language where the name was.
    let (_, csv) = export_bytes(&server.base, &board, "csv").await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.contains("Une navette le samedi,un·e participant·e,Commune de Lodève,"),
        "{csv}"
    );
    assert!(
        csv.contains("Un café associatif,un·e participant·e,Saint-Camille,0,")
            && csv.contains(",Lina\n"),
        "{csv}"
    );

    // No answer names them; the contributions stay, credited to the marker.
    let mut answers = String::new();
    for path in [
        "contributions",
        "history",
        "elements",
        "elements/n1",
        "elements/n2",
    ] {
        answers.push_str(
            &get_ok_json(&format!("{api}/{path}"), &board.viewer)
                .await
                .to_string(),
        );
    }
    for format in ["csv", "md", "json", "odt", "record-md", "svg"] {
        let (status, bytes) = export_bytes(&server.base, &board, format).await;
        assert_eq!(status, 200, "{format}");
        answers.push_str(&String::from_utf8_lossy(&bytes));
    }
    for name in ["Anne Bérubé", "Marie Tremblay"] {
        assert!(!answers.contains(name), "{name} still answered: {answers}");
    }
    let after = get_ok_json(&format!("{api}/contributions"), &board.viewer).await;
    let row = |name: &str, org: &str| {
        after["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name && p["org"] == org)
            .cloned()
            .unwrap_or_else(|| panic!("{name} of {org} in {after}"))
    };
    let erased = shared::proxy::ERASED_NAME;
    assert_eq!(row(erased, "Commune de Lodève")["created"], 1, "{after}");
    assert_eq!(row(erased, "Saint-Camille")["created"], 1, "{after}");
    assert_eq!(row("Lina", "Vélo Vert")["enteredForOthers"], 1);
    let history_after = get_ok_json(&format!("{api}/history"), &board.viewer).await;
    let (old, new) = (seqs(&history_before), seqs(&history_after));
    assert!(old.iter().all(|s| new.contains(s)), "{old:?} ⊂ {new:?}");

    // The board loads for a new client, with the marker where the name was.
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let reader_roots = shared::Roots::new(reader.doc());
    reader
        .wait_until(|doc| reader_roots.notes(&doc.transact()).len() == 2)
        .await
        .unwrap();
    {
        let txn = reader.doc().transact();
        assert_eq!(reader_roots.participants(&txn)["p-anne"].name, erased);
        let notes = reader_roots.notes(&txn);
        let n2 = notes.iter().find(|n| n.id == "n2").unwrap();
        assert_eq!(n2.on_behalf_of.as_ref().unwrap().name, erased);
        let n1 = notes.iter().find(|n| n.id == "n1").unwrap();
        assert_eq!(n1.decision.as_ref().unwrap().by_name, erased);
    }
    // The other board keeps her name: the erasure was this board's.
    let elsewhere = get_ok_json(
        &format!("{}/api/boards/{}/contributions", server.base, other.id),
        &other.viewer,
    )
    .await;
    assert!(elsewhere.to_string().contains("Anne Bérubé"), "{elsewhere}");
    // Marie was only on this board: no file of the data directory holds her name.
    for (file, bytes) in data_files(dir.path()) {
        assert!(!holds(&bytes, "Marie Tremblay"), "Marie Tremblay in {file}");
    }
    drop((anne, lina, anne_elsewhere, reader));
    server.stop().await;
    // After a restart too.
    let server = TestServer::start(dir.path()).await;
    let again = get_ok_json(
        &format!("{}/api/boards/{}/contributions", server.base, board.id),
        &board.viewer,
    )
    .await;
    assert!(!again.to_string().contains("Anne Bérubé"), "{again}");
    server.stop().await;
}

#[tokio::test]
async fn nouage_erase_takes_a_name_out_of_every_board_and_every_file_deleted_boards_included() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier").await;
    let gone = create_board(&server.base, "mindmap", "Carte supprimée").await;
    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne Bérubé",
        "Lodève",
        "commune",
    )
    .await;
    let (anne_too, gone_roots) =
        join(&server, &gone, "p-anne", "Anne Bérubé", "Lodève", "commune").await;
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", "Une navette", "#fff", "p-anne"));
    anne_too.edit(|txn| gone_roots.add_node(txn, "a", Some("root"), 1.0, "Une idée", "p-anne"));
    // Stored once relayed: a reader of each board sees them.
    for (b, ready) in [
        (
            &board,
            Box::new(|doc: &yrs::Doc| shared::Roots::new(doc).notes(&doc.transact()).len() == 1)
                as Box<dyn Fn(&yrs::Doc) -> bool + Send + Sync>,
        ),
        (
            &gone,
            Box::new(|doc: &yrs::Doc| shared::Roots::new(doc).nodes(&doc.transact()).len() == 2),
        ),
    ] {
        let reader = YClient::connect(&server.ws_base(), &b.id, &b.viewer)
            .await
            .unwrap();
        reader.wait_until(|doc| ready(doc)).await.unwrap();
    }
    let contributions = format!("{}/api/boards/{}/contributions", server.base, board.id);
    let before = get_ok_json(&contributions, &board.viewer).await;
    assert!(before.to_string().contains("Anne Bérubé"));
    let deleted = http()
        .delete(format!("{}/api/boards/{}", server.base, gone.id))
        .bearer_auth(&gone.facilitator)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    drop((anne, anne_too));
    server.stop().await;

    let output = std::process::Command::new(nouage_tests::nouage_binary())
        .args(["erase", "--data"])
        .arg(dir.path())
        .args(["--name", "Anne Bérubé"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("from 2 boards"), "{said}");
    for (file, bytes) in data_files(dir.path()) {
        assert!(!holds(&bytes, "Anne Bérubé"), "the name in {file}");
    }
    let server = TestServer::start(dir.path()).await;
    let contributions = format!("{}/api/boards/{}/contributions", server.base, board.id);
    let after = get_ok_json(&contributions, &board.viewer).await;
    let row = after["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == "p-anne")
        .cloned()
        .unwrap();
    assert_eq!(row["name"], shared::proxy::ERASED_NAME);
    assert_eq!(row["created"], 1, "her note is still counted: {after}");
    assert_eq!(
        after["journalEntries"].as_u64(),
        before["journalEntries"].as_u64().map(|n| n + 1),
        "one entry added (the live rewrite), none lost"
    );
    server.stop().await;
}
