//! What one collector invocation did, symbol by symbol, and the metrics that follow from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::GapCounts;
use crate::metrics::Metrics;
use crate::model::{Interval, Provider, Symbol};

/// Which kind of run produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// The schedule: every enabled symbol that is due.
    Scheduled,
    /// Named symbols, now (the API's collect-once uses this).
    Collect,
    /// History for named symbols over a range.
    Backfill,
}

/// How one symbol fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// At least one candle was inserted or changed.
    Stored,
    /// Candles were accepted, and the database already held exactly them.
    Unchanged,
    /// Candles were accepted and handed to the writer's queue; it stores them shortly.
    Queued,
    /// The source delivered nothing usable: every item was rejected (or there were none).
    Rejected,
    /// The source or the database failed; `error` says why and whether to retry.
    Failed,
}

/// Why a symbol failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutcomeError {
    /// Stable code: a source error's code (`timeout`, `rate_limited`, `quota_exhausted`, …),
    /// `database`, `queue`, or `unknown_symbol`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "timeout"))]
    pub code: OutcomeCode,
    /// Human-readable cause, for the log and the operator; not stable, do not match on it.
    pub message: String,
    /// Whether running again later can help without anyone changing anything.
    pub retryable: bool,
    /// Seconds the source asked us to wait, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

/// Which stage failed a symbol, so callers decide by variant; serialised as its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeCode {
    /// The price source failed; the code is the source error's (`timeout`, `rate_limited`, …).
    Source(&'static str),
    /// The database failed while storing.
    Database,
    /// The candle queue refused the batch.
    Queue,
    /// The symbol is not on the watch list.
    UnknownSymbol,
}

impl OutcomeCode {
    /// The stable code as serialised (`database`, `queue`, `unknown_symbol`, or the source's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source(code) => code,
            Self::Database => "database",
            Self::Queue => "queue",
            Self::UnknownSymbol => "unknown_symbol",
        }
    }
}

impl std::fmt::Display for OutcomeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for OutcomeCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for OutcomeCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One symbol's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SymbolOutcome {
    /// The ticker as asked for or as watched.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "BTC"))]
    pub symbol: Symbol,
    /// The source it was fetched from; `None` for a symbol not on the watch list.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "binance"))]
    pub provider: Option<Provider>,
    /// The series' interval; `None` for a symbol not on the watch list.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1h"))]
    pub interval: Option<Interval>,
    /// The symbol's overall result; `error` says more when it is `failed`.
    pub status: OutcomeStatus,
    /// Items the source delivered.
    pub fetched: u64,
    /// Rows inserted or changed.
    pub stored: u64,
    /// Accepted candles the database already held unchanged.
    pub unchanged: u64,
    /// Accepted candles handed to the writer's queue (stored asynchronously, in the cloud).
    pub queued: u64,
    /// Rejected items, by reason (`non_positive_price`, `high_below_low`, …; a repeat of a
    /// candle in the same response is `duplicate_open_time`).
    pub rejected: BTreeMap<String, u64>,
    /// Open time of the newest accepted candle.
    pub newest: Option<DateTime<Utc>>,
    /// Gap repair: holes found, asked for and lost, as planned.
    pub gaps: GapCounts,
    /// Buckets of the holes asked for that are now filled (known when stored in-process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaps_filled: Option<u64>,
    /// What failed, when something did; `None` on success.
    pub error: Option<OutcomeError>,
}

impl SymbolOutcome {
    pub(crate) fn new(
        symbol: Symbol,
        provider: Option<Provider>,
        interval: Option<Interval>,
    ) -> Self {
        Self {
            symbol,
            provider,
            interval,
            status: OutcomeStatus::Rejected,
            fetched: 0,
            stored: 0,
            unchanged: 0,
            queued: 0,
            rejected: BTreeMap::new(),
            newest: None,
            gaps: GapCounts::default(),
            gaps_filled: None,
            error: None,
        }
    }

    pub(crate) fn fail(&mut self, error: OutcomeError) {
        self.error = Some(error);
        self.status = OutcomeStatus::Failed;
    }

    /// Settles the status once counting is done (a failure stays a failure).
    pub(crate) fn settle(&mut self) {
        if self.error.is_some() {
            self.status = OutcomeStatus::Failed;
        } else if self.stored > 0 {
            self.status = OutcomeStatus::Stored;
        } else if self.queued > 0 {
            self.status = OutcomeStatus::Queued;
        } else if self.unchanged > 0 {
            self.status = OutcomeStatus::Unchanged;
        } else {
            self.status = OutcomeStatus::Rejected;
        }
    }

    /// Whether this symbol's candles got through: stored, already there, or queued.
    pub fn succeeded(&self) -> bool {
        self.stored > 0 || self.unchanged > 0 || self.queued > 0
    }

    /// Items rejected for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// One call (or paged sequence of calls) to a source, for latency and error metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourceCall {
    pub provider: Provider,
    pub millis: f64,
    pub failed: bool,
}

/// The result of one invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectReport {
    /// Which event the run answered.
    pub kind: RunKind,
    /// When the invocation began (the clock, not the schedule's firing time).
    pub started_at: DateTime<Utc>,
    /// Rows inserted or changed, over every symbol.
    pub stored: u64,
    /// Candles handed to the writer's queue, over every symbol.
    pub queued: u64,
    /// Items rejected, over every symbol.
    pub rejected: u64,
    /// Gap repair over every symbol: buckets missing within reach, asked for, and lost.
    pub gaps: GapCounts,
    /// Buckets of the holes asked for that are now filled (known when stored in-process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gaps_filled: Option<u64>,
    /// Symbols that failed.
    pub failed: u64,
    /// One entry per symbol asked for or due, unknown names included.
    pub outcomes: Vec<SymbolOutcome>,
    #[serde(skip)]
    pub(crate) calls: Vec<SourceCall>,
    /// Whether candles were stored in this process (so `stored` is final).
    #[serde(skip)]
    pub(crate) stored_here: bool,
}

impl CollectReport {
    pub(crate) fn new(kind: RunKind, started_at: DateTime<Utc>) -> Self {
        Self {
            kind,
            started_at,
            stored: 0,
            queued: 0,
            rejected: 0,
            gaps: GapCounts::default(),
            gaps_filled: None,
            failed: 0,
            outcomes: Vec::new(),
            calls: Vec::new(),
            stored_here: false,
        }
    }

    pub(crate) fn push(&mut self, mut outcome: SymbolOutcome) {
        outcome.settle();
        self.stored += outcome.stored;
        self.queued += outcome.queued;
        self.rejected += outcome.rejected_total();
        self.gaps.missing += outcome.gaps.missing;
        self.gaps.requested += outcome.gaps.requested;
        self.gaps.lost += outcome.gaps.lost;
        if let Some(filled) = outcome.gaps_filled {
            self.gaps_filled = Some(self.gaps_filled.unwrap_or(0) + filled);
        }
        if outcome.status == OutcomeStatus::Failed {
            self.failed += 1;
        }
        self.outcomes.push(outcome);
    }

    /// The outcome for `symbol`, if it was part of the run.
    pub fn outcome(&self, symbol: &Symbol) -> Option<&SymbolOutcome> {
        self.outcomes.iter().find(|o| &o.symbol == symbol)
    }

    /// The error code of `symbol`'s outcome, when it failed (e.g. `unknown_symbol`).
    pub fn error_code(&self, symbol: &Symbol) -> Option<&str> {
        self.failure(symbol).map(OutcomeCode::as_str)
    }

    /// Which stage failed `symbol`, when it failed.
    pub fn failure(&self, symbol: &Symbol) -> Option<OutcomeCode> {
        self.outcome(symbol)
            .and_then(|o| o.error.as_ref())
            .map(|e| e.code)
    }

    /// Whether the database failed any symbol.
    pub fn database_failed(&self) -> bool {
        self.outcomes.iter().any(|o| {
            o.error
                .as_ref()
                .is_some_and(|e| e.code == OutcomeCode::Database)
        })
    }

    /// True when there was work and none of it reached the database.
    pub fn nothing_stored(&self) -> bool {
        !self.outcomes.is_empty() && !self.outcomes.iter().any(SymbolOutcome::succeeded)
    }

    /// Whether a retry could change the result: some failure was of a retryable kind.
    pub fn retry_can_help(&self) -> bool {
        self.outcomes
            .iter()
            .filter_map(|o| o.error.as_ref())
            .any(|e| e.retryable)
    }

    /// Adds this run's counters to `metrics`: the few the alarms and the dashboard read.
    /// Everything finer (per source, per rejection reason, latencies) goes to the log as
    /// fields of the "collection finished" and per-symbol lines instead, where it costs
    /// nothing until someone queries it.
    pub fn record(&self, metrics: &mut Metrics) {
        if self.stored_here {
            metrics.count("CandlesStored", self.stored as f64, &[]);
        }
        let source_errors = self
            .outcomes
            .iter()
            .filter(|o| {
                o.error
                    .as_ref()
                    .is_some_and(|e| matches!(e.code, OutcomeCode::Source(_)))
            })
            .count();
        metrics.count("SourceErrors", source_errors as f64, &[]);
    }

    /// Logs one line per source call, with its latency: the detail behind `SourceErrors`.
    pub fn log_calls(&self) {
        for call in &self.calls {
            tracing::info!(source = %call.provider, latency_ms = call.millis, failed = call.failed, "source call");
        }
    }
}
