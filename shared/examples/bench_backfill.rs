//! Benchmark: a backfill of synthetic candles through the collector's own path (page by page,
//! validated, upserted in batches) next to a plain binary `COPY` of the same rows into an empty
//! table of the same schema with the rule `candles` keeps on its rows (their symbols are
//! watched, checked once per statement), in the same run, on the same server.
//!
//! Usage: `DATABASE_URL=postgres://… cargo run --profile bench -p tickwatch --example
//! bench_backfill [ROWS]` against an empty, throwaway database (`scripts/bench.sh` makes one).
//! Prints rows per second for both, their ratio, and the process's peak resident memory after
//! each phase (it must not grow with ROWS: both paths stream).
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::TimeDelta;
use futures::pin_mut;
use tickwatch::collect::Collector;
use tickwatch::config::{CollectorSettings, DatabaseSettings, Env};
use tickwatch::db::{Db, candles, symbols};
use tickwatch::model::{AssetClass, Interval, Provider, Symbol, WatchedSymbol};
use tickwatch::providers::SyntheticSource;
use tickwatch::providers::synthetic_source::BLOCK;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse())
        .transpose()
        .context("ROWS must be a whole number")?
        .unwrap_or(1_000_000);
    if rows % BLOCK != 0 {
        bail!("ROWS must be a multiple of {BLOCK}");
    }
    let env = Env::process();
    let db = Db::connect(&DatabaseSettings::from_env(&env)?, None).await?;
    db.migrate().await?;
    let symbol = Symbol::parse("BENCH")?;
    let interval = Interval::OneMinute;
    let entry = WatchedSymbol {
        symbol: symbol.clone(),
        asset_class: AssetClass::Crypto,
        provider: Provider::Synthetic,
        provider_id: "bench".into(),
        interval,
        enabled: true,
        detector_overrides: serde_json::json!({}),
    };
    let client = db.client().await?;
    // The baseline is one COPY of every row, far longer than the pool's statement deadline
    // and its watchdog allow: it gets a connection of its own, without either.
    let url = env
        .get("DATABASE_URL")
        .context("DATABASE_URL must name the throwaway database")?;
    let (copier, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    symbols::upsert(&client, &entry).await?;
    let existing: i64 = client
        .query_one("SELECT count(*) FROM candles", &[])
        .await?
        .get(0);
    if existing > 0 {
        bail!("the candles table is not empty: run against a throwaway database");
    }
    // Whole synthetic blocks ending at the newest full block before now.
    let anchor = SyntheticSource::anchor();
    let now_minutes = (chrono::Utc::now() - anchor).num_minutes();
    let to = anchor + TimeDelta::minutes(now_minutes / BLOCK * BLOCK);
    let from = to - TimeDelta::minutes(rows);
    let settings = CollectorSettings::from_env(&env)?;
    println!(
        "rows: {rows}  interval: 1m  batch: {}  range: {from} .. {to}",
        settings.batch_size
    );

    // 1. Our path: the collector's backfill (generate, validate, upsert in batches).
    let collector = Collector::builder(settings)
        .database(db.clone())
        .client(tickwatch::net::http_client_builder().build()?)
        .build()?;
    let started = Instant::now();
    let report = collector
        .backfill(std::slice::from_ref(&symbol), from, to)
        .await?;
    let upsert_secs = started.elapsed().as_secs_f64();
    if report.stored != rows as u64 {
        bail!("the backfill stored {} of {rows} rows", report.stored);
    }
    let upsert_peak = peak_rss_mib();

    // 2. The same rows, generated the same way, through COPY into an empty twin table that
    //    keeps the rule `candles` keeps: its symbols must be watched (checked per statement).
    copier
        .batch_execute(&format!(
            "{REQUIRE_SYMBOLS}
             CREATE TABLE candles_copy (LIKE candles INCLUDING ALL);
             {}",
            integrity_sql("candles_copy", Integrity::SymbolCheck)
        ))
        .await?;
    let source = SyntheticSource::new(collector.settings().synthetic_seed);
    let started = Instant::now();
    let sink = copier
        .copy_in(&format!(
            "COPY candles_copy ({}) FROM STDIN BINARY",
            candles::WRITTEN
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &candles::COPY_TYPES);
    pin_mut!(writer);
    let mut cursor = from;
    let mut copied = 0_u64;
    while cursor < to {
        let end = (cursor + TimeDelta::minutes(BLOCK)).min(to);
        for c in source.candles(&symbol, interval, cursor, end) {
            candles::write_copy_row(writer.as_mut(), &c).await?;
            copied += 1;
        }
        cursor = end;
    }
    writer.as_mut().finish().await?;
    let copy_secs = started.elapsed().as_secs_f64();
    let copy_peak = peak_rss_mib();

    // Generation alone, so the reader can see how much of each figure is the database.
    let started = Instant::now();
    let mut generated = 0_usize;
    let mut cursor = from;
    while cursor < to {
        let end = (cursor + TimeDelta::minutes(BLOCK)).min(to);
        generated += source.candles(&symbol, interval, cursor, end).len();
        cursor = end;
    }
    let generate_secs = started.elapsed().as_secs_f64();

    let same: bool = copier
        .query_one(
            "SELECT NOT EXISTS (
                 (SELECT symbol, interval, open_time, open, high, low, close, volume FROM candles
                  EXCEPT SELECT symbol, interval, open_time, open, high, low, close, volume FROM candles_copy)
                 UNION ALL
                 (SELECT symbol, interval, open_time, open, high, low, close, volume FROM candles_copy
                  EXCEPT SELECT symbol, interval, open_time, open, high, low, close, volume FROM candles))",
            &[],
        )
        .await?
        .get(0);

    let upsert_rate = rows as f64 / upsert_secs;
    let copy_rate = copied as f64 / copy_secs;
    println!("generation only:  {generated} rows in {generate_secs:.2} s");
    println!(
        "backfill upsert:  {} rows in {upsert_secs:.2} s = {upsert_rate:.0} rows/s  (peak RSS {upsert_peak:.1} MiB)",
        report.stored
    );
    println!(
        "COPY (binary):    {copied} rows in {copy_secs:.2} s = {copy_rate:.0} rows/s  (peak RSS {copy_peak:.1} MiB)"
    );
    println!("ratio upsert/COPY: {:.2}x", upsert_rate / copy_rate);
    println!("identical rows in both tables: {same}");
    if !same {
        bail!("the two paths stored different rows");
    }
    if std::env::var_os("BENCH_BREAKDOWN").is_some_and(|v| v == "1") {
        breakdown(
            &copier,
            &source,
            &symbol,
            from,
            to,
            collector.settings().batch_size,
        )
        .await?;
    }
    Ok(())
}

/// One way of writing a batch into a twin of `candles`, for the breakdown.
struct Variant {
    name: &'static str,
    /// How the twin makes sure its candles' symbols are watched.
    integrity: Integrity,
    /// The insert trigger of `candles` (counts, outbox, rescan request and the symbol
    /// check, from one grouping of the batch).
    trigger: bool,
    /// Staged with `COPY` into a temporary table, then `INSERT … ON CONFLICT` (else `COPY`
    /// straight into the table).
    merged: bool,
    secs: f64,
}

#[derive(Clone, Copy)]
enum Integrity {
    Unchecked,
    /// A foreign key to `symbols`, checked row by row (what `candles` had before V7).
    ForeignKey,
    /// The check `candles` makes now: the batch's symbols looked up and locked once.
    SymbolCheck,
}

/// The insert trigger of `candles` and its function (which its update trigger shares).
const RECORD: &str = "candles_inserted";
const RECORD_FUNCTION: &str = "candles_written";

/// A statement trigger making only the symbol check of `candles`, for twins without the rest
/// of its trigger.
const REQUIRE_SYMBOLS: &str = "
    CREATE FUNCTION pg_temp.bench_require_symbols() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM candles_require_symbols(array_agg(DISTINCT symbol)) FROM inserted;
        RETURN NULL;
    END $$;";

fn integrity_sql(table: &str, integrity: Integrity) -> String {
    match integrity {
        Integrity::Unchecked => String::new(),
        Integrity::ForeignKey => {
            format!("ALTER TABLE {table} ADD FOREIGN KEY (symbol) REFERENCES symbols (symbol);")
        }
        Integrity::SymbolCheck => format!(
            "CREATE TRIGGER require_symbols AFTER INSERT ON {table}
             REFERENCING NEW TABLE AS inserted
             FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.bench_require_symbols();"
        ),
    }
}

/// Where the gap between our upsert and `COPY` goes: every batch of the backfill is written
/// by each variant into its own twin table, variants taking turns batch by batch so that a
/// change of load on the machine falls on all of them alike. Each write is its own
/// transaction, as in the collector. Ratios are against `COPY` into a twin with the symbol
/// check and nothing else, the headline figure's baseline. (`BENCH_BREAKDOWN=1`)
async fn breakdown(
    client: &tokio_postgres::Client,
    source: &SyntheticSource,
    symbol: &Symbol,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    batch_size: usize,
) -> anyhow::Result<()> {
    use Integrity::{ForeignKey, SymbolCheck, Unchecked};
    let mut variants = [
        variant("COPY, no symbol check, no trigger", Unchecked, false, false),
        variant(
            "COPY + per-row foreign key (before V7)",
            ForeignKey,
            false,
            false,
        ),
        variant("COPY + symbol check (baseline)", SymbolCheck, false, false),
        variant(
            "COPY + the insert trigger (the append path)",
            Unchecked,
            true,
            false,
        ),
        variant(
            "staging + ON CONFLICT, no check, no trigger",
            Unchecked,
            false,
            true,
        ),
        variant(
            "staging + ON CONFLICT + symbol check",
            SymbolCheck,
            false,
            true,
        ),
        variant(
            "staging + ON CONFLICT + the insert trigger (the merge path)",
            Unchecked,
            true,
            true,
        ),
    ];
    client
        .batch_execute(
            "CREATE TEMP TABLE bench_stage (symbol text, interval text, open_time timestamptz,
                 open numeric, high numeric, low numeric, close numeric, volume numeric, source text)",
        )
        .await?;
    for (i, v) in variants.iter().enumerate() {
        let table = format!("candles_variant_{i}");
        let mut sql = format!("CREATE TABLE {table} (LIKE candles INCLUDING ALL);");
        sql += &integrity_sql(&table, v.integrity);
        if v.trigger {
            sql += &format!(
                "CREATE TRIGGER {RECORD} AFTER INSERT ON {table}
                 REFERENCING NEW TABLE AS inserted
                 FOR EACH STATEMENT EXECUTE FUNCTION {RECORD_FUNCTION}();"
            );
        }
        client.batch_execute(&sql).await?;
    }
    let mut batch = Vec::with_capacity(batch_size);
    let mut cursor = from;
    while cursor < to {
        let end = (cursor + TimeDelta::minutes(BLOCK)).min(to);
        batch.extend(source.candles(symbol, Interval::OneMinute, cursor, end));
        cursor = end;
        if batch.len() < batch_size && cursor < to {
            continue;
        }
        for (i, v) in variants.iter_mut().enumerate() {
            let table = format!("candles_variant_{i}");
            let started = Instant::now();
            if v.merged {
                client.batch_execute("TRUNCATE bench_stage").await?;
                copy_into(client, "bench_stage", &batch).await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {table} AS candles ({cols}) SELECT {cols} FROM bench_stage {}",
                            candles::on_conflict(candles::UpsertMode::Replace),
                            cols = candles::WRITTEN
                        ),
                        &[],
                    )
                    .await?;
            } else {
                copy_into(client, &table, &batch).await?;
            }
            v.secs += started.elapsed().as_secs_f64();
        }
        batch.clear();
    }
    let baseline = variants[2].secs;
    println!(
        "breakdown (batches of {batch_size}, each its own transaction; ratio = baseline time / variant time):"
    );
    for v in &variants {
        println!(
            "  {:<56} {:>7.2} s  {:>5.2}x",
            v.name,
            v.secs,
            baseline / v.secs
        );
    }
    Ok(())
}

fn variant(name: &'static str, integrity: Integrity, trigger: bool, merged: bool) -> Variant {
    Variant {
        name,
        integrity,
        trigger,
        merged,
        secs: 0.0,
    }
}

/// One binary `COPY` of `rows` into `table`.
async fn copy_into(
    client: &tokio_postgres::Client,
    table: &str,
    rows: &[tickwatch::model::Candle],
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(&format!(
            "COPY {table} ({}) FROM STDIN BINARY",
            candles::WRITTEN
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &candles::COPY_TYPES);
    pin_mut!(writer);
    for c in rows {
        candles::write_copy_row(writer.as_mut(), c).await?;
    }
    writer.as_mut().finish().await?;
    Ok(())
}
