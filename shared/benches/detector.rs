//! `make bench-detector`: the whole scoring — every method's statistic, its calibration against
//! its own trailing distribution, and the consensus — over synthetic series, in Rust and in the
//! numpy / pandas / scikit-learn stack doing the same work on the same data.
//!
//! The series are exported to a CSV file, `tests/reference/bench_detector.py` scores them
//! (its statistics are the reference formulas of `make_fixtures.py`; its isolation forests are
//! scikit-learn's, refitted on the same absolute-time schedule), and this prints candles per
//! second for each side and the speed-up per method and in total. Python is slower, so it scores
//! the first `PY_SERIES` series; both rates are per candle.
//!
//! Python: `TICKWATCH_BENCH_PYTHON` (default: the venv `make bench-detector` prepares).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark may stop at the first failure"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tickwatch::detect::calibrate::calibrate;
use tickwatch::detect::{DetectorConfig, Scorer, Series};
use tickwatch::model::{Interval, Symbol};
use tickwatch::providers::synthetic::{SyntheticParams, generate};

const SERIES: usize = 100;
const PY_SERIES: usize = 10;
const CANDLES: usize = 10_000;

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
    let mut text = String::from("series,open_seconds,close,high,low,volume\n");
    for (s, candles) in data.iter().take(PY_SERIES).enumerate() {
        let series = Series::new(candles);
        for i in 0..series.len() {
            let volume = series.volume[i]
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            writeln!(
                text,
                "{s},{},{:?},{:?},{:?},{volume}",
                series.open_seconds[i], series.close[i], series.high[i], series.low[i]
            )?;
        }
    }
    std::fs::write(&csv, text)?;

    let config = DetectorConfig::default();
    let scorer = Scorer::new(&config)?;
    // Per method: its statistics and their calibration, each on a freshly prepared series so
    // no method gets another's cached work (the conditional-volatility filter is shared).
    let mut rust: BTreeMap<String, f64> = BTreeMap::new();
    for detector in config.build()? {
        let started = Instant::now();
        for candles in &data {
            let series = Series::new(candles);
            let readings = detector.readings(&series);
            std::hint::black_box(calibrate(&readings, &config.calibration));
        }
        rust.insert(
            detector.method().as_str().to_owned(),
            started.elapsed().as_secs_f64(),
        );
    }
    // The whole scoring, preparation and consensus included, as the detector runs it.
    let started = Instant::now();
    let mut flagged = 0usize;
    for candles in &data {
        let scores = scorer.score(&Series::new(candles), 0);
        flagged += scores
            .iter()
            .filter(|s| s.score.is_some_and(|v| v >= config.events.threshold))
            .count();
    }
    let whole_seconds = started.elapsed().as_secs_f64();

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
    let py_total = (PY_SERIES * CANDLES) as f64;

    println!("\nRust: {SERIES} series x {CANDLES} candles; Python: {PY_SERIES} series x {CANDLES}");
    println!("statistic + calibration per method, then the whole scoring with the consensus\n");
    println!(
        "{:<17} {:>14} {:>14} {:>9}",
        "method", "rust cand/s", "python cand/s", "speed-up"
    );
    for (method, seconds) in &rust {
        let py = report["methods"][method.as_str()]["seconds"]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "{:<17} {:>14.0} {:>14.0} {:>8.1}x",
            method,
            total / seconds,
            py_total / py,
            (py / py_total) / (seconds / total)
        );
    }
    let py_whole = report["total_seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "{:<17} {:>14.0} {:>14.0} {:>8.1}x   (every method, calibration and consensus)",
        "whole scoring",
        total / whole_seconds,
        py_total / py_whole,
        (py_whole / py_total) / (whole_seconds / total)
    );
    println!(
        "\nRust flagged {flagged} of {total} candles at the default threshold; Python {} of {py_total}",
        report["flagged"]
    );
    Ok(())
}
