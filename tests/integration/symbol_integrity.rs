//! Every candle belongs to a watched symbol, and unwatching a symbol removes its candles:
//! rules the schema enforces once per statement (not with a per-row foreign key), tested here
//! against a real PostgreSQL, including two sessions racing a write against a delete.

use std::time::Duration;

use tickwatch::db::symbols;
use tickwatch_tests::{TestDb, sym};
use tokio_postgres::error::SqlState;

/// One hourly candle of `symbol` per hour in `hours`, as one statement.
fn insert_sql(symbol: &str, hours: std::ops::Range<u32>) -> String {
    let rows: Vec<String> = hours
        .map(|h| {
            format!(
                "('{symbol}', '1h', timestamptz '2026-01-01T00:00:00Z' + interval '{h} hours', \
                 1, 1, 1, 1, 1, 'synthetic')"
            )
        })
        .collect();
    format!(
        "INSERT INTO candles (symbol, interval, open_time, open, high, low, close, volume, source)
         VALUES {}",
        rows.join(", ")
    )
}

async fn candles_of(client: &tickwatch::db::Client, symbol: &str) -> i64 {
    client
        .query_one("SELECT count(*) FROM candles WHERE symbol = $1", &[&symbol])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn candles_of_an_unknown_symbol_are_refused_with_the_foreign_key_code() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let client = test_db.raw().await;
    let alone = client
        .batch_execute(&insert_sql("NOPE", 0..2))
        .await
        .expect_err("an unknown symbol");
    assert_eq!(
        alone.code(),
        Some(&SqlState::FOREIGN_KEY_VIOLATION),
        "{alone}"
    );
    let message = alone
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("\"NOPE\""), "names the symbol: {message}");

    // One statement with a known and an unknown symbol fails whole, as with a foreign key.
    let mixed = format!(
        "{}, {}",
        insert_sql("BTC", 0..2),
        insert_sql("NOPE", 0..1)
            .split("VALUES")
            .nth(1)
            .expect("values")
    );
    let error = client.batch_execute(&mixed).await.expect_err("mixed");
    assert_eq!(error.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert_eq!(candles_of(&client, "BTC").await, 0, "nothing of it stayed");

    // Moving candles to an unknown symbol is refused the same way.
    client
        .batch_execute(&insert_sql("BTC", 0..2))
        .await
        .expect("known");
    let moved = client
        .batch_execute("UPDATE candles SET symbol = 'NOPE' WHERE symbol = 'BTC'")
        .await
        .expect_err("moved to an unknown symbol");
    assert_eq!(moved.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert_eq!(candles_of(&client, "BTC").await, 2);
}

#[tokio::test]
async fn unwatching_a_symbol_removes_its_candles_and_only_them() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    client
        .batch_execute(&format!(
            "{}; {}",
            insert_sql("BTC", 0..3),
            insert_sql("ETH", 0..2)
        ))
        .await
        .expect("candles");
    assert!(symbols::delete(&client, &sym("BTC")).await.expect("delete"));
    assert_eq!(candles_of(&client, "BTC").await, 0, "the cascade");
    assert_eq!(
        candles_of(&client, "ETH").await,
        2,
        "another symbol's candles stay"
    );
    crate::database::counts_match_a_real_count(&client).await;

    client
        .batch_execute("TRUNCATE symbols CASCADE")
        .await
        .expect("truncate");
    assert_eq!(
        candles_of(&client, "ETH").await,
        0,
        "truncation cascades too"
    );
    crate::database::counts_match_a_real_count(&client).await;
}

#[tokio::test]
async fn a_symbol_with_candles_cannot_be_renamed_one_without_can() {
    let test_db = TestDb::watching(&["BTC", "ETH"]).await;
    let client = test_db.raw().await;
    client
        .batch_execute(&insert_sql("BTC", 0..1))
        .await
        .expect("candle");
    let error = client
        .batch_execute("UPDATE symbols SET symbol = 'XBT' WHERE symbol = 'BTC'")
        .await
        .expect_err("renaming a symbol with candles");
    assert_eq!(
        error.code(),
        Some(&SqlState::FOREIGN_KEY_VIOLATION),
        "{error}"
    );
    client
        .batch_execute("UPDATE symbols SET symbol = 'ETH2' WHERE symbol = 'ETH'")
        .await
        .expect("a symbol without candles may be renamed");
}

/// A write holds its symbols until it commits: a delete of one of them waits for it, and then
/// takes the candles the write committed.
#[tokio::test]
async fn a_delete_racing_a_write_waits_and_then_takes_its_candles() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let writer = test_db.raw().await;
    let deleter = test_db.raw().await;
    writer.batch_execute("BEGIN").await.expect("begin");
    writer
        .batch_execute(&insert_sql("BTC", 0..3))
        .await
        .expect("written, not committed");
    let delete = tokio::spawn(async move {
        let deleted = symbols::delete(&deleter, &sym("BTC")).await;
        (deleter, deleted)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!delete.is_finished(), "the delete waits for the writer");
    writer.batch_execute("COMMIT").await.expect("commit");
    let (deleter, deleted) = delete.await.expect("joined");
    assert!(deleted.expect("delete"));
    assert_eq!(
        candles_of(&deleter, "BTC").await,
        0,
        "no candle outlives its symbol"
    );
}

/// A delete that commits while a write waits for its symbol makes the write fail, whole.
#[tokio::test]
async fn a_write_racing_a_committed_delete_is_refused() {
    let test_db = TestDb::watching(&["BTC"]).await;
    let writer = test_db.raw().await;
    let deleter = test_db.raw().await;
    deleter.batch_execute("BEGIN").await.expect("begin");
    assert!(
        symbols::delete(&deleter, &sym("BTC"))
            .await
            .expect("delete")
    );
    let write = tokio::spawn(async move {
        let written = writer.batch_execute(&insert_sql("BTC", 0..3)).await;
        (writer, written)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished(), "the write waits for the delete");
    deleter.batch_execute("COMMIT").await.expect("commit");
    let (writer, written) = write.await.expect("joined");
    let error = written.expect_err("the symbol is gone");
    assert_eq!(
        error.code(),
        Some(&SqlState::FOREIGN_KEY_VIOLATION),
        "{error}"
    );
    assert_eq!(candles_of(&writer, "BTC").await, 0);
}
