//! The scan of one series: page by page, each page one transaction under the series' lock —
//! read the candles to judge and the history their scores depend on, score them, upsert the
//! scores, reconcile the events around them, and move the watermark.
//!
//! Where a page starts: after the watermark for new candles; at `rescan_from` when a write
//! changed a candle at or before the watermark (the trigger on `candles` records it), so
//! backfills, corrections and imports are recomputed without anyone asking; at `from` for an
//! explicit rescan. Every score is a function of the candles in a fixed lookback, so a page
//! reads that lookback and computes exactly what one pass over the whole series would.

use chrono::{DateTime, TimeDelta, Utc};

use super::RunReport;
use crate::db::{Db, DbError, anomalies, detection, detector_state, scores};
use crate::detect::events::{self, EventParams};
use crate::detect::{Scorer, Series};
use crate::model::{Candle, Interval, Symbol, WatchedSymbol};

/// Which part of a series one scan covers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Range {
    /// From the watermark, or from `rescan_from` when it lies at or before it.
    New,
    /// From `from` (inclusive) up to `to`, replacing what is stored.
    Rescan {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// The open time of the newest candle that has closed by `now`.
pub(super) fn closed_until(now: DateTime<Utc>, interval: Interval) -> DateTime<Utc> {
    interval.bucket_start(now) - interval.duration()
}

/// One microsecond after `t`: open times have microsecond resolution.
fn just_after(t: DateTime<Utc>) -> DateTime<Utc> {
    t + TimeDelta::microseconds(1)
}

/// Where a page of a scheduled scan starts, and whether it recomputes known candles.
fn start_of(state: Option<detector_state::State>) -> (Option<DateTime<Utc>>, bool) {
    let Some(watermark) = state.and_then(|s| s.watermark) else {
        // Never scanned: everything is new.
        return (None, false);
    };
    match state.and_then(|s| s.rescan_from) {
        Some(r) if r <= watermark => (Some(r), true),
        _ => (Some(just_after(watermark)), false),
    }
}

/// How one series is scored: its methods (with its overrides applied), its event parameters
/// and how many candles a page reads.
#[derive(Debug)]
pub(super) struct Plan {
    pub scorer: Scorer,
    pub events: EventParams,
    pub page_size: usize,
}

/// Scans one series page by page, each page one transaction.
pub(super) async fn scan_series(
    db: &Db,
    plan: &Plan,
    entry: &WatchedSymbol,
    range: Range,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), DbError> {
    let (scorer, event_params, page_size) = (&plan.scorer, &plan.events, plan.page_size);
    if scorer.is_empty() {
        return Ok(());
    }
    let lookback = scorer.lookback() as i64;
    let (symbol, interval) = (&entry.symbol, entry.interval);
    let until = match range {
        Range::New => closed_until(now, interval),
        Range::Rescan { to, .. } => to,
    };
    let mut rescan_cursor = match range {
        Range::Rescan { from, .. } => Some(from),
        Range::New => None,
    };
    let mut client = db.client().await?;
    let mut previous_start = None;
    let mut first_page = true;
    loop {
        let tx = client.transaction().await?;
        detection::lock_series(&tx, symbol, interval).await?;
        let state = detector_state::get(&tx, symbol, interval).await?;
        let (start, recomputing) = match range {
            Range::New => start_of(state),
            Range::Rescan { .. } => (rescan_cursor, true),
        };
        if matches!(range, Range::New) && start.is_some() && start == previous_start {
            // A write while the last page was scored asked to recompute from where that page
            // began; the next run does it, so a series written to without pause cannot keep
            // this one busy.
            tx.commit().await?;
            return Ok(());
        }
        previous_start = start;
        let fresh =
            detection::candles_from(&tx, symbol, interval, start, until, page_size as i64).await?;
        let (Some(first), Some(last)) = (fresh.first(), fresh.last()) else {
            if matches!(range, Range::New) && first_page {
                report.nothing_new(interval.bucket_start(now) + interval.duration());
            }
            if let (Range::New, Some(s)) = (range, state)
                && s.rescan_from.is_some()
            {
                // Nothing left to read from where the trigger pointed (a deleted candle after
                // the last one, say): the request is served.
                detector_state::finish_page(
                    &tx,
                    symbol,
                    interval,
                    s.watermark,
                    Some(s.writes),
                    None,
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(());
        };
        let (first_time, last_time) = (first.open_time, last.open_time);
        let page_len = fresh.len();
        let mut candles =
            detection::candles_before(&tx, symbol, interval, first_time, lookback).await?;
        let judged_from = candles.len();
        candles.extend(fresh);
        let series = Series::new(&candles);
        let scored = scorer.score(&series, judged_from);
        report.scores_written += scores::upsert(&tx, symbol, interval, &scored).await?;
        // An event ending within `merge_within` calm candles of this page may continue into it.
        let context = candles[judged_from.saturating_sub(event_params.merge_within + 1)].open_time;
        reconcile_events(
            &tx,
            symbol,
            interval,
            event_params,
            (context, last_time),
            report,
        )
        .await?;
        let old_watermark = state.and_then(|s| s.watermark);
        match range {
            Range::New => {
                let seen = state.and_then(|s| s.rescan_from);
                let next = if recomputing {
                    old_watermark
                        .filter(|w| last_time < *w)
                        .map(|_| just_after(last_time))
                } else {
                    seen.filter(|r| *r > last_time)
                };
                let seen_writes = state.map(|s| s.writes);
                detector_state::finish_page(
                    &tx,
                    symbol,
                    interval,
                    Some(last_time),
                    seen_writes,
                    next,
                )
                .await?;
            }
            Range::Rescan { .. } => {
                detector_state::advance(&tx, symbol, interval, last_time).await?;
            }
        }
        tx.commit().await?;
        report.candles_scanned += page_len as u64;
        first_page = false;
        if recomputing {
            let known = old_watermark.map_or(0, |w| {
                candles[judged_from..]
                    .iter()
                    .filter(|c: &&Candle| c.open_time <= w)
                    .count()
            });
            report.candles_rescanned += known as u64;
        }
        tracing::debug!(%symbol, %interval, candles = page_len, recomputing, "page scanned");
        if let Range::Rescan { .. } = range {
            rescan_cursor = Some(just_after(last_time));
        }
        if page_len < page_size {
            return Ok(());
        }
    }
}

/// Makes the stored events around `from ..= to` what the stored scores say now: the events
/// overlapping the range widen it to their whole extent, the scores there are derived into
/// runs, and each run takes over the first stored event it overlaps (keeping its id), or is
/// inserted; stored events no run overlaps are deleted.
async fn reconcile_events(
    client: &impl deadpool_postgres::GenericClient,
    symbol: &Symbol,
    interval: Interval,
    params: &EventParams,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    report: &mut RunReport,
) -> Result<(), DbError> {
    let stored = anomalies::touching(client, symbol, interval, from, to).await?;
    let span_start = stored
        .iter()
        .map(|e| e.anomaly.start_time)
        .min()
        .map_or(from, |s| s.min(from));
    let span_end = stored
        .iter()
        .map(|e| e.anomaly.end_time)
        .max()
        .map_or(to, |e| e.max(to));
    let scores = scores::range(client, symbol, interval, span_start, span_end).await?;
    let derived = events::derive(&scores, interval, params);
    let mut unmatched: Vec<&anomalies::StoredAnomaly> = stored.iter().collect();
    for event in &derived {
        let overlapping = unmatched
            .iter()
            .position(|e| e.anomaly.start_time <= event.end && event.start <= e.anomaly.end_time);
        match overlapping {
            Some(position) => {
                let existing = unmatched.remove(position);
                if anomalies::update(client, existing.id, event).await? {
                    report.events_updated += 1;
                }
            }
            None => {
                anomalies::insert(client, symbol, interval, event).await?;
                report.events_opened += 1;
                for method in &event.methods {
                    *report.anomalies_found.entry(*method).or_default() += 1;
                }
            }
        }
    }
    let stale: Vec<i64> = unmatched.iter().map(|e| e.id).collect();
    report.events_deleted += anomalies::delete(client, &stale).await?;
    Ok(())
}
