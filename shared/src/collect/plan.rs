//! The plan stage: what one run fetches, decided from the watch list and what is stored.
//!
//! Planning needs the database and nothing else; fetching needs the sources and nothing else.
//! In the cloud the two run in different functions (the planner inside the VPC, the fetcher
//! outside it), so the plan is a plain serialisable value: the fetcher never learns more about
//! the database than the plan tells it.
//!
//! A scheduled plan polls the newest candles of every due series and repairs holes: runs of
//! missing buckets inside the source's reachable history, oldest first (they are the next to
//! fall out of reach), within the source's per-run allowance of history calls. A hole the source
//! was asked for in vain a few times, or one older than the source keeps, counts as lost.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{CollectError, CollectorEvent, RunKind, is_due};
use crate::config::CollectorSettings;
use crate::db::gaps::{self, Hole};
use crate::db::{Client, Db, DbError, symbols};
use crate::model::{Interval, Provider, Symbol, WatchedSymbol};
use crate::providers::{SeriesRequest, history_reach};

/// `from <= open_time < to`, both aligned to the series' interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

/// What gap repair found for one series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GapCounts {
    /// Buckets missing inside the source's reachable history when the run was planned.
    pub missing: u64,
    /// Of those, the buckets this run asks the source for (the rest wait for later runs).
    pub requested: u64,
    /// Buckets missing that the source no longer has: older than it keeps, or asked for in
    /// vain repeatedly.
    pub lost: u64,
}

/// The work for one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesWork {
    /// The watched ticker; the key its candles are stored under.
    pub symbol: Symbol,
    /// Which source fetches it.
    pub provider: Provider,
    /// The source's own name for the series (e.g. a trading pair), from the watch list.
    pub provider_id: String,
    /// The series' interval, as watched.
    pub interval: Interval,
    /// Poll the newest candles (the current bucket and a few before it).
    pub latest: bool,
    /// History to fetch, oldest first: holes, or an explicit backfill's range.
    pub history: Vec<TimeRange>,
    /// What gap repair found, for the report; zero when no repair was planned.
    #[serde(default)]
    pub gaps: GapCounts,
}

impl SeriesWork {
    /// What to ask the source for this series.
    pub fn request(&self) -> SeriesRequest {
        SeriesRequest {
            symbol: self.symbol.clone(),
            provider_id: self.provider_id.clone(),
            interval: self.interval,
        }
    }

    fn new(entry: &WatchedSymbol) -> Self {
        Self {
            symbol: entry.symbol.clone(),
            provider: entry.provider,
            provider_id: entry.provider_id.clone(),
            interval: entry.interval,
            latest: false,
            history: Vec::new(),
            gaps: GapCounts::default(),
        }
    }
}

/// One run's work, as the planner hands it to the fetcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectPlan {
    /// Which event the plan answers (scheduled, manual collect, backfill).
    pub kind: RunKind,
    /// The moment the run stands for (the schedule's firing time for a scheduled run).
    pub at: DateTime<Utc>,
    /// One entry per series to fetch.
    pub work: Vec<SeriesWork>,
    /// Names asked for that are not on the watch list.
    #[serde(default)]
    pub unknown: Vec<Symbol>,
    /// Seconds since the newest candle of the stalest enabled series opened, when known.
    #[serde(default)]
    pub data_age_seconds: Option<f64>,
}

impl CollectPlan {
    /// Gap counts over every series.
    pub fn gaps(&self) -> GapCounts {
        self.work
            .iter()
            .fold(GapCounts::default(), |sum, w| GapCounts {
                missing: sum.missing + w.gaps.missing,
                requested: sum.requested + w.gaps.requested,
                lost: sum.lost + w.gaps.lost,
            })
    }

    /// Adds the plan's own figures to `metrics`: freshness and gap repair.
    pub fn record(&self, metrics: &mut crate::metrics::Metrics) {
        use crate::metrics::Unit;
        if let Some(age) = self.data_age_seconds {
            metrics.observe("DataAgeSeconds", age, Unit::Seconds, &[]);
        }
        if self.kind == RunKind::Scheduled {
            let gaps = self.gaps();
            metrics.count("MissingCandles", gaps.missing as f64, &[]);
            metrics.count("LostCandles", gaps.lost as f64, &[]);
        }
    }
}

/// Plans runs from the database: the planner function's work, and the first stage of an
/// in-process collection.
#[derive(Debug, Clone)]
pub struct Planner {
    db: Db,
    settings: CollectorSettings,
}

impl Planner {
    /// A planner reading the watch list and gaps from `db`.
    pub fn new(db: Db, settings: CollectorSettings) -> Self {
        Self { db, settings }
    }

    /// The database it plans from.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Plans `event` as of `now`. Fails only when the database cannot be read.
    pub async fn plan(
        &self,
        event: &CollectorEvent,
        now: DateTime<Utc>,
    ) -> Result<CollectPlan, CollectError> {
        let client = self.db.client().await.map_err(CollectError::WatchList)?;
        let read = |e: DbError| CollectError::WatchList(e);
        // The watch list and each series' newest candle, read once for the whole plan.
        let watch_list = symbols::list_with_newest(&client).await.map_err(read)?;
        let data_age_seconds = watch_list
            .iter()
            .filter(|(entry, _)| entry.enabled)
            .filter_map(|(_, newest)| *newest)
            .min()
            .map(|oldest| (now - oldest).num_milliseconds() as f64 / 1e3);
        let mut plan = CollectPlan {
            kind: event.kind(),
            at: now,
            work: Vec::new(),
            unknown: Vec::new(),
            data_age_seconds,
        };
        match event {
            CollectorEvent::Scheduled { time } => {
                plan.at = *time;
                let mut calls: BTreeMap<Provider, u32> = BTreeMap::new();
                for (entry, stored) in watch_list.iter().filter(|(entry, _)| entry.enabled) {
                    let mut work = SeriesWork::new(entry);
                    work.latest = is_due(entry, *stored, *time, self.settings.schedule_period);
                    let budget = calls
                        .entry(entry.provider)
                        .or_insert_with(|| self.settings.history_calls_per_run(entry.provider));
                    self.repair(&client, &mut work, *time, budget)
                        .await
                        .map_err(read)?;
                    if work.latest || !work.history.is_empty() {
                        plan.work.push(work);
                    }
                }
            }
            CollectorEvent::Collect { symbols } => {
                let (found, unknown) = lookup(&watch_list, symbols);
                plan.unknown = unknown;
                plan.work = found
                    .iter()
                    .map(|entry| SeriesWork {
                        latest: true,
                        ..SeriesWork::new(entry)
                    })
                    .collect();
            }
            CollectorEvent::Backfill { symbols, from, to } => {
                let (found, unknown) = lookup(&watch_list, symbols);
                plan.unknown = unknown;
                plan.work = found
                    .iter()
                    .map(|entry| SeriesWork {
                        history: vec![TimeRange {
                            from: entry.interval.bucket_start(*from),
                            to: (*to).min(now),
                        }],
                        ..SeriesWork::new(entry)
                    })
                    .collect();
            }
        }
        tracing::info!(
            kind = ?plan.kind,
            series = plan.work.len(),
            missing = plan.gaps().missing,
            requested = plan.gaps().requested,
            lost = plan.gaps().lost,
            "planned"
        );
        Ok(plan)
    }

    /// Finds the holes of one series and asks for as many of them as `calls` allows.
    async fn repair(
        &self,
        client: &Client,
        work: &mut SeriesWork,
        at: DateTime<Utc>,
        calls: &mut u32,
    ) -> Result<(), DbError> {
        let Some(reach) = history_reach(work.provider, work.interval) else {
            return Ok(());
        };
        let interval = work.interval;
        let step = interval.duration();
        // The bucket still forming is no hole; the latest poll takes care of it.
        let end = interval.bucket_start(at);
        let lookback = end - step * self.settings.gap_lookback_buckets as i32;
        let reachable = reach.depth.map_or(lookback, |depth| end - depth);
        let holes = gaps::holes(client, &work.symbol, interval, lookback, end).await?;
        let given_up = gaps::given_up(
            client,
            &work.symbol,
            interval,
            self.settings.gap_max_attempts,
        )
        .await?;
        for hole in holes {
            // The part older than the source keeps is lost; the rest may still be filled.
            if hole.start < reachable {
                let lost_end = hole.end.min(reachable);
                work.gaps.lost += Hole {
                    start: hole.start,
                    end: lost_end,
                }
                .buckets(interval);
            }
            let hole = Hole {
                start: hole.start.max(reachable),
                end: hole.end,
            };
            if hole.start >= hole.end {
                continue;
            }
            let buckets = hole.buckets(interval);
            if given_up.contains(&hole.start) {
                work.gaps.lost += buckets;
                continue;
            }
            work.gaps.missing += buckets;
            let mut from = hole.start;
            while from < hole.end && *calls > 0 {
                let to = (from + TimeDelta::seconds(interval.seconds() * reach.buckets_per_call))
                    .min(hole.end);
                work.history.push(TimeRange { from, to });
                work.gaps.requested += ((to - from).num_seconds() / interval.seconds()) as u64;
                *calls -= 1;
                from = to;
            }
        }
        Ok(())
    }
}

/// Splits `wanted` into watch-list entries and names not on the list.
fn lookup(
    watch_list: &[(WatchedSymbol, Option<DateTime<Utc>>)],
    wanted: &[Symbol],
) -> (Vec<WatchedSymbol>, Vec<Symbol>) {
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for symbol in wanted {
        match watch_list.iter().find(|(entry, _)| entry.symbol == *symbol) {
            Some((entry, _)) => found.push(entry.clone()),
            None => unknown.push(symbol.clone()),
        }
    }
    (found, unknown)
}

/// The planner function's work: one invocation payload (a [`CollectorEvent`] as the fetcher
/// sends it, or EventBridge's own scheduled event) to a plan, with the plan's metrics.
pub async fn handle(
    planner: &Planner,
    function: &str,
    payload: serde_json::Value,
) -> (Result<CollectPlan, CollectError>, crate::metrics::Metrics) {
    let mut metrics = crate::metrics::Metrics::new(function);
    let now = Utc::now();
    let result = match CollectorEvent::parse(payload, now) {
        Ok(event) => planner.plan(&event, now).await,
        Err(e) => Err(e.into()),
    };
    if let Ok(plan) = &result {
        plan.record(&mut metrics);
    }
    (result, metrics)
}
