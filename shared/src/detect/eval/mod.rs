//! The evaluation suite: labelled market-like series ([`generator`]), NAB scoring ([`nab`]),
//! and a table of every method, the consensus and a windowed-Gaussian baseline.
//!
//! `make eval-detector` prints the table over a large seeded set (held-out seeds, distinct
//! from the tuning seeds the defaults were chosen on); `make test` runs a small set as a
//! regression guard (`tests` below). A detector "detects" a candle when its score reaches the
//! event threshold: a single method's score is its own calibrated `p` on the recurrence scale,
//! the consensus score is what the detector stores, and the baseline's is the two-sided normal
//! tail of the return's z-score against the previous [`BASELINE_WINDOW`] returns (the windowed
//! Gaussian of the NAB, on log returns). A second baseline, [`nab_windowed_gaussian`], is the
//! NAB's own reference detector as published: the raw value (here the close), an expanding
//! window of up to [`NAB_WINDOW`] values that then slides in steps of [`NAB_STEP`], population
//! spread, one-sided normal tail. Both are reported, each in its own row. The first
//! [`WARM_UP`] candles of every series are the NAB's probationary period: detections there are
//! not counted.

pub mod generator;
pub mod nab;

use std::fmt::Write as _;
use std::ops::Range;

use chrono::TimeDelta;

use self::generator::{Injection, LabelledSeries, Market, Role, WARM_UP, generate};
use self::nab::{Tally, Window};
use super::rolling::ExactMoments;
use super::{DetectorConfig, Scorer, Series, recurrence};
use crate::model::{Method, Severity};

/// Returns in the baseline's window.
pub const BASELINE_WINDOW: usize = 1_000;
/// Values in the NAB windowed-Gaussian detector's window (its published setting).
pub const NAB_WINDOW: usize = 6_400;
/// Values the NAB windowed-Gaussian detector's full window slides by at once.
pub const NAB_STEP: usize = 100;
/// The spread the NAB detector uses when its window has none.
const NAB_MIN_STD: f64 = 1e-6;

/// Seeds the defaults were chosen on.
pub const TUNING_SEEDS: Range<u64> = 0..12;
/// Seeds the reported figures come from.
pub const HELD_OUT_SEEDS: Range<u64> = 1_000..1_024;

/// For each seed and market a labelled and a quiet series, and for each seed one flat series.
pub fn suite(seeds: Range<u64>, candles: usize) -> Vec<LabelledSeries> {
    let mut out = Vec::new();
    for seed in seeds {
        for (m, market) in Market::ALL.iter().enumerate() {
            let s = seed * 16 + m as u64;
            out.push(generate(s, *market, Role::Labelled, candles));
            out.push(generate(s + 8, *market, Role::Quiet, candles));
        }
        let flat = Market::ALL[(seed % 4) as usize];
        out.push(generate(seed * 16 + 15, flat, Role::Flat, candles));
    }
    out
}

/// `erfc(x)` for `x ≥ 0` (Chebyshev fit, relative error below 1.2e-7 everywhere, tails included).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t * poly.exp()
}

/// The windowed-Gaussian baseline's tail probability per candle.
pub fn baseline(series: &Series<'_>) -> Vec<Option<f64>> {
    let mut window = ExactMoments::new(BASELINE_WINDOW);
    series
        .log_return
        .iter()
        .map(|r| {
            let p = r.and_then(|r| {
                if window.count() < 100 {
                    return None;
                }
                let (mean, std) = (window.mean()?, window.std(1)?);
                (std > 0.0).then(|| erfc(((r - mean) / std).abs() / std::f64::consts::SQRT_2))
            });
            window.push(*r);
            p
        })
        .collect()
}

/// The NAB's windowed-Gaussian reference detector on the close, as the NAB defines it: each
/// value is judged against the mean and population standard deviation of the values before it
/// (all of them until there are [`NAB_WINDOW`], then a window that moves on by [`NAB_STEP`]
/// values at a time, so it is refreshed every `NAB_STEP` candles), and its anomaly score is one
/// minus the upper normal tail of `|z|`; the tail itself is returned here as `p`. The first
/// value is not judged. A spread of 0 counts as `NAB_MIN_STD` (10⁻⁶).
pub fn nab_windowed_gaussian(values: &[f64]) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut window: Vec<f64> = Vec::new();
    let mut pending: Vec<f64> = Vec::new();
    let (mut mean, mut std) = (0.0, 1.0);
    // While the window grows, Welford's update keeps the moments without summing it again.
    let (mut count, mut running_mean, mut m2) = (0.0, 0.0, 0.0);
    let moments = |window: &[f64]| {
        let n = window.len() as f64;
        let mean = window.iter().sum::<f64>() / n;
        let var = window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    };
    for &value in values {
        out.push((!window.is_empty() && value.is_finite()).then(|| {
            let z = (value - mean).abs() / std;
            0.5 * erfc(z / std::f64::consts::SQRT_2)
        }));
        if !value.is_finite() {
            continue;
        }
        if window.len() < NAB_WINDOW {
            window.push(value);
            count += 1.0;
            let delta = value - running_mean;
            running_mean += delta / count;
            m2 += delta * (value - running_mean);
            mean = running_mean;
            std = (m2 / count).max(0.0).sqrt();
        } else {
            pending.push(value);
            if pending.len() == NAB_STEP {
                window.drain(..NAB_STEP);
                window.append(&mut pending);
                (mean, std) = moments(&window);
            }
        }
        if std == 0.0 {
            std = NAB_MIN_STD;
        }
    }
    out
}

/// One row of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// A method's name, or one of [`CONSENSUS`], [`CONSENSUS_EVENTS`], [`BASELINE`],
    /// [`BASELINE_NAB`].
    pub name: String,
    /// NAB counts and scores over the labelled series.
    pub nab: Tally,
    /// Labels of big moves (≥ 6σ, one candle) detected / present, and those after a gap.
    pub big_moves: (usize, usize),
    /// Labels of jumps after a gap (a weekend, a night) detected / present.
    pub after_gap: (usize, usize),
    /// One-candle moves of ≥ 6 *conditional* σ at the point they land on, detected / present
    /// (information beside `big_moves`, not a replacement: see [`Label::local_sigmas`]).
    ///
    /// [`Label::local_sigmas`]: generator::Label::local_sigmas
    pub big_moves_local: (usize, usize),
    /// One-candle moves of ≥ 6 long-run σ, detected / present.
    pub big_moves_long_run: (usize, usize),
    /// Alerts (runs of detections, merged like events) on quiet series, and their weeks.
    pub quiet_alerts: usize,
    /// Calendar weeks the quiet series span: the denominator of the alert rate.
    pub quiet_weeks: f64,
    /// Detections on flat series.
    pub flat_findings: usize,
    /// Per injection kind: detected / present.
    pub by_kind: Vec<(Injection, usize, usize)>,
}

impl Row {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            by_kind: Injection::ALL.iter().map(|k| (*k, 0, 0)).collect(),
            ..Self::default()
        }
    }

    /// False alerts per week of quiet series, to hold against the one-a-week budget.
    pub fn alerts_per_week(&self) -> f64 {
        if self.quiet_weeks > 0.0 {
            self.quiet_alerts as f64 / self.quiet_weeks
        } else {
            0.0
        }
    }

    /// Share of big-move labels detected; 0 when there were none.
    pub fn big_move_recall(&self) -> f64 {
        ratio(self.big_moves)
    }

    /// Share of jumps after a gap detected; 0 when there were none.
    pub fn after_gap_recall(&self) -> f64 {
        ratio(self.after_gap)
    }
}

/// The aims for the consensus at its operating point, the constraints the default
/// threshold is chosen under: ≥ 95 % of ≥ 6σ moves found, also right after a gap; at most
/// one alert per symbol per week on quiet series; nothing on flat series; and a NAB standard
/// score above every single method's.
pub const AIM_BIG_MOVE_RECALL: f64 = 0.95;
/// The alert budget on quiet series, per symbol per week.
pub const AIM_ALERTS_PER_WEEK: f64 = 1.0;

/// Whether the consensus of `report` meets every aim (see [`AIM_BIG_MOVE_RECALL`]).
pub fn meets_aims(report: &Report) -> bool {
    let Some(consensus) = report.row(CONSENSUS) else {
        return false;
    };
    let score = consensus.nab.normalised(0);
    consensus.big_move_recall() >= AIM_BIG_MOVE_RECALL
        && consensus.after_gap_recall() >= AIM_BIG_MOVE_RECALL
        && consensus.alerts_per_week() <= AIM_ALERTS_PER_WEEK
        && consensus.flat_findings == 0
        && method_rows(report).all(|m| score > m.nab.normalised(0))
}

/// The operating point: of `reports` (one scoring at several thresholds), the threshold with
/// the best NAB standard score of the consensus among those that meet the aims; `None` when
/// none does. The aims come from the requirement, not from the data, so choosing under them
/// fits nothing but the one number the NAB then decides.
pub fn operating_point(reports: &[Report]) -> Option<f64> {
    reports
        .iter()
        .filter(|r| meets_aims(r))
        .filter_map(|r| Some((r.threshold, r.row(CONSENSUS)?.nab.normalised(0))))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(threshold, _)| threshold)
}

fn ratio((found, all): (usize, usize)) -> f64 {
    if all == 0 {
        0.0
    } else {
        found as f64 / all as f64
    }
}

/// The whole evaluation.
#[derive(Debug, Clone)]
pub struct Report {
    /// One row per enabled method, then the consensus and the baselines.
    pub rows: Vec<Row>,
    /// The score at which a candle counts as detected.
    pub threshold: f64,
    /// Series evaluated (labelled, quiet and flat).
    pub series: usize,
    /// Candles over all of them.
    pub candles: usize,
    /// The big moves (≥ 6σ, one candle) the consensus missed, for the breakdown.
    pub misses: Vec<Miss>,
    /// How often each method and the consensus reached each severity on quiet series,
    /// against the scale's promise, by row name (the methods, then [`CONSENSUS`]); the same
    /// at every threshold.
    pub calibration: Vec<(String, Vec<Calibration>)>,
}

/// How often the consensus scores a candle of a quiet series at or above a severity's floor,
/// against how often a calibrated `p` would. A floor at a recurrence of `T` days is reached by
/// `span / T` candles of a series spanning `span` days, whatever its interval (the score is on
/// the calendar scale, see [`recurrence`]). A ratio above 1: `p` overstates rarity there, and
/// alerts come more often than the scale promises; below 1, it understates it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// The severity whose floor is counted.
    pub severity: Severity,
    /// Candles of quiet series at or above the floor (after the warm-up).
    pub observed: usize,
    /// What a calibrated `p` gives: the quiet series' days over the floor's recurrence.
    pub expected: f64,
}

impl Calibration {
    /// One per severity, nothing counted yet.
    pub fn levels() -> Vec<Self> {
        Severity::ALL
            .iter()
            .map(|&severity| Self {
                severity,
                observed: 0,
                expected: 0.0,
            })
            .collect()
    }

    /// Observed over expected (1 is calibrated; NaN before anything was expected).
    pub fn ratio(&self) -> f64 {
        self.observed as f64 / self.expected
    }
}

/// Adds one quiet series to `levels`: its judged candles' consensus scores, and the days they
/// span.
pub fn calibrate(levels: &mut [Calibration], scores: &[Option<f64>], span_days: f64) {
    for level in levels {
        let floor = recurrence::severity_floor(level.severity);
        level.observed += scores.iter().flatten().filter(|s| **s >= floor).count();
        level.expected += span_days / recurrence::floor_days(level.severity);
    }
}

/// A big move the consensus missed, and what came closest to catching it.
#[derive(Debug, Clone)]
pub struct Miss {
    /// The market the missed series imitates.
    pub market: Market,
    /// What was injected.
    pub kind: Injection,
    /// The injected move's size, in standard deviations of the series' returns.
    pub sigmas: f64,
    /// The same move in conditional σ at the point it landed on.
    pub local_sigmas: f64,
    /// Intervals the missed candle's return spans (1 in session, more after a gap).
    pub elapsed: f64,
    /// Gap returns among the 1000 candles before the move: the history a gap return is judged
    /// against.
    pub gap_history: usize,
    /// The highest consensus score inside the label's window.
    pub consensus_peak: f64,
    /// The method with the highest score of its own inside the window, and that score.
    pub closest: Option<(Method, f64)>,
}

impl Report {
    /// The row named `name` (see [`Row::name`]), if the report has it.
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// The table `make eval-detector` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} series, {} candles, threshold {:.3}\n",
            self.series, self.candles, self.threshold
        );
        let _ = writeln!(
            out,
            "{:<17} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5}",
            "detector",
            "NAB std",
            "low FP",
            "low FN",
            "prec",
            "recall",
            "F1",
            ">=6σ rec",
            "gap rec",
            "6σ local",
            "6σ long",
            "alerts/wk",
            "flat"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<17} {:>8.1} {:>8.1} {:>8.1} {:>6.2} {:>6.2} {:>6.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>5}",
                row.name,
                row.nab.normalised(0),
                row.nab.normalised(1),
                row.nab.normalised(2),
                row.nab.precision(),
                row.nab.recall(),
                row.nab.f1(),
                row.big_move_recall(),
                row.after_gap_recall(),
                ratio(row.big_moves_local),
                ratio(row.big_moves_long_run),
                row.alerts_per_week(),
                row.flat_findings,
            );
        }
        if let Some(consensus) = self.row(CONSENSUS) {
            let _ = writeln!(out, "\nconsensus recall by injected kind:");
            for (kind, found, all) in &consensus.by_kind {
                let _ = writeln!(out, "  {:<17} {found:>4} / {all:<4}", kind.name());
            }
        }
        out.push_str(&self.misses_table());
        out
    }

    /// The big moves the consensus missed, counted by market and kind, by how big they were,
    /// by how close the consensus came and by the method that came closest.
    pub fn misses_table(&self) -> String {
        use std::collections::BTreeMap;
        let mut out = String::new();
        if self.misses.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\n≥ 6σ moves the consensus missed: {}",
            self.misses.len()
        );
        let mut count = |title: &str, key: &dyn Fn(&Miss) -> String| {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            for miss in &self.misses {
                *by.entry(key(miss)).or_default() += 1;
            }
            let cells: Vec<String> = by.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(out, "  {title:<22} {}", cells.join(", "));
        };
        count("by market and kind", &|m| {
            format!("{}/{}", m.market.name(), m.kind.name())
        });
        count("by size", &|m| {
            format!("{:>2}σ", (m.sigmas / 2.0).floor() as u32 * 2)
        });
        count("by conditional size", &|m| {
            format!("{:>2}σ", (m.local_sigmas / 2.0).floor() as u32 * 2)
        });
        count("after a gap, by gap", &|m| {
            if m.elapsed > 1.0 {
                format!("{:.0} intervals", m.elapsed)
            } else {
                "in session".to_owned()
            }
        });
        count("after a gap, history", &|m| {
            if m.elapsed > 1.0 {
                format!("{} gap returns", (m.gap_history / 20) * 20)
            } else {
                "in session".to_owned()
            }
        });
        count("by consensus peak", &|m| {
            format!("{:.1}", (m.consensus_peak * 10.0).floor() / 10.0)
        });
        count("by closest method", &|m| {
            m.closest.map_or("none".to_owned(), |(method, score)| {
                let reached = if score >= self.threshold { "+" } else { "" };
                format!("{}{reached}", method.as_str())
            })
        });
        out
    }
}

/// The row name of the consensus.
pub const CONSENSUS: &str = "consensus";
/// The row name of the consensus counted by its events: only the first candle of each event
/// (runs of flagged candles fewer than `merge_within` calm candles apart are one event) is a
/// detection, as only it raises an alert.
pub const CONSENSUS_EVENTS: &str = "consensus events";
/// The row name of the baseline.
pub const BASELINE: &str = "windowed gaussian";
/// The row name of the NAB's own windowed-Gaussian detector.
pub const BASELINE_NAB: &str = "wgauss (NAB)";

/// Runs the suite `series` with `config` at its event threshold.
pub fn evaluate(series: &[LabelledSeries], config: &DetectorConfig) -> Report {
    evaluate_at(series, config, &[config.events.threshold])
        .pop()
        .expect("one threshold, one report")
}

/// Runs the suite `series` with `config` once and reports it at each of `thresholds` (the
/// scores do not depend on the threshold, so a sweep costs one scoring).
pub fn evaluate_at(
    series: &[LabelledSeries],
    config: &DetectorConfig,
    thresholds: &[f64],
) -> Vec<Report> {
    let scorer = Scorer::new(config).unwrap_or_else(|e| panic!("invalid config: {e}"));
    let methods = scorer.methods();
    let fresh = || {
        let mut rows: Vec<Row> = methods.iter().map(|m| Row::new(m.as_str())).collect();
        rows.push(Row::new(CONSENSUS));
        rows.push(Row::new(CONSENSUS_EVENTS));
        rows.push(Row::new(BASELINE));
        rows.push(Row::new(BASELINE_NAB));
        rows
    };
    let mut reports: Vec<Report> = thresholds
        .iter()
        .map(|&threshold| Report {
            rows: fresh(),
            threshold,
            series: series.len(),
            candles: 0,
            misses: Vec::new(),
            calibration: Vec::new(),
        })
        .collect();
    // The methods' rows, then the consensus: the first `methods.len() + 1` score rows.
    let mut calibration: Vec<(String, Vec<Calibration>)> = methods
        .iter()
        .map(|m| m.as_str().to_owned())
        .chain([CONSENSUS.to_owned()])
        .map(|name| (name, Calibration::levels()))
        .collect();
    for s in series {
        let prepared = Series::new(&s.candles);
        let interval = s.market.interval();
        let scores = scorer.score(&prepared, 0);
        let gaussian = baseline(&prepared);
        // Per row, each candle's score on the recurrence scale.
        let row_scores: Vec<Vec<Option<f64>>> = methods
            .iter()
            .map(|m| {
                scores
                    .iter()
                    .map(|c| c.readings.iter().find(|r| r.method == *m).map(|r| r.p))
                    .collect()
            })
            .collect();
        // The methods and the consensus on the detector's calendar scale, as it stores them.
        let candle_seconds: Vec<f64> = (0..prepared.len())
            .map(|i| scorer.candle_seconds(&prepared, i))
            .collect();
        let mut row_scores: Vec<Vec<Option<f64>>> = row_scores
            .into_iter()
            .map(|ps| {
                ps.into_iter()
                    .zip(&candle_seconds)
                    .map(|(p, seconds)| p.map(|p| recurrence::score_over(p, *seconds)))
                    .collect()
            })
            .collect();
        row_scores.push(scores.iter().map(|c| c.score).collect());
        // The baselines keep their own operating point: one interval per candle.
        for ps in [gaussian, nab_windowed_gaussian(&prepared.close)] {
            row_scores.push(
                ps.into_iter()
                    .map(|p| p.map(|p| recurrence::score(p, interval)))
                    .collect(),
            );
        }
        let spans: Vec<(usize, usize)> = s.labels.iter().map(|l| (l.start, l.end)).collect();
        let windows = nab::windows(s.candles.len(), &spans);
        let consensus = methods.len();
        if s.role == Role::Quiet {
            let from = WARM_UP.min(s.candles.len());
            let days = judged_weeks(s) * 7.0;
            for ((_, levels), scores) in calibration.iter_mut().zip(&row_scores) {
                calibrate(levels, &scores[from..], days);
            }
        }
        for report in &mut reports {
            report.candles += s.candles.len();
            let flagged = |values: &[Option<f64>]| -> Vec<bool> {
                values
                    .iter()
                    .map(|v| v.is_some_and(|v| v >= report.threshold))
                    .collect()
            };
            // Rows: the methods, the consensus, its events, then the baselines.
            let merge = config.events.merge_within;
            for (r, row) in report.rows.iter_mut().enumerate() {
                let detections = match r.cmp(&(consensus + 1)) {
                    std::cmp::Ordering::Less => flagged(&row_scores[r]),
                    std::cmp::Ordering::Equal => {
                        event_onsets(&flagged(&row_scores[consensus]), merge)
                    }
                    std::cmp::Ordering::Greater => flagged(&row_scores[r - 1]),
                };
                tally(row, s, &detections, merge);
            }
            for (label, window) in s.labels.iter().zip(&windows) {
                let peak = |values: &[Option<f64>]| {
                    values[window.start..=window.end]
                        .iter()
                        .flatten()
                        .copied()
                        .fold(0.0, f64::max)
                };
                let consensus_peak = peak(&row_scores[consensus]);
                if !label.kind.is_big_move() || consensus_peak >= report.threshold {
                    continue;
                }
                let closest = methods
                    .iter()
                    .zip(&row_scores)
                    .map(|(m, values)| (*m, peak(values)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                let since = label.start.saturating_sub(1_000);
                report.misses.push(Miss {
                    market: s.market,
                    kind: label.kind,
                    sigmas: label.sigmas,
                    local_sigmas: label.local_sigmas,
                    elapsed: prepared.elapsed[label.start],
                    gap_history: (since..label.start)
                        .filter(|&i| prepared.after_gap(i))
                        .count(),
                    consensus_peak,
                    closest,
                });
            }
        }
    }
    for report in &mut reports {
        report.calibration.clone_from(&calibration);
    }
    reports
}

/// The first candle of each event in `flagged`: runs closer than `merge_within` calm candles
/// are one event, as [`super::events::derive`] stores them.
pub fn event_onsets(flagged: &[bool], merge_within: usize) -> Vec<bool> {
    let mut last: Option<usize> = None;
    flagged
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if !*f {
                return false;
            }
            let onset = last.is_none_or(|l| i - l > merge_within + 1);
            last = Some(i);
            onset
        })
        .collect()
}

/// The calendar weeks a series spans after its warm-up: the time its judged candles cover.
fn judged_weeks(s: &LabelledSeries) -> f64 {
    let span = match (s.candles.get(WARM_UP), s.candles.last()) {
        (Some(a), Some(b)) => b.open_time - a.open_time,
        _ => TimeDelta::zero(),
    };
    span.num_seconds() as f64 / (7.0 * 86_400.0)
}

/// Adds what `detections` did on `s` to `row`.
fn tally(row: &mut Row, s: &LabelledSeries, detections: &[bool], merge_within: usize) {
    match s.role {
        Role::Flat => row.flat_findings += detections.iter().filter(|d| **d).count(),
        Role::Quiet => {
            let judged = &detections[WARM_UP.min(detections.len())..];
            let mut alerts = 0;
            let mut last: Option<usize> = None;
            for (i, _) in judged.iter().enumerate().filter(|(_, d)| **d) {
                if last.is_none_or(|l| i - l > merge_within + 1) {
                    alerts += 1;
                }
                last = Some(i);
            }
            row.quiet_alerts += alerts;
            row.quiet_weeks += judged_weeks(s);
        }
        Role::Labelled => {
            let spans: Vec<(usize, usize)> = s.labels.iter().map(|l| (l.start, l.end)).collect();
            let windows: Vec<Window> = nab::windows(s.candles.len(), &spans);
            row.nab.add(&nab::score(detections, &windows, WARM_UP));
            for (label, window) in s.labels.iter().zip(&windows) {
                let found = (window.start..=window.end).any(|i| detections[i]);
                if let Some(entry) = row.by_kind.iter_mut().find(|(k, _, _)| *k == label.kind) {
                    entry.1 += usize::from(found);
                    entry.2 += 1;
                }
                if label.kind.is_big_move() {
                    row.big_moves.0 += usize::from(found);
                    row.big_moves.1 += 1;
                }
                if label.kind == Injection::JumpAfterGap {
                    row.after_gap.0 += usize::from(found);
                    row.after_gap.1 += 1;
                }
                for (count, size) in [
                    (&mut row.big_moves_local, label.local_sigmas),
                    (&mut row.big_moves_long_run, label.long_run_sigmas),
                ] {
                    if label.kind.is_big_move() && size >= 6.0 {
                        count.0 += usize::from(found);
                        count.1 += 1;
                    }
                }
            }
        }
    }
}

/// A row for detections made elsewhere (another version of the detector, say): `flags[s][i]`
/// says whether candle `i` of `series[s]` was flagged.
pub fn row_for_flags(name: &str, series: &[LabelledSeries], flags: &[Vec<bool>]) -> Row {
    let mut row = Row::new(name);
    for (s, detections) in series.iter().zip(flags) {
        tally(
            &mut row,
            s,
            detections,
            super::events::EventParams::default().merge_within,
        );
    }
    row
}

/// The method rows of a report, for comparisons.
pub fn method_rows(report: &Report) -> impl Iterator<Item = &Row> {
    report
        .rows
        .iter()
        .filter(|r| Method::parse(&r.name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_seeded_and_labels_what_it_injects() {
        let a = generate(3, Market::StockHourly, Role::Labelled, 4_000);
        let b = generate(3, Market::StockHourly, Role::Labelled, 4_000);
        assert_eq!(a.candles, b.candles);
        assert!(a.labels.len() >= 5);
        assert!(a.labels.iter().any(|l| l.kind == Injection::JumpAfterGap));
        let series = Series::new(&a.candles);
        for label in &a.labels {
            assert!(label.start >= WARM_UP);
            if label.kind == Injection::JumpAfterGap {
                assert!(series.after_gap(label.start), "{label:?}");
            }
            if label.kind == Injection::StaleFeed {
                let c = &a.candles[label.start + 1];
                assert_eq!((c.high, c.close), (c.low, a.candles[label.start].close));
            }
        }
        let flat = generate(4, Market::Crypto1h, Role::Flat, 500);
        assert!(flat.candles.windows(2).all(|w| w[0].close == w[1].close));
        assert!(
            generate(5, Market::Crypto5m, Role::Quiet, 500)
                .labels
                .is_empty()
        );
    }

    #[test]
    fn the_baseline_tail_is_the_normal_one() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(6.0 / std::f64::consts::SQRT_2) - 1.973_175e-9).abs() / 1.973_175e-9 < 1e-5);
    }

    #[test]
    fn an_event_is_counted_once_at_its_first_candle() {
        let f = [
            false, true, true, false, false, true, false, false, false, false, true,
        ];
        let onsets = event_onsets(&f, 2);
        let at: Vec<usize> = (0..f.len()).filter(|i| onsets[*i]).collect();
        // 1, 2 and 5 are at most two calm candles apart: one event; 10 starts another.
        assert_eq!(at, vec![1, 10]);
        assert_eq!(event_onsets(&f, 0).iter().filter(|o| **o).count(), 3);
    }

    #[test]
    fn the_nab_baseline_grows_its_window_then_slides_it_in_steps() {
        let p = nab_windowed_gaussian(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(p[0], None, "nothing to judge the first value against");
        // One value: no spread, so the floor of 1e-6 makes the second value extreme.
        assert!(p[1].expect("judged") < 1e-300);
        // Against [1, 2]: mean 1.5, population σ 0.5, z = 3, Q(3) = 1.349898e-3.
        assert!((p[2].expect("judged") - 1.349_898e-3).abs() < 1e-8);
        // Against [1, 2, 3]: mean 2, σ = √(2/3), z = 2.449490, Q(z) = 7.152939e-3.
        assert!((p[3].expect("judged") - 7.152_939e-3).abs() < 1e-8);

        // A full window of zeros, then tens: the window only moves after a whole step.
        let mut values = vec![0.0; NAB_WINDOW];
        values.extend([10.0; NAB_STEP + 1]);
        let p = nab_windowed_gaussian(&values);
        assert!(
            p[NAB_WINDOW + NAB_STEP - 1].expect("judged") < 1e-300,
            "still all zeros"
        );
        // Now 6300 zeros and 100 tens: mean 0.15625, σ = √(1.5625 − 0.15625²) = 1.240195.
        let z = (10.0 - 0.15625) / (1.5625f64 - 0.15625 * 0.15625).sqrt();
        let expected = 0.5 * erfc(z / std::f64::consts::SQRT_2);
        let got = p[NAB_WINDOW + NAB_STEP].expect("judged");
        assert!(
            (got / expected - 1.0).abs() < 1e-9,
            "{got} against {expected}"
        );
        assert!(z > 7.9 && z < 8.0);
    }

    #[test]
    fn calibration_counts_candles_at_each_floor_against_the_span_over_its_recurrence() {
        let mut levels = Calibration::levels();
        // One score under every floor, then one at or above each floor in turn.
        let scores = [Some(0.1), None, Some(0.2), Some(0.4), Some(0.6), Some(0.9)];
        calibrate(&mut levels, &scores, 70.0);
        calibrate(&mut levels, &[Some(0.781)], 3652.5);
        let observed: Vec<usize> = levels.iter().map(|l| l.observed).collect();
        assert_eq!(observed, [5, 4, 3, 2]);
        let expected: Vec<f64> = levels.iter().map(|l| l.expected).collect();
        let days = 70.0 + 3652.5;
        for (got, want) in
            expected
                .iter()
                .zip([days / 7.0, days / 30.436_875, days / 365.25, days / 3652.5])
        {
            assert!((got - want).abs() < 1e-9, "{got} against {want}");
        }
        assert!((levels[3].ratio() - 2.0 / (days / 3652.5)).abs() < 1e-12);
    }

    /// The regression guard `make test` runs: a small held-out set, thresholds that can fail.
    #[test]
    fn the_consensus_beats_every_method_and_the_baseline_on_a_small_held_out_set() {
        let series = suite(HELD_OUT_SEEDS.start..HELD_OUT_SEEDS.start + 2, 4_000);
        let report = evaluate(&series, &DetectorConfig::default());
        let table = report.table();
        let consensus = report.row(CONSENSUS).expect("consensus row");
        let baseline = report.row(BASELINE).expect("baseline row");
        let score = consensus.nab.normalised(0);
        for method in method_rows(&report) {
            assert!(
                score > method.nab.normalised(0),
                "{} beats the consensus:\n{table}",
                method.name
            );
        }
        // The issue aims at twice the baseline's score and 95 % recall of 6σ moves, also right
        // after a gap; what the default reaches on the held-out seeds is in the README (on this
        // small set: 1.40× the baseline, 22 of the 23 6σ moves, every one after a gap, recall
        // 0.87, 0.05 alerts a week, and 74.5 against 68.5 counted by events). The guard sits
        // just below those figures, so a change that loses one more 6σ move, a few points of
        // score or adds a third more alerts fails it.
        assert!(
            score >= 1.35 * baseline.nab.normalised(0),
            "the consensus is not 35 % ahead of the baseline:\n{table}"
        );
        assert!(consensus.big_move_recall() >= 0.95, "{table}");
        assert!(consensus.after_gap_recall() >= 0.95, "{table}");
        assert!(consensus.nab.recall() >= 0.85, "{table}");
        assert!(consensus.alerts_per_week() <= 0.065, "{table}");
        assert!(meets_aims(&report), "the default misses an aim:\n{table}");
        let events = report.row(CONSENSUS_EVENTS).expect("events row");
        assert!(
            events.nab.normalised(0) >= score,
            "one alert per event scores below one per candle:\n{table}"
        );
        assert_eq!(events.nab.recall(), consensus.nab.recall(), "{table}");
        assert!(
            report
                .row(BASELINE_NAB)
                .is_some_and(|r| r.flat_findings == 0),
            "{table}"
        );
        assert_eq!(consensus.flat_findings, 0, "{table}");
        // Calibration is reported for every severity, over the quiet series' judged weeks.
        let weeks: f64 = series
            .iter()
            .filter(|s| s.role == Role::Quiet)
            .map(judged_weeks)
            .sum();
        assert!(weeks > 0.0);
        let names: Vec<&str> = report.calibration.iter().map(|(n, _)| n.as_str()).collect();
        let rows: Vec<&str> = method_rows(&report).map(|r| r.name.as_str()).collect();
        assert_eq!(names[..names.len() - 1], rows[..]);
        assert_eq!(names.last(), Some(&CONSENSUS));
        for (name, levels) in &report.calibration {
            assert_eq!(levels.len(), 4, "{name}");
            for level in levels {
                let want = weeks * 7.0 / recurrence::floor_days(level.severity);
                assert!((level.expected - want).abs() < 1e-6, "{name}: {level:?}");
            }
        }
    }
}
