//! Many rooms: N rooms, one client each, each client writes a document of B bytes; then the
//! server's resident memory with every room loaded, 3 s after the last write and again once
//! the rooms have stayed quiet a while (the clients still connected).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use shared::protocol::{self, Message};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::{Doc, Transact};

use crate::client::{Target, connect, rss_mb, send};

pub async fn run(
    target: &Target,
    rooms: usize,
    doc_bytes: usize,
    settle: Duration,
    server_pid: Option<u32>,
) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let baseline = server_pid.and_then(rss_mb);
    let mut clients = Vec::with_capacity(rooms);
    let text: String = "Idée partagée, écrite à plusieurs. ".repeat(doc_bytes / 36 + 1);
    let text = &text[..text
        .char_indices()
        .nth(doc_bytes)
        .map_or(text.len(), |(i, _)| i)];
    for i in 0..rooms {
        let url = target.new_room(&format!("rooms-{i}")).await?;
        let mut socket = connect(&url)
            .await
            .with_context(|| format!("client {i} connect"))?;
        let doc = Doc::new();
        let body = doc.get_or_insert_text("bench");
        let update = {
            let mut txn = doc.transact_mut();
            yrs::Text::push(&body, &mut txn, text);
            txn.encode_update_v1()
        };
        send(&mut socket, &Message::Update(&update)).await?;
        // Keep reading (pings, the server's step 1) so the connection stays healthy.
        clients.push(tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let WsMessage::Binary(frame) = message
                    && let Ok(messages) = protocol::decode_frame(&frame, usize::MAX)
                    && messages.iter().any(|m| matches!(m, Message::SyncStep1(_)))
                {
                    let _ = send(&mut socket, &Message::SyncStep2(&[0, 0])).await;
                }
            }
        }));
    }
    let connected_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let loaded = server_pid.and_then(rss_mb);
    tokio::time::sleep(settle).await;
    let settled = server_pid.and_then(rss_mb);
    for client in clients {
        client.abort();
    }
    Ok(serde_json::json!({
        "rooms": rooms,
        "doc_bytes": doc_bytes,
        "connect_and_write_s": connected_s,
        "rss_before_mb": baseline,
        "rss_loaded_mb": loaded,
        "settle_s": settle.as_secs(),
        "rss_settled_mb": settled,
    }))
}
