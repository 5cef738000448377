//! `make run`: the pipeline on one machine, on the synthetic source by default.
//!
//! Migrates, fills the watch list with a few symbols, backfills their history through the
//! collector's own backfill, then runs the collector and the detector on a timer and serves the
//! API on 127.0.0.1 — the same library code the Lambdas run; only the scheduling differs.
//! Ctrl-C stops everything; the data stays for the next run.

// This binary talks to the person who started it.
#![allow(clippy::print_stdout)]

mod backfill;
mod seed;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, Env, Settings};
use tickwatch::db::{Db, DbError};
use tickwatch::detect::run::{Detection, Request, handle_request};
use tickwatch::notify::{Notifier, NotifySettings};
use tickwatch::startup::Resources;

/// How many days of history an empty series gets.
const BACKFILL_DAYS: i64 = 3;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = Env::process();
    let settings = Settings::from_env(&env).context("reading settings")?;
    tickwatch::telemetry::init(settings.log_format, settings.log_filter.clone());
    let source = seed::source_from_env(&env)?;
    let tick = Duration::from_secs(env.parse_or("TICK_SECONDS", 20u64)?.max(1));
    let port: u16 = env.parse_or("PORT", 8080)?;

    let db = Db::connect(&settings.database, None)
        .await
        .context("building the database pool")?;
    db.ensure_migrated().await.map_err(|error| match error {
        // Its message is the whole story, fix included: one line, not a chain.
        DbError::HistoryDiverged { .. } => anyhow::Error::new(error),
        error => anyhow::Error::new(error).context("migrating the database"),
    })?;
    tracing::info!(database = db.target(), "database ready");

    let resources = Resources::offline("local", settings, db.clone());
    let collector_settings = CollectorSettings::from_env(&env)?
        .resolve_keys(None)
        .await
        .context("collector settings")?;
    let collector = Arc::new(
        Collector::builder(collector_settings)
            .database(db.clone())
            .build()?,
    );
    let detection = Detection::from_env(&env).context("detector settings")?;
    // Locally the detector's result goes straight to the notifier: the data events are logged
    // and the alerts posted to ALERT_WEBHOOK_URL when it is set (no bus, no topic, no cloud).
    let mut notify = NotifySettings::from_env(&env).context("alert settings")?;
    notify.topic_arn = None;
    notify.event_bus = None;
    notify
        .chart_url
        .get_or_insert_with(|| format!("http://127.0.0.1:{port}"));
    let notifier = Notifier::new(notify, client_for_alerts()?, &resources.aws).await;

    let watch_list = seed::ensure_watch_list(&db, source).await?;
    backfill::fill(&db, &collector, &watch_list, BACKFILL_DAYS).await?;

    let api_key = api::load_api_key(&env, &resources.aws)
        .await
        .context("API key")?;
    let api_settings = api::ApiSettings::from_env(&env).context("API settings")?;
    let state = api::AppState::new(db.clone(), api_key)
        .with_collector(collector.clone())
        .with_metrics(resources.metrics.clone())
        .with_request_timeout(api_settings.request_timeout);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("port {port} is taken: set PORT to another one"))?;
    let server = tokio::spawn(api::serve(
        listener,
        api::app(state),
        api_settings.server,
        std::future::pending(),
    ));
    print_urls(port, &watch_list);

    let mut timer = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = timer.tick() => run_pipeline_once(&resources, &collector, &detection, &notifier).await,
        }
    }
    server.abort();
    tracing::info!("stopped; the data is kept for the next run");
    Ok(())
}

/// One scheduled collection, then one detector run, as the two EventBridge schedules would.
/// A failure is logged and the next tick tries again, as a retried schedule would.
async fn run_pipeline_once(
    resources: &Resources,
    collector: &Collector,
    detection: &Detection,
    notifier: &Notifier,
) {
    match collector.collect_due(Utc::now()).await {
        Ok(report) => tracing::info!(
            stored = report.outcomes.iter().map(|o| o.stored).sum::<u64>(),
            symbols = report.outcomes.len(),
            "collected"
        ),
        Err(error) => tracing::warn!(%error, "collection failed"),
    }
    match handle_request(resources, detection, &Request::Scheduled).await {
        Ok(result) => {
            notifier.deliver_payload(&result, Utc::now()).await;
        }
        Err(error) => tracing::warn!(%error, "detector run failed"),
    }
}

fn client_for_alerts() -> anyhow::Result<reqwest::Client> {
    tickwatch::providers::http::build_client(&tickwatch::config::HttpSettings::default())
        .context("HTTP client")
}

fn print_urls(port: u16, watch_list: &[tickwatch::model::WatchedSymbol]) {
    let base = format!("http://127.0.0.1:{port}");
    let symbol = watch_list
        .iter()
        .find(|w| w.symbol.as_str() == "BTC")
        .or(watch_list.first())
        .map_or("BTC", |w| w.symbol.as_str());
    println!();
    println!("tickwatch is running; Ctrl-C stops it. Try:");
    for path in [
        "/health".to_owned(),
        "/v1/symbols".to_owned(),
        format!("/v1/prices/{symbol}/latest"),
        format!("/v1/prices/{symbol}/history?limit=10"),
        format!("/v1/prices/{symbol}/history?limit=10&format=csv"),
        format!("/v1/prices/{symbol}/ma?window=20&kind=ema"),
        format!("/v1/prices/{symbol}/scores?limit=10"),
        "/v1/anomalies?limit=10".to_owned(),
        "/v1/anomalies/stats".to_owned(),
        "/openapi.json".to_owned(),
        "/metrics".to_owned(),
    ] {
        println!("  curl '{base}{path}'");
    }
    println!();
}
