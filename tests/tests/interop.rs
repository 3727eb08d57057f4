//! Stock npm Yjs clients (`yjs` 13 and `y-websocket` 3, see `tests/js`) against the relay.

use nouage_tests::{ProcessServer, TempDir, TestServer, YClient, create_board, yjs_client};
use serde_json::json;
use yrs::{GetString, Map, Out, Transact};

fn common<'a>(ws: &'a str, board: &'a str, token: &'a str) -> Vec<&'a str> {
    vec!["--url", ws, "--board", board, "--token", token]
}

#[tokio::test]
async fn two_stock_clients_converge_on_map_text_array_and_awareness() {
    if !nouage_tests::npm_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Interop").await;
    let ws = server.ws_base();
    let mut args = vec!["converge"];
    args.extend(common(&ws, &board.id, &board.editor));
    let result = yjs_client(&args).await.unwrap();
    assert_eq!(result["map"], json!({"a": 1, "b": 2}));
    let text = result["text"].as_str().unwrap();
    assert!(
        text.contains("Bonjour") && text.contains("Québec"),
        "{text}"
    );
    let mut array: Vec<String> = serde_json::from_value(result["array"].clone()).unwrap();
    array.sort();
    assert_eq!(array, ["a1", "b1"]);
    assert_eq!(result["awarenessA"], json!(["A", "B"]));
    assert_eq!(result["awarenessB"], json!(["A", "B"]));
    server.stop().await;
}

#[tokio::test]
async fn a_stock_client_reads_the_initial_document_the_server_created() {
    if !nouage_tests::npm_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let ws = server.ws_base();
    let map = create_board(&server.base, "mindmap", "Mobilités douces").await;
    let mut args = vec![
        "dump",
        "--pid",
        "p-js",
        "--name",
        "Zoé",
        "--org",
        "Association Vélo",
        "--orgKind",
        "association",
    ];
    args.extend(common(&ws, &map.id, &map.viewer));
    let dump = yjs_client(&args).await.unwrap();
    assert_eq!(
        dump["meta"],
        json!({"kind": "mindmap", "title": "Mobilités douces", "lang": "fr", "schema": 1})
    );
    assert_eq!(dump["nodes"]["root"]["text"], "Mobilités douces");
    assert_eq!(dump["nodes"]["root"]["parent"], serde_json::Value::Null);

    let canvas = create_board(&server.base, "diagnosis", "Diagnostic").await;
    let mut args = vec!["dump"];
    args.extend(common(&ws, &canvas.id, &canvas.viewer));
    let dump = yjs_client(&args).await.unwrap();
    assert_eq!(dump["sections"].as_object().unwrap().len(), 7);
    assert_eq!(dump["sections"]["s1"]["title"], "Territoire");
    assert_eq!(dump["voting"]["open"], false);
    server.stop().await;
}

#[tokio::test]
async fn a_node_written_by_a_stock_client_reaches_a_yrs_client_and_back() {
    if !nouage_tests::npm_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let ws = server.ws_base();
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let rust = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let mut args = vec![
        "add-node",
        "--id",
        "n-js",
        "--parent",
        "root",
        "--text",
        "Vélo-partage",
        "--pid",
        "p-js",
    ];
    args.extend(common(&ws, &board.id, &board.editor));
    yjs_client(&args).await.unwrap();
    let nodes = rust.doc().get_or_insert_map("nodes");
    rust.wait_until(|doc| nodes.get(&doc.transact(), "n-js").is_some())
        .await
        .unwrap();
    let roots = shared::Roots::new(rust.doc());
    let node = roots
        .nodes(&rust.doc().transact())
        .into_iter()
        .find(|n| n.id == "n-js")
        .unwrap();
    assert_eq!(node.text, "Vélo-partage");
    assert_eq!(node.parent.as_deref(), Some("root"));
    assert_eq!(node.author, "p-js");

    rust.edit(|txn| {
        roots.add_node(
            txn,
            "n-rust",
            Some("root"),
            2.0,
            "Covoiturage rural",
            "p-rust",
        )
    });
    let mut args = vec!["wait-node", "--text", "Covoiturage rural"];
    args.extend(common(&ws, &board.id, &board.viewer));
    let found = yjs_client(&args).await.unwrap();
    assert_eq!(found, json!({"id": "n-rust", "parent": "root"}));
    server.stop().await;
}

#[tokio::test]
async fn a_value_written_by_a_stock_client_is_read_back_after_a_restart() {
    if !nouage_tests::npm_ready() || !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = ProcessServer::start(dir.path(), &[]).await;
    let ws = server.ws_base();
    let board = create_board(&server.base, "portfolio", "Projets").await;
    let mut args = vec![
        "set",
        "--key",
        "budget",
        "--value",
        r#"{"montant": 12000, "devise": "€"}"#,
    ];
    args.extend(common(&ws, &board.id, &board.editor));
    yjs_client(&args).await.unwrap();
    server.kill().await;

    let server = ProcessServer::start(dir.path(), &[]).await;
    let ws = server.ws_base();
    let mut args = vec!["get", "--key", "budget"];
    args.extend(common(&ws, &board.id, &board.viewer));
    let got = yjs_client(&args).await.unwrap();
    assert_eq!(got["value"], json!({"montant": 12000, "devise": "€"}));
    // A yrs client reads the same value.
    let rust = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let map = rust.doc().get_or_insert_map("interop");
    let txn = rust.doc().transact();
    assert!(matches!(map.get(&txn, "budget"), Some(Out::Any(_))));
    drop(txn);
    server.kill().await;
}

#[tokio::test]
async fn a_stock_client_is_refused_an_unknown_board_and_a_wrong_token() {
    if !nouage_tests::npm_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let ws = server.ws_base();
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let mut args = vec!["expect-close"];
    args.extend(common(&ws, "abcdef0123456789", &board.editor));
    assert_eq!(yjs_client(&args).await.unwrap()["code"], 4404);
    let mut args = vec!["expect-close"];
    args.extend(common(&ws, &board.id, "wrong"));
    assert_eq!(yjs_client(&args).await.unwrap()["code"], 4401);
    let text = YClient::connect(&server.ws_base(), &board.id, &board.editor)
        .await
        .unwrap();
    let nodes = text.doc().get_or_insert_map("nodes");
    let txn = text.doc().transact();
    let Some(Out::YMap(root)) = nodes.get(&txn, "root") else {
        panic!("no root node")
    };
    let Some(Out::YText(title)) = root.get(&txn, "text") else {
        panic!("root has no Y.Text")
    };
    assert_eq!(title.get_string(&txn), "Carte");
    drop(txn);
    server.stop().await;
}
