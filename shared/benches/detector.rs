//! `make bench-detector`: every method over 100 synthetic series × 10,000 candles, in Rust and
//! in the numpy / pandas / scikit-learn stack the Python prototypes use, on the same data.
//!
//! The series are exported to a CSV file, `tests/reference/bench_detector.py` runs the same
//! methods over it, and this prints candles per second for each side, the speed-up, and how
//! many flags the two agree on (for the deterministic methods; the isolation forests draw
//! different random trees, so only their overlap is shown).
//!
//! Python: `TICKWATCH_BENCH_PYTHON` (default: the venv `make bench-detector` prepares).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark may stop at the first failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tickwatch::detect::{DetectorConfig, Series};
use tickwatch::model::{Interval, Method, Symbol};
use tickwatch::providers::synthetic::{SyntheticParams, generate};

const SERIES: usize = 100;
const CANDLES: usize = 10_000;

type Flag = (usize, usize, String);

fn main() -> anyhow::Result<()> {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().unwrap();
    let data: Vec<_> = (0..SERIES)
        .map(|i| {
            let symbol = Symbol::parse(&format!("S{i:03}")).unwrap();
            let params = SyntheticParams {
                seed: 1_000 + i as u64,
                ..SyntheticParams::default()
            };
            generate(&symbol, Interval::OneHour, start, CANDLES, &params).candles
        })
        .collect();
    let total = (SERIES * CANDLES) as f64;

    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("series.csv");
    let mut text = String::from("series,close,high,low,volume\n");
    for (s, candles) in data.iter().enumerate() {
        let series = Series::new(candles);
        for i in 0..series.len() {
            let volume = series.volume[i]
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            writeln!(
                text,
                "{s},{:?},{:?},{:?},{volume}",
                series.close[i], series.high[i], series.low[i]
            )?;
        }
    }
    std::fs::write(&csv, text)?;

    // Rust: preparing the f64 columns once per series is shared by all methods.
    let started = Instant::now();
    let prepared: Vec<Series<'_>> = data.iter().map(|c| Series::new(c)).collect();
    let prepare_seconds = started.elapsed().as_secs_f64();
    let detectors = DetectorConfig::default().build()?;
    let mut rust: BTreeMap<Method, (f64, BTreeSet<Flag>)> = BTreeMap::new();
    for detector in &detectors {
        let started = Instant::now();
        let found: Vec<Vec<_>> = prepared.iter().map(|s| detector.detect(s, 0)).collect();
        let seconds = started.elapsed().as_secs_f64();
        let flags = found
            .iter()
            .enumerate()
            .flat_map(|(s, anomalies)| {
                anomalies.iter().map(move |a| {
                    let index = ((a.open_time - start).num_hours()) as usize;
                    (s, index, a.kind.to_string())
                })
            })
            .collect();
        rust.insert(detector.method(), (seconds, flags));
    }

    let python = std::env::var("TICKWATCH_BENCH_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/tickwatch/venv-detector/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/reference/bench_detector.py"
    );
    let out = dir.path().join("python.json");
    let status = std::process::Command::new(&python)
        .arg(script)
        .arg(&csv)
        .arg(&out)
        .status()?;
    anyhow::ensure!(status.success(), "{python} {script} failed");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out)?)?;

    println!("\n{SERIES} series x {CANDLES} candles = {total} candles per method");
    println!("Rust prepares the f64 columns once for all methods: {prepare_seconds:.3} s\n");
    println!(
        "{:<17} {:>14} {:>14} {:>9}   {:>8} {:>8} {:>8}",
        "method", "rust cand/s", "python cand/s", "speed-up", "rust", "python", "both"
    );
    let (mut rust_total, mut python_total) = (prepare_seconds, 0.0);
    for (method, (seconds, flags)) in &rust {
        let entry = &report["methods"][method.as_str()];
        let py_seconds = entry["seconds"].as_f64().unwrap_or(f64::NAN);
        let py_flags: BTreeSet<Flag> = entry["flags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f[0].as_u64().unwrap_or(0) as usize,
                            f[1].as_u64().unwrap_or(0) as usize,
                            f[2].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        rust_total += seconds;
        python_total += py_seconds;
        let both = flags.intersection(&py_flags).count();
        let note = if *method == Method::IsolationForest {
            "  (different random trees)"
        } else {
            ""
        };
        println!(
            "{:<17} {:>14.0} {:>14.0} {:>8.1}x   {:>8} {:>8} {:>8}{note}",
            method.as_str(),
            total / seconds,
            total / py_seconds,
            py_seconds / seconds,
            flags.len(),
            py_flags.len(),
            both
        );
    }
    println!(
        "{:<17} {:>14.0} {:>14.0} {:>8.1}x   (all methods, candles/s through the whole set)",
        "total",
        total / rust_total,
        total / python_total,
        python_total / rust_total
    );
    Ok(())
}
