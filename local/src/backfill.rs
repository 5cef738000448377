//! History for series that have none, with a progress bar, from the synthetic source.

use chrono::{TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tickwatch::db::Db;
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::model::{Provider, WatchedSymbol};
use tickwatch::providers::synthetic::{self, SyntheticParams};

const BATCH: usize = 2_000;

/// Generates and stores `days` of history for every synthetic series that is still empty.
pub async fn fill_empty_series(
    db: &Db,
    watch_list: &[WatchedSymbol],
    days: i64,
) -> anyhow::Result<()> {
    let client = db.client().await?;
    for entry in watch_list
        .iter()
        .filter(|w| w.provider == Provider::Synthetic)
    {
        if candles::latest(&client, &entry.symbol, entry.interval)
            .await?
            .is_some()
        {
            continue;
        }
        let now = Utc::now();
        let start = entry.interval.bucket_start(now - TimeDelta::days(days));
        let count = ((now - start).num_seconds() / entry.interval.seconds()) as usize;
        let series = synthetic::generate(
            &entry.symbol,
            entry.interval,
            start,
            count,
            &SyntheticParams::default(),
        );
        let bar = ProgressBar::new(series.candles.len() as u64).with_style(
            ProgressStyle::with_template("{msg:>6} [{bar:40}] {pos}/{len} candles")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(entry.symbol.to_string());
        for batch in series.candles.chunks(BATCH) {
            candles::upsert(&client, batch, UpsertMode::Replace).await?;
            bar.inc(batch.len() as u64);
        }
        bar.finish();
    }
    Ok(())
}
