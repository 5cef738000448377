//! `make eval-detector`: the evaluation table over a large seeded set of labelled series —
//! every method, the consensus and the windowed-Gaussian baseline — on the held-out seeds, and
//! the threshold sweep on the tuning seeds the default was chosen from.
//!
//! `EVAL_SEEDS=n` sets how many held-out seeds (default 24), `EVAL_CANDLES` the candles per
//! series (default 6000); `EVAL_SWEEP=0` skips the sweep. The detector configuration comes from
//! the environment like the detector's own (`DETECTOR_*`), so a candidate default can be
//! measured on the tuning seeds before it is adopted.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a report on stdout"
)]

use tickwatch::config::Env;
use tickwatch::detect::eval::generator::LabelledSeries;
use tickwatch::detect::eval::{
    CONSENSUS, HELD_OUT_SEEDS, Report, Row, TUNING_SEEDS, evaluate_at, meets_aims, operating_point,
    row_for_flags, suite,
};
use tickwatch::detect::{DetectorConfig, Scorer, Series};

fn main() {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seeds = number("EVAL_SEEDS", HELD_OUT_SEEDS.end - HELD_OUT_SEEDS.start);
    let candles = number("EVAL_CANDLES", 6_000) as usize;
    let config = DetectorConfig::from_env(&Env::process()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    if number("EVAL_SWEEP", 1) == 1 {
        sweep(&config, candles);
    }
    // EVAL_TUNING=1 prints the table on the tuning seeds instead, to compare candidates there.
    let held_out = if number("EVAL_TUNING", 0) == 1 {
        TUNING_SEEDS
    } else {
        HELD_OUT_SEEDS.start..HELD_OUT_SEEDS.start + seeds
    };
    println!("\nseeds {held_out:?}:");
    let series = suite(held_out, candles);
    // EVAL_HASH=1 prints a hash of every score, statistic and p instead: two builds that print
    // the same hash score every candle bit for bit alike (for speed work that must not change
    // a score).
    if number("EVAL_HASH", 0) == 1 {
        println!("scores hash {:016x}", scores_hash(&series, &config));
        return;
    }
    // The same sweep on these seeds (information: the default is chosen on the tuning seeds),
    // then the full table at the configured threshold.
    let mut thresholds = THRESHOLDS.to_vec();
    thresholds.push(config.events.threshold);
    let mut reports = evaluate_at(&series, &config, &thresholds);
    let mut report = reports.pop().expect("one report per threshold");
    print_sweep(&reports);
    // EVAL_EXPORT=file writes the series as JSON (for running another detector version on
    // them); EVAL_FLAGS=file reads that version's flags back as extra rows.
    if let Ok(path) = std::env::var("EVAL_EXPORT") {
        export(&series, &path);
    }
    if let Ok(path) = std::env::var("EVAL_FLAGS") {
        report.rows.extend(external_rows(&series, &path));
    }
    println!("{}", report.table());
    print_calibration(&report);
}

/// How often each method and the consensus reached each severity on the quiet series,
/// against a calibrated `p` (observed / expected candles; 1 is calibrated).
fn print_calibration(report: &Report) {
    println!(
        "\ncalibration on quiet series (candles at or above each floor, observed / expected):"
    );
    let Some((_, first)) = report.calibration.first() else {
        return;
    };
    print!("{:<18}", "detector");
    for level in first {
        print!(" {:>9}", level.severity.as_str());
    }
    println!();
    print!("{:<18}", "expected candles");
    for level in first {
        print!(" {:>9.1}", level.expected);
    }
    println!();
    for (name, levels) in &report.calibration {
        print!("{name:<18}");
        for level in levels {
            print!(" {:>8.2}x", level.ratio());
        }
        println!();
    }
}

fn scores_hash(series: &[LabelledSeries], config: &DetectorConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let scorer = Scorer::new(config).unwrap_or_else(|e| panic!("invalid config: {e}"));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for s in series {
        for score in scorer.score(&Series::new(&s.candles), 0) {
            score.p.map(f64::to_bits).hash(&mut hasher);
            for r in &score.readings {
                (r.method.as_str(), r.statistic.to_bits(), r.p.to_bits()).hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

fn export(series: &[LabelledSeries], path: &str) {
    let out: Vec<serde_json::Value> = series
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "interval": s.market.interval().as_str(),
                "candles": s.candles.iter().map(|c| serde_json::json!([
                    c.open_time.timestamp(), c.open.to_string(), c.high.to_string(),
                    c.low.to_string(), c.close.to_string(), c.volume.map(|v| v.to_string()),
                ])).collect::<Vec<_>>(),
            })
        })
        .collect();
    if let Err(e) = std::fs::write(path, serde_json::to_vec(&out).unwrap_or_default()) {
        eprintln!("{path}: {e}");
    }
}

/// Reads `{"detector": {"series name": [flagged candle indices]}}`.
fn external_rows(series: &[LabelledSeries], path: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let Some(detectors) = parsed.as_object() else {
        eprintln!("{path}: not a JSON object");
        return Vec::new();
    };
    detectors
        .iter()
        .map(|(name, per_series)| {
            let flags: Vec<Vec<bool>> = series
                .iter()
                .map(|s| {
                    let mut flags = vec![false; s.candles.len()];
                    for i in per_series[&s.name].as_array().into_iter().flatten() {
                        if let Some(i) = i.as_u64().and_then(|i| flags.get_mut(i as usize)) {
                            *i = true;
                        }
                    }
                    flags
                })
                .collect();
            row_for_flags(name, series, &flags)
        })
        .collect()
}

/// Thresholds of the sweep: the severity boundaries and the range between them.
const THRESHOLDS: [f64; 20] = [
    0.185, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425, 0.45, 0.475, 0.5, 0.525,
    0.562, 0.6, 0.65, 0.7, 0.781,
];

fn sweep(config: &DetectorConfig, candles: usize) {
    println!("threshold sweep on the tuning seeds {TUNING_SEEDS:?} (consensus):");
    let reports = evaluate_at(&suite(TUNING_SEEDS, candles), config, &THRESHOLDS);
    print_sweep(&reports);
    match operating_point(&reports) {
        Some(t) => println!(
            "operating point (best NAB standard among thresholds meeting the aims): {t:.3}"
        ),
        None => println!("no threshold meets the aims on the tuning seeds"),
    }
}

/// One line per threshold; `*` marks those meeting the aims.
fn print_sweep(reports: &[Report]) {
    println!(
        "{:>9} {:>8} {:>6} {:>8} {:>8} {:>9} {:>8} {:>9} {:>10} {:>5} {:>5}",
        "threshold",
        "NAB std",
        "F1",
        "recall",
        "prec",
        ">=6σ rec",
        "gap rec",
        "6σ local",
        "alerts/wk",
        "flat",
        "aims"
    );
    for report in reports {
        if let Some(row) = report.row(CONSENSUS) {
            println!(
                "{:>9.3} {:>8.1} {:>6.2} {:>8.3} {:>8.2} {:>9.3} {:>8.3} {:>9.3} {:>10.2} {:>5} {:>5}",
                report.threshold,
                row.nab.normalised(0),
                row.nab.f1(),
                row.nab.recall(),
                row.nab.precision(),
                row.big_move_recall(),
                row.after_gap_recall(),
                ratio(row.big_moves_local),
                row.alerts_per_week(),
                row.flat_findings,
                if meets_aims(report) { "*" } else { "" }
            );
        }
    }
}

fn ratio((found, all): (usize, usize)) -> f64 {
    if all == 0 {
        0.0
    } else {
        found as f64 / all as f64
    }
}
