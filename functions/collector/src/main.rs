//! The collector Lambda: wiring only. The work is done by `tickwatch::collect`.
//!
//! In the cloud it runs outside the VPC (free internet, no database credentials): it asks the
//! planner function for a plan (`PLANNER_FUNCTION`), fetches, and queues the candles for the
//! writer (`CANDLE_QUEUE_URL`). It answers EventBridge's schedule, manual events, and
//! `POST /v1/collect/{symbol}` from API Gateway. Without those two settings (the cargo lambda
//! loop, `make watch`) it plans and stores in-process against `DATABASE_URL`.

use std::sync::Arc;

use anyhow::Context as _;
use lambda_runtime::{LambdaEvent, service_fn};
use tickwatch::auth::{ApiKey, load_api_key};
use tickwatch::collect::remote::LambdaPlanner;
use tickwatch::collect::{Collector, SqsSink, http};
use tickwatch::config::{CollectorSettings, DatabaseSettings, Env, Observability};
use tickwatch::db::Db;
use tickwatch::metrics::{Metrics, MetricsSink};
use tickwatch::providers::http::build_client;

const FUNCTION: &str = "collector";

struct Wired {
    collector: Collector,
    metrics: MetricsSink,
    key: Option<ApiKey>,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let wired = match wire().await {
        Ok(wired) => wired,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot start");
            return Err(error.into());
        }
    };
    let wired = &wired;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move { handle(wired, event).await },
    ))
    .await
}

/// Settings, the AWS clients, the sources and the write key, once per cold start.
async fn wire() -> anyhow::Result<Wired> {
    let env = Env::process();
    let observability = Observability::from_env(&env)?;
    tickwatch::telemetry::init(observability.log_format);
    // Loaded on first use: a start that needs no AWS call (the cargo lambda loop) loads nothing.
    let aws = tickwatch::aws::Aws::lazy();
    let settings = CollectorSettings::from_env(&env)?
        .resolve_keys(Some(&aws))
        .await?;
    let client = build_client(&settings.http).context("HTTP client")?;
    let collector = match (env.get("PLANNER_FUNCTION"), env.get("CANDLE_QUEUE_URL")) {
        (Some(planner), Some(queue)) => {
            let config = aws.config().await;
            let planner = LambdaPlanner::new(aws_sdk_lambda::Client::new(config), planner);
            let sink = SqsSink::new(aws_sdk_sqs::Client::new(config), queue);
            Collector::remote(settings, client, Arc::new(planner), Arc::new(sink))
        }
        _ => {
            let db = Db::connect_lazy(&DatabaseSettings::from_env(&env)?, &aws).await?;
            db.ensure_migrated().await?;
            Collector::new(db, settings, client)
        }
    };
    Ok(Wired {
        collector,
        metrics: MetricsSink::new(&observability.metrics, Some(&aws)),
        key: load_api_key(&env, &aws).await?,
    })
}

async fn handle(
    wired: &Wired,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    if http::is_authorizer_request(&event.payload) {
        return Ok(http::authorize(wired.key.as_ref(), &event.payload));
    }
    if http::is_http_request(&event.payload) {
        let (response, report) =
            http::handle(&wired.collector, wired.key.as_ref(), event.payload).await;
        let mut metrics = Metrics::new(FUNCTION);
        if let Some(report) = report {
            report.record(&mut metrics);
        }
        publish(wired, metrics).await;
        return Ok(response);
    }
    let (result, metrics) = wired.collector.invoke(FUNCTION, event.payload).await;
    publish(wired, metrics).await;
    let report = result.map_err(|error| {
        tracing::error!(request_id = %event.context.request_id, retryable = error.is_retryable(), %error, "collection failed");
        error
    })?;
    Ok(serde_json::to_value(report)?)
}

async fn publish(wired: &Wired, metrics: Metrics) {
    if let Err(error) = wired.metrics.publish(metrics).await {
        tracing::warn!(%error, "metrics were not published");
    }
}
