//! History for the watch list, through the collector's own backfill, with a progress bar.

use chrono::{TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tickwatch::collect::Collector;
use tickwatch::db::{Db, candles};
use tickwatch::model::WatchedSymbol;

/// Each backfill call covers this much time, so the bar moves while history arrives.
const STEP: TimeDelta = TimeDelta::hours(6);

/// Fills each series from its newest candle (or `days` ago) up to now. Re-running it stores
/// nothing new, so a restart costs one query per series.
pub async fn fill(
    db: &Db,
    collector: &Collector,
    watch_list: &[WatchedSymbol],
    days: i64,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let window_start = now - TimeDelta::days(days);
    for entry in watch_list {
        let newest = {
            let client = db.client().await?;
            candles::latest(&client, &entry.symbol, entry.interval).await?
        };
        let from = newest.map_or(window_start, |c| c.open_time.max(window_start));
        if now - from <= entry.interval.duration() {
            continue;
        }
        let steps = ((now - from).num_seconds() / STEP.num_seconds() + 1) as u64;
        let bar = ProgressBar::new(steps).with_style(
            ProgressStyle::with_template("{msg:>6} [{bar:40}] {percent:>3}% history")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(entry.symbol.to_string());
        let mut stored = 0;
        let mut start = from;
        while start < now {
            let end = (start + STEP).min(now);
            match collector
                .backfill(std::slice::from_ref(&entry.symbol), start, end)
                .await
            {
                Ok(report) => stored += report.outcomes.iter().map(|o| o.stored).sum::<u64>(),
                Err(error) => {
                    bar.abandon();
                    tracing::warn!(symbol = %entry.symbol, %error, "backfill stopped; the next run resumes it");
                    break;
                }
            }
            bar.inc(1);
            start = end;
        }
        bar.finish();
        tracing::info!(symbol = %entry.symbol, stored, "history filled");
    }
    Ok(())
}
