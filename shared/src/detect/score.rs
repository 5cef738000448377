//! The scoring engine: every enabled method's readings, calibrated, combined into one score
//! per candle.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::calibrate::{Calibrated, CalibrationParams, calibrate};
use super::consensus::{by_group, combine};
use super::{Detector, DetectorConfig, Group, InvalidParams, Series, recurrence, round};
use crate::model::{Method, Severity};

/// One method's calibrated reading of one candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodReading {
    /// The method that read the candle.
    pub method: Method,
    /// Its group ([`super::group_of`]), kept so consensus need not look it up again.
    pub group: Group,
    /// The method's own statistic (a z-score, a ratio, an isolation score), before calibration.
    pub statistic: f64,
    /// +1 for an upward move, −1 for a downward one, 0 where there is no direction.
    pub direction: i8,
    /// Tail probability from calibration (or the method's own, for the stale feed).
    pub p: f64,
}

impl MethodReading {
    /// The reading as stored and served: `{"statistic", "p", "direction"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "statistic": self.statistic,
            "p": self.p,
            "direction": self.direction,
        })
    }
}

/// The verdict on one candle.
#[derive(Debug, Clone, PartialEq)]
pub struct CandleScore {
    /// Open time of the candle judged; the key the score is stored under.
    pub open_time: DateTime<Utc>,
    /// The consensus tail probability; `None` when no method could judge the candle yet.
    pub p: Option<f64>,
    /// The consensus score in [0, 1] (see [`recurrence`]).
    pub score: Option<f64>,
    /// `None` below the weekly floor.
    pub severity: Option<Severity>,
    /// Each method that judged the candle.
    pub readings: Vec<MethodReading>,
    /// What a person would check, for candles with a severity: the close, the previous close,
    /// the return and the time it spans, the volume, and methods' own evidence (the RSI).
    pub facts: Value,
}

impl CandleScore {
    /// The readings as a JSON object keyed by method.
    pub fn readings_json(&self) -> Value {
        Value::Object(
            self.readings
                .iter()
                .map(|r| (r.method.as_str().to_owned(), r.to_json()))
                .collect(),
        )
    }
}

/// The enabled methods with the calibration, ready to score series.
#[derive(Debug)]
pub struct Scorer {
    detectors: Vec<Box<dyn Detector>>,
    calibration: CalibrationParams,
}

impl Scorer {
    /// Builds (and so validates) the enabled methods of `config`.
    pub fn new(config: &DetectorConfig) -> Result<Self, InvalidParams> {
        config.calibration.validate()?;
        Ok(Self {
            detectors: config.build()?,
            calibration: config.calibration.clone(),
        })
    }

    /// The enabled methods, in the order they run (`Method::ALL` order).
    pub fn methods(&self) -> Vec<Method> {
        self.detectors.iter().map(|d| d.method()).collect()
    }

    /// True when every method is switched off: a run then scores nothing.
    pub fn is_empty(&self) -> bool {
        self.detectors.is_empty()
    }

    /// Stored candles before the first one judged that its score depends on: the longest
    /// method lookback plus the calibration window (whose readings need their own lookback).
    pub fn lookback(&self) -> usize {
        self.detectors
            .iter()
            .map(|d| d.lookback())
            .max()
            .unwrap_or(0)
            + self.calibration.window
            + 1
    }

    /// Every method's calibrated readings for every candle of `series`, method by method.
    pub fn calibrated(&self, series: &Series<'_>) -> Vec<(Method, Group, Vec<Option<Calibrated>>)> {
        self.detectors
            .iter()
            .map(|d| {
                let readings = d.readings(series);
                (
                    d.method(),
                    d.group(),
                    calibrate(&readings, &self.calibration),
                )
            })
            .collect()
    }

    /// Scores the candles of `series` from index `from` on; earlier candles are history. The
    /// score of candle `i` depends only on candles `i - lookback() ..= i`.
    pub fn score(&self, series: &Series<'_>, from: usize) -> Vec<CandleScore> {
        if series.interval.is_none() {
            return Vec::new();
        }
        let calibrated = self.calibrated(series);
        (from..series.len())
            .map(|i| {
                let readings: Vec<MethodReading> = calibrated
                    .iter()
                    .filter_map(|(method, group, values)| {
                        values[i].map(|c| MethodReading {
                            method: *method,
                            group: *group,
                            statistic: c.reading.statistic,
                            direction: c.reading.direction,
                            p: c.p,
                        })
                    })
                    .collect();
                let p = combine(&by_group(readings.iter().map(|r| (r.group, r.p))));
                let candle_seconds = self.candle_seconds(series, i);
                let score = p.map(|p| recurrence::score_over(p, candle_seconds));
                let severity = score.and_then(recurrence::severity);
                let facts = if severity.is_some() {
                    self.facts(series, i)
                } else {
                    Value::Null
                };
                CandleScore {
                    open_time: series.candles[i].open_time,
                    p,
                    score,
                    severity,
                    readings,
                    facts,
                }
            })
            .collect()
    }

    /// The calendar time candle `i` stands for, over the calibration window: `p` is a share
    /// of that window's candles, so this is what turns it into a recurrence time.
    pub fn candle_seconds(&self, series: &Series<'_>, i: usize) -> f64 {
        series.seconds_per_candle(i, self.calibration.window)
    }

    fn facts(&self, series: &Series<'_>, i: usize) -> Value {
        let mut facts = Map::new();
        facts.insert("close".into(), json!(round(series.close[i])));
        if i > 0 {
            facts.insert("previous_close".into(), json!(round(series.close[i - 1])));
            facts.insert(
                "previous_open_time".into(),
                json!(series.candles[i - 1].open_time),
            );
        }
        if let Some(r) = series.log_return[i] {
            facts.insert("log_return".into(), json!(round(r)));
            facts.insert("elapsed_intervals".into(), json!(round(series.elapsed[i])));
        }
        if let Some(v) = series.volume[i] {
            facts.insert("volume".into(), json!(round(v)));
        }
        for detector in &self.detectors {
            let evidence = detector.evidence(series, i);
            if let Value::Object(map) = evidence {
                facts.extend(map);
            }
        }
        Value::Object(facts)
    }
}
