//! Soak: for M minutes, W clients at a time visit random boards among N — join, announce
//! themselves (awareness), add a few nodes, stay a moment, leave — so rooms load and unload
//! all along. The server's resident memory is sampled throughout; "before" is read once every
//! board was visited and left idle, "after" once the churn stopped and the rooms went idle
//! again: memory that only grows shows as the difference.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shared::Roots;
use shared::protocol::{AwarenessEntry, Message, encode_awareness};
use yrs::Transact;

use crate::client::{Rng, Rss, Target, join, pause_ms, send};

pub struct Soak {
    pub rooms: usize,
    pub minutes: f64,
    pub workers: usize,
    /// How long to wait for idle rooms to be unloaded before reading memory.
    pub idle_wait_secs: u64,
    pub sample_every_secs: u64,
}

#[derive(Default)]
struct Counts {
    visits: AtomicU64,
    updates: AtomicU64,
    failures: AtomicU64,
}

pub async fn run(
    target: &Target,
    soak: Soak,
    server_pid: Option<u32>,
) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let mut urls = Vec::with_capacity(soak.rooms);
    for i in 0..soak.rooms {
        urls.push(target.new_room(&format!("soak-{i}")).await?);
    }
    let urls = Arc::new(urls);
    let counts = Arc::new(Counts::default());
    // Every board visited once, so each exists and was loaded before the baseline.
    let warm: Vec<_> = (0..soak.workers)
        .map(|w| {
            let (urls, counts) = (urls.clone(), counts.clone());
            let workers = soak.workers;
            tokio::spawn(async move {
                let mut rng = Rng::new(w as u64 + 1);
                for url in urls.iter().skip(w).step_by(workers) {
                    visit(url, &mut rng, &counts).await;
                }
            })
        })
        .collect();
    for task in warm {
        task.await?;
    }
    tokio::time::sleep(Duration::from_secs(soak.idle_wait_secs)).await;
    let before = server_pid.and_then(Rss::of);
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampler = server_pid.map(|pid| {
        let samples = samples.clone();
        let every = Duration::from_secs(soak.sample_every_secs.max(1));
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                if let Some(rss) = Rss::of(pid) {
                    let round = |mb: f64| (mb * 10.0).round() / 10.0;
                    samples.lock().unwrap().push((
                        t0.elapsed().as_secs(),
                        round(rss.total_mb),
                        round(rss.anon_mb),
                    ));
                }
                tokio::time::sleep(every).await;
            }
        })
    });
    let deadline = Instant::now() + Duration::from_secs_f64(soak.minutes * 60.0);
    let churn: Vec<_> = (0..soak.workers)
        .map(|w| {
            let (urls, counts) = (urls.clone(), counts.clone());
            tokio::spawn(async move {
                let mut rng = Rng::new(0x9e37_79b9 + w as u64);
                while Instant::now() < deadline {
                    let url = &urls[rng.below(urls.len() as u64) as usize];
                    visit(url, &mut rng, &counts).await;
                }
            })
        })
        .collect();
    for task in churn {
        task.await?;
    }
    tokio::time::sleep(Duration::from_secs(soak.idle_wait_secs)).await;
    let after = server_pid.and_then(Rss::of);
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let samples = samples.lock().unwrap().clone();
    let max = samples.iter().map(|s| s.1).fold(0.0_f64, f64::max);
    let growth_pct = |part: fn(&Rss) -> f64| match (before, after) {
        (Some(b), Some(a)) if part(&b) > 0.0 => Some((part(&a) - part(&b)) / part(&b) * 100.0),
        _ => None,
    };
    Ok(serde_json::json!({
        "rooms": soak.rooms,
        "minutes": soak.minutes,
        "workers": soak.workers,
        "visits": counts.visits.load(Ordering::Relaxed),
        "updates": counts.updates.load(Ordering::Relaxed),
        "failures": counts.failures.load(Ordering::Relaxed),
        "rss_before_mb": before.map(|r| r.total_mb),
        "rss_max_mb": max,
        "rss_after_mb": after.map(|r| r.total_mb),
        "rss_growth_pct": growth_pct(|r| r.total_mb),
        "anon_before_mb": before.map(|r| r.anon_mb),
        "anon_after_mb": after.map(|r| r.anon_mb),
        "anon_growth_pct": growth_pct(|r| r.anon_mb),
        "file_before_mb": before.map(|r| r.file_mb),
        "file_after_mb": after.map(|r| r.file_mb),
        "rss_samples_s_total_anon_mb": samples,
        "total_s": started.elapsed().as_secs(),
    }))
}

/// One participant's visit: join, say who they are, add 1–5 nodes a few hundred
/// milliseconds apart, stay up to two seconds, say goodbye, close.
async fn visit(url: &str, rng: &mut Rng, counts: &Counts) {
    counts.visits.fetch_add(1, Ordering::Relaxed);
    let outcome: anyhow::Result<()> = async {
        let (mut socket, doc, _) = join(url).await?;
        let client_id = doc.client_id().get();
        let hello = AwarenessEntry {
            client_id,
            clock: 1,
            state: r#"{"user":{"name":"Soak","org":"Banc d'essai"}}"#.into(),
        };
        send(
            &mut socket,
            &Message::Awareness(&encode_awareness([&hello])),
        )
        .await?;
        let roots = Roots::new(&doc);
        for k in 0..1 + rng.below(5) {
            let update = {
                let mut txn = doc.transact_mut();
                roots.add_node(
                    &mut txn,
                    &format!("v{client_id}-{k}"),
                    Some("root"),
                    k as f64,
                    "Une idée de passage, notée pendant la réunion",
                    "",
                );
                txn.encode_update_v1()
            };
            send(&mut socket, &Message::Update(&update)).await?;
            counts.updates.fetch_add(1, Ordering::Relaxed);
            pause_ms(100 + rng.below(300)).await;
        }
        pause_ms(200 + rng.below(1_800)).await;
        let bye = AwarenessEntry {
            clock: 2,
            state: "null".into(),
            ..hello
        };
        send(&mut socket, &Message::Awareness(&encode_awareness([&bye]))).await?;
        let _ = socket.close(None).await;
        Ok(())
    }
    .await;
    if let Err(error) = outcome {
        counts.failures.fetch_add(1, Ordering::Relaxed);
        eprintln!("  soak: a visit failed: {error}");
    }
}
