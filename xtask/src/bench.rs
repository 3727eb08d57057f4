//! `cargo xtask bench [--quick] [--rounds N]`: the same scenarios against Nouage, y-sweet 0.9.1
//! and the Node.js reference server of the `y-websocket` npm package 2.1.0, started one after
//! the other on this machine, in an order that rotates every round so drift and noise show.
//! Installs what it needs from the registries (npm, `cargo install`). Prints a table with
//! ratios and writes every run to `target/bench/results.json`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{cargo, run_checked, which};

const ADMIN_TOKEN: &str = "bench-admin-token";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    /// Nouage with `--durability fsync` (the default): a committed edit survives a power cut.
    Nouage,
    /// Nouage with `--durability process`: a committed edit survives a crash of the process
    /// (SIGKILL included), like y-sweet's promise at best, without waiting for the disk.
    NouageProcess,
    YSweet,
    Node,
}

impl Server {
    const ALL: [Server; 4] = [
        Server::Nouage,
        Server::NouageProcess,
        Server::YSweet,
        Server::Node,
    ];

    fn name(self) -> &'static str {
        match self {
            Server::Nouage => "nouage",
            Server::NouageProcess => "nouage-process",
            Server::YSweet => "y-sweet",
            Server::Node => "node",
        }
    }
}

struct Scenario {
    name: &'static str,
    args: Vec<String>,
    /// The numbers of the bench's JSON answer the table shows.
    metrics: &'static [&'static str],
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    let fanout = |r: u32, s: u32, u: u32, d: u32| -> Vec<String> {
        [
            "--receivers",
            &r.to_string(),
            "--senders",
            &s.to_string(),
            "--rate",
            &u.to_string(),
            "--seconds",
            &d.to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    let metrics: &'static [&'static str] = &[
        "p50_ms",
        "p99_ms",
        "max_ms",
        "updates_received",
        "rss_after_mb",
    ];
    let rooms = |n: u32| -> Vec<String> {
        [
            "--mode",
            "rooms",
            "--rooms",
            &n.to_string(),
            "--doc-bytes",
            "20000",
        ]
        .map(String::from)
        .to_vec()
    };
    if quick {
        return vec![
            Scenario {
                name: "fan-out 20r/2s×5/s",
                args: fanout(20, 2, 5, 3),
                metrics,
            },
            Scenario {
                name: "rooms 50×20 KB",
                args: rooms(50),
                metrics: &["rss_loaded_mb"],
            },
        ];
    }
    vec![
        Scenario {
            name: "fan-out 100r/10s×10/s",
            args: fanout(100, 10, 10, 10),
            metrics,
        },
        Scenario {
            name: "fan-out 300r/20s×20/s",
            args: fanout(300, 20, 20, 10),
            metrics,
        },
        Scenario {
            name: "rooms 2000×20 KB",
            args: rooms(2_000),
            metrics: &["rss_loaded_mb", "connect_and_write_s"],
        },
    ]
}

struct Running {
    child: Child,
    port: u16,
    _data: TempDir,
}

/// A server stopped however the run ends.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(root: &Path, server: Server) -> anyhow::Result<Running> {
    let port = free_port()?;
    let data = TempDir(std::env::temp_dir().join(format!("nouage-bench-{}-{port}", server.name())));
    std::fs::create_dir_all(&data.0)?;
    let mut command = match server {
        Server::Nouage | Server::NouageProcess => {
            let mut c = Command::new(root.join("target/release/nouage"));
            c.args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--admin-token",
                ADMIN_TOKEN,
                "--data",
            ])
            .arg(&data.0);
            if server == Server::NouageProcess {
                c.args(["--durability", "process"]);
            }
            c
        }
        Server::YSweet => {
            let mut c = Command::new("y-sweet");
            c.arg("serve")
                .arg(&data.0)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            c
        }
        Server::Node => {
            let mut c = Command::new("node");
            c.arg(root.join("target/bench-node/node_modules/y-websocket/bin/server.cjs"))
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string());
            c
        }
    };
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", server.name()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{} did not listen on {port}", server.name());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Running {
        child,
        port,
        _data: data,
    })
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn run_once(root: &Path, server: Server, scenario: &Scenario) -> anyhow::Result<serde_json::Value> {
    let running = start(root, server)?;
    let port = running.port;
    let pid = running.child.id();
    let mut command = Command::new(root.join("target/release/nouage-bench"));
    command
        .args(&scenario.args)
        .args(["--server-pid", &pid.to_string()]);
    match server {
        Server::Nouage | Server::NouageProcess => command.args([
            "--url",
            &format!("ws://127.0.0.1:{port}/ws/{{room}}?token={{token}}"),
            "--nouage-api",
            &format!("http://127.0.0.1:{port}"),
            "--admin-token",
            ADMIN_TOKEN,
        ]),
        Server::YSweet => {
            command.args(["--url", &format!("ws://127.0.0.1:{port}/doc/ws/{{room}}")])
        }
        Server::Node => command.args(["--url", &format!("ws://127.0.0.1:{port}/{{room}}")]),
    };
    let output = command.output().context("running nouage-bench")?;
    let rss_after = rss_mb(pid);
    drop(running);
    if !output.status.success() {
        bail!(
            "nouage-bench against {} failed: {}",
            server.name(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = String::from_utf8(output.stdout)?;
    let mut report: serde_json::Value =
        serde_json::from_str(line.trim()).context("bench output")?;
    report["rss_after_mb"] = serde_json::json!(rss_after);
    Ok(report)
}

fn ensure_references(root: &Path) -> anyhow::Result<()> {
    let node = root.join("target/bench-node");
    if !node
        .join("node_modules/y-websocket/bin/server.cjs")
        .exists()
    {
        std::fs::create_dir_all(&node)?;
        std::fs::write(
            node.join("package.json"),
            r#"{"private": true, "dependencies": {"y-websocket": "2.1.0"}}"#,
        )?;
        run_checked(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&node),
        )?;
    }
    if !which("y-sweet") {
        run_checked(cargo().args(["install", "y-sweet", "--version", "0.9.1", "--locked"]))?;
    }
    Ok(())
}

pub fn bench(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 1 } else { 2 });
    ensure_references(root)?;
    run_checked(cargo().args([
        "build",
        "--release",
        "-p",
        "nouage-server",
        "--bin",
        "nouage",
    ]))?;
    run_checked(cargo().args(["build", "--release", "-p", "nouage-bench"]))?;
    let scenarios = scenarios(quick);
    let mut results = Vec::new();
    for round in 0..rounds {
        for scenario in &scenarios {
            // The order rotates each round: no server always runs first or last.
            for k in 0..Server::ALL.len() {
                let server = Server::ALL[(k + round) % Server::ALL.len()];
                eprintln!(
                    "xtask bench: round {} · {} · {}",
                    round + 1,
                    scenario.name,
                    server.name()
                );
                let report = run_once(root, server, scenario)?;
                eprintln!("  {report}");
                results.push(serde_json::json!({
                    "round": round + 1, "scenario": scenario.name, "server": server.name(), "report": report,
                }));
            }
        }
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    print_table(&scenarios, &results);
    Ok(())
}

fn print_table(scenarios: &[Scenario], results: &[serde_json::Value]) {
    println!(
        "| scenario | metric | Nouage (fsync) | Nouage (process) | y-sweet 0.9.1 | y-websocket 2.1.0 (Node) | fsync / y-sweet | process / y-sweet | fsync / Node |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for scenario in scenarios {
        for metric in scenario.metrics {
            // Every round's value, so the spread shows; the ratio uses the medians.
            let values = |server: Server| -> Vec<f64> {
                results
                    .iter()
                    .filter(|r| r["scenario"] == scenario.name && r["server"] == server.name())
                    .filter_map(|r| r["report"][*metric].as_f64())
                    .collect()
            };
            let median = |mut v: Vec<f64>| -> Option<f64> {
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied()
            };
            let cell = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            let (n, p, y, o) = (
                values(Server::Nouage),
                values(Server::NouageProcess),
                values(Server::YSweet),
                values(Server::Node),
            );
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "–".into(),
            };
            let (mn, mp, my, mo) = (
                median(n.clone()),
                median(p.clone()),
                median(y.clone()),
                median(o.clone()),
            );
            println!(
                "| {} | {metric} | {} | {} | {} | {} | {} | {} | {} |",
                scenario.name,
                cell(&n),
                cell(&p),
                cell(&y),
                cell(&o),
                ratio(mn, my),
                ratio(mp, my),
                ratio(mn, mo)
            );
        }
    }
}
