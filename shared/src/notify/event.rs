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
    #[serde(rename = "candles.stored")]
    CandlesStored(CandlesStored),
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
    pub version: u32,
    pub symbol: Symbol,
    pub interval: Interval,
    /// Candle writes counted (a candle written twice counts twice).
    pub candles: u64,
    pub first_open_time: DateTime<Utc>,
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
    pub version: u32,
    /// The event's id, as in `/v1/anomalies`.
    pub id: i64,
    pub change: Change,
    /// The severity announced before (`severity_raised` only).
    pub previous_severity: Option<Severity>,
    pub symbol: Symbol,
    pub interval: Interval,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub peak_time: DateTime<Utc>,
    pub candles: i32,
    pub score: f64,
    pub severity: Severity,
    pub kind: AnomalyKind,
    pub methods: Vec<Method>,
    /// Each method's evidence at the peak, as the detector stored it.
    pub details: serde_json::Value,
}
