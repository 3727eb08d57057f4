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

/// How a scenario runs against one server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// One `nouage-bench` run against a fresh server.
    Once,
    /// `seed`, then the server stopped and started again on the same data, then `coldjoin`.
    ColdJoin,
}

/// Which load generator drives a scenario.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Generator {
    /// `nouage-bench`, the Rust generator: light enough to load a room of hundreds.
    Rust,
    /// `bench/js/fanout.mjs`: stock npm `yjs` documents behind unmodified `y-websocket`
    /// providers in one Node.js process, what users run (a hundred receivers at most: past
    /// that, one Node process measures itself).
    StockJs,
}

struct Scenario {
    /// The name `--only` selects it by.
    key: &'static str,
    name: &'static str,
    args: Vec<String>,
    /// The numbers of the bench's JSON answer the table shows.
    metrics: &'static [&'static str],
    flow: Flow,
    /// Extra `nouage serve` arguments (a limit the scenario must pass).
    nouage_args: &'static [&'static str],
    servers: Vec<Server>,
    generator: Generator,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn scenario(
    key: &'static str,
    name: &'static str,
    args: Vec<String>,
    metrics: &'static [&'static str],
) -> Scenario {
    Scenario {
        key,
        name,
        args,
        metrics,
        flow: Flow::Once,
        nouage_args: &[],
        servers: Server::ALL.to_vec(),
        generator: Generator::Rust,
    }
}

fn scenarios(quick: bool, soak_minutes: f64) -> Vec<Scenario> {
    let fanout = |r: u32, s: u32, u: u32, d: u32| -> Vec<String> {
        strings(&[
            "--receivers",
            &r.to_string(),
            "--senders",
            &s.to_string(),
            "--rate",
            &u.to_string(),
            "--seconds",
            &d.to_string(),
        ])
    };
    let latency: &'static [&'static str] = &[
        "p50_ms",
        "p99_ms",
        "max_ms",
        "updates_received",
        "rss_after_mb",
    ];
    // Memory is read 3 s after the last write, then again `settle` seconds later (rooms whose
    // clients stay quiet let their documents go after 15 s).
    let rooms = |n: u32, settle: u32| {
        strings(&[
            "--mode",
            "rooms",
            "--rooms",
            &n.to_string(),
            "--doc-bytes",
            "20000",
            "--settle-secs",
            &settle.to_string(),
        ])
    };
    let cold = |nodes: u32| Scenario {
        flow: Flow::ColdJoin,
        ..scenario(
            "coldjoin",
            if quick {
                "cold join 500-node map"
            } else {
                "cold join 10,000-node map"
            },
            strings(&["--boards", "5", "--nodes", &nodes.to_string()]),
            &["cold_join_p50_ms", "cold_join_max_ms", "state_bytes"],
        )
    };
    let storm = |clients: u32, rooms: u32| {
        scenario(
            "storm",
            if quick {
                "reconnect storm 50 clients"
            } else {
                "reconnect storm 500 clients / 50 rooms"
            },
            strings(&[
                "--mode",
                "storm",
                "--clients",
                &clients.to_string(),
                "--rooms",
                &rooms.to_string(),
                "--nodes",
                "200",
            ]),
            &[
                "resync_p50_ms",
                "resync_p99_ms",
                "all_resynced_ms",
                "failures",
            ],
        )
    };
    let ramp = |steps: &str, seconds: &str| Scenario {
        nouage_args: &["--max-clients-per-board", "100000"],
        ..scenario(
            "ramp",
            "largest room, p99 < 100 ms (10 senders × 10/s)",
            strings(&[
                "--mode",
                "ramp",
                "--steps",
                steps,
                "--senders",
                "10",
                "--rate",
                "10",
                "--seconds",
                seconds,
            ]),
            &["largest_room_receivers"],
        )
    };
    let stock_js = |name, args| Scenario {
        generator: Generator::StockJs,
        ..scenario("fanout-js", name, args, latency)
    };
    let mut list = if quick {
        vec![
            scenario("fanout", "fan-out 20r/2s×5/s", fanout(20, 2, 5, 3), latency),
            stock_js("fan-out 20r/2s×5/s, stock JS", fanout(20, 2, 5, 3)),
            scenario(
                "rooms",
                "rooms 50×20 KB",
                rooms(50, 2),
                &["rss_loaded_mb", "rss_settled_mb"],
            ),
            cold(500),
            storm(50, 5),
            ramp("20,40", "2"),
        ]
    } else {
        vec![
            stock_js("fan-out 100r/10s×10/s, stock JS", fanout(100, 10, 10, 10)),
            scenario(
                "fanout",
                "fan-out 100r/10s×10/s",
                fanout(100, 10, 10, 10),
                latency,
            ),
            scenario(
                "fanout",
                "fan-out 300r/20s×20/s",
                fanout(300, 20, 20, 10),
                latency,
            ),
            scenario(
                "rooms",
                "rooms 2000×20 KB",
                rooms(2_000, 20),
                &["rss_loaded_mb", "rss_settled_mb", "connect_and_write_s"],
            ),
            cold(10_000),
            storm(500, 50),
            // Finer where the references and Nouage reach their limits, so the ratio means something.
            ramp(
                "100,200,300,500,700,850,1000,1250,1500,1750,2000,2250,2500,3000",
                "5",
            ),
        ]
    };
    if soak_minutes > 0.0 {
        // Long: by default only Nouage (`--servers` names others).
        list.push(scenario(
            "soak",
            "soak: 500 boards, 20 visitors at a time",
            strings(&[
                "--mode",
                "soak",
                "--rooms",
                "500",
                "--workers",
                "20",
                "--minutes",
                &soak_minutes.to_string(),
            ]),
            &[
                "rss_before_mb",
                "rss_max_mb",
                "rss_after_mb",
                "rss_growth_pct",
                "anon_before_mb",
                "anon_after_mb",
                "anon_growth_pct",
                "file_before_mb",
                "file_after_mb",
                "visits",
                "failures",
            ],
        ));
    }
    list
}

struct Running {
    child: Child,
    port: u16,
}

/// A server stopped however the run ends.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Stops the server as an operator would (SIGTERM), killing it if it lingers.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    fn new(server: Server) -> anyhow::Result<Self> {
        let port = free_port()?;
        let dir =
            TempDir(std::env::temp_dir().join(format!("nouage-bench-{}-{port}", server.name())));
        std::fs::create_dir_all(&dir.0)?;
        Ok(dir)
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `server` on `port` with its data in `data`; `persist_node` gives the Node server
/// its optional LevelDB persistence (off by default, as people run it).
fn start(
    root: &Path,
    server: Server,
    data: &Path,
    port: u16,
    scenario: &Scenario,
) -> anyhow::Result<Running> {
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
            .arg(data)
            .args(scenario.nouage_args);
            if server == Server::NouageProcess {
                c.args(["--durability", "process"]);
            }
            c
        }
        Server::YSweet => {
            let mut c = Command::new("y-sweet");
            c.arg("serve")
                .arg(data)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            c
        }
        Server::Node => {
            let mut c = Command::new("node");
            c.arg(root.join("target/bench-node/node_modules/y-websocket/bin/server.cjs"))
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string());
            if scenario.flow == Flow::ColdJoin {
                // A cold join needs the document to outlive a restart.
                c.env("YPERSISTENCE", data.join("leveldb"));
            }
            c
        }
    };
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", server.name()))?;
    let mut running = Running { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || matches!(running.child.try_wait(), Ok(Some(_))) {
            bail!("{} did not listen on {port}", server.name());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(running)
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

/// `nouage-bench` (or the stock-JS generator) with `args` against a running server; its JSON
/// report.
fn bench_against(
    root: &Path,
    server: Server,
    running: &Running,
    generator: Generator,
    args: &[String],
) -> anyhow::Result<serde_json::Value> {
    let port = running.port;
    let mut command = match generator {
        Generator::Rust => Command::new(root.join("target/release/nouage-bench")),
        Generator::StockJs => {
            let mut c = Command::new("node");
            c.arg(root.join("bench/js/fanout.mjs"));
            c
        }
    };
    command
        .args(args)
        .args(["--server-pid", &running.child.id().to_string()]);
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
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running nouage-bench")?;
    if !output.status.success() {
        bail!("the load generator against {} failed", server.name());
    }
    let line = String::from_utf8(output.stdout)?;
    serde_json::from_str(line.trim()).context("bench output")
}

fn run_once(root: &Path, server: Server, scenario: &Scenario) -> anyhow::Result<serde_json::Value> {
    let data = TempDir::new(server)?;
    let port = free_port()?;
    let running = start(root, server, &data.0, port, scenario)?;
    match scenario.flow {
        Flow::Once => {
            let mut report =
                bench_against(root, server, &running, scenario.generator, &scenario.args)?;
            report["rss_after_mb"] = serde_json::json!(rss_mb(running.child.id()));
            Ok(report)
        }
        Flow::ColdJoin => {
            let mut seed = strings(&["--mode", "seed"]);
            seed.extend(scenario.args.iter().cloned());
            let seeded = bench_against(root, server, &running, Generator::Rust, &seed)?;
            let urls: Vec<&str> = seeded["urls"]
                .as_array()
                .context("seed printed no urls")?
                .iter()
                .filter_map(|u| u.as_str())
                .collect();
            let urls_file = data.0.join("urls.txt");
            std::fs::write(&urls_file, urls.join("\n"))?;
            if server == Server::YSweet {
                // y-sweet writes its checkpoint every 10 s.
                std::thread::sleep(Duration::from_secs(12));
            }
            running.stop();
            let running = start(root, server, &data.0, port, scenario)?;
            let mut join = strings(&["--mode", "coldjoin", "--urls-file"]);
            join.push(urls_file.display().to_string());
            join.extend(scenario.args.iter().cloned());
            bench_against(root, server, &running, Generator::Rust, &join)
        }
    }
}

/// Installs the reference servers among `servers` that are not there yet, and the stock-JS
/// generator's npm packages if a scenario needs them.
fn ensure_references(root: &Path, servers: &[Server], stock_js: bool) -> anyhow::Result<()> {
    let js = root.join("bench/js");
    if stock_js && !js.join("node_modules/y-websocket").exists() {
        run_checked(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&js),
        )?;
    }
    let node = root.join("target/bench-node");
    if servers.contains(&Server::Node)
        && !node
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
    if servers.contains(&Server::YSweet) && !which("y-sweet") {
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
    run_checked(cargo().args([
        "build",
        "--release",
        "-p",
        "nouage-server",
        "--bin",
        "nouage",
    ]))?;
    run_checked(cargo().args(["build", "--release", "-p", "nouage-bench"]))?;
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let soak_minutes: f64 = value_of("--soak-minutes")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0.0);
    let only: Option<Vec<String>> =
        value_of("--only").map(|keys| keys.split(',').map(String::from).collect());
    // `--servers a,b` runs only those; the soak, long, runs against Nouage unless named.
    let named: Option<Vec<Server>> = value_of("--servers").map(|names| {
        Server::ALL
            .into_iter()
            .filter(|s| names.split(',').any(|n| n == s.name()))
            .collect()
    });
    let mut scenarios = scenarios(quick, soak_minutes);
    if let Some(only) = &only {
        scenarios.retain(|s| only.iter().any(|k| k == s.key));
    }
    for scenario in &mut scenarios {
        match &named {
            Some(servers) => scenario.servers.retain(|s| servers.contains(s)),
            None if scenario.key == "soak" => scenario.servers = vec![Server::Nouage],
            None => {}
        }
    }
    let needed: Vec<Server> = scenarios
        .iter()
        .flat_map(|s| s.servers.iter().copied())
        .collect();
    let stock_js = scenarios.iter().any(|s| s.generator == Generator::StockJs);
    ensure_references(root, &needed, stock_js)?;
    let mut results = Vec::new();
    for round in 0..rounds {
        for scenario in &scenarios {
            // The order rotates each round: no server always runs first or last.
            let servers = &scenario.servers;
            for k in 0..servers.len() {
                let server = servers[(k + round) % servers.len()];
                eprintln!(
                    "xtask bench: round {} · {} · {}",
                    round + 1,
                    scenario.name,
                    server.name()
                );
                // A server that fails a scenario is reported, the others still run.
                let report = run_once(root, server, scenario)
                    .unwrap_or_else(|e| serde_json::json!({ "error": format!("{e:#}") }));
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
