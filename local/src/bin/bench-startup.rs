//! Start-up benchmark: starts each Lambda `bootstrap` against a minimal local Lambda Runtime
//! API (this program serves `/runtime/invocation/next` and takes the response) and measures
//! the time from process start to the first response posted, and the process's peak RSS.
//!
//! Usage: `bench-startup [OPTIONS] NAME=PATH@EVENT.json ...` — the first entry is the
//! baseline every other is compared with. The environment is passed through to the children.
//! With `BENCH_SUMMARY=FILE`, each entry's ratio and peak RSS are appended to FILE as
//! `figure<TAB>value<TAB>aim` lines for `make bench`'s closing table.
//!
//! Options (each takes a value):
//! - `--runs N`: starts per entry (15).
//! - `--timeout SECS`: a start with no response by then fails the run (30; a start traced
//!   under an emulator needs more).
//! - `--runner CMD`: starts each binary through CMD (words split on spaces), e.g.
//!   `qemu-aarch64 -L SYSROOT` for another architecture's binaries; the runner is then the
//!   process timed and whose peak RSS is read.
//! - `--label TEXT`: names the build in the summary figures (one run per architecture).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

struct Target {
    name: String,
    binary: PathBuf,
    event: String,
}

#[derive(Clone)]
struct Runtime {
    /// The event to hand out; `None` once handed out, so later polls wait (as Lambda's do).
    event: Arc<Mutex<Option<String>>>,
    done: mpsc::UnboundedSender<(Instant, bool)>,
    /// When the function first asked for an event: the end of its init phase.
    polled: Arc<Mutex<Option<Instant>>>,
}

async fn next(State(rt): State<Runtime>) -> (StatusCode, HeaderMap, String) {
    rt.polled.lock().await.get_or_insert_with(Instant::now);
    let Some(event) = rt.event.lock().await.take() else {
        std::future::pending::<()>().await;
        unreachable!("pending never resolves")
    };
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    for (name, value) in [
        (
            "lambda-runtime-aws-request-id",
            "bench-request-1".to_owned(),
        ),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event)
}

async fn response(State(rt): State<Runtime>, Path(_id): Path<String>) -> StatusCode {
    let _ = rt.done.send((Instant::now(), true));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Runtime>) -> StatusCode {
    let _ = rt.done.send((Instant::now(), false));
    StatusCode::ACCEPTED
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Sample {
    init: Duration,
    elapsed: Duration,
    rss_kib: u64,
    ok: bool,
}

async fn run_once(target: &Target, runner: &[String], timeout: Duration) -> anyhow::Result<Sample> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let polled = Arc::new(Mutex::new(None));
    let runtime = Runtime {
        event: Arc::new(Mutex::new(Some(target.event.clone()))),
        done: done_tx,
        polled: polled.clone(),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    let mut command = match runner.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&target.binary);
            command
        }
        None => Command::new(&target.binary),
    };
    let mut child = command
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", target.binary.display()))?;
    let pid = child.id();
    let outcome = tokio::time::timeout(timeout, done_rx.recv()).await;
    let rss_kib = peak_rss_kib(pid).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    match outcome {
        Ok(Some((at, ok))) => Ok(Sample {
            init: polled.lock().await.unwrap_or(at) - started,
            elapsed: at - started,
            rss_kib,
            ok,
        }),
        _ => bail!(
            "{} posted no response within {} s",
            target.name,
            timeout.as_secs()
        ),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 15;
    let mut timeout = Duration::from_secs(30);
    let mut runner = Vec::new();
    let mut label = String::new();
    while let Some(flag) = args.first().filter(|a| a.starts_with("--")).cloned() {
        let value = args
            .get(1)
            .with_context(|| format!("{flag} needs a value"))?
            .clone();
        match flag.as_str() {
            "--runs" => runs = value.parse().context("--runs needs a number")?,
            "--timeout" => {
                timeout = Duration::from_secs(value.parse().context("--timeout needs seconds")?);
            }
            "--runner" => runner = value.split_whitespace().map(str::to_owned).collect(),
            "--label" => label = format!(" ({value})"),
            _ => bail!("unknown option {flag}"),
        }
        args.drain(..2);
    }
    let targets = args
        .iter()
        .map(|arg| {
            let (name, rest) = arg.split_once('=').context("expected NAME=PATH@EVENT")?;
            let (path, event) = rest.split_once('@').context("expected NAME=PATH@EVENT")?;
            Ok(Target {
                name: name.to_owned(),
                binary: PathBuf::from(path),
                event: std::fs::read_to_string(event)
                    .with_context(|| format!("reading {event}"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if targets.is_empty() {
        bail!(
            "usage: bench-startup [--runs N] [--timeout SECS] [--runner CMD] [--label TEXT] \
             NAME=PATH@EVENT.json ... (baseline first)"
        );
    }

    println!(
        "{:<22} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "binary", "size", "init p50", "p50", "p90", "peak RSS", "p50 vs", "outcome"
    );
    let mut baseline_p50 = None;
    let mut summary = Vec::new();
    for target in &targets {
        let size = std::fs::metadata(&target.binary)?.len();
        let mut times = Vec::with_capacity(runs);
        let mut inits = Vec::with_capacity(runs);
        let mut rss = 0;
        let mut ok = true;
        for _ in 0..runs {
            let sample = run_once(target, &runner, timeout).await?;
            times.push(sample.elapsed);
            inits.push(sample.init);
            rss = rss.max(sample.rss_kib);
            ok &= sample.ok;
        }
        times.sort();
        inits.sort();
        let p50 = percentile(&times, 0.5);
        let base = *baseline_p50.get_or_insert(p50);
        println!(
            "{:<22} {:>7.1}MB {:>8.1}ms {:>8.1}ms {:>8.1}ms {:>8.1}MB {:>8.2}x {:>9}",
            target.name,
            size as f64 / 1e6,
            percentile(&inits, 0.5).as_secs_f64() * 1e3,
            p50.as_secs_f64() * 1e3,
            percentile(&times, 0.9).as_secs_f64() * 1e3,
            rss as f64 / 1024.0,
            p50.as_secs_f64() / base.as_secs_f64(),
            if ok { "response" } else { "error" },
        );
        if baseline_p50.is_some() && !std::ptr::eq(target, &targets[0]) {
            let baseline = &targets[0].name;
            summary.push(format!(
                "cold start to first response{label}, {} / {baseline}\t{:.2}x\t<= 2x",
                target.name,
                p50.as_secs_f64() / base.as_secs_f64()
            ));
            summary.push(format!(
                "peak RSS at start{label}, {}\t{:.1} MB\t<= 32 MB",
                target.name,
                rss as f64 / 1024.0
            ));
        }
    }
    if let Some(path) = std::env::var_os("BENCH_SUMMARY").filter(|p| !p.is_empty()) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?;
        for line in summary {
            writeln!(file, "{line}")?;
        }
    }
    Ok(())
}
