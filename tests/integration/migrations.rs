use futures::future::join_all;
use tickwatch_tests::TestDb;

async fn tables(test_db: &TestDb) -> Vec<String> {
    test_db
        .raw()
        .await
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_name NOT LIKE 'refinery%' ORDER BY 1",
            &[],
        )
        .await
        .expect("list tables")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn migrating_an_empty_database_creates_every_table() {
    let test_db = TestDb::empty().await;
    let applied = test_db.db.migrate().await.expect("migrate");
    assert!(applied >= 1);
    assert_eq!(
        tables(&test_db).await,
        [
            "anomalies",
            "candle_scores",
            "candle_series_counts",
            "candles",
            "candles_stored_outbox",
            "collection_gaps",
            "detector_state",
            "symbols"
        ]
    );
}

#[tokio::test]
async fn migrating_twice_applies_nothing_the_second_time() {
    let test_db = TestDb::empty().await;
    test_db.db.migrate().await.expect("first migration");
    assert_eq!(test_db.db.migrate().await.expect("second migration"), 0);
    test_db
        .db
        .ensure_migrated()
        .await
        .expect("ensure_migrated after migrate");
}

#[tokio::test]
async fn an_edited_newest_migration_is_still_caught_after_the_quick_check() {
    let test_db = TestDb::empty().await;
    test_db.db.migrate().await.expect("first migration");
    test_db
        .raw()
        .await
        .execute(
            "UPDATE refinery_schema_history SET checksum = '1'
             WHERE version = (SELECT max(version) FROM refinery_schema_history)",
            &[],
        )
        .await
        .expect("tamper with the newest checksum");
    let error = test_db
        .db
        .migrate()
        .await
        .expect_err("a divergent migration is refused");
    assert!(error.to_string().contains("migration"), "{error}");
}

#[tokio::test]
async fn two_pools_migrating_at_the_same_moment_both_succeed() {
    let test_db = TestDb::empty().await;
    let pools = join_all((0..4).map(|_| tickwatch_tests::connect(&test_db.url, &[]))).await;
    let results = join_all(pools.iter().map(|db| db.migrate())).await;
    let applied: usize = results
        .into_iter()
        .map(|r| r.expect("every concurrent migration succeeds"))
        .sum();
    assert!(applied >= 1, "one of them applied the migrations");
    let history: i64 = test_db
        .raw()
        .await
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .expect("history")
        .get(0);
    assert_eq!(
        history as usize, applied,
        "each migration was applied exactly once"
    );
}
