//! `make run`: the pipeline on one machine, on the synthetic source by default.
//!
//! Migrates, fills an empty watch list with a few synthetic symbols, backfills their history,
//! then keeps collecting on a timer until Ctrl-C. It runs the same library code the Lambdas
//! run; only the scheduling differs.

mod backfill;
mod seed;

use std::time::Duration;

use anyhow::Context;
use tickwatch::config::Settings;
use tickwatch::db::Db;

/// How many days of history an empty series gets.
const BACKFILL_DAYS: i64 = 3;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_process_env().context("reading settings")?;
    tickwatch::telemetry::init(settings.log_format);
    let db = Db::connect(&settings.database, None)
        .await
        .context("building the database pool")?;
    let applied = db.migrate().await.context("migrating the database")?;
    tracing::info!(applied, database = db.target(), "database ready");

    let watch_list = seed::ensure_watch_list(&db).await?;
    backfill::fill_empty_series(&db, &watch_list, BACKFILL_DAYS).await?;

    tracing::info!("collector, detector and API are wired in as their crates land; Ctrl-C stops");
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => backfill::fill_empty_series(&db, &watch_list, BACKFILL_DAYS).await?,
        }
    }
    tracing::info!("stopped; the data is kept for the next run");
    Ok(())
}
