//! The collector against a database that goes away mid-run, and against a second collector
//! writing the same rows at the same time.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use tickwatch::model::{Interval, Provider};
use tickwatch_tests::{TestDb, admin, sym, watch, watch_synthetic};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use tickwatch::providers::SyntheticSource;

use crate::collector::{collector_with, count_rows, settings_for, stored};

#[tokio::test]
async fn the_database_stopping_mid_backfill_loses_no_batch_in_part_and_the_next_run_fills_in() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    watch_synthetic(&test_db, "ALT", Interval::OneMinute).await;
    let batch = 250;
    let mut settings = settings_for(&server);
    settings.batch_size = batch;
    let collector = collector_with(&test_db, settings);
    // Whole synthetic blocks (1,000 candles a page), so every page is exactly four batches.
    let anchor = SyntheticSource::anchor();
    let to = anchor + TimeDelta::minutes((Utc::now() - anchor).num_minutes() / 1_000 * 1_000);
    let from = to - TimeDelta::minutes(20_000);
    let admin = admin().await;

    // Arrange: the backfill runs while the database refuses new connections and drops the
    // open ones as soon as the first rows are in.
    let both = [sym("SYN"), sym("ALT")];
    let run = collector.backfill(&both, from, to);
    let stop = async {
        loop {
            if count_rows(&test_db).await >= 2_000 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                test_db.name
            ))
            .await
            .expect("refuse connections");
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&test_db.name],
            )
            .await
            .expect("terminate backends");
    };
    let (result, ()) = tokio::join!(run, stop);

    // Assert: the failure is reported as a database error that a retry can fix.
    let report = match &result {
        Ok(report) => report.clone(),
        Err(error) => {
            assert!(error.is_retryable(), "{error}");
            error.report().expect("a report").clone()
        }
    };
    let syn = report.outcome(&sym("SYN")).expect("an outcome");
    let error = syn.error.as_ref().expect("the backfill was cut short");
    assert_eq!(error.code, "database");
    assert!(error.retryable, "{}", error.message);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            test_db.name
        ))
        .await
        .expect("accept connections again");
    let rows = count_rows(&test_db).await;
    assert!(rows < 40_000, "the run was interrupted ({rows} rows)");
    assert_eq!(rows % batch as i64, 0, "only whole batches are stored");
    // Everything reported stored is there; at most the batch in flight when the connection
    // died may have committed without its answer arriving.
    let unreported = rows as u64 - report.stored.min(rows as u64);
    assert!(
        rows as u64 >= report.stored && unreported <= batch as u64,
        "{rows} rows, {} reported",
        report.stored
    );

    // The next run fills in the rest, and a run after that changes nothing.
    let again = collector
        .backfill(&[sym("SYN"), sym("ALT")], from, to)
        .await
        .expect("the database is back");
    assert_eq!(again.failed, 0);
    assert_eq!(count_rows(&test_db).await, 40_000);
    let last = collector
        .backfill(&[sym("SYN"), sym("ALT")], from, to)
        .await
        .expect("no-op");
    assert_eq!(last.stored, 0);
}

#[tokio::test]
async fn a_scheduled_run_with_the_database_gone_fails_as_retryable() {
    let test_db = TestDb::migrated().await;
    let server = MockServer::start().await;
    let mut settings = settings_for(&server);
    settings.batch_size = 100;
    let collector = collector_with(&test_db, settings);
    let admin = admin().await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            test_db.name
        ))
        .await
        .expect("refuse connections");
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&test_db.name],
        )
        .await
        .expect("terminate backends");

    let (result, _) = collector
        .invoke(
            "collector",
            json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": Utc::now().to_rfc3339(), "detail": {}}),
        )
        .await;

    let error = result.expect_err("no watch list without a database");
    assert!(error.is_retryable(), "{error}");
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            test_db.name
        ))
        .await
        .expect("accept connections again");
}

#[tokio::test]
async fn two_collectors_at_once_store_no_duplicates_and_lose_no_updates() {
    let test_db = TestDb::migrated().await;
    let coins = ["bitcoin", "ethereum", "solana", "cardano", "ripple"];
    let symbols = ["BTC", "ETH", "SOL", "ADA", "XRP"];
    for (symbol, coin) in symbols.iter().zip(coins) {
        watch(&test_db, symbol, Provider::CoinGecko, coin).await;
    }
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    // Two sources that disagree: one sees every coin at 100 + i, the other at 50 + i.
    let now = Utc::now().timestamp();
    let serve = |base: f64| {
        let body: serde_json::Map<String, serde_json::Value> = coins
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    (*c).to_owned(),
                    json!({"usd": base + i as f64, "last_updated_at": now}),
                )
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/v3/simple/price"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    let (high_server, low_server) = (MockServer::start().await, MockServer::start().await);
    serve(100.0).mount(&high_server).await;
    serve(50.0).mount(&low_server).await;
    let high = collector_with(&test_db, settings_for(&high_server));
    let low = collector_with(&test_db, settings_for(&low_server));
    let wanted: Vec<_> = symbols.iter().map(|s| sym(s)).collect();
    let to = Interval::OneMinute.bucket_start(Utc::now());
    let from = to - TimeDelta::minutes(5_000);

    async fn rounds(
        c: &tickwatch::collect::Collector,
        wanted: Vec<tickwatch::model::Symbol>,
        from: chrono::DateTime<Utc>,
        to: chrono::DateTime<Utc>,
    ) {
        for _ in 0..10 {
            c.collect(&wanted).await.expect("stored");
        }
        c.backfill(&[sym("SYN")], from, to)
            .await
            .expect("backfilled");
    }
    tokio::join!(
        rounds(&high, wanted.clone(), from, to),
        rounds(&low, wanted, from, to)
    );

    for (i, symbol) in symbols.iter().enumerate() {
        let rows = stored(&test_db, symbol, Interval::OneHour).await;
        assert_eq!(rows.len(), 1, "{symbol}: one candle for the bucket");
        let c = &rows[0];
        assert_eq!(
            c.high,
            rust_decimal::Decimal::from(100 + i as i64),
            "{symbol}: high kept"
        );
        assert_eq!(
            c.low,
            rust_decimal::Decimal::from(50 + i as i64),
            "{symbol}: low kept"
        );
    }
    let duplicates: i64 = test_db
        .raw()
        .await
        .query_one(
            "SELECT count(*) - count(DISTINCT (symbol, interval, open_time)) FROM candles",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(duplicates, 0);
    assert_eq!(
        stored(&test_db, "SYN", Interval::OneMinute).await.len(),
        5_000
    );
}
