//! Metrics: gathered in memory during an invocation, then sent once at its end — one batched
//! CloudWatch `PutMetricData` call from the functions outside the VPC, CloudWatch Embedded
//! Metric Format (EMF) lines on stdout from the ones inside it (CloudWatch Logs extracts them:
//! no network path, no request to pay for, nothing to wait on), or the log locally. One
//! publish per invocation keeps the cost and latency of observability flat however much work
//! the invocation did.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[cfg(feature = "aws-cloudwatch")]
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
#[cfg(feature = "aws-cloudwatch")]
use tokio::sync::OnceCell;

use crate::aws::Aws;
use crate::config::{MetricsSettings, MetricsSinkKind};

/// CloudWatch accepts at most this many data per `PutMetricData` request.
#[cfg(feature = "aws-cloudwatch")]
const MAX_DATA_PER_CALL: usize = 1000;
/// CloudWatch accepts at most this many distinct values in one datum.
#[cfg(feature = "aws-cloudwatch")]
const MAX_VALUES_PER_DATUM: usize = 150;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
        }
    }
}

/// EMF allows at most this many values for one metric in one line.
const MAX_EMF_VALUES: usize = 100;

type Key = (String, Vec<(String, String)>, Unit);

/// The metrics of one invocation. Counts with the same name and dimensions are summed;
/// timings are kept as individual values so CloudWatch can compute percentiles.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: String,
    counts: BTreeMap<Key, f64>,
    values: BTreeMap<Key, Vec<f64>>,
}

impl Metrics {
    /// `function` becomes the `Function` dimension on every datum.
    pub fn new(function: &str) -> Self {
        Self {
            function: function.to_owned(),
            counts: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }

    fn key(&self, name: &str, dimensions: &[(&str, &str)], unit: Unit) -> Key {
        let mut dims: Vec<(String, String)> = vec![("Function".to_owned(), self.function.clone())];
        dims.extend(
            dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        dims.sort();
        (name.to_owned(), dims, unit)
    }

    /// Adds `value` to a counter.
    pub fn count(&mut self, name: &str, value: f64, dimensions: &[(&str, &str)]) {
        let key = self.key(name, dimensions, Unit::Count);
        *self.counts.entry(key).or_default() += value;
    }

    /// Records one observation of a timing or level.
    pub fn observe(&mut self, name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
        if value.is_finite() {
            let key = self.key(name, dimensions, unit);
            self.values.entry(key).or_default().push(value);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.values.is_empty()
    }

    /// The summed value of a counter, for tests and invocation summaries.
    pub fn counter(&self, name: &str, dimensions: &[(&str, &str)]) -> f64 {
        self.counts
            .get(&self.key(name, dimensions, Unit::Count))
            .copied()
            .unwrap_or(0.0)
    }

    /// The metrics as EMF lines: one JSON object per dimension set, each value under its
    /// metric's name, the dimensions as top-level fields. CloudWatch Logs turns every line
    /// into the same metrics `PutMetricData` would have made.
    pub fn to_emf(&self, namespace: &str, timestamp_ms: i64) -> Vec<String> {
        type Entry = (Unit, Vec<f64>);
        let mut by_dims: BTreeMap<&[(String, String)], BTreeMap<&str, Entry>> = BTreeMap::new();
        for ((name, dims, unit), value) in &self.counts {
            by_dims
                .entry(dims)
                .or_default()
                .insert(name, (*unit, vec![*value]));
        }
        for ((name, dims, unit), values) in &self.values {
            by_dims
                .entry(dims)
                .or_default()
                .insert(name, (*unit, values.clone()));
        }
        let mut lines = Vec::new();
        for (dims, metrics) in by_dims {
            let mut line = serde_json::Map::new();
            let names: Vec<&str> = dims.iter().map(|(k, _)| k.as_str()).collect();
            let definitions: Vec<serde_json::Value> = metrics
                .iter()
                .map(|(name, (unit, _))| serde_json::json!({"Name": name, "Unit": unit.as_str()}))
                .collect();
            line.insert(
                "_aws".to_owned(),
                serde_json::json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [names],
                        "Metrics": definitions,
                    }],
                }),
            );
            for (key, value) in dims {
                line.insert(key.clone(), serde_json::Value::from(value.as_str()));
            }
            for (name, (_, values)) in metrics {
                let value = match values.as_slice() {
                    [one] => serde_json::json!(one),
                    many => serde_json::json!(&many[..many.len().min(MAX_EMF_VALUES)]),
                };
                line.insert(name.to_owned(), value);
            }
            lines.push(serde_json::Value::Object(line).to_string());
        }
        lines
    }

    #[cfg(feature = "aws-cloudwatch")]
    fn into_data(self) -> Vec<MetricDatum> {
        let dims = |d: &[(String, String)]| {
            d.iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect::<Vec<_>>()
        };
        let unit = |u: Unit| match u {
            Unit::Count => StandardUnit::Count,
            Unit::Milliseconds => StandardUnit::Milliseconds,
            Unit::Seconds => StandardUnit::Seconds,
        };
        let mut data = Vec::new();
        for ((name, d, u), value) in &self.counts {
            data.push(
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dims(d)))
                    .unit(unit(*u))
                    .value(*value)
                    .build(),
            );
        }
        for ((name, d, u), values) in &self.values {
            for chunk in values.chunks(MAX_VALUES_PER_DATUM) {
                data.push(
                    MetricDatum::builder()
                        .metric_name(name)
                        .set_dimensions(Some(dims(d)))
                        .unit(unit(*u))
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                );
            }
        }
        data
    }
}

/// Why a publish failed, with the writer's or the SDK's error kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics could not be published: EMF lines could not be written: {0}")]
    Emf(#[source] std::io::Error),
    /// `PutMetricData` failed (boxed: the SDK's error is large, and a publish that worked
    /// should not pay for it).
    #[cfg(feature = "aws-cloudwatch")]
    #[error("metrics could not be published: {}", aws_sdk_cloudwatch::error::DisplayErrorContext(.0.as_ref()))]
    CloudWatch(
        #[source]
        Box<
            aws_sdk_cloudwatch::error::SdkError<
                aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError,
            >,
        >,
    ),
}

/// Where [`Metrics`] go at the end of an invocation.
#[derive(Debug, Clone)]
pub enum MetricsSink {
    /// The client is built on the first publish, so a start that publishes nothing never
    /// loads the SDK.
    #[cfg(feature = "aws-cloudwatch")]
    CloudWatch {
        aws: Aws,
        client: Arc<OnceCell<aws_sdk_cloudwatch::Client>>,
        namespace: String,
    },
    /// EMF lines on `out` (stdout on Lambda).
    Emf {
        namespace: String,
        out: EmfOut,
    },
    Log {
        namespace: String,
    },
    Disabled,
}

/// Where EMF lines go: stdout, or a buffer a test reads back.
#[derive(Clone)]
pub struct EmfOut(Arc<Mutex<Box<dyn Write + Send>>>);

impl std::fmt::Debug for EmfOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmfOut")
    }
}

impl EmfOut {
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    pub fn to(writer: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(writer)))
    }

    fn write_lines(&self, lines: &[String]) -> std::io::Result<()> {
        let mut out = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("the EMF writer is poisoned"))?;
        for line in lines {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

impl MetricsSink {
    /// Builds the sink the settings ask for. CloudWatch needs `aws`; without it the sink falls
    /// back to the log so no metric is silently lost.
    pub fn new(settings: &MetricsSettings, aws: Option<&Aws>) -> Self {
        match (settings.sink, aws) {
            #[cfg(feature = "aws-cloudwatch")]
            (MetricsSinkKind::CloudWatch, Some(aws)) => Self::CloudWatch {
                aws: aws.clone(),
                client: Arc::default(),
                namespace: settings.namespace.clone(),
            },
            #[cfg(not(feature = "aws-cloudwatch"))]
            (MetricsSinkKind::CloudWatch, _) => {
                let _ = aws;
                tracing::warn!(
                    "METRICS_SINK=cloudwatch needs the aws-cloudwatch feature, which this function is built without: metrics go to the log"
                );
                Self::Log {
                    namespace: settings.namespace.clone(),
                }
            }
            (MetricsSinkKind::Emf, _) => Self::Emf {
                namespace: settings.namespace.clone(),
                out: EmfOut::stdout(),
            },
            (MetricsSinkKind::None, _) => Self::Disabled,
            _ => Self::Log {
                namespace: settings.namespace.clone(),
            },
        }
    }

    /// A CloudWatch sink over a client built elsewhere (a test's, pointed at a local server).
    #[cfg(feature = "aws-cloudwatch")]
    pub fn cloudwatch_with(client: aws_sdk_cloudwatch::Client, namespace: &str) -> Self {
        Self::CloudWatch {
            aws: Aws::lazy(),
            client: Arc::new(OnceCell::new_with(Some(client))),
            namespace: namespace.to_owned(),
        }
    }

    /// Publishes, logging a failure instead of returning it: by the time an invocation's
    /// metrics go out its work is done, and losing them must not fail it (a retried
    /// invocation would do the work again).
    pub async fn publish_or_warn(&self, metrics: Metrics) {
        if let Err(error) = self.publish(metrics).await {
            tracing::warn!(%error, "metrics were not published");
        }
    }

    /// Sends everything in `metrics`: one `PutMetricData` call (more only past CloudWatch's
    /// 1,000-datum limit, which one invocation of ours does not reach).
    pub async fn publish(&self, metrics: Metrics) -> Result<usize, MetricsError> {
        if metrics.is_empty() {
            return Ok(0);
        }
        match self {
            Self::Disabled => Ok(0),
            Self::Emf { namespace, out } => {
                let lines = metrics.to_emf(namespace, chrono::Utc::now().timestamp_millis());
                out.write_lines(&lines).map_err(MetricsError::Emf)?;
                Ok(metrics.counts.len() + metrics.values.len())
            }
            Self::Log { namespace } => {
                let sent = metrics.counts.len() + metrics.values.len();
                for ((name, dims, _), value) in &metrics.counts {
                    tracing::info!(target: "tickwatch::metrics", namespace, metric = %name, ?dims, value, "metric");
                }
                for ((name, dims, unit), values) in &metrics.values {
                    tracing::info!(target: "tickwatch::metrics", namespace, metric = %name, ?dims, ?unit, ?values, "metric");
                }
                Ok(sent)
            }
            #[cfg(feature = "aws-cloudwatch")]
            Self::CloudWatch {
                aws,
                client,
                namespace,
            } => {
                let client = client
                    .get_or_init(|| async { aws_sdk_cloudwatch::Client::new(aws.config().await) })
                    .await;
                let data = metrics.into_data();
                let sent = data.len();
                for chunk in data.chunks(MAX_DATA_PER_CALL) {
                    client
                        .put_metric_data()
                        .namespace(namespace)
                        .set_metric_data(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| MetricsError::CloudWatch(Box::new(e)))?;
                }
                Ok(sent)
            }
        }
    }
}

/// What the sink sends to CloudWatch (its calls to a local server: tests/integration/metrics.rs;
/// EMF lines: tests/integration/metrics_terraform.rs).
#[cfg(all(test, feature = "aws-cloudwatch"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cloudwatch_sink_loads_no_aws_configuration_until_it_sends_something() {
        let aws = Aws::lazy();
        let settings = MetricsSettings {
            sink: MetricsSinkKind::CloudWatch,
            namespace: "Test".to_owned(),
        };
        let sink = MetricsSink::new(&settings, Some(&aws));
        assert!(matches!(sink, MetricsSink::CloudWatch { .. }));
        assert_eq!(sink.publish(Metrics::new("api")).await.ok(), Some(0));
        assert!(!aws.is_loaded(), "nothing to send, nothing loaded");
    }

    #[test]
    fn counts_with_the_same_name_and_dimensions_are_summed() {
        let mut metrics = Metrics::new("collector");
        metrics.count("CandlesStored", 3.0, &[("Source", "binance")]);
        metrics.count("CandlesStored", 4.0, &[("Source", "binance")]);
        metrics.count("CandlesStored", 1.0, &[("Source", "coingecko")]);
        assert_eq!(
            metrics.counter("CandlesStored", &[("Source", "binance")]),
            7.0
        );
        assert_eq!(metrics.into_data().len(), 2);
    }

    #[test]
    fn timings_keep_their_values_and_split_past_the_per_datum_limit() {
        let mut metrics = Metrics::new("collector");
        for i in 0..(MAX_VALUES_PER_DATUM + 1) {
            metrics.observe("SourceLatency", i as f64, Unit::Milliseconds, &[]);
        }
        metrics.observe("SourceLatency", f64::NAN, Unit::Milliseconds, &[]);
        let data = metrics.into_data();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].values().len(), MAX_VALUES_PER_DATUM);
        assert!(
            data[0]
                .dimensions()
                .iter()
                .any(|d| d.value() == Some("collector"))
        );
    }
}
