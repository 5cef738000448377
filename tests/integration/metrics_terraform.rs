//! Every custom metric the Terraform's alarms and dashboard read (`local.custom_metrics` in
//! terraform/monitoring.tf) is one the code emits, under exactly those dimensions: each
//! function's library entry point runs against real PostgreSQL (and a loopback source), its
//! metrics are rendered as the EMF lines the in-VPC functions write, and the lines are parsed
//! back as CloudWatch would read them.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::sqs::SqsEvent;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use tickwatch::collect::{CandleBatch, Merge, Planner, plan, writer};
use tickwatch::detect::run::RunReport;
use tickwatch::metrics::Metrics;
use tickwatch::model::{Interval, Method};
use tickwatch::providers::SyntheticSource;
use tickwatch_tests::{TestDb, sym, watch_synthetic};
use wiremock::MockServer;

use crate::collector::{collector, settings_for};

/// `Name = { Key = "value", ... }` lines of the `custom_metrics` map.
fn terraform_metrics() -> BTreeSet<(String, BTreeMap<String, String>)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/monitoring.tf"),
    )
    .expect("monitoring.tf");
    let block = text
        .split("custom_metrics = {")
        .nth(1)
        .and_then(|rest| rest.split("\n  }").next())
        .expect("a custom_metrics map");
    let mut found = BTreeSet::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, dims) = line.split_once('=').expect("Name = { ... }");
        let dims = dims.trim().trim_start_matches('{').trim_end_matches('}');
        let dims = dims
            .split(',')
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                let (k, v) = d.split_once('=').expect("Key = \"value\"");
                (k.trim().to_owned(), v.trim().trim_matches('"').to_owned())
            })
            .collect();
        found.insert((name.trim().to_owned(), dims));
    }
    assert!(found.len() >= 5, "the map was not read: {found:?}");
    found
}

/// What CloudWatch extracts from EMF lines: (metric, dimensions) for every declared metric.
fn read_emf(lines: &[String]) -> BTreeSet<(String, BTreeMap<String, String>)> {
    let mut found = BTreeSet::new();
    for line in lines {
        let doc: Value = serde_json::from_str(line).expect("an EMF line is JSON");
        for directive in doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            assert_eq!(directive["Namespace"], "Tickwatch");
            let dim_names: Vec<&str> = directive["Dimensions"][0]
                .as_array()
                .expect("a dimension set")
                .iter()
                .map(|d| d.as_str().expect("a name"))
                .collect();
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("a name");
                assert!(
                    doc[name].is_number() || doc[name].is_array(),
                    "{name} has a value"
                );
                assert!(metric["Unit"].is_string());
                let dims = dim_names
                    .iter()
                    .map(|d| {
                        (
                            (*d).to_owned(),
                            doc[*d].as_str().expect("a value").to_owned(),
                        )
                    })
                    .collect();
                found.insert((name.to_owned(), dims));
            }
        }
    }
    found
}

#[tokio::test]
async fn every_metric_the_terraform_reads_is_emitted_with_exactly_its_dimensions() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let now = Utc::now();
    let mut emitted = BTreeSet::new();

    // planner: a scheduled plan over a series with a hole.
    let settings = settings_for(&server);
    let source = SyntheticSource::new(settings.synthetic_seed);
    let start = Interval::OneMinute.bucket_start(now) - TimeDelta::minutes(30);
    let mut candles = source.candles(
        &sym("SYN"),
        Interval::OneMinute,
        start,
        start + TimeDelta::minutes(20),
    );
    candles.retain(|c| c.open_time != start + TimeDelta::minutes(5));
    let batch = CandleBatch {
        symbol: sym("SYN"),
        interval: Interval::OneMinute,
        merge: Merge::Replace,
        covers: None,
        candles,
    };
    let event: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": "m1", "body": batch.encode()[0], "eventSource": "aws:sqs",
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}}]}))
    .expect("an SQS event");
    let (response, report) = writer::handle(&test_db.db, &event, now, 1_000).await;
    assert!(response.batch_item_failures.is_empty());
    let mut metrics = Metrics::new("writer");
    report.record(&mut metrics);
    emitted.extend(read_emf(&metrics.to_emf("Tickwatch", 0)));

    let planner = Planner::new(test_db.db.clone(), settings);
    let (plan, metrics) = plan::handle(
        &planner,
        "planner",
        json!({"action": "scheduled", "time": now.to_rfc3339()}),
    )
    .await;
    assert!(plan.expect("a plan").gaps().missing >= 1);
    emitted.extend(read_emf(&metrics.to_emf("Tickwatch", 0)));

    // detector: a run's report.
    let mut metrics = Metrics::new("detector");
    RunReport::default().record(&mut metrics, Method::ALL);
    emitted.extend(read_emf(&metrics.to_emf("Tickwatch", 0)));

    // collector: PutMetricData (its own test reads it back from LocalStack); same datums.
    let (_, metrics) = collector(&test_db, &server)
        .invoke(
            "collector",
            json!({"action": "collect", "symbols": ["SYN"]}),
        )
        .await;
    emitted.extend(
        read_emf(&metrics.to_emf("Tickwatch", 0))
            .into_iter()
            .filter(|(name, _)| name == "SourceErrors"),
    );

    let wanted = terraform_metrics();
    let missing: Vec<_> = wanted.difference(&emitted).collect();
    assert!(
        missing.is_empty(),
        "read by the Terraform but never emitted: {missing:?}\nemitted: {emitted:?}"
    );
}

#[tokio::test]
async fn a_writer_batch_with_a_malformed_message_and_a_database_outage_loses_nothing() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let now = Utc::now();
    let start = Interval::OneMinute.bucket_start(now) - TimeDelta::minutes(10);
    let candles = SyntheticSource::new(1).candles(
        &sym("SYN"),
        Interval::OneMinute,
        start,
        start + TimeDelta::minutes(5),
    );
    let body = CandleBatch {
        symbol: sym("SYN"),
        interval: Interval::OneMinute,
        merge: Merge::Replace,
        covers: None,
        candles,
    }
    .encode()
    .remove(0);
    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "good", "body": body, "attributes": {}, "messageAttributes": {}},
        {"messageId": "junk", "body": "{\"symbol\": \"SYN\"}", "attributes": {}, "messageAttributes": {}},
    ]}))
    .expect("an SQS event");

    let (response, report) = writer::handle(&test_db.db, &event, now, 1_000).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["junk"],
        "the junk goes back to SQS, towards the dead-letter queue"
    );
    assert_eq!((report.stored, report.malformed), (5, 1));

    // The database away: every message is handed back, none is dropped.
    test_db.set_available(false).await;
    let (response, report) = writer::handle(&test_db.db, &event, now, 1_000).await;
    test_db.set_available(true).await;
    assert_eq!(response.batch_item_failures.len(), 2);
    assert_eq!((report.stored, report.retried), (0, 1));
}
