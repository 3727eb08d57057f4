//! Fan-out between relay nodes (`--redis-url`): several nodes serve the same boards from one
//! PostgreSQL database; Redis pub/sub is the doorbell that tells the other nodes a board moved.
//!
//! After the journal writer commits a batch, this node publishes `(board, first seq, updates)`
//! on the board's channel (`{prefix}:b:{board}`), tagged with its node id; every node is
//! subscribed to every board's channel and hands what other nodes published to the board's
//! room, if it has one loaded (`Rooms::remote`). A room applies other nodes' entries in seq
//! order and relays them to its clients (`RoomCore::apply_remote`).
//!
//! Redis carries nothing that is not already in PostgreSQL: a message lost (Redis restarted,
//! flushed, a subscription cut, a publish that failed) loses nothing. A room that sees a hole
//! in the seqs asks the store for what fills it, every loaded room checks the store's head
//! every `head_check_interval_ms`, and every loaded room catches up after this node's
//! subscription comes back.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::cluster::ClusterLimits;
use crate::rooms::Rooms;
use crate::store::BoardId;

/// Batches waiting to be published, at most; past it they are dropped (the other nodes'
/// checks of the store's head bring them).
const PUBLISH_QUEUE_BATCHES_MAX: usize = 4_096;
/// Waits between attempts to reach Redis again.
const RECONNECT_DELAY_MIN_MS: u64 = 100;
const RECONNECT_DELAY_MAX_MS: u64 = 2_000;
/// How often a node renews its presence key, and how long the key lives: a node not heard of
/// for `NODE_TTL_MS` is taken for dead, and the presence of its clients is removed at once on
/// the other nodes (instead of after the awareness timeout).
const NODE_HEARTBEAT_MS: u64 = 1_000;
const NODE_TTL_MS: u64 = 3_000;

/// The kinds of message (their first byte).
const KIND_UPDATES: u8 = 1;
const KIND_AWARENESS: u8 = 2;
/// Set in the first byte of a signed message, which ends with its tag.
const SIGNED: u8 = 0x80;
/// An HMAC-SHA256 tag.
const TAG_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The cluster's shared key (`--redis-secret`): every message a node publishes carries an
/// HMAC-SHA256 of its channel and bytes, and a node drops any message whose tag does not
/// match, so someone who can only publish on Redis cannot forge an update or a presence.
#[derive(Clone)]
pub struct Signer(HmacSha256);

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Signer(<HmacSha256 as hmac::Mac>::new_from_slice(secret).expect("HMAC takes any key"))
    }

    fn mac(&self, channel: &str, body: &[u8]) -> HmacSha256 {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(&(channel.len() as u32).to_be_bytes());
        mac.update(channel.as_bytes());
        mac.update(body);
        mac
    }

    fn tag(&self, channel: &str, body: &[u8]) -> [u8; TAG_BYTES] {
        use hmac::Mac;
        self.mac(channel, body).finalize().into_bytes().into()
    }

    fn verify(&self, channel: &str, body: &[u8], tag: &[u8]) -> bool {
        use hmac::Mac;
        self.mac(channel, body).verify_slice(tag).is_ok()
    }
}

/// A message as it goes on the board's channel: signed when the cluster has a key.
pub fn seal(message: &Published, channel: &str, signer: Option<&Signer>) -> Vec<u8> {
    let mut bytes = message.encode();
    if let Some(signer) = signer {
        bytes[0] |= SIGNED;
        let tag = signer.tag(channel, &bytes);
        bytes.extend_from_slice(&tag);
    }
    bytes
}

/// Why a message on a board's channel is dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not of a form this server writes.
    Malformed,
    /// Signed, and this node has no key (or unsigned, and it has one).
    SigningDiffers,
    /// Its tag does not match: not from a node of this cluster, or altered.
    BadTag,
}

/// Reads a message from a board's channel, checking its tag when the cluster has a key.
pub fn open(
    board: BoardId,
    channel: &str,
    bytes: &[u8],
    signer: Option<&Signer>,
) -> Result<Published, Refused> {
    let first = *bytes.first().ok_or(Refused::Malformed)?;
    let signed = first & SIGNED != 0;
    if signed != signer.is_some() {
        return Err(Refused::SigningDiffers);
    }
    let body = match signer {
        Some(signer) => {
            let split = bytes
                .len()
                .checked_sub(TAG_BYTES)
                .ok_or(Refused::Malformed)?;
            let (body, tag) = bytes.split_at(split);
            if !signer.verify(channel, body, tag) {
                return Err(Refused::BadTag);
            }
            let mut body = body.to_vec();
            body[0] &= !SIGNED;
            return Published::decode(board, &body).ok_or(Refused::Malformed);
        }
        None => bytes,
    };
    Published::decode(board, body).ok_or(Refused::Malformed)
}

/// What a node tells the others about one board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A batch it committed, its first entry at `first_seq`.
    Updates { first_seq: u64, updates: Vec<Bytes> },
    /// A presence frame of its connections (an awareness message, as relayed to clients).
    Awareness(Bytes),
}

/// One message, as published on a board's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub node: [u8; 16],
    pub board: BoardId,
    pub payload: Payload,
}

impl Published {
    /// `kind, node id (16)`, then for updates `first seq (u64 BE), count (u32 BE), each update
    /// as its length (u32 BE) and bytes`; for awareness the frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.payload {
            Payload::Updates { first_seq, updates } => {
                let size: usize = updates.iter().map(|u| u.len() + 4).sum();
                out.reserve(1 + 16 + 8 + 4 + size);
                out.push(KIND_UPDATES);
                out.extend_from_slice(&self.node);
                out.extend_from_slice(&first_seq.to_be_bytes());
                out.extend_from_slice(&(updates.len() as u32).to_be_bytes());
                for update in updates {
                    out.extend_from_slice(&(update.len() as u32).to_be_bytes());
                    out.extend_from_slice(update);
                }
            }
            Payload::Awareness(frame) => {
                out.push(KIND_AWARENESS);
                out.extend_from_slice(&self.node);
                out.extend_from_slice(frame);
            }
        }
        out
    }

    pub fn decode(board: BoardId, bytes: &[u8]) -> Option<Published> {
        let mut rest = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let kind = take(1)?[0];
        let node: [u8; 16] = take(16)?.try_into().ok()?;
        let payload = match kind {
            KIND_UPDATES => {
                let first_seq = u64::from_be_bytes(take(8)?.try_into().ok()?);
                let count = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
                let mut updates = Vec::with_capacity(count.min(1_024));
                for _ in 0..count {
                    let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
                    updates.push(Bytes::copy_from_slice(take(len)?));
                }
                if !rest.is_empty() {
                    return None;
                }
                Payload::Updates { first_seq, updates }
            }
            KIND_AWARENESS if !rest.is_empty() => Payload::Awareness(Bytes::copy_from_slice(rest)),
            _ => return None,
        };
        Some(Published {
            node,
            board,
            payload,
        })
    }
}

/// Named failure-injection points of the fan-out, for the fault tests (compiled in with the
/// `failpoints` feature only).
#[derive(Debug, Default)]
pub struct Failpoints {
    /// Between a commit and its publish: the batch is committed and never published, as when
    /// a node dies right after its commit.
    pub skip_publish: AtomicBool,
    /// Between a room's registration (from then on, the fan-out's messages for its board
    /// reach its queue) and its read of the store: a random delay up to this many ms.
    pub load_delay_max_ms: std::sync::atomic::AtomicU64,
}

impl Failpoints {
    /// The delay to inject before a load (0 without the `failpoints` feature).
    pub fn load_delay(&self) -> Duration {
        #[cfg(feature = "failpoints")]
        {
            let max = self
                .load_delay_max_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            if max > 0 {
                let random = uuid::Uuid::new_v4().as_u128() as u64;
                return Duration::from_millis(random % (max + 1));
            }
        }
        Duration::ZERO
    }
}

pub struct Fanout {
    node: [u8; 16],
    prefix: String,
    publish: mpsc::Sender<Published>,
    rooms: OnceLock<Weak<Rooms>>,
    /// Other nodes heard from since the last heartbeat: dead if their key is gone.
    heard: std::sync::Mutex<std::collections::HashSet<[u8; 16]>>,
    pub failpoints: Arc<Failpoints>,
    /// Connections per board and per-address windows, counted across the nodes.
    pub limits: Arc<ClusterLimits>,
    /// The cluster's key, when it has one (`--redis-secret`).
    signer: Option<Signer>,
}

impl Fanout {
    /// Starts publishing and subscribing through the Redis server at `url`; `prefix` keeps
    /// the channels of one cluster apart from another's on the same Redis (pub/sub ignores
    /// database numbers). The rooms are attached once they exist (`attach`).
    pub async fn start(
        url: &str,
        prefix: &str,
        secret: Option<&str>,
        failpoints: Arc<Failpoints>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)?;
        let (publish, queue) = mpsc::channel(PUBLISH_QUEUE_BATCHES_MAX);
        let node = *uuid::Uuid::new_v4().as_bytes();
        let fanout = Arc::new(Fanout {
            node,
            prefix: prefix.to_owned(),
            publish,
            rooms: OnceLock::new(),
            heard: Default::default(),
            failpoints,
            limits: ClusterLimits::start(client.clone(), prefix, hex(&node)),
            signer: secret.map(|secret| Signer::new(secret.as_bytes())),
        });
        if fanout.signer.is_none() {
            tracing::warn!("fan-out: no --redis-secret; messages on Redis are trusted unsigned");
        }
        // The node's presence key exists before it publishes anything, so a node another one
        // heard from and whose key is gone is dead (Redis away now: the heartbeat sets it).
        if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
            let _: redis::RedisResult<()> = fanout.renew(&mut connection).await;
        }
        tokio::spawn(publisher(
            client.clone(),
            queue,
            fanout.prefix.clone(),
            fanout.signer.clone(),
        ));
        tokio::spawn(subscriber(client.clone(), Arc::downgrade(&fanout)));
        tokio::spawn(heartbeat(client, Arc::downgrade(&fanout)));
        Ok(fanout)
    }

    pub fn attach(&self, rooms: &Arc<Rooms>) {
        let _ = self.rooms.set(Arc::downgrade(rooms));
    }

    fn channel(prefix: &str, board: &BoardId) -> String {
        format!("{prefix}:b:{board}")
    }

    /// A batch of `board` is committed at `first_seq`: tells the other nodes (never waits; a
    /// full queue drops it, which their checks of the store make up for).
    pub fn committed(&self, board: &BoardId, first_seq: u64, updates: Vec<Bytes>) {
        #[cfg(feature = "failpoints")]
        if self
            .failpoints
            .skip_publish
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let _ = self.publish.try_send(Published {
            node: self.node,
            board: board.clone(),
            payload: Payload::Updates { first_seq, updates },
        });
    }

    /// A presence frame of this node's connections to `board` (never waits; a state dropped
    /// is renewed within seconds).
    pub fn awareness(&self, board: &BoardId, frame: Bytes) {
        let _ = self.publish.try_send(Published {
            node: self.node,
            board: board.clone(),
            payload: Payload::Awareness(frame),
        });
    }

    fn presence_key(&self) -> String {
        format!("{}:node:{}", self.prefix, hex(&self.node))
    }

    /// The set of the cluster's node ids, so the live ones are listed without scanning Redis's
    /// keys (`KEYS` would block Redis for as long as its keyspace is large).
    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    async fn renew(
        &self,
        connection: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.presence_key())
            .arg(1)
            .arg("PX")
            .arg(NODE_TTL_MS)
            .ignore()
            .sadd(self.nodes_key(), hex(&self.node))
            .ignore()
            .query_async(connection)
            .await
    }

    /// The nodes whose presence key is still there; the others leave the set.
    async fn live_nodes(
        &self,
        connection: &mut redis::aio::MultiplexedConnection,
    ) -> redis::RedisResult<std::collections::HashSet<[u8; 16]>> {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.nodes_key())
            .query_async(connection)
            .await?;
        let mut exists = redis::pipe();
        for member in &members {
            exists.exists(format!("{}:node:{member}", self.prefix));
        }
        let present: Vec<bool> = exists.query_async(connection).await?;
        let (live, dead): (Vec<_>, Vec<_>) = members
            .into_iter()
            .zip(present)
            .partition(|(_, present)| *present);
        if !dead.is_empty() {
            let dead: Vec<String> = dead.into_iter().map(|(member, _)| member).collect();
            redis::cmd("SREM")
                .arg(self.nodes_key())
                .arg(dead)
                .query_async::<()>(connection)
                .await?;
        }
        Ok(live
            .iter()
            .filter_map(|(member, _)| unhex(member))
            .collect())
    }

    fn rooms(&self) -> Option<Arc<Rooms>> {
        self.rooms.get().and_then(Weak::upgrade)
    }
}

async fn publisher(
    client: redis::Client,
    mut queue: mpsc::Receiver<Published>,
    prefix: String,
    signer: Option<Signer>,
) {
    let mut connection = None;
    let mut delay_ms = RECONNECT_DELAY_MIN_MS;
    while let Some(batch) = queue.recv().await {
        if connection.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => {
                    connection = Some(c);
                    delay_ms = RECONNECT_DELAY_MIN_MS;
                }
                Err(e) => {
                    // This batch is not published: the others find it in the store.
                    tracing::warn!(error = %e, "fan-out: Redis unreachable; publishing again once it answers");
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    delay_ms = (delay_ms * 2).min(RECONNECT_DELAY_MAX_MS);
                    continue;
                }
            }
        }
        let channel = Fanout::channel(&prefix, &batch.board);
        let sealed = seal(&batch, &channel, signer.as_ref());
        let published: redis::RedisResult<()> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(sealed)
            .query_async(connection.as_mut().expect("connected above"))
            .await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "fan-out: a publish failed");
            connection = None;
        }
    }
}

/// The node id as the rooms name another node (`Input::RemoteAwareness`).
fn node_number(node: &[u8; 16]) -> u64 {
    u64::from_be_bytes(node[..8].try_into().expect("16 bytes"))
}

/// Renews this node's presence key (`{prefix}:node:{id}`, expiring after `NODE_TTL_MS`) and
/// watches the others': a node whose key is gone is dead, and every loaded room removes the
/// presence of its clients.
async fn heartbeat(client: redis::Client, fanout: Weak<Fanout>) {
    let mut connection = None;
    let mut alive: std::collections::HashSet<[u8; 16]> = Default::default();
    loop {
        tokio::time::sleep(Duration::from_millis(NODE_HEARTBEAT_MS)).await;
        let Some(node) = fanout.upgrade() else {
            return;
        };
        if connection.is_none() {
            connection = client.get_multiplexed_async_connection().await.ok();
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let renewed = node.renew(conn).await;
        node.limits.seats.reassert().await;
        let listed = node.live_nodes(conn).await;
        let (Ok(()), Ok(listed)) = (renewed, listed) else {
            // Redis is away: nobody can be told dead meanwhile.
            connection = None;
            alive.clear();
            continue;
        };
        let heard = std::mem::take(&mut *node.heard.lock().unwrap());
        let gone: Vec<[u8; 16]> = alive
            .union(&heard)
            .filter(|id| !listed.contains(*id))
            .copied()
            .collect();
        if let Some(rooms) = node.rooms() {
            for id in gone {
                tracing::warn!(node = %hex(&id), "a relay node stopped answering: removing its clients' presence");
                rooms.forget_node(node_number(&id));
            }
        }
        alive = listed;
    }
}

/// A node id as its presence key names it (the uuid's 32 hex digits).
fn hex(bytes: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*bytes).simple().to_string()
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    uuid::Uuid::try_parse(text).ok().map(|id| *id.as_bytes())
}

async fn subscriber(client: redis::Client, fanout: Weak<Fanout>) {
    let mut delay_ms = RECONNECT_DELAY_MIN_MS;
    loop {
        let Some(prefix) = fanout.upgrade().map(|f| f.prefix.clone()) else {
            return;
        };
        let pattern = format!("{prefix}:b:*");
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(&pattern).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        let mut pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, "fan-out: cannot subscribe; trying again");
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                delay_ms = (delay_ms * 2).min(RECONNECT_DELAY_MAX_MS);
                continue;
            }
        };
        delay_ms = RECONNECT_DELAY_MIN_MS;
        // What was published while this node was not subscribed is in the store.
        if let Some(rooms) = fanout.upgrade().and_then(|f| f.rooms()) {
            rooms.catch_up_all();
        }
        let channel_prefix = format!("{prefix}:b:");
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let Some(fanout) = fanout.upgrade() else {
                return;
            };
            let channel = message.get_channel_name();
            let Some(board) = channel
                .strip_prefix(&channel_prefix)
                .and_then(BoardId::parse)
            else {
                continue;
            };
            let batch = match open(
                board,
                channel,
                message.get_payload_bytes(),
                fanout.signer.as_ref(),
            ) {
                Ok(batch) => batch,
                Err(why) => {
                    tracing::warn!(%channel, ?why, "fan-out: a message refused");
                    continue;
                }
            };
            if batch.node == fanout.node {
                continue;
            }
            fanout.heard.lock().unwrap().insert(batch.node);
            let Some(rooms) = fanout.rooms() else {
                continue;
            };
            match batch.payload {
                Payload::Updates { first_seq, updates } => {
                    rooms.remote(&batch.board, (first_seq..).zip(updates).collect());
                }
                Payload::Awareness(frame) => {
                    rooms.remote_awareness(&batch.board, node_number(&batch.node), frame);
                }
            }
        }
        tracing::warn!("fan-out: the subscription to Redis ended; subscribing again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_message_reads_back_and_a_cut_one_does_not() {
        let board = BoardId::parse("b1").unwrap();
        let updates = Published {
            node: [7; 16],
            board: board.clone(),
            payload: Payload::Updates {
                first_seq: 41,
                updates: vec![Bytes::from_static(b"one"), Bytes::from_static(b"")],
            },
        };
        let bytes = updates.encode();
        assert_eq!(Published::decode(board.clone(), &bytes), Some(updates));
        for cut in 0..bytes.len() {
            assert_eq!(Published::decode(board.clone(), &bytes[..cut]), None);
        }
        let presence = Published {
            node: [9; 16],
            board: board.clone(),
            payload: Payload::Awareness(Bytes::from_static(&[1, 2, 3])),
        };
        assert_eq!(
            Published::decode(board.clone(), &presence.encode()),
            Some(presence)
        );
    }

    #[test]
    fn a_signed_message_opens_with_the_clusters_key_only_on_its_own_channel() {
        let board = BoardId::parse("b1").unwrap();
        let message = Published {
            node: [7; 16],
            board: board.clone(),
            payload: Payload::Updates {
                first_seq: 3,
                updates: vec![Bytes::from_static(b"update")],
            },
        };
        let (key, other) = (Signer::new(b"cluster key"), Signer::new(b"another key"));
        let sealed = seal(&message, "nouage:b:b1", Some(&key));
        assert_eq!(
            open(board.clone(), "nouage:b:b1", &sealed, Some(&key)),
            Ok(message.clone())
        );
        let refused = |channel: &str, bytes: &[u8], signer: Option<&Signer>| {
            open(board.clone(), channel, bytes, signer).unwrap_err()
        };
        assert_eq!(
            refused("nouage:b:b1", &sealed, Some(&other)),
            Refused::BadTag
        );
        assert_eq!(
            refused("nouage:b:b2", &sealed, Some(&key)),
            Refused::BadTag,
            "replayed on another board's channel"
        );
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert_eq!(
            refused("nouage:b:b1", &altered, Some(&key)),
            Refused::BadTag
        );
        assert_eq!(
            refused("nouage:b:b1", &sealed, None),
            Refused::SigningDiffers
        );
        let unsigned = seal(&message, "nouage:b:b1", None);
        assert_eq!(
            refused("nouage:b:b1", &unsigned, Some(&key)),
            Refused::SigningDiffers,
            "a forger without the key"
        );
        assert_eq!(
            open(board.clone(), "nouage:b:b1", &unsigned, None),
            Ok(message)
        );
    }
}
