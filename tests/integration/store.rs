//! The store stage's write path under the backfill's load: pages gathered into batches,
//! failures part-way through a batch, rejected candles, and the gap record's cost.

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::dec;
use tickwatch::collect::{
    BatchSink, CandleBatch, Delivery, Merge, SinkError, StoreSink, TimeRange, store_batch,
};
use tickwatch::config::CollectorSettings;
use tickwatch::db::{candles, gaps};
use tickwatch::model::{Candle, CandleSource, Interval};
use tickwatch::providers::SyntheticSource;
use tickwatch::providers::synthetic_source::BLOCK;
use tickwatch_tests::{TestDb, sym, watch_synthetic};

use crate::collector::collector_with;
use crate::database::counts_match_a_real_count;

/// `blocks` whole synthetic pages of 1m history, ending a while before now.
fn whole_pages(blocks: i64) -> TimeRange {
    let anchor = SyntheticSource::anchor();
    let now_minutes = (Utc::now() - anchor).num_minutes();
    let to = anchor + TimeDelta::minutes((now_minutes / BLOCK - 2) * BLOCK);
    TimeRange {
        from: to - TimeDelta::minutes(blocks * BLOCK),
        to,
    }
}

fn synthetic(symbol: &str, span: TimeRange) -> Vec<Candle> {
    SyntheticSource::new(CollectorSettings::defaults().synthetic_seed).candles(
        &sym(symbol),
        Interval::OneMinute,
        span.from,
        span.to,
    )
}

/// A batch of SYN 1m candles answering `span`, as the fetch stage hands it over.
fn batch_of(candles: Vec<Candle>, span: TimeRange) -> CandleBatch {
    CandleBatch {
        symbol: sym("SYN"),
        interval: Interval::OneMinute,
        merge: Merge::Replace,
        covers: Some(span),
        candles,
    }
}

/// The stored SYN 1m candles of `span`, oldest first.
async fn stored_span(client: &tickwatch::db::Client, span: TimeRange) -> Vec<Candle> {
    candles::range_ascending(
        client,
        &sym("SYN"),
        Interval::OneMinute,
        span.from,
        span.to,
        10_000,
    )
    .await
    .expect("read back")
}

async fn announced(test_db: &TestDb, symbol: &str) -> Vec<i32> {
    test_db
        .raw()
        .await
        .query(
            "SELECT candles FROM candles_stored_outbox WHERE symbol = $1 ORDER BY id",
            &[&symbol],
        )
        .await
        .expect("the outbox")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_backfill_gathers_pages_into_batches_of_the_batch_size_each_written_by_one_statement() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let mut settings = CollectorSettings::defaults();
    settings.batch_size = 2_000;
    let collector = collector_with(&test_db, settings);
    let span = whole_pages(5);

    let report = collector
        .backfill(&[sym("SYN")], span.from, span.to)
        .await
        .expect("stored");
    assert_eq!(report.stored, 5_000);
    assert_eq!(
        announced(&test_db, "SYN").await,
        [2_000, 2_000, 1_000],
        "pages of 1000 gathered into statements of at most 2000 rows"
    );
    let stored = stored_span(&test_db.raw().await, span).await;
    assert_eq!(stored, synthetic("SYN", span), "every candle, exactly");
    let client = test_db.raw().await;
    counts_match_a_real_count(&client).await;
    let (writes, gaps_recorded): (i64, i64) = client
        .query_one(
            "SELECT (SELECT writes FROM detector_state WHERE symbol = 'SYN'),
                    (SELECT count(*) FROM collection_gaps)",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .expect("bookkeeping");
    assert_eq!(
        (writes, gaps_recorded),
        (3, 0),
        "one detector write per statement"
    );

    let again = collector
        .backfill(&[sym("SYN")], span.from, span.to)
        .await
        .expect("again");
    assert_eq!(again.stored, 0);
    assert_eq!(again.outcome(&sym("SYN")).map(|o| o.unchanged), Some(5_000));
    assert_eq!(
        announced(&test_db, "SYN").await.len(),
        3,
        "nothing new announced"
    );
}

#[tokio::test]
async fn a_failure_part_way_through_a_batch_loses_nothing_and_storing_it_again_completes_it() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let span = whole_pages(1);
    let feed = synthetic("SYN", span);
    let batch = batch_of(feed.clone(), span);
    // The server goes away in the third statement of four (statements of 300 rows).
    let client = test_db.raw().await;
    client
        .batch_execute(&format!(
            "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.open_time = '{}' THEN
                     RAISE EXCEPTION 'the server is shutting down' USING ERRCODE = 'admin_shutdown';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER fail_once BEFORE INSERT ON candles
                 FOR EACH ROW EXECUTE FUNCTION fail_once();",
            feed[650].open_time.to_rfc3339()
        ))
        .await
        .expect("a failure to come");
    let sink = StoreSink::new(test_db.db.clone(), 300);
    let failure = sink
        .deliver(batch.clone(), Utc::now())
        .await
        .expect_err("the server went away");
    assert!(failure.is_retryable(), "a retry may help: {failure}");
    let SinkError::Store(error) = failure else {
        panic!("expected a store failure, got {failure:?}");
    };
    assert_eq!(
        error.partial.stored, 600,
        "the statements before the failure stand"
    );
    assert_eq!(
        error.partial.still_missing, None,
        "no gap recorded for a half-stored span"
    );
    counts_match_a_real_count(&client).await;

    client
        .batch_execute("DROP TRIGGER fail_once ON candles")
        .await
        .expect("the server is back");
    let Delivery::Stored(stored) = sink
        .deliver(batch, Utc::now())
        .await
        .expect("stored on the retry")
    else {
        panic!("stored in process");
    };
    assert_eq!((stored.stored, stored.unchanged), (400, 600));
    assert_eq!(stored.still_missing, Some(0));
    let back = stored_span(&client, span).await;
    assert_eq!(back, feed, "nothing lost, nothing twice");
    counts_match_a_real_count(&client).await;
    assert_eq!(
        announced(&test_db, "SYN").await,
        [300, 300, 300, 100],
        "the repeated statements stored nothing and announced nothing"
    );
}

#[tokio::test]
async fn rejected_candles_are_counted_by_reason_and_the_rest_of_a_large_batch_is_stored() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let span = whole_pages(1);
    let feed = synthetic("SYN", span);
    let mut sent = feed.clone();
    sent[10].high = sent[10].low - dec!(0.001);
    sent[20].source = CandleSource::Correction;
    sent[30].volume = Some(dec!(-1));
    // The same bucket twice, disagreeing (both refused), and an exact repeat (stored once).
    let mut disagreeing = sent[40].clone();
    disagreeing.close = disagreeing.low;
    sent.push(disagreeing);
    let repeat = sent[50].clone();
    sent.push(repeat);
    let mut future = sent[60].clone();
    future.open_time = Interval::OneMinute.bucket_start(Utc::now() + TimeDelta::days(2));
    sent.push(future);
    let batch = batch_of(sent, span);
    let stored = store_batch(&test_db.db, batch, Utc::now(), 5_000)
        .await
        .expect("stored");
    let rejected: Vec<(&str, u64)> = stored
        .rejected
        .iter()
        .map(|(reason, n)| (reason.as_str(), *n))
        .collect();
    assert_eq!(
        rejected,
        [
            ("duplicate_open_time", 3),
            ("future_timestamp", 1),
            ("high_below_low", 1),
            ("negative_volume", 1),
            ("not_from_a_source", 1),
        ]
    );
    assert_eq!(stored.stored, 996, "every other candle of the page");
    assert_eq!(
        stored.still_missing,
        Some(4),
        "the refused buckets are holes"
    );
    let holes: i64 = test_db
        .raw()
        .await
        .query_one("SELECT count(*) FROM collection_gaps", &[])
        .await
        .expect("gaps")
        .get(0);
    assert_eq!(holes, 4);
}

/// The gap record runs after every batch of a backfill. A prepared statement's generic plan,
/// made while the series was empty, must still seek to the span instead of reading the series
/// from its start: otherwise each batch costs more than the one before.
#[tokio::test]
async fn recording_an_attempt_reads_the_span_not_the_series_whatever_the_plan() {
    let test_db = TestDb::migrated().await;
    watch_synthetic(&test_db, "SYN", Interval::OneMinute).await;
    let span = whole_pages(20);
    let mut client = test_db.raw().await;
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .expect("generic plans");
    let missing = gaps::record_attempt(
        &client,
        &sym("SYN"),
        Interval::OneMinute,
        span.from,
        span.to,
    )
    .await
    .expect("planned while empty");
    assert_eq!(missing, 0, "no candle yet: no hole");
    let feed = synthetic("SYN", span);
    candles::upsert(&client, &feed, candles::UpsertMode::Replace)
        .await
        .expect("history");

    let last_hour = TimeRange {
        from: span.to - TimeDelta::minutes(60),
        to: span.to + TimeDelta::minutes(5),
    };
    let tx = client.transaction().await.expect("begin");
    let read = || async {
        tx.query_one(
            "SELECT pg_stat_get_xact_tuples_returned('candles_pkey'::regclass)",
            &[],
        )
        .await
        .expect("index reads")
        .get::<_, i64>(0)
    };
    let before = read().await;
    let missing = gaps::record_attempt(
        &tx,
        &sym("SYN"),
        Interval::OneMinute,
        last_hour.from,
        last_hour.to,
    )
    .await
    .expect("recorded");
    let entries = read().await - before;
    tx.commit().await.expect("commit");
    assert_eq!(missing, 5, "the five minutes after the last candle");
    assert!(
        entries <= 60 + 5,
        "read {entries} index entries for a span of 60 candles in a series of {}",
        feed.len()
    );
    let holes: Vec<(DateTime<Utc>, DateTime<Utc>)> = client
        .query("SELECT gap_start, gap_end FROM collection_gaps", &[])
        .await
        .expect("gaps")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(holes, [(span.to, last_hour.to)]);
}
