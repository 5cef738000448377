//! The data events, version 1: `candles.stored` and `anomaly.detected`. Their JSON Schemas are
//! committed in `schemas/events/`, and tests validate what this code emits against them; a
//! change that breaks a consumer is a new version, not an edit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AnomalyKind, Interval, Method, Severity, Symbol};

/// The `source` of every event on the bus.
pub const SOURCE: &str = "tickwatch";

/// The schema version this code emits.
pub const VERSION: u32 = 1;

/// One data event. Serialised flat, with `type` and `version` first: what the bus carries as
/// `detail` and the webhook and the logs show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DataEvent {
    /// New or changed candles of one series: a consumer re-reads that span.
    #[serde(rename = "candles.stored")]
    CandlesStored(CandlesStored),
    /// A new anomaly event, or one whose severity rose.
    #[serde(rename = "anomaly.detected")]
    AnomalyDetected(AnomalyDetected),
}

impl DataEvent {
    /// The event's type, the bus's `detail-type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CandlesStored(_) => "candles.stored",
            Self::AnomalyDetected(_) => "anomaly.detected",
        }
    }
}

/// Candles of one series were inserted or changed (by collection, a correction or an import)
/// since the last announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandlesStored {
    /// Schema version, [`VERSION`] when emitted by this code.
    pub version: u32,
    /// The series' ticker.
    pub symbol: Symbol,
    /// The series' interval.
    pub interval: Interval,
    /// Candle writes counted (a candle written twice counts twice).
    pub candles: u64,
    /// Open time of the oldest candle written (inclusive).
    pub first_open_time: DateTime<Utc>,
    /// Open time of the newest candle written (inclusive); not every bucket in between
    /// need have changed.
    pub last_open_time: DateTime<Utc>,
    /// When the last of these writes happened.
    pub stored_at: DateTime<Utc>,
}

/// Why an anomaly event is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// First announcement of this event.
    New,
    /// Announced before with a lower severity.
    SeverityRaised,
}

/// An anomaly event is new, or its severity rose above what was announced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyDetected {
    /// Schema version, [`VERSION`] when emitted by this code.
    pub version: u32,
    /// The event's id, as in `/v1/anomalies`.
    pub id: i64,
    /// Why it is announced now.
    pub change: Change,
    /// The severity announced before (`severity_raised` only).
    pub previous_severity: Option<Severity>,
    /// The series' ticker.
    pub symbol: Symbol,
    /// The series' interval.
    pub interval: Interval,
    /// Open time of the first candle of the run.
    pub start_time: DateTime<Utc>,
    /// Open time of the last candle of the run.
    pub end_time: DateTime<Utc>,
    /// Open time of the candle with the highest score.
    pub peak_time: DateTime<Utc>,
    /// Candles from start to end.
    pub candles: i32,
    /// The peak's consensus score, in `[0, 1]`.
    pub score: f64,
    /// Severity now; for `severity_raised`, higher than `previous_severity`.
    pub severity: Severity,
    /// What the peak looks like (spike, drop, volume spike, stale feed, outlier).
    pub kind: AnomalyKind,
    /// The methods that contributed.
    pub methods: Vec<Method>,
    /// Each method's evidence at the peak, as the detector stored it.
    pub details: serde_json::Value,
}
