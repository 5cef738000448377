//! The CloudWatch metrics sink against the local AWS-compatible server: the current SDK's
//! rpc-v2-cbor `PutMetricData`, one call per invocation, and the values read back with
//! `GetMetricData` under the exact names and dimensions the Terraform alarms and dashboard use.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use tickwatch::metrics::{Metrics, MetricsSink, Unit};
use tickwatch_tests::{init_logging, local_aws};

/// Records every HTTP request the client sends (retries included): path and content type.
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<Vec<(String, String)>>>);

impl Requests {
    fn seen(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .expect("the request log is not poisoned")
            .clone()
    }
}

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let content_type = request
            .headers()
            .get("content-type")
            .unwrap_or_default()
            .to_owned();
        self.0
            .lock()
            .expect("the request log is not poisoned")
            .push((request.uri().to_owned(), content_type));
        Ok(())
    }
}

/// A namespace of its own per test, so runs and tests never read each other's data.
fn fresh_namespace() -> String {
    format!("TickwatchTest/{}", uuid::Uuid::new_v4().simple())
}

/// A sink over a client that records its requests.
async fn recording_sink(namespace: &str) -> (MetricsSink, Requests, aws_sdk_cloudwatch::Client) {
    init_logging();
    let aws = local_aws().await;
    let requests = Requests::default();
    let config = aws_sdk_cloudwatch::config::Builder::from(&aws)
        .interceptor(requests.clone())
        .build();
    let client = aws_sdk_cloudwatch::Client::from_conf(config);
    let sink = MetricsSink::cloudwatch_with(client.clone(), namespace);
    (sink, requests, client)
}

/// One statistic of one metric, as the alarms and dashboard query it.
struct Query {
    name: &'static str,
    dimensions: &'static [(&'static str, &'static str)],
    stat: &'static str,
}

/// Reads `queries` back over the last few minutes (one value each, summed over the window),
/// polling briefly: the server may index a datum a moment after accepting it.
async fn read_back(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    queries: &[Query],
) -> Vec<Option<f64>> {
    let mut last = Vec::new();
    for _ in 0..20 {
        let now = std::time::SystemTime::now();
        let mut request = client
            .get_metric_data()
            .start_time(DateTime::from(now - Duration::from_secs(600)))
            .end_time(DateTime::from(now + Duration::from_secs(300)));
        for (i, q) in queries.iter().enumerate() {
            let metric = Metric::builder()
                .namespace(namespace)
                .metric_name(q.name)
                .set_dimensions(Some(
                    q.dimensions
                        .iter()
                        .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                        .collect(),
                ))
                .build();
            request = request.metric_data_queries(
                MetricDataQuery::builder()
                    .id(format!("q{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(900)
                            .stat(q.stat)
                            .build(),
                    )
                    .build(),
            );
        }
        let output = request
            .send()
            .await
            .expect("GetMetricData answers on the local server");
        last = (0..queries.len())
            .map(|i| {
                let id = format!("q{i}");
                output
                    .metric_data_results()
                    .iter()
                    .find(|r| r.id() == Some(id.as_str()))
                    .filter(|r| !r.values().is_empty())
                    .map(|r| r.values().iter().sum::<f64>())
            })
            .collect();
        if last.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

#[tokio::test]
async fn one_invocation_sends_one_cbor_put_metric_data_and_every_value_reads_back() {
    // Arrange: what a collector run records.
    let namespace = fresh_namespace();
    let (sink, requests, client) = recording_sink(&namespace).await;
    let mut metrics = Metrics::new("collector");
    metrics.count("CandlesStored", 3.0, &[]);
    metrics.count("CandlesStored", 4.0, &[]);
    metrics.count("CandlesRejected", 2.0, &[("Reason", "negative_price")]);
    metrics.count("SourceErrors", 1.0, &[("Source", "binance")]);
    metrics.observe(
        "SourceLatency",
        120.0,
        Unit::Milliseconds,
        &[("Source", "binance")],
    );
    metrics.observe(
        "SourceLatency",
        80.0,
        Unit::Milliseconds,
        &[("Source", "binance")],
    );
    metrics.observe("DataAgeSeconds", 300.0, Unit::Seconds, &[]);

    // Act
    let sent = sink
        .publish(metrics)
        .await
        .expect("the local server accepts the batch");

    // Assert: five data (the two counts summed, the two timings in one datum) in one request,
    // spoken in rpc-v2-cbor as the current SDK does.
    assert_eq!(sent, 5);
    let seen = requests.seen();
    assert_eq!(seen.len(), 1, "one PutMetricData request, got {seen:?}");
    let (path, content_type) = &seen[0];
    assert!(path.ends_with("/operation/PutMetricData"), "{path}");
    assert_eq!(content_type, "application/cbor");

    let values = read_back(
        &client,
        &namespace,
        &[
            Query {
                name: "CandlesStored",
                dimensions: &[("Function", "collector")],
                stat: "Sum",
            },
            Query {
                name: "CandlesRejected",
                dimensions: &[("Function", "collector"), ("Reason", "negative_price")],
                stat: "Sum",
            },
            Query {
                name: "SourceErrors",
                dimensions: &[("Function", "collector"), ("Source", "binance")],
                stat: "Sum",
            },
            Query {
                name: "SourceLatency",
                dimensions: &[("Function", "collector"), ("Source", "binance")],
                stat: "Maximum",
            },
            Query {
                name: "SourceLatency",
                dimensions: &[("Function", "collector"), ("Source", "binance")],
                stat: "SampleCount",
            },
            // Exactly what the data-stale alarm in terraform/monitoring.tf reads.
            Query {
                name: "DataAgeSeconds",
                dimensions: &[("Function", "collector")],
                stat: "Maximum",
            },
        ],
    )
    .await;
    assert_eq!(
        values,
        vec![
            Some(7.0),
            Some(2.0),
            Some(1.0),
            Some(120.0),
            Some(2.0),
            Some(300.0)
        ]
    );
}

#[tokio::test]
async fn each_metric_is_stored_with_exactly_the_dimension_set_the_dashboard_searches() {
    // The dashboard searches {namespace,Function,Method} for AnomaliesFound and the alarms
    // match dimensions exactly, so a datum must carry Function plus its own dimensions only.
    let namespace = fresh_namespace();
    let (sink, _requests, client) = recording_sink(&namespace).await;
    let mut metrics = Metrics::new("detector");
    metrics.count("AnomaliesFound", 3.0, &[("Method", "zscore")]);
    metrics.count("SeriesScanned", 2.0, &[]);
    sink.publish(metrics).await.expect("accepted");

    let mut listed = Vec::new();
    for _ in 0..20 {
        let output = client
            .list_metrics()
            .namespace(&namespace)
            .send()
            .await
            .expect("ListMetrics answers on the local server");
        listed = output
            .metrics()
            .iter()
            .map(|m| {
                let mut dims: Vec<String> = m
                    .dimensions()
                    .iter()
                    .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                    .collect();
                dims.sort();
                (m.metric_name().unwrap_or("").to_owned(), dims)
            })
            .collect::<Vec<_>>();
        if listed.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    listed.sort();
    assert_eq!(
        listed,
        vec![
            (
                "AnomaliesFound".to_owned(),
                vec!["Function=detector".to_owned(), "Method=zscore".to_owned()]
            ),
            (
                "SeriesScanned".to_owned(),
                vec!["Function=detector".to_owned()]
            ),
        ]
    );
}

#[tokio::test]
async fn an_invocation_without_metrics_sends_nothing() {
    let namespace = fresh_namespace();
    let (sink, requests, _client) = recording_sink(&namespace).await;
    let sent = sink
        .publish(Metrics::new("api"))
        .await
        .expect("nothing to send is no error");
    assert_eq!(sent, 0);
    assert!(requests.seen().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_as_an_error() {
    init_logging();
    let aws = local_aws().await;
    // A loopback port nobody listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let config = aws_sdk_cloudwatch::config::Builder::from(&aws)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled())
        .build();
    let sink = MetricsSink::cloudwatch_with(
        aws_sdk_cloudwatch::Client::from_conf(config),
        &fresh_namespace(),
    );
    let mut metrics = Metrics::new("collector");
    metrics.count("CandlesStored", 1.0, &[]);
    let err = sink
        .publish(metrics)
        .await
        .expect_err("nobody listens there");
    assert!(
        err.to_string()
            .starts_with("metrics could not be published"),
        "{err}"
    );
}
