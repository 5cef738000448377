//! One way in for each collection function: what its `main` builds once per cold start
//! (`from_env`) and what each invocation does with it (`handle`), so a `main` is wiring only
//! and a test or the local runner can call the same code.
//!
//! - [`CollectorFunction`]: the wiring follows the settings. With `PLANNER_FUNCTION` and
//!   `CANDLE_QUEUE_URL` (the cloud) it fetches only, planning through the planner function and
//!   queueing for the writer; without them (the cargo lambda loop, `make watch`) it plans and
//!   stores in-process against `DATABASE_URL`. One invocation answers API Gateway's
//!   authorizer, `POST /v1/collect/{symbol}`, EventBridge's schedule or a manual event.
//! - [`PlannerFunction`]: a collection request in, its plan out.
//! - [`WriterFunction`]: an SQS batch of candles in, the messages it could not store out.
//!
//! Each publishes its metrics in one call per invocation.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use serde_json::Value;

use super::{CollectError, CollectPlan, Collector, Planner, http, plan, writer};
use crate::auth::{ApiKey, load_api_key};
use crate::aws::Aws;
use crate::config::{CollectorSettings, DatabaseSettings, Env, Observability};
use crate::metrics::{Metrics, MetricsSink};
use crate::startup::{Resources, StartupError};

/// The metrics namespace's function name.
const FUNCTION: &str = "collector";

/// The collector function, built once per cold start and shared by every invocation.
#[derive(Debug)]
pub struct CollectorFunction {
    collector: Collector,
    metrics: MetricsSink,
    key: Option<ApiKey>,
}

impl CollectorFunction {
    /// Reads the settings, sets up logging, and builds the collector, the metrics sink and the
    /// write key. The AWS SDK is loaded on first use: a start that needs no AWS call (the
    /// cargo lambda loop) loads nothing.
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let observability = Observability::from_env(env)?;
        crate::telemetry::init(observability.log_format, observability.log_filter.clone());
        let aws = Aws::lazy();
        let settings = CollectorSettings::from_env(env)?
            .resolve_keys(Some(&aws))
            .await?;
        let builder = Collector::builder(settings);
        let builder = match (env.get("PLANNER_FUNCTION"), env.get("CANDLE_QUEUE_URL")) {
            (Some(planner), Some(queue)) => remote(builder, &aws, planner, queue).await?,
            _ => {
                let db =
                    crate::db::Db::connect_lazy(&DatabaseSettings::from_env(env)?, &aws).await?;
                db.ensure_migrated().await?;
                builder.database(db)
            }
        };
        Ok(Self {
            collector: builder.build()?,
            metrics: MetricsSink::new(&observability.metrics, Some(&aws)),
            key: load_api_key(env, &aws).await?,
        })
    }

    /// Answers one invocation: an authorizer request, an HTTP request (the answer carries its
    /// own status, so only a scheduled or manual event can fail the invocation), or a
    /// collector event.
    pub async fn handle(&self, payload: Value, request_id: &str) -> Result<Value, CollectError> {
        if http::is_authorizer_request(&payload) {
            return Ok(http::authorize(self.key.as_ref(), &payload));
        }
        if http::is_http_request(&payload) {
            let (response, report) =
                http::handle(&self.collector, self.key.as_ref(), payload).await;
            let mut metrics = Metrics::new(FUNCTION);
            if let Some(report) = report {
                report.record(&mut metrics);
            }
            self.metrics.publish_or_warn(metrics).await;
            return Ok(response);
        }
        let (result, metrics) = self.collector.invoke(FUNCTION, payload).await;
        self.metrics.publish_or_warn(metrics).await;
        let report = result.inspect_err(|error| {
            tracing::error!(request_id, retryable = error.is_retryable(), %error, "collection failed");
        })?;
        Ok(serde_json::to_value(report).unwrap_or(Value::Null))
    }
}

#[cfg(feature = "aws-remote")]
async fn remote(
    builder: super::CollectorBuilder,
    aws: &Aws,
    planner: String,
    queue: String,
) -> Result<super::CollectorBuilder, StartupError> {
    use std::sync::Arc;
    let config = aws.config().await;
    let planner = super::remote::LambdaPlanner::new(aws_sdk_lambda::Client::new(config), planner);
    let sink = super::SqsSink::new(aws_sdk_sqs::Client::new(config), queue);
    Ok(builder.remote(Arc::new(planner), Arc::new(sink)))
}

/// A build without the planner and queue clients refuses the cloud's wiring at start instead
/// of silently storing in-process.
#[cfg(not(feature = "aws-remote"))]
async fn remote(
    _builder: super::CollectorBuilder,
    _aws: &Aws,
    _planner: String,
    _queue: String,
) -> Result<super::CollectorBuilder, StartupError> {
    Err(crate::config::ConfigError::NotBuiltIn {
        name: "PLANNER_FUNCTION",
        feature: "aws-remote",
    }
    .into())
}

/// The planner function (inside the VPC), built once per cold start.
#[derive(Debug)]
pub struct PlannerFunction {
    resources: Resources,
    planner: Planner,
}

impl PlannerFunction {
    /// The function's name in logs and metrics.
    pub const NAME: &'static str = "planner";

    /// The database pool, the metrics sink and the collector settings plans are made with.
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let resources = Resources::from_env(Self::NAME).await?;
        let planner = Planner::new(resources.db.clone(), CollectorSettings::from_env(env)?);
        Ok(Self { resources, planner })
    }

    /// Migrates on first use, plans the request in `payload` and publishes the plan's metrics.
    pub async fn handle(
        &self,
        payload: Value,
        request_id: &str,
    ) -> Result<CollectPlan, CollectError> {
        self.resources
            .db
            .ensure_migrated()
            .await
            .map_err(CollectError::Migration)?;
        let (result, metrics) = plan::handle(&self.planner, Self::NAME, payload).await;
        self.resources.metrics.publish_or_warn(metrics).await;
        result.inspect_err(|error| {
            tracing::error!(request_id, retryable = error.is_retryable(), %error, "planning failed");
        })
    }
}

/// The writer function (inside the VPC), built once per cold start.
#[derive(Debug)]
pub struct WriterFunction {
    resources: Resources,
    batch_size: usize,
}

impl WriterFunction {
    /// The function's name in logs and metrics.
    pub const NAME: &'static str = "writer";

    /// The database pool, the metrics sink and the statement size (`BATCH_SIZE`).
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let resources = Resources::from_env(Self::NAME).await?;
        let batch_size = CollectorSettings::from_env(env)?.batch_size;
        Ok(Self {
            resources,
            batch_size,
        })
    }

    /// Stores the batch and answers with the messages SQS must deliver again. It never fails
    /// the invocation: a failed invocation would redeliver the messages already stored.
    pub async fn handle(&self, event: &SqsEvent) -> SqsBatchResponse {
        if let Err(error) = self.resources.db.ensure_migrated().await {
            tracing::warn!(%error, "migrations could not be checked; storing anyway");
        }
        let (response, report) =
            writer::handle(&self.resources.db, event, Utc::now(), self.batch_size).await;
        let mut metrics = Metrics::new(Self::NAME);
        report.record(&mut metrics);
        self.resources.metrics.publish_or_warn(metrics).await;
        response
    }
}
