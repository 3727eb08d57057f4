//! The limits that hold across relay nodes (`--redis-url`): connections per board and the
//! per-address windows (board creations, failed join codes) are counted in Redis, so a board
//! spread over three nodes takes `max_clients_per_board` connections in all, not three times
//! that, and an address cannot create three times its share by reaching three nodes.
//!
//! **Seats.** Each node keeps how many connections it holds per board (the truth for its own
//! part) and writes that number in the board's hash `{prefix}:seats:{board}`, one field per
//! node. A join runs one script that adds the fields of the nodes still alive (their presence
//! key `{prefix}:node:{id}` is there; a dead node's field is removed), checks the total with
//! this node's count plus one against the limit, and writes the new count: two nodes never
//! both take the last seat. A leave writes the lower count at once; the heartbeat writes every
//! count again each second, so a Redis restarted empty knows the seats again within a second.
//!
//! **Address windows.** A counter per address and kind lives one minute from its first event
//! (`{prefix}:rate:{kind}:{address}`).
//!
//! When Redis does not answer (within `REDIS_CALL_TIMEOUT_MS`), each node falls back to its
//! own counts for `REDIS_AWAY_MS`, then asks again: service goes on, the limits hold per node
//! meanwhile, and joins never queue behind calls that time out.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use crate::limit::CreationLimiter;
use crate::store::BoardId;

/// How long a call to Redis may take before the node decides on its own counts.
const REDIS_CALL_TIMEOUT_MS: u64 = 500;
/// After a call failed, how long the node counts alone without asking Redis (joins do not
/// queue behind calls that time out; the heartbeat's rewrite of the seats asks again).
const REDIS_AWAY_MS: u64 = 2_000;
/// How long a board's seat hash outlives the last write of any node (every node holding a
/// seat writes it each heartbeat).
const SEATS_TTL_MS: u64 = 10_000;
/// How long an address window lasts.
const WINDOW_MS: u64 = 60_000;

/// Counts the node's fields of live nodes plus this node's new count; writes that count when
/// the total is within the limit. KEYS[1]: the seat hash. ARGV: this node's id, its count with
/// the newcomer, the limit, the presence keys' prefix, the hash's time to live in ms.
const SEAT_SCRIPT: &str = r"
local total = tonumber(ARGV[2])
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local node = fields[i]
  if node ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[4] .. node) == 1 then
      total = total + tonumber(fields[i + 1])
    else
      redis.call('HDEL', KEYS[1], node)
    end
  end
end
if total > tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// Counts one event in an address's window, which starts with its first event.
const WINDOW_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
";

/// One Redis connection shared by the node's limit checks, opened again after a failure.
struct Link {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Until when Redis is taken for away (a call failed): calls answer `None` at once.
    away_until: Mutex<Option<Instant>>,
}

impl Link {
    /// Runs `call` on the connection within `REDIS_CALL_TIMEOUT_MS`; `None` when Redis did not
    /// answer, or failed less than `REDIS_AWAY_MS` ago (the connection is opened again then).
    async fn call<T, F>(&self, call: impl FnOnce(MultiplexedConnection) -> F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self
            .away_until
            .lock()
            .unwrap()
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        let answer = self.call_now(call).await;
        if answer.is_none() {
            *self.away_until.lock().unwrap() =
                Some(Instant::now() + Duration::from_millis(REDIS_AWAY_MS));
        }
        answer
    }

    async fn call_now<T, F>(&self, call: impl FnOnce(MultiplexedConnection) -> F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let timeout = Duration::from_millis(REDIS_CALL_TIMEOUT_MS);
        let connection = {
            let mut slot = self.connection.lock().await;
            if slot.is_none() {
                let opened =
                    tokio::time::timeout(timeout, self.client.get_multiplexed_async_connection())
                        .await;
                *slot = opened.ok().and_then(Result::ok);
            }
            slot.clone()?
        };
        match tokio::time::timeout(timeout, call(connection)).await {
            Ok(Ok(value)) => Some(value),
            failed => {
                if let Ok(Err(e)) = failed {
                    tracing::warn!(error = %e, "cluster limits: a Redis call failed; counting on this node alone meanwhile");
                } else {
                    tracing::warn!(
                        "cluster limits: Redis did not answer; counting on this node alone meanwhile"
                    );
                }
                *self.connection.lock().await = None;
                None
            }
        }
    }
}

/// The node's part of the seats of each board, and their writing to Redis.
pub struct Seats {
    link: Arc<Link>,
    node: String,
    prefix: String,
    /// This node's connections per board (boards with none are removed).
    held: Mutex<HashMap<BoardId, usize>>,
    /// Boards whose count went down since it was last written.
    lowered: Mutex<HashSet<BoardId>>,
    wake_writer: Arc<tokio::sync::Notify>,
    /// Writes of counts take turns, so a count read earlier never overwrites a newer one.
    turns: tokio::sync::Mutex<()>,
    script: redis::Script,
}

/// A connection's seat on a board; given back when dropped.
pub struct Seat {
    seats: Arc<Seats>,
    board: BoardId,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut held = self.seats.held.lock().unwrap();
        if let Some(count) = held.get_mut(&self.board) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.board);
            }
        }
        drop(held);
        self.seats
            .lowered
            .lock()
            .unwrap()
            .insert(self.board.clone());
        self.seats.wake_writer.notify_one();
    }
}

impl Seats {
    fn key(&self, board: &BoardId) -> String {
        format!("{}:seats:{board}", self.prefix)
    }

    fn held(&self, board: &BoardId) -> usize {
        self.held.lock().unwrap().get(board).copied().unwrap_or(0)
    }

    /// A seat on `board` if the cluster holds fewer than `max` connections to it; `None` when
    /// it is full. Redis away: this node's own count decides (the room checks it too).
    pub async fn take(self: &Arc<Self>, board: &BoardId, max: usize) -> Option<Seat> {
        let turn = self.turns.lock().await;
        let wanted = self.held(board) + 1;
        if wanted > max {
            return None;
        }
        let (key, node, prefix) = (
            self.key(board),
            self.node.clone(),
            format!("{}:node:", self.prefix),
        );
        let admitted = self
            .link
            .call(|mut connection| {
                let script = self.script.clone();
                async move {
                    script
                        .key(key)
                        .arg(node)
                        .arg(wanted)
                        .arg(max)
                        .arg(prefix)
                        .arg(SEATS_TTL_MS)
                        .invoke_async::<i64>(&mut connection)
                        .await
                }
            })
            .await
            .is_none_or(|answer| answer == 1);
        if !admitted {
            return None;
        }
        *self.held.lock().unwrap().entry(board.clone()).or_insert(0) += 1;
        drop(turn);
        Some(Seat {
            seats: self.clone(),
            board: board.clone(),
        })
    }

    /// Writes the counts of `boards` as they are now (removing the field of a board this node
    /// no longer holds seats on).
    async fn write(&self, boards: Vec<BoardId>) -> bool {
        if boards.is_empty() {
            return true;
        }
        let _turn = self.turns.lock().await;
        let mut pipe = redis::pipe();
        for board in &boards {
            let key = self.key(board);
            match self.held(board) {
                0 => pipe.hdel(&key, &self.node).ignore(),
                count => pipe
                    .hset(&key, &self.node, count)
                    .ignore()
                    .pexpire(&key, SEATS_TTL_MS as i64)
                    .ignore(),
            };
        }
        self.link
            .call(|mut connection| async move { pipe.query_async::<()>(&mut connection).await })
            .await
            .is_some()
    }

    /// Writes every count this node holds again, and the lowered ones not yet written (each
    /// heartbeat: a Redis restarted empty, or a hash expired while Redis was away, learns them
    /// again).
    pub(crate) async fn reassert(&self) {
        self.write_lowered(true).await;
    }

    /// Writes the counts that went down since they were last written, and every count this
    /// node holds when `all`. Redis away: the lowered ones are written next time.
    async fn write_lowered(&self, all: bool) {
        let lowered: HashSet<BoardId> = self.lowered.lock().unwrap().drain().collect();
        let mut boards = lowered.clone();
        if all {
            boards.extend(self.held.lock().unwrap().keys().cloned());
        }
        if !self.write(boards.into_iter().collect()).await {
            self.lowered.lock().unwrap().extend(lowered);
        }
    }
}

/// Writes lowered counts as soon as connections leave.
async fn seat_writer(seats: std::sync::Weak<Seats>, wake: Arc<tokio::sync::Notify>) {
    loop {
        let woken = wake.notified();
        let Some(strong) = seats.upgrade() else {
            return;
        };
        strong.write_lowered(false).await;
        drop(strong);
        woken.await;
    }
}

/// A per-address window counted across the cluster (falling back to this node's own count).
pub struct AddressWindow {
    local: CreationLimiter,
    shared: Option<(Arc<Link>, String)>,
    per_minute: u32,
    script: redis::Script,
}

impl AddressWindow {
    /// A window of this node alone.
    pub fn local(per_minute: u32) -> Self {
        AddressWindow {
            local: CreationLimiter::new(per_minute),
            shared: None,
            per_minute,
            script: redis::Script::new(WINDOW_SCRIPT),
        }
    }

    fn key(&self, address: IpAddr) -> Option<(Arc<Link>, String)> {
        let (link, prefix) = self.shared.as_ref()?;
        Some((link.clone(), format!("{prefix}:{address}")))
    }

    /// Counts one event from `address`; false when it is over the limit.
    pub async fn allow(&self, address: IpAddr) -> bool {
        let local = self.local.allow(address, Instant::now());
        let Some((link, key)) = self.key(address) else {
            return local;
        };
        let script = self.script.clone();
        let counted = link
            .call(|mut connection| async move {
                script
                    .key(key)
                    .arg(WINDOW_MS)
                    .invoke_async::<u64>(&mut connection)
                    .await
            })
            .await;
        match counted {
            Some(n) => n <= u64::from(self.per_minute),
            None => local,
        }
    }

    /// Whether `address` has used up its minute (counts nothing).
    pub async fn is_over(&self, address: IpAddr) -> bool {
        let local = self.local.is_over(address, Instant::now());
        let Some((link, key)) = self.key(address) else {
            return local;
        };
        let counted = link
            .call(|mut connection| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<u64>>(&mut connection)
                    .await
            })
            .await;
        match counted {
            Some(n) => n.unwrap_or(0) >= u64::from(self.per_minute),
            None => local,
        }
    }
}

/// What a node counts in Redis.
pub struct ClusterLimits {
    link: Arc<Link>,
    prefix: String,
    pub seats: Arc<Seats>,
}

impl ClusterLimits {
    /// The limits of node `node` (its presence key's id) through the Redis at `client`.
    pub fn start(client: redis::Client, prefix: &str, node: String) -> Arc<Self> {
        let link = Arc::new(Link {
            client,
            connection: tokio::sync::Mutex::new(None),
            away_until: Mutex::new(None),
        });
        let seats = Arc::new(Seats {
            link: link.clone(),
            node,
            prefix: prefix.to_owned(),
            held: Mutex::new(HashMap::new()),
            lowered: Mutex::new(HashSet::new()),
            wake_writer: Arc::new(tokio::sync::Notify::new()),
            turns: tokio::sync::Mutex::new(()),
            script: redis::Script::new(SEAT_SCRIPT),
        });
        tokio::spawn(seat_writer(
            Arc::downgrade(&seats),
            seats.wake_writer.clone(),
        ));
        Arc::new(ClusterLimits {
            link,
            prefix: prefix.to_owned(),
            seats,
        })
    }

    /// A window of `per_minute` events per address, named `kind`, counted across the cluster.
    pub fn window(&self, kind: &str, per_minute: u32) -> AddressWindow {
        AddressWindow {
            shared: Some((self.link.clone(), format!("{}:rate:{kind}", self.prefix))),
            ..AddressWindow::local(per_minute)
        }
    }
}
