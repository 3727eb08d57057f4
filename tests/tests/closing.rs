//! The closing handshake as a stock client sees it: whatever the server refuses, and however
//! much the client is still sending, the client receives the server's close frame with its
//! code and reason (not 1006, a connection reset), and the board's other clients go on.

use nouage_tests::{TempDir, TestServer, YClient, assert_still_relays, create_board};
use serde_json::Value;

/// Runs `tests/js/closing.mjs COMMAND` against the board and returns the close it received.
async fn close_seen(command: &str, url: &str, bytes: usize) -> Value {
    nouage_tests::node_script(
        "closing.mjs",
        &[command, "--url", url, "--bytes", &bytes.to_string()],
    )
    .await
    .unwrap_or_else(|e| panic!("{command} of {bytes} bytes: {e}"))
}

#[tokio::test]
async fn refused_messages_get_their_close_code_even_while_the_client_is_still_sending() {
    if !nouage_tests::npm_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let limit = server::Limits::default().max_message_bytes;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let other = create_board(&server.base, "mindmap", "Autre").await;
    let ws = server.ws_base();
    let writer = YClient::connect(&ws, &board.id, &board.editor)
        .await
        .unwrap();
    let elsewhere = YClient::connect(&ws, &other.id, &other.editor)
        .await
        .unwrap();
    let url = format!("{ws}/{}?token={}", board.id, board.editor);
    let mib = 1024 * 1024;
    let cases = [
        ("binary", limit + 1, 1009, "message over the size limit"),
        ("binary", 9 * mib, 1009, "message over the size limit"),
        ("binary", 64 * mib, 1009, "message over the size limit"),
        (
            "text-then-binary",
            16 * mib,
            1003,
            "text messages are not part of the protocol",
        ),
        ("malformed", 16 * mib, 1002, "reserved bits set"),
    ];
    for (command, bytes, code, reason) in cases {
        let seen = close_seen(command, &url, bytes).await;
        assert_eq!(seen["code"], code, "{command} of {bytes} bytes: {seen}");
        assert_eq!(seen["reason"], reason, "{command} of {bytes} bytes: {seen}");
    }
    // The board's other client and another board's client were not disturbed.
    assert!(writer.close_reason().is_none() && elsewhere.close_reason().is_none());
    assert_still_relays(&ws, &board, &writer, "after-the-refusals").await;
    assert_still_relays(&ws, &other, &elsewhere, "elsewhere-too").await;
    server.stop().await;
}
