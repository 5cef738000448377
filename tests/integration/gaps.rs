//! Gap repair (issue 15, item 1): the database goes away for several buckets, comes back, and
//! the next runs leave no hole and no duplicate — in one process (`make run`'s shape) and in
//! the cloud's shape (planner → fetcher → SQS on the local AWS server → writer), where a
//! missed schedule, a throttled source and failed invocations are thrown in as well.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tickwatch::collect::{
    BatchSink, Collector, CollectorEvent, Fetcher, PlanSource, Planner, SqsSink, writer,
};
use tickwatch::model::{Interval, Provider};
use tickwatch::providers::SyntheticSource;
use tickwatch_tests::{TestDb, local_aws, sym, watch_every, watch_synthetic};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::collector::{collector_with, settings_for, stored};

/// A minute a while ago, so every simulated run lies in the past and no candle is "future".
fn start() -> DateTime<Utc> {
    Interval::OneMinute.bucket_start(Utc::now()) - TimeDelta::hours(3)
}

/// Asserts a 1m series is contiguous from `from` to `to` (inclusive), once per bucket, and
/// exactly the synthetic source's candles.
async fn assert_whole(test_db: &TestDb, symbol: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
    let rows = stored(test_db, symbol, Interval::OneMinute).await;
    let within: Vec<_> = rows
        .iter()
        .filter(|c| c.open_time >= from && c.open_time <= to)
        .collect();
    let expected = (to - from).num_minutes() + 1;
    assert_eq!(within.len() as i64, expected, "{symbol}: every bucket once");
    for pair in within.windows(2) {
        assert_eq!(
            pair[1].open_time - pair[0].open_time,
            TimeDelta::minutes(1),
            "{symbol}"
        );
    }
    let distinct: i64 = test_db
        .raw()
        .await
        .query_one(
            "SELECT count(*) - count(DISTINCT (symbol, interval, open_time)) FROM candles",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(distinct, 0, "no duplicates");
}

async fn run(
    collector: &Collector,
    at: DateTime<Utc>,
) -> Result<tickwatch::collect::CollectReport, tickwatch::collect::CollectError> {
    collector
        .run(&CollectorEvent::Scheduled { time: at }, at)
        .await
}

#[tokio::test]
async fn after_the_database_was_down_for_five_buckets_the_next_run_fills_every_hole_once() {
    // Arrange: one synthetic 1m series with an hour of history, collected once a minute.
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let t0 = start();
    let collector = collector_with(&test_db, settings_for(&server));
    collector
        .backfill(&[sym("SYN")], t0 - TimeDelta::hours(1), t0)
        .await
        .expect("history");
    for minute in 0..3 {
        run(&collector, t0 + TimeDelta::minutes(minute))
            .await
            .expect("a normal run");
    }

    // Act: the database is away for five scheduled runs, then the process restarts.
    test_db.set_available(false).await;
    for minute in 3..8 {
        let error = run(&collector, t0 + TimeDelta::minutes(minute))
            .await
            .expect_err("no database");
        assert!(error.is_retryable(), "{error}");
    }
    test_db.set_available(true).await;
    drop(collector);
    let collector = collector_with(&test_db, settings_for(&server));
    let repaired = run(&collector, t0 + TimeDelta::minutes(9))
        .await
        .expect("the database is back");
    let last = run(&collector, t0 + TimeDelta::minutes(10))
        .await
        .expect("a normal run");

    // Assert: the run after the outage found the hole, asked for it and filled all of it;
    // the next found nothing left.
    let syn = repaired.outcome(&sym("SYN")).expect("an outcome");
    assert!(syn.gaps.missing >= 5, "{:?}", syn.gaps);
    assert_eq!(syn.gaps.requested, syn.gaps.missing);
    assert_eq!(syn.gaps_filled, Some(syn.gaps.missing));
    assert_eq!(syn.gaps.lost, 0);
    assert_eq!(last.gaps.missing, 0);
    assert_whole(
        &test_db,
        "SYN",
        t0 - TimeDelta::hours(1),
        t0 + TimeDelta::minutes(10),
    )
    .await;
    let expected = SyntheticSource::new(collector.settings().synthetic_seed).candles(
        &sym("SYN"),
        Interval::OneMinute,
        t0 - TimeDelta::hours(1),
        t0 + TimeDelta::minutes(11),
    );
    assert_eq!(stored(&test_db, "SYN", Interval::OneMinute).await, expected);
}

/// Binance's klines, served from the synthetic generator as of a settable "now", or 429s.
#[derive(Clone)]
struct Klines {
    now: Arc<AtomicI64>,
    throttled: Arc<AtomicBool>,
    source: SyntheticSource,
}

impl Respond for Klines {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if self.throttled.load(Ordering::SeqCst) {
            return ResponseTemplate::new(429)
                .set_body_string("{\"code\":-1003,\"msg\":\"Too many requests\"}");
        }
        let query: std::collections::HashMap<_, _> =
            request.url.query_pairs().into_owned().collect();
        let ms = |key: &str| query.get(key).and_then(|v| v.parse::<i64>().ok());
        let now = DateTime::from_timestamp(self.now.load(Ordering::SeqCst), 0).expect("valid");
        let limit = ms("limit").unwrap_or(500);
        let end = ms("endTime")
            .and_then(|e| DateTime::from_timestamp_millis(e + 1))
            .unwrap_or(Interval::OneMinute.bucket_start(now) + TimeDelta::minutes(1));
        let from = ms("startTime")
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(end - TimeDelta::minutes(limit));
        let rows: Vec<_> = self
            .source
            .candles(&sym("BTC"), Interval::OneMinute, from, end)
            .into_iter()
            .take(limit as usize)
            .map(|c| {
                json!([
                    c.open_time.timestamp_millis(),
                    c.open.to_string(),
                    c.high.to_string(),
                    c.low.to_string(),
                    c.close.to_string(),
                    c.volume.map(|v| v.to_string()).unwrap_or_default(),
                    c.open_time.timestamp_millis() + 59_999,
                    "0",
                    1,
                    "0",
                    "0",
                    "0"
                ])
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(rows)
    }
}

/// The event-source mapping, by hand: receive what is visible, hand it to the writer as the
/// SQS event Lambda would build, delete what the writer did not report as failed.
async fn drain(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    test_db: &TestDb,
    now: DateTime<Utc>,
) -> u64 {
    let mut failures = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = received.messages();
        if messages.is_empty() {
            return failures;
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id(), "receiptHandle": m.receipt_handle(),
                    "body": m.body(), "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:candles",
                    "attributes": {"ApproximateReceiveCount": m.attributes()
                        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                        .cloned().unwrap_or_else(|| "1".to_owned())},
                    "messageAttributes": {}
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
        let (response, _) = writer::handle(&test_db.db, &event, now, 1_000).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        failures += failed.len() as u64;
        for m in messages {
            if !failed.contains(&m.message_id().unwrap_or_default()) {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        if !failed.is_empty() {
            return failures;
        }
    }
}

#[tokio::test]
async fn in_the_cloud_shape_a_missed_schedule_a_throttled_source_and_failed_runs_leave_no_hole() {
    // Arrange: a synthetic series and a Binance one; the planner against the database, the
    // fetcher sending to a queue on the local AWS server, the writer draining it.
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    watch_every(
        &test_db,
        "BTC",
        Provider::Binance,
        "BTCUSDT",
        Interval::OneMinute,
    )
    .await;
    let t0 = start();
    let klines = Klines {
        now: Arc::new(AtomicI64::new(t0.timestamp())),
        throttled: Arc::new(AtomicBool::new(false)),
        source: SyntheticSource::new(7),
    };
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(klines.clone())
        .mount(&server)
        .await;
    let settings = settings_for(&server);
    let planner = Planner::new(test_db.db.clone(), settings.clone());
    let fetcher = Fetcher::new(
        &settings,
        tickwatch::net::http_client_builder()
            .build()
            .expect("client"),
    );
    let aws = local_aws().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = sqs
        .create_queue()
        .queue_name(format!("candles-{}", uuid::Uuid::new_v4().simple()))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("a URL")
        .to_owned();
    let sink = SqsSink::new(sqs.clone(), queue.clone());
    let run = |minute: i64| {
        let (planner, fetcher, sink, klines) = (&planner, &fetcher, &sink, &klines);
        async move {
            let at = t0 + TimeDelta::minutes(minute);
            klines.now.store(at.timestamp(), Ordering::SeqCst);
            let event = CollectorEvent::Scheduled { time: at };
            let plan = planner.plan(&event, at).await?;
            Ok::<_, tickwatch::collect::CollectError>(
                fetcher.run(&plan, sink as &dyn BatchSink, at).await,
            )
        }
    };
    // An hour of history for both, stored through the same path.
    for symbol in ["SYN", "BTC"] {
        let event = CollectorEvent::Backfill {
            symbols: vec![sym(symbol)],
            from: t0 - TimeDelta::hours(1),
            to: t0,
        };
        let plan = PlanSource::plan(&planner, &event, t0)
            .await
            .expect("a plan");
        fetcher.run(&plan, &sink as &dyn BatchSink, t0).await;
    }
    assert_eq!(drain(&sqs, &queue, &test_db, t0).await, 0);

    // Act: minute 1 runs; minute 2's schedule is missed; at minute 3 Binance throttles us;
    // at minutes 4–6 the database is away (the planner fails, so do the writer's deliveries
    // of what is still queued); then it is back.
    run(1).await.expect("normal");
    drain(&sqs, &queue, &test_db, t0 + TimeDelta::minutes(1)).await;
    klines.throttled.store(true, Ordering::SeqCst);
    let throttled = run(3).await.expect("planned");
    assert_eq!(
        throttled
            .outcome(&sym("BTC"))
            .and_then(|o| o.error.as_ref())
            .map(|e| e.code.as_str()),
        Some("rate_limited")
    );
    klines.throttled.store(false, Ordering::SeqCst);
    test_db.set_available(false).await;
    let undelivered = drain(&sqs, &queue, &test_db, t0 + TimeDelta::minutes(3)).await;
    assert!(
        undelivered > 0,
        "the writer hands its messages back while the database is away"
    );
    for minute in 4..7 {
        let error = run(minute).await.expect_err("the planner has no database");
        assert!(error.is_retryable(), "{error}");
    }
    test_db.set_available(true).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await; // the visibility timeout
    for minute in 7..9 {
        let report = run(minute).await.expect("back");
        assert_eq!(report.failed, 0, "{report:?}");
        drain(&sqs, &queue, &test_db, t0 + TimeDelta::minutes(minute)).await;
    }

    // Assert: both series are whole from their first candle to the last run, each bucket once.
    for symbol in ["SYN", "BTC"] {
        assert_whole(
            &test_db,
            symbol,
            t0 - TimeDelta::hours(1),
            t0 + TimeDelta::minutes(8),
        )
        .await;
    }
    let after = run(9).await.expect("normal");
    assert_eq!(after.gaps.missing, 0, "{:?}", after.gaps);
}
