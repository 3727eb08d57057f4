//! Project automation: `cargo xtask <task>`.
//!
//! - `web`: builds the web app to WebAssembly into `target/web-dist`.
//! - `dist`: `web`, then the release binary with the app embedded, copied to `target/dist/nouage`.
//! - `run [ARGS]`: `dist`, then `nouage serve` on 127.0.0.1:8080 with SQLite under `./nouage-data`.
//! - `test`: installs what the tests need (npm packages, the wasm toolchain, Chromium), builds
//!   once, runs every test of the workspace, then fuzzes the relay input path (30,000 inputs)
//!   and the websocket reader against tungstenite's (300,000 inputs).
//! - `fuzz [SECONDS]`: fuzzes both targets (default 300 s each).
//! - `sim [--seed S] [--seeds N] [--steps N]`: the relay's deterministic simulation
//!   (`server/src/room/sim.rs`): one seed with its trace, or N seeds (1,000 by default; the
//!   test command runs those).
//! - `bench [--quick] [--rounds N]`: Nouage, y-sweet and the Node reference server under the
//!   same scenarios (see `bench.rs`); not part of the test command.
//!
//! Tools are installed from package registries only: `cargo install`, `npm ci`, `apt-get`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

mod bench;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const WASM_PROFILE: &str = "wasm-release";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match task.as_str() {
        "web" => build_web(&root, rest.iter().any(|a| a == "--profiling")),
        "dist" => dist(&root).map(|_| ()),
        "run" => run(&root, &rest),
        "test" => test(&root, &rest),
        "bench" => bench::bench(&root, &rest),
        "sim" => sim(&rest),
        "fuzz" => {
            let seconds = rest.first().and_then(|s| s.parse().ok()).unwrap_or(300);
            fuzz(&root, FuzzBudget::Seconds(seconds))
        }
        _ => {
            eprintln!("usage: cargo xtask <web|dist|run|test|fuzz|sim|bench> [args]");
            bail!("unknown task {task:?}")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn dist_dir(root: &Path) -> PathBuf {
    root.join("target/web-dist")
}

/// Builds `web` to wasm, runs wasm-bindgen and wasm-opt, and copies the static files. With
/// `profiling`, the same optimisations keep the functions' names (for a browser's CPU profile)
/// and the size budget is not checked.
fn build_web(root: &Path, profiling: bool) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let bindgen = ensure_wasm_bindgen(root)?;
    run_checked(cargo().args([
        "build",
        "-p",
        "web",
        "--target",
        WASM_TARGET,
        "--profile",
        WASM_PROFILE,
    ]))?;
    let out = dist_dir(root);
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;
    let wasm = root.join(format!("target/{WASM_TARGET}/{WASM_PROFILE}/web.wasm"));
    run_checked(
        Command::new(bindgen)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "web",
                "--out-dir",
            ])
            .arg(&out)
            .arg(&wasm),
    )?;
    let bundle = out.join("web_bg.wasm");
    match wasm_opt(root)? {
        Some(wasm_opt) => run_checked(
            Command::new(wasm_opt)
                .args(if profiling {
                    &["-g"][..]
                } else {
                    &["--strip-debug"][..]
                })
                .args([
                    "-Oz",
                    "--converge",
                    // Rust puts the stack first in linear memory, growing down towards 0: the
                    // lowest 1 KiB is only reached by a stack overflow, so binaryen may assume
                    // it unused (about 4 KB less gzipped).
                    "--low-memory-unused",
                    "--strip-producers",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-reference-types",
                    "--enable-multivalue",
                    "-o",
                ])
                .arg(&bundle)
                .arg(&bundle),
        )?,
        None => {
            eprintln!("xtask: npm's binaryen is not available; the bundle is not size-optimised")
        }
    }
    for entry in std::fs::read_dir(root.join("web/static"))? {
        let path = entry?.path();
        std::fs::copy(&path, out.join(path.file_name().unwrap()))?;
    }
    let size = std::fs::metadata(&bundle)?.len();
    let gzipped = gzipped_bytes(&std::fs::read(&bundle)?)?;
    eprintln!(
        "xtask: web app built in {} ({} KB of wasm, {} KB gzipped; budget {} KB)",
        out.display(),
        size / 1000,
        gzipped / 1000,
        WASM_GZIP_BUDGET_BYTES / 1000
    );
    // The budget is checked on every build, so CI fails when a change breaks it.
    if !profiling && wasm_opt(root)?.is_some() && gzipped > WASM_GZIP_BUDGET_BYTES {
        anyhow::bail!(
            "the web app's WebAssembly is {gzipped} bytes gzipped, over the budget of {WASM_GZIP_BUDGET_BYTES}"
        );
    }
    Ok(())
}

/// The web app's WebAssembly, gzipped at the highest level, must stay under this (500 KB until
/// issue 20, which raised it for itself and the phone and meeting issues together).
const WASM_GZIP_BUDGET_BYTES: usize = 650_000;

fn gzipped_bytes(data: &[u8]) -> anyhow::Result<usize> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?.len())
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).contains(WASM_TARGET) {
        run_checked(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// The wasm-bindgen CLI at the version of the `wasm-bindgen` crate in Cargo.lock (they must
/// match), installed with `cargo install` when missing.
fn ensure_wasm_bindgen(root: &Path) -> anyhow::Result<PathBuf> {
    let version = locked_version(root, "wasm-bindgen")?;
    let binary = cargo_home().join("bin/wasm-bindgen");
    let current = Command::new(&binary).arg("--version").output().ok();
    let matches = current.is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(&version));
    if !matches {
        // Not `--locked`: its lockfile pins a crate version the registry here does not serve.
        run_checked(cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--force",
            "--version",
            &version,
        ]))?;
    }
    Ok(binary)
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"))
}

fn locked_version(root: &Path, package: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))?;
    let marker = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + marker.len();
    let end = lock[start..].find('"').unwrap();
    Ok(lock[start..start + end].to_owned())
}

/// npm's binaryen (Debian's wasm-opt 108 produces bundles that fail in the browser).
fn wasm_opt(root: &Path) -> anyhow::Result<Option<PathBuf>> {
    let web = root.join("web");
    let binary = web.join("node_modules/.bin/wasm-opt");
    if !binary.exists() && which("npm") {
        run_checked(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
        )?;
    }
    Ok(binary.exists().then_some(binary))
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn dist(root: &Path) -> anyhow::Result<PathBuf> {
    build_web(root, false)?;
    run_checked(
        cargo()
            .args([
                "build",
                "--release",
                "-p",
                "nouage-server",
                "--bin",
                "nouage",
            ])
            .env("NOUAGE_WEB_DIST", dist_dir(root)),
    )?;
    let out = root.join("target/dist");
    std::fs::create_dir_all(&out)?;
    let binary = out.join("nouage");
    // Unlink first: copying over a binary that is running fails ("text file busy").
    let _ = std::fs::remove_file(&binary);
    std::fs::copy(root.join("target/release/nouage"), &binary)?;
    eprintln!(
        "xtask: {} carries the web app; copy it anywhere and run `nouage serve`",
        binary.display()
    );
    Ok(binary)
}

fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let binary = dist(root)?;
    let mut command = Command::new(binary);
    command.arg("serve");
    if args.is_empty() {
        command.args(["--listen", "127.0.0.1:8080", "--data", "./nouage-data"]);
    } else {
        command.args(args);
    }
    run_checked(&mut command)
}

fn test(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let js = root.join("tests/js");
    if !js.join("node_modules").exists() {
        run_checked(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&js),
        )?;
    }
    ensure_system_tools()?;
    build_web(root, false)?;
    // The debug server binary, with the web app embedded, for the tests that run it as a process.
    // With the fault tests' failure-injection points, as the test build compiles the server
    // (one build of it, not two).
    run_checked(cargo().args([
        "build",
        "-p",
        "nouage-server",
        "--bin",
        "nouage",
        "--features",
        "failpoints",
    ]))?;
    // NOUAGE_E2E makes a missing prerequisite a failure rather than a test not run. The web
    // app is tested where it runs, in Chromium (`tests/tests/browser.rs`); building it natively
    // as well (leptos, web-sys) for its one unit test cost CI minutes (`cargo test -p web`
    // still runs it).
    // The store's and the relay's tests run against PostgreSQL too (each in a database of its
    // own on this server).
    let database_url = ensure_postgres()?;
    let redis_url = ensure_redis()?;
    run_checked(
        cargo()
            .args(["test", "--workspace", "--exclude", "web"])
            .args(args)
            .env("NOUAGE_E2E", "1")
            .env("NOUAGE_TEST_DATABASE_URL", &database_url)
            .env("NOUAGE_TEST_REDIS_URL", &redis_url),
    )?;
    // The relay's, the persistence's and the trace's end-to-end tests once more, every server
    // on PostgreSQL (those that read SQLite's file itself are SQLite's only).
    for (test, only) in [
        ("relay", &[][..]),
        ("persistence", &POSTGRES_PERSISTENCE_TESTS[..]),
        ("trace", &POSTGRES_TRACE_TESTS[..]),
    ] {
        run_checked(
            cargo()
                .args(["test", "-p", "nouage-tests", "--test", test, "--"])
                .args(only)
                .env("NOUAGE_E2E", "1")
                .env("NOUAGE_TEST_DATABASE_URL", &database_url)
                .env("NOUAGE_TEST_STORE", "postgres"),
        )?;
    }
    fuzz(root, FuzzBudget::DeterministicRuns)
}

/// The fuzz targets, with the inputs the test command tries on each: the relay's input path
/// (30,000: about 60 s here) and the websocket reader against tungstenite's (300,000: about
/// 10 s). With a fixed seed and an empty corpus each run is the same every time, so CI cannot
/// turn red by chance; a longer exploration is `cargo xtask fuzz SECONDS` (each target).
const FUZZ_TARGETS: [(&str, u32); 2] =
    [("relay_input", 30_000), ("frames_vs_tungstenite", 300_000)];

enum FuzzBudget {
    DeterministicRuns,
    Seconds(u32),
}

/// Runs the fuzz target on the relay's input path for a bounded time (stable toolchain, so no
/// sanitizer: AddressSanitizer needs a nightly compiler). A crash fails the command and leaves its input in
/// `fuzz/artifacts/`.
fn fuzz(root: &Path, budget: FuzzBudget) -> anyhow::Result<()> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        run_checked(cargo().args(["install", "cargo-fuzz", "--version", "0.13.2"]))?;
    }
    // The relay's input path, and the websocket reader against tungstenite's (differential).
    for (target, runs_in_tests) in FUZZ_TARGETS {
        run_checked(
            cargo()
                .args(["fuzz", "run", "-s", "none", target, "--"])
                // CI lints the workspace through this wrapper; the fuzz crate is built apart.
                .env_remove("RUSTC_WORKSPACE_WRAPPER")
                .env_remove("CLIPPY_ARGS")
                // Optimised enough for these runs, and built a minute sooner than at level 3.
                .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
                // The relay's decoder panics are caught on purpose; capturing a backtrace for
                // each of them only costs time.
                .env("RUST_BACKTRACE", "0")
                .args(match budget {
                    FuzzBudget::DeterministicRuns => {
                        vec!["-seed=1".to_owned(), format!("-runs={runs_in_tests}")]
                    }
                    FuzzBudget::Seconds(seconds) => vec![format!("-max_total_time={seconds}")],
                })
                .args(["-rss_limit_mb=2048", "-max_len=4096"])
                .current_dir(root.join("fuzz")),
        )?;
    }
    Ok(())
}

/// Runs the room simulation test with the options given as its environment.
fn sim(args: &[String]) -> anyhow::Result<()> {
    let mut command = cargo();
    command.args([
        "test",
        "-p",
        "nouage-server",
        "--lib",
        "room::sim::simulated_rooms_keep_their_invariants",
        "--",
        "--nocapture",
    ]);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let variable = match arg.as_str() {
            "--seed" => "NOUAGE_SIM_SEED",
            "--seeds" => "NOUAGE_SIM_SEEDS",
            "--steps" => "NOUAGE_SIM_STEPS",
            other => bail!("unknown option {other:?} (--seed S, --seeds N, --steps N)"),
        };
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a number"))?;
        value
            .parse::<u64>()
            .with_context(|| format!("{arg} {value:?} is not a number"))?;
        command.env(variable, value);
    }
    run_checked(&mut command)
}

/// An emoji font, so the screenshots show reactions and marks as people see them.
const EMOJI_FONT: &str = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

/// The persistence tests that also run with every server on PostgreSQL.
const POSTGRES_PERSISTENCE_TESTS: [&str; 6] = [
    "edits_survive_a_restart_of_the_server",
    "an_update_a_second_client_received_survives_sigkill",
    "sigterm_stops_the_server_cleanly_and_keeps_everything",
    "a_crash_loop_under_concurrent_writing_loses_nothing_any_client_received",
    "a_large_board_loaded_whole_is_sent_whole_then_with_the_changes_since",
    "a_board_whose_clients_are_quiet_lets_its_document_go_and_wakes_for_the_next_edit",
];

/// The trace's end-to-end tests that also run on PostgreSQL (its incremental record).
const POSTGRES_TRACE_TESTS: [&str; 3] = [
    "contributions_count_exactly_what_each_participant_did_whatever_the_author_fields_say",
    "a_deleted_note_is_listed_and_restored_with_its_text_author_and_votes",
    "the_history_pages_newest_first_and_bad_trace_requests_get_clear_errors",
];

/// The Redis server the cluster tests use (`NOUAGE_TEST_REDIS_URL`, or this machine's on
/// 127.0.0.1:6379): started from Debian's package (keeping nothing on disk) when it is not
/// running, installed first when it is not there. The fault tests run servers of their own.
fn ensure_redis() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("NOUAGE_TEST_REDIS_URL") {
        return Ok(url);
    }
    const URL: &str = "redis://127.0.0.1:6379";
    let ready = || {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379", "ping"])
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"PONG"))
    };
    if ready() {
        return Ok(URL.into());
    }
    if !which("redis-server") {
        run_checked(Command::new("apt-get").arg("update"))?;
        run_checked(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "redis-server"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    run_checked(Command::new("redis-server").args([
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        "6379",
        "--save",
        "",
        "--appendonly",
        "no",
    ]))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready() {
        if std::time::Instant::now() > deadline {
            bail!("Redis is not answering on 127.0.0.1:6379");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(URL.into())
}

/// The PostgreSQL server the tests use (`NOUAGE_TEST_DATABASE_URL`, or this machine's on
/// 127.0.0.1:5432, trust authentication, database `test`): started from Debian's packages
/// when it is not running, installed first when it is not there.
fn ensure_postgres() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("NOUAGE_TEST_DATABASE_URL") {
        return Ok(url);
    }
    const URL: &str = "postgres://root@127.0.0.1:5432/test";
    let ready = || {
        Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready() {
        return Ok(URL.into());
    }
    if !Path::new("/etc/postgresql").exists() {
        run_checked(Command::new("apt-get").arg("update"))?;
        run_checked(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    for version in std::fs::read_dir("/etc/postgresql")?.flatten() {
        let version = version.file_name().to_string_lossy().into_owned();
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready() {
        if std::time::Instant::now() > deadline {
            bail!("PostgreSQL is not answering on 127.0.0.1:5432");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A fresh cluster has neither the role nor the database the tests use.
    let psql = |sql: &str| {
        Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-c", sql])
            .status()
    };
    let _ = psql("CREATE ROLE root SUPERUSER LOGIN");
    let _ = psql("CREATE DATABASE test OWNER root");
    Ok(URL.into())
}

/// Debian's Chromium and its WebDriver, for the browser tests, poppler's `pdftotext`, which
/// the export tests read PDFs with, and an emoji font for the screenshots.
fn ensure_system_tools() -> anyhow::Result<()> {
    if which("chromium")
        && which("chromedriver")
        && which("pdftotext")
        && Path::new(EMOJI_FONT).exists()
    {
        return Ok(());
    }
    run_checked(Command::new("apt-get").arg("update"))?;
    run_checked(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
                "poppler-utils",
                "fonts-noto-color-emoji",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
