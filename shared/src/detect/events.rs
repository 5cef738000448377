//! Events: runs of candles whose consensus score passes the threshold.
//!
//! A run starts at the first candle at or above the threshold and ends at the last one;
//! runs separated by fewer than `merge_within` calmer candles are one event (a volatility
//! burst is one thing that happened, not five). An event keeps its peak (the candle with the
//! highest score, the earliest of equals), the severity of that peak, the methods that
//! contributed and their evidence at the peak. Derived from stored scores only, so the same
//! scores always give the same events however the work was split.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::config::InvalidParams;
use super::recurrence;
use super::score::{CandleScore, MethodReading};
use super::{Group, round};
use crate::model::{AnomalyKind, Interval, Method, Severity};

/// How scored candles become events (`DETECTOR_EVENTS_*`, override key `events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventParams {
    /// Consensus score at or above which a candle is anomalous (see [`recurrence`]).
    pub threshold: f64,
    /// Runs fewer than this many calmer candles apart are one event.
    pub merge_within: usize,
}

impl Default for EventParams {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            merge_within: 3,
        }
    }
}

/// The default event threshold: a consensus rarer than about once in eighteen months (score 0.6,
/// inside `high`). The rule: the best NAB standard score of the threshold sweep on the
/// evaluation suite's tuning seeds (`make eval-detector` prints it) among the thresholds at
/// which the consensus meets the aims — ≥ 95 % recall of ≥ 6σ moves, also right after
/// a gap; at most one alert per symbol per week on quiet series; nothing on flat series; a NAB
/// score above every single method's (see [`super::eval::meets_aims`]). The reported figures
/// come from the held-out seeds.
pub const DEFAULT_THRESHOLD: f64 = 0.6;

impl EventParams {
    pub(crate) fn validate(&self) -> Result<(), InvalidParams> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(InvalidParams::new(
                "events",
                "threshold",
                "must lie in (0, 1]",
            ));
        }
        if self.merge_within > 1_000 {
            return Err(InvalidParams::new(
                "events",
                "merge_within",
                "must lie in 0..=1000",
            ));
        }
        Ok(())
    }
}

/// One event, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Open time of the first candle at or above the threshold.
    pub start: DateTime<Utc>,
    /// Open time of the last such candle (inclusive; equal to `start` for one candle).
    pub end: DateTime<Utc>,
    /// Open time of the candle with the highest consensus score.
    pub peak_time: DateTime<Utc>,
    /// That candle's consensus score in `[0, 1]` (the recurrence scale of [`recurrence`]).
    pub peak_score: f64,
    /// Severity of the peak score; `low` when the peak lies below every severity floor.
    pub severity: Severity,
    /// Candles from start to end.
    pub candles: usize,
    /// What the peak's strongest contributing group saw (spike, drop, volume, stale feed, …).
    pub kind: AnomalyKind,
    /// Methods that contributed, in `Method::ALL` order.
    pub methods: Vec<Method>,
    /// Evidence stored with the event: the peak's readings and probability, each method's
    /// strongest reading in the run, and the threshold used.
    pub details: Value,
}

/// Whether a reading is rare enough on its own to count as a contribution: rarer than weekly.
fn contributes(reading: &MethodReading, interval: Interval) -> bool {
    recurrence::score(reading.p, interval) >= recurrence::severity_floor(Severity::Low)
}

/// The methods behind a flagged candle: those rare on their own, or, when the consensus came
/// from agreement alone, the strongest method of each of the two strongest groups.
fn contributors(score: &CandleScore, interval: Interval) -> Vec<MethodReading> {
    let alone: Vec<MethodReading> = score
        .readings
        .iter()
        .filter(|r| contributes(r, interval))
        .copied()
        .collect();
    if !alone.is_empty() {
        return alone;
    }
    let mut best: Vec<MethodReading> = Vec::new();
    for r in &score.readings {
        match best.iter_mut().find(|b| b.group == r.group) {
            Some(b) if r.p < b.p => *b = *r,
            Some(_) => {}
            None => best.push(*r),
        }
    }
    best.sort_by(|a, b| a.p.total_cmp(&b.p));
    best.truncate(2);
    best
}

/// What the event looks like to a person, from its peak's strongest contribution.
fn kind(contributors: &[MethodReading]) -> AnomalyKind {
    let strongest = contributors.iter().min_by(|a, b| a.p.total_cmp(&b.p));
    match strongest {
        Some(r) => match r.group {
            Group::Price | Group::Level if r.direction < 0 => AnomalyKind::Drop,
            Group::Price | Group::Level => AnomalyKind::Spike,
            Group::Volume => AnomalyKind::VolumeSpike,
            Group::Volatility => AnomalyKind::VolatilityBurst,
            Group::Feed => AnomalyKind::StaleFeed,
            Group::Multivariate => AnomalyKind::Outlier,
        },
        None => AnomalyKind::Outlier,
    }
}

/// The events in `scores` (one series, oldest first).
pub fn derive(scores: &[CandleScore], interval: Interval, params: &EventParams) -> Vec<Event> {
    let flagged = |s: &CandleScore| s.score.is_some_and(|v| v >= params.threshold);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, s) in scores.iter().enumerate() {
        if !flagged(s) {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if i - *end <= params.merge_within + 1 => *end = i,
            _ => runs.push((i, i)),
        }
    }
    runs.into_iter()
        .map(|(start, end)| event(&scores[start..=end], interval, params))
        .collect()
}

fn event(run: &[CandleScore], interval: Interval, params: &EventParams) -> Event {
    let mut peak = &run[0];
    for s in run {
        if s.score > peak.score {
            peak = s;
        }
    }
    let mut methods: BTreeSet<Method> = BTreeSet::new();
    let mut strongest: Map<String, Value> = Map::new();
    for s in run
        .iter()
        .filter(|s| s.score.is_some_and(|v| v >= params.threshold))
    {
        for r in contributors(s, interval) {
            methods.insert(r.method);
            let score = recurrence::score(r.p, interval);
            let better = strongest
                .get(r.method.as_str())
                .and_then(|v| v["score"].as_f64())
                .is_none_or(|old| score > old);
            if better {
                strongest.insert(
                    r.method.as_str().to_owned(),
                    json!({"score": round(score), "p": round(r.p), "at": s.open_time}),
                );
            }
        }
    }
    let peak_contributors = contributors(peak, interval);
    let peak_score = peak.score.unwrap_or(0.0);
    let severity = recurrence::severity(peak_score).unwrap_or(Severity::Low);
    let details = json!({
        "peak": {
            "p": peak.p.map(round),
            "recurrence_days": peak.p.map(|p| round(recurrence::recurrence_days(p, interval))),
            "readings": Value::Object(peak.readings.iter().map(|r| {
                let mut v = r.to_json();
                v["statistic"] = json!(round(r.statistic));
                v["p"] = json!(round(r.p));
                (r.method.as_str().to_owned(), v)
            }).collect()),
            "facts": peak.facts,
        },
        "methods": Value::Object(strongest),
        "threshold": params.threshold,
    });
    Event {
        start: run[0].open_time,
        end: run[run.len() - 1].open_time,
        peak_time: peak.open_time,
        peak_score,
        severity,
        candles: run.len(),
        kind: kind(&peak_contributors),
        methods: methods.into_iter().collect(),
        details,
    }
}
