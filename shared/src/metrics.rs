//! Metrics: gathered in memory during an invocation, then sent in one batched CloudWatch
//! `PutMetricData` call (or written to the log locally). One call per invocation keeps the cost
//! and latency of observability flat however much work the invocation did.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use tokio::sync::OnceCell;

use crate::aws::Aws;
use crate::config::{MetricsSettings, MetricsSinkKind};

/// CloudWatch accepts at most this many data per `PutMetricData` request.
const MAX_DATA_PER_CALL: usize = 1000;
/// CloudWatch accepts at most this many distinct values in one datum.
const MAX_VALUES_PER_DATUM: usize = 150;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

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

#[derive(Debug, thiserror::Error)]
#[error("metrics could not be published: {0}")]
pub struct MetricsError(String);

/// Where [`Metrics`] go at the end of an invocation.
#[derive(Debug, Clone)]
pub enum MetricsSink {
    /// The client is built on the first publish, so a start that publishes nothing never
    /// loads the SDK.
    CloudWatch {
        aws: Aws,
        client: Arc<OnceCell<aws_sdk_cloudwatch::Client>>,
        namespace: String,
    },
    Log {
        namespace: String,
    },
    Disabled,
}

impl MetricsSink {
    /// Builds the sink the settings ask for. CloudWatch needs `aws`; without it the sink falls
    /// back to the log so no metric is silently lost.
    pub fn new(settings: &MetricsSettings, aws: Option<&Aws>) -> Self {
        match (settings.sink, aws) {
            (MetricsSinkKind::CloudWatch, Some(aws)) => Self::CloudWatch {
                aws: aws.clone(),
                client: Arc::default(),
                namespace: settings.namespace.clone(),
            },
            (MetricsSinkKind::None, _) => Self::Disabled,
            _ => Self::Log {
                namespace: settings.namespace.clone(),
            },
        }
    }

    /// A CloudWatch sink over a client built elsewhere (a test's, pointed at a local server).
    pub fn cloudwatch_with(client: aws_sdk_cloudwatch::Client, namespace: &str) -> Self {
        Self::CloudWatch {
            aws: Aws::lazy(),
            client: Arc::new(OnceCell::new_with(Some(client))),
            namespace: namespace.to_owned(),
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
                        .map_err(|e| {
                            MetricsError(
                                aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
                            )
                        })?;
                }
                Ok(sent)
            }
        }
    }
}

#[cfg(test)]
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
