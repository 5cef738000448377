//! `make import SYMBOL=… FILE=…`: imports a CSV of candles (the columns `history?format=csv`
//! exports) into the local database, for files of any size: rows are read one at a time and
//! stored a batch at a time, with progress on the way. Each batch commits on its own, so an
//! interrupted import keeps what it stored and the summary says through which line. The
//! detector of `make run` rescans the imported range on its next run.

// A command-line tool reports on stdout.
#![allow(clippy::print_stdout)]

use std::io::BufReader;

use anyhow::{Context, bail};
use chrono::Utc;
use tickwatch::config::{Env, Settings};
use tickwatch::db::{Db, symbols};
use tickwatch::import::{self, ImportReport, Rows};
use tickwatch::model::Symbol;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [symbol, file] = args.as_slice() else {
        bail!("usage: import SYMBOL FILE.csv (make import SYMBOL=BTC FILE=history.csv)");
    };
    let env = Env::process();
    let settings = Settings::from_env(&env).context("reading settings")?;
    tickwatch::telemetry::init(settings.log_format, settings.log_filter.clone());
    let symbol = Symbol::parse(symbol).with_context(|| format!("SYMBOL={symbol:?}"))?;
    let input = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
    let db = Db::connect(&settings.database, None)
        .await
        .context("connecting to PostgreSQL")?;
    db.ensure_migrated().await.context("migrating")?;
    let client = db.client().await?;
    // The COPY path's staging table is created per batch "if not exists"; its notice, once
    // per batch, would bury the progress lines.
    client
        .batch_execute("SET client_min_messages = warning")
        .await
        .context("configuring the session")?;
    if symbols::get(&client, &symbol).await?.is_none() {
        bail!(
            "{symbol} is not on the watch list; add it first (PUT /v1/symbols/{symbol}, see the README)"
        );
    }
    let mut rows = Rows::new(BufReader::new(input), symbol.clone(), Utc::now())
        .with_context(|| format!("reading {file}"))?;
    let mut report = ImportReport::default();
    let outcome = import::store(&client, &mut rows, &mut report, |r| {
        if r.rows % 100_000 < import::BATCH_ROWS as u64 {
            println!(
                "{} rows read, {} written, {} refused",
                r.rows, r.written, r.rejected_count
            );
        }
    })
    .await;
    for rejection in &report.rejected {
        println!(
            "line {}: {} ({})",
            rejection.line, rejection.reason, rejection.message
        );
    }
    if report.rejected_count > report.rejected.len() as u64 {
        println!(
            "… and {} more refused rows",
            report.rejected_count - report.rejected.len() as u64
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    match outcome {
        Ok(()) => {
            println!(
                "{symbol}: {} rows, {} written, {} unchanged, {} refused; the detector rescans from {}",
                report.rows,
                report.written,
                report.unchanged,
                report.rejected_count,
                report
                    .first_open_time
                    .map_or("nothing".to_owned(), |t| t.to_rfc3339())
            );
            Ok(())
        }
        Err(error) => {
            let kept = report
                .stored_through_line
                .map_or("nothing was stored".to_owned(), |l| {
                    format!("every valid row through line {l} is stored")
                });
            Err(anyhow::Error::new(error).context(format!("import stopped; {kept}")))
        }
    }
}
