//! Collection in three stages, each a library entry point with typed input and output:
//!
//! 1. **plan** ([`Planner`]): from the watch list and what is stored, decide what one run
//!    fetches — the newest candles of due series, and the holes gap repair finds — as a
//!    [`CollectPlan`]. Needs the database only.
//! 2. **fetch** ([`Fetcher`]): carry the plan out against the price sources, validate every
//!    item, and hand [`CandleBatch`]es to a sink. Needs the internet only.
//! 3. **store** ([`store_batch`], [`writer`]): validate again and upsert; record which holes
//!    the source left unfilled. Needs the database only.
//!
//! In one process (`make run`, tests, the API's collect-once locally) a [`Collector`] wires the
//! three together directly. In the cloud the planner runs inside the VPC, the fetcher outside
//! it (free internet, no database credentials) and the writer inside again, fed by an SQS
//! queue — the same code, wired by the Lambdas' `main`s.
//!
//! Failures stay local: a rejected item is counted by reason and the rest of its batch goes
//! on; a source that fails costs only its own symbols. An invocation fails — so that
//! EventBridge retries it — only when nothing at all got through, and its error says whether a
//! retry can help.

mod batch;
mod builder;
mod entry;
mod event;
mod fetch;
pub mod http;
pub mod plan;
#[cfg(feature = "aws-remote")]
pub mod remote;
mod report;
mod schedule;
mod sink;
#[cfg(feature = "aws-remote")]
mod sqs;
mod store;
pub mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

pub use batch::{BatchError, CandleBatch, MAX_MESSAGE_BYTES, Merge};
pub use builder::{BuildError, CollectorBuilder};
pub use entry::{CollectorFunction, PlannerFunction, WriterFunction};
pub use event::{CollectorEvent, EventError, MAX_BACKFILL, MAX_SYMBOLS};
pub use fetch::Fetcher;
pub use plan::{CollectPlan, GapCounts, Planner, SeriesWork, TimeRange};
pub use report::{CollectReport, OutcomeCode, OutcomeError, OutcomeStatus, RunKind, SymbolOutcome};
pub use schedule::is_due;
pub use sink::{BatchSink, Delivery, QueueError, SinkError, StoreSink};
#[cfg(feature = "aws-remote")]
pub use sqs::SqsSink;
pub use store::{StoreError, Stored, store_batch};

use crate::config::CollectorSettings;
use crate::db::DbError;
use crate::metrics::Metrics;
use crate::model::Symbol;

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The event itself was refused; retrying the same event cannot help.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The watch list could not be read.
    #[error("the watch list could not be read: {0}")]
    WatchList(#[source] DbError),
    /// The planner's database could not be brought up to the current schema.
    #[error("the database could not be migrated: {0}")]
    Migration(#[source] DbError),
    /// The planner function could not be asked, or did not answer with a plan.
    #[error("no plan: {0}")]
    Planner(#[from] PlannerError),
    /// There was work, and none of it got through.
    #[error("nothing could be stored ({} of {} symbols failed; {}): {}",
        .report.failed, .report.outcomes.len(),
        if *.retryable { "a retry may help" } else { "a retry will not help" },
        first_error(.report))]
    NothingStored {
        /// Every symbol's outcome, for the log and the response.
        report: Box<CollectReport>,
        /// Whether any failure was one a retry may fix (unavailable database, throttled
        /// source); decides whether EventBridge should retry.
        retryable: bool,
    },
}

/// Why the planner function gave no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    /// The request could not be encoded; the same event never will be.
    #[error("the request could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// The function could not be invoked (throttled, unreachable): a retry may help.
    #[error("invoking {function}: {source}")]
    Invoke {
        /// The planner function's name or ARN, as configured.
        function: String,
        /// Why the call did not go through.
        #[source]
        source: crate::error::CallError,
    },
    /// The planner ran and failed (its database is away, most likely); `document` is the
    /// runtime's error document, cut short. A retry of the whole run may find it back.
    #[error("{function} failed ({kind}): {document}")]
    Failed {
        /// The planner function's name or ARN, as configured.
        function: String,
        /// The runtime's `FunctionError` (`Unhandled`, `Handled`).
        kind: String,
        /// The error document, cut short.
        document: String,
    },
    /// The planner answered with something that is not a plan; asking again will not help.
    #[error("{function} answered with no plan ({source}): {body}")]
    NoPlan {
        /// The planner function's name or ARN, as configured.
        function: String,
        /// Why the answer did not parse as a plan.
        #[source]
        source: serde_json::Error,
        /// The answer, cut short.
        body: String,
    },
}

impl PlannerError {
    /// Whether asking the planner again can help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Invoke { .. } | Self::Failed { .. })
    }
}

fn first_error(report: &CollectReport) -> String {
    report
        .outcomes
        .iter()
        .find_map(|o| {
            o.error
                .as_ref()
                .map(|e| format!("{}: {}", o.symbol, e.message))
        })
        .unwrap_or_else(|| "every item was rejected".to_owned())
}

impl CollectError {
    /// Whether EventBridge (or a person) should try the same event again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Event(_) => false,
            Self::WatchList(e) | Self::Migration(e) => e.is_unavailable(),
            Self::Planner(e) => e.is_retryable(),
            Self::NothingStored { retryable, .. } => *retryable,
        }
    }

    /// The report, when the run got as far as making one.
    pub fn report(&self) -> Option<&CollectReport> {
        match self {
            Self::NothingStored { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// Where plans come from: the database in this process, or the planner function.
pub trait PlanSource: Send + Sync + std::fmt::Debug {
    /// The work `event` asks for, planned as of `now` (a scheduled event plans from its own
    /// firing time; `now` still measures the data age).
    fn plan<'a>(
        &'a self,
        event: &'a CollectorEvent,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<CollectPlan, CollectError>>;

    /// Whether the plan is made in this process (its metrics are then this process's).
    fn plans_in_process(&self) -> bool;
}

impl PlanSource for Planner {
    fn plan<'a>(
        &'a self,
        event: &'a CollectorEvent,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<CollectPlan, CollectError>> {
        Planner::plan(self, event, now).boxed()
    }

    fn plans_in_process(&self) -> bool {
        true
    }
}

/// Plan, fetch and store, wired together. Build it once per cold start: it owns the sources
/// and their pacers.
#[derive(Debug)]
pub struct Collector {
    planner: Arc<dyn PlanSource>,
    fetcher: Fetcher,
    sink: Arc<dyn BatchSink>,
    settings: CollectorSettings,
}

impl Collector {
    /// Starts building a collector on `settings`; see [`CollectorBuilder`].
    pub fn builder(settings: CollectorSettings) -> CollectorBuilder {
        CollectorBuilder::new(settings)
    }

    /// The settings it was built on (batch size, synthetic seed, paging limits).
    pub fn settings(&self) -> &CollectorSettings {
        &self.settings
    }

    /// Parses `payload`, runs it, and gathers the invocation's metrics (publish them once).
    pub async fn invoke(
        &self,
        function: &str,
        payload: serde_json::Value,
    ) -> (Result<CollectReport, CollectError>, Metrics) {
        let mut metrics = Metrics::new(function);
        let now = Utc::now();
        let result = match CollectorEvent::parse(payload, now) {
            Ok(event) => self.run_recorded(&event, now, Some(&mut metrics)).await,
            Err(e) => Err(e.into()),
        };
        (result, metrics)
    }

    /// Runs one parsed event now.
    pub async fn handle(&self, event: CollectorEvent) -> Result<CollectReport, CollectError> {
        self.run(&event, Utc::now()).await
    }

    /// Plans `event` and carries the plan out as of `now`.
    pub async fn run(
        &self,
        event: &CollectorEvent,
        now: DateTime<Utc>,
    ) -> Result<CollectReport, CollectError> {
        self.run_recorded(event, now, None).await
    }

    async fn run_recorded(
        &self,
        event: &CollectorEvent,
        now: DateTime<Utc>,
        metrics: Option<&mut Metrics>,
    ) -> Result<CollectReport, CollectError> {
        let plan = self.planner.plan(event, now).await?;
        let report = self.fetcher.run(&plan, self.sink.as_ref(), now).await;
        if let Some(metrics) = metrics {
            if self.planner.plans_in_process() {
                plan.record(metrics);
            }
            report.record(metrics);
        }
        report.log_calls();
        finish(report)
    }

    /// Collects `symbols` now, whatever their schedule (disabled ones included: asking by
    /// name is explicit). A symbol not on the watch list gets an `unknown_symbol` outcome.
    pub async fn collect(&self, symbols: &[Symbol]) -> Result<CollectReport, CollectError> {
        let event = CollectorEvent::Collect {
            symbols: symbols.to_vec(),
        };
        self.run(&event, Utc::now()).await
    }

    /// Collects every enabled symbol that is due at `at` (see [`is_due`]) and repairs the
    /// holes of every enabled series.
    pub async fn collect_due(&self, at: DateTime<Utc>) -> Result<CollectReport, CollectError> {
        self.run(&CollectorEvent::Scheduled { time: at }, Utc::now())
            .await
    }

    /// Fetches history for `symbols` with `from <= open_time < to`, page by page, storing each
    /// page before fetching the next: memory stays flat however long the range, and an
    /// interrupted backfill keeps what it stored. Re-running it changes nothing.
    pub async fn backfill(
        &self,
        symbols: &[Symbol],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<CollectReport, CollectError> {
        let now = Utc::now();
        let event = CollectorEvent::Backfill {
            symbols: symbols.to_vec(),
            from,
            to: to.min(now),
        };
        self.run(&event, now).await
    }
}

fn finish(report: CollectReport) -> Result<CollectReport, CollectError> {
    let rejected: std::collections::BTreeMap<&str, u64> = report
        .outcomes
        .iter()
        .flat_map(|o| o.rejected.iter())
        .fold(Default::default(), |mut sum, (reason, n)| {
            *sum.entry(reason.as_str()).or_default() += n;
            sum
        });
    tracing::info!(
        kind = ?report.kind,
        symbols = report.outcomes.len(),
        stored = report.stored,
        queued = report.queued,
        rejected = report.rejected,
        rejected_by_reason = ?rejected,
        failed = report.failed,
        gaps_missing = report.gaps.missing,
        gaps_requested = report.gaps.requested,
        gaps_filled = report.gaps_filled,
        gaps_lost = report.gaps.lost,
        "collection finished"
    );
    if report.nothing_stored() {
        let retryable = report.retry_can_help();
        return Err(CollectError::NothingStored {
            report: Box::new(report),
            retryable,
        });
    }
    Ok(report)
}
