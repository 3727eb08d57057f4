//! Pseudonyms (issue 23): on a board showing them, the document, the API answers and the
//! exports name nobody for the editor and the viewer; the facilitator's answers name everyone.

use nouage_tests::{Board, TempDir, TestServer, YClient, create_board, export_bytes, http, join};
use serde_json::{Value, json};
use yrs::{ReadTxn, StateVector, Transact};

async fn patch(url: &str, token: &str, body: Value) -> u16 {
    http()
        .patch(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn text(url: &str, token: &str) -> String {
    let response = http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn with_pseudonyms_only_the_facilitator_reads_names() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Atelier").await;
    let api = format!("{}/api/boards/{}", server.base, board.id);
    assert_eq!(
        patch(&api, &board.editor, json!({"pseudonyms": true})).await,
        403
    );
    assert_eq!(patch(&api, &board.facilitator, json!({})).await, 400);
    assert_eq!(
        patch(&api, &board.facilitator, json!({"pseudonyms": true})).await,
        200
    );

    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne Bérubé",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let (lina, _) = join(
        &server,
        &board,
        "p-lina",
        "Lina Roy",
        "Vélo Vert",
        "association",
    )
    .await;
    anne.edit(|txn| roots.add_note(txn, "n1", "s1", "Une navette", "#fff", "p-anne"));
    let reader = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let reader_roots = shared::Roots::new(reader.doc());
    reader
        .wait_until(|doc| {
            let txn = doc.transact();
            reader_roots.notes(&txn).len() == 1 && reader_roots.participants(&txn).len() == 2
        })
        .await
        .unwrap();
    let participants = reader_roots.participants(&reader.doc().transact());
    assert_eq!(participants["p-anne"].name, "Participant·e 1");
    assert_eq!(participants["p-anne"].org, "Commune");
    assert_eq!(participants["p-lina"].name, "Participant·e 2");
    let state = reader
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let names = ["Anne Bérubé", "Commune de Lodève", "Lina Roy", "Vélo Vert"];
    for name in names {
        assert!(
            !state.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} in the document"
        );
    }

    // Editors and viewers: nobody named in any answer or export.
    let facilitator = Board {
        viewer: board.facilitator.clone(),
        ..board.clone()
    };
    for token in [&board.viewer, &board.editor] {
        let mut seen = String::new();
        for path in [
            "contributions",
            "history",
            "elements",
            "elements/n1",
            "deleted",
        ] {
            seen.push_str(&text(&format!("{api}/{path}"), token).await);
        }
        let as_role = Board {
            viewer: token.clone(),
            ..board.clone()
        };
        for format in ["csv", "md", "json", "odt", "record-md", "svg"] {
            let (status, bytes) = export_bytes(&server.base, &as_role, format).await;
            assert_eq!(status, 200, "{format}");
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
        for name in names {
            assert!(!seen.contains(name), "{name} shown: {seen}");
        }
        assert!(seen.contains("Participant·e 1"), "{seen}");
    }
    // The facilitator's answers and exports name everyone.
    let contributions = text(&format!("{api}/contributions"), &board.facilitator).await;
    assert!(contributions.contains("Anne Bérubé") && contributions.contains("Vélo Vert"));
    let (_, csv) = export_bytes(&server.base, &facilitator, "csv").await;
    assert!(
        String::from_utf8(csv)
            .unwrap()
            .contains("Une navette,Anne Bérubé,Commune de Lodève")
    );

    // Off again: the document names people as the record knows them.
    assert_eq!(
        patch(&api, &board.facilitator, json!({"pseudonyms": false})).await,
        200
    );
    reader
        .wait_until(|doc| {
            reader_roots.participants(&doc.transact())["p-anne"].name == "Anne Bérubé"
        })
        .await
        .unwrap();
    let contributions = text(&format!("{api}/contributions"), &board.viewer).await;
    assert!(contributions.contains("Anne Bérubé"), "{contributions}");
    // A decision taken meanwhile names its maker; on again, the document names nobody.
    let by = json!({"pid": "p-anne", "name": "Anne Bérubé", "org": "Commune de Lodève"});
    let (status, _) = nouage_tests::post_json(
        &format!("{api}/notes/n1/decision"),
        &board.facilitator,
        &json!({"status": "kept", "by": by}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        patch(&api, &board.facilitator, json!({"pseudonyms": true})).await,
        200
    );
    reader
        .wait_until(|doc| {
            let txn = doc.transact();
            reader_roots.notes(&txn)[0]
                .decision
                .as_ref()
                .is_some_and(|d| d.by_name == "Participant·e 1")
        })
        .await
        .unwrap();
    let (_, json_export) = export_bytes(&server.base, &board, "json").await;
    assert!(!String::from_utf8_lossy(&json_export).contains("Anne Bérubé"));
    drop((anne, lina, reader));
    server.stop().await;
}
