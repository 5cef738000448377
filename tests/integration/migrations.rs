use futures::future::join_all;
use tickwatch::db::{Db, DbError, SCHEMA_VERSION};
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
            "anomaly_series_counts",
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
    assert!(
        matches!(&error, DbError::HistoryDiverged { applied, here: Some(ours) } if applied == ours),
        "{error:?}"
    );
    // Same version and name: the message says the file was edited, not that two differ.
    assert!(
        error
            .to_string()
            .contains("differs from this build's file of that name"),
        "{error}"
    );
}

/// A database migrated before a migration was rewritten (nothing deployed yet, so the history
/// may be): the refusal names the migration that differs and, in one line, the fix.
#[tokio::test]
async fn a_rewritten_migration_is_refused_in_one_line_naming_the_fix() {
    let test_db = TestDb::migrated().await;
    let client = test_db.raw().await;
    client
        .execute(
            "UPDATE refinery_schema_history SET name = 'as_it_was_first_written', checksum = '1'
             WHERE version = $1",
            &[&SCHEMA_VERSION],
        )
        .await
        .expect("rewrite history");
    let error = test_db
        .db
        .migrate()
        .await
        .expect_err("a rewritten migration");
    let here = format!("V{SCHEMA_VERSION}__");
    assert!(
        matches!(&error, DbError::HistoryDiverged { applied, here: Some(ours) }
            if applied == &format!("V{SCHEMA_VERSION}__as_it_was_first_written")
                && ours.starts_with(&here)),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("as_it_was_first_written"), "{text}");
    assert!(text.contains("`make clean-db`"), "{text}");
    assert!(!error.is_unavailable(), "a fault of the database's history");

    // A migration this build does not have at all (a later one, then deleted) likewise.
    let test_db = TestDb::migrated().await;
    test_db
        .raw()
        .await
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             SELECT $1, 'since_deleted', applied_on, '0' FROM refinery_schema_history
             WHERE version = 1",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .expect("a migration this build lacks");
    let error = test_db.db.migrate().await.expect_err("a missing migration");
    assert!(
        matches!(&error, DbError::HistoryDiverged { applied, here: None }
            if applied == &format!("V{}__since_deleted", SCHEMA_VERSION + 1)),
        "{error:?}"
    );
    assert!(error.to_string().contains("`make clean-db`"), "{error}");
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

/// A pool as the cloud's functions start (`DB_MIGRATE=false`, and in their builds no
/// migrations at all): its first use only checks the schema version.
async fn checking(test_db: &TestDb) -> Db {
    tickwatch_tests::connect(&test_db.url, &[("DB_MIGRATE", "false")]).await
}

#[tokio::test]
async fn a_function_that_does_not_migrate_refuses_a_database_never_migrated_until_it_is() {
    let test_db = TestDb::empty().await;
    let db = checking(&test_db).await;
    let error = db.ensure_migrated().await.expect_err("no schema yet");
    assert!(
        matches!(error, DbError::SchemaBehind { found: None, expected } if expected == SCHEMA_VERSION),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!("schema version {SCHEMA_VERSION}")),
        "{text}"
    );
    assert!(text.contains("run the migrator"), "{text}");
    assert!(
        tables(&test_db).await.is_empty(),
        "the check changes nothing"
    );
    // The refusal is not remembered: once the migrator ran, the same pool goes on.
    test_db.db.migrate().await.expect("the migrator migrates");
    db.ensure_migrated().await.expect("current now");
}

#[tokio::test]
async fn a_function_that_does_not_migrate_refuses_an_older_schema_naming_both_versions() {
    let test_db = TestDb::migrated().await;
    // This build's newest migration, as if not applied yet.
    test_db
        .raw()
        .await
        .execute(
            "DELETE FROM refinery_schema_history WHERE version = $1",
            &[&SCHEMA_VERSION],
        )
        .await
        .expect("forget the newest migration");
    let error = checking(&test_db)
        .await
        .ensure_migrated()
        .await
        .expect_err("older schema");
    let older = SCHEMA_VERSION - 1;
    assert!(
        matches!(error, DbError::SchemaBehind { found: Some(found), expected }
            if found == older && expected == SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(!error.is_unavailable(), "a deployment fault, not an outage");
    assert_eq!(
        error.to_string(),
        format!(
            "the database schema is at version {older}, older than version {SCHEMA_VERSION} this build needs: \
             run the migrator first (locally: cargo run -p tickwatch-local --bin migrate)"
        )
    );
}

#[tokio::test]
async fn a_function_that_does_not_migrate_runs_on_a_newer_schema_and_checks_once() {
    let test_db = TestDb::migrated().await;
    let db = checking(&test_db).await;
    db.ensure_migrated()
        .await
        .expect("the schema it was built for");
    // A later deployment's migrator ran first, as it does before the functions are updated.
    let admin = test_db.raw().await;
    admin
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES ($1, 'a_later_deployment', now()::text, '0')",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .expect("a newer migration");
    checking(&test_db)
        .await
        .ensure_migrated()
        .await
        .expect("a newer schema runs on");
    // Once per process: the pool that checked asks no more, even with the history gone...
    admin
        .batch_execute("DROP TABLE refinery_schema_history")
        .await
        .expect("drop the history");
    db.ensure_migrated().await.expect("checked once already");
    // ...while a new process checks, and refuses.
    let error = checking(&test_db).await.ensure_migrated().await;
    assert!(
        matches!(error, Err(DbError::SchemaBehind { found: None, .. })),
        "{error:?}"
    );
}
