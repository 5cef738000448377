//! Importing a person's own history: CSV with the columns `history?format=csv` exports, read
//! row by row (any size, from any reader), each row validated exactly like a collected candle
//! and reported by line when it is refused.
//!
//! The rows are stored under the target symbol whatever their `symbol` column says (that is
//! how history is copied to a new symbol), but every row must name the same symbol, so two
//! files pasted together are refused rather than merged. Storing goes in batches through the
//! same upsert as collection and corrections: the `candles` trigger then lowers the series'
//! `rescan_from`, and the detector's next run rescans the imported range by itself.

use std::io::Read;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::DbError;
use crate::db::candles::{self, UpsertMode};
use crate::model::{Candle, CandleInput, Interval, Provider, Symbol};

/// The columns, in the order the export writes them.
pub const COLUMNS: [&str; 9] = [
    "symbol",
    "interval",
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "source",
];

/// Rows stored per statement.
pub const BATCH_ROWS: usize = 1000;

/// Refused rows listed in a report; past this they are only counted.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// Why a whole file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has no header line (it is empty or blank); nothing is stored.
    #[error("the file is empty: a header line is required")]
    Empty,
    /// The header does not name the expected columns; nothing is stored.
    #[error("the header must name the columns {expected}; {problem}")]
    Header {
        /// The columns required, in order.
        expected: String,
        /// What is wrong with the header given.
        problem: String,
    },
    /// The CSV itself is broken at a line (bad quoting, invalid UTF-8); rows before it may
    /// be stored.
    #[error("the file cannot be read at line {line}")]
    Read {
        /// The line the reader stopped at (the header is line 1).
        line: u64,
        /// What the CSV reader found wrong.
        #[source]
        source: csv::Error,
    },
    /// Storing a batch failed. Batches before it are stored unless the caller's transaction
    /// is rolled back; the report says which lines.
    #[error("storing the rows up to line {line} failed")]
    Store {
        /// The last line of the batch that failed.
        line: u64,
        /// The database error; [`DbError::is_unavailable`] says whether trying again can help.
        #[source]
        source: DbError,
    },
}

impl ImportError {
    /// A stable, low-cardinality code for the error envelope.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty | Self::Header { .. } => "invalid_header",
            Self::Read { .. } => "unreadable_csv",
            Self::Store { .. } => "store_failed",
        }
    }
}

/// One refused row: its line in the file (the header is line 1), a stable reason and a
/// sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// Line in the file, the header being line 1.
    pub line: u64,
    /// Stable snake_case code: `malformed`, or the candle rule broken (`non_positive_price`, …).
    pub reason: String,
    /// A sentence for a person, naming the column and value at fault.
    pub message: String,
}

/// One data row: its line and either a valid candle or why it was refused.
pub type Row = (u64, Result<Candle, RowError>);

/// Where each column sits in this file's header.
#[derive(Debug, Clone, Copy)]
struct Layout([usize; 9]);

fn header_error(problem: String) -> ImportError {
    ImportError::Header {
        expected: COLUMNS.join(","),
        problem,
    }
}

impl Layout {
    fn parse(header: &csv::StringRecord) -> Result<Self, ImportError> {
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        let mut positions = [0; 9];
        for (slot, column) in positions.iter_mut().zip(COLUMNS) {
            let mut found = names.iter().enumerate().filter(|(_, n)| *n == column);
            *slot = match (found.next(), found.next()) {
                (Some((i, _)), None) => i,
                (None, _) => return Err(header_error(format!("{column} is missing"))),
                (Some(_), Some(_)) => return Err(header_error(format!("{column} appears twice"))),
            };
        }
        if let Some(extra) = names.iter().find(|n| !COLUMNS.contains(&n.as_str())) {
            return Err(header_error(format!("{extra:?} is not one of them")));
        }
        Ok(Self(positions))
    }

    fn field<'r>(&self, record: &'r csv::StringRecord, column: usize) -> &'r str {
        record.get(self.0[column]).unwrap_or_default().trim()
    }
}

/// Reads CSV rows into validated candles for `target`, one at a time.
#[derive(Debug)]
pub struct Rows<R: Read> {
    reader: csv::Reader<R>,
    layout: Layout,
    target: Symbol,
    file_symbol: Option<String>,
    now: DateTime<Utc>,
    record: csv::StringRecord,
}

impl<R: Read> Rows<R> {
    /// Reads the header; fails when it is missing or does not name exactly the export's
    /// columns (in any order, any case).
    pub fn new(input: R, target: Symbol, now: DateTime<Utc>) -> Result<Self, ImportError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut header = csv::StringRecord::new();
        match reader.read_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err(ImportError::Empty),
            Err(source) => return Err(ImportError::Read { line: 1, source }),
        }
        let layout = Layout::parse(&header)?;
        Ok(Self {
            reader,
            layout,
            target,
            file_symbol: None,
            now,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row: `None` at the end, `Some(Ok)` for a valid candle, `Some(Err)` for a
    /// refused row (the file goes on). A file that cannot be read further (invalid UTF-8, an
    /// I/O error) ends with `ImportError::Read`.
    #[allow(
        clippy::should_implement_trait,
        reason = "the item needs the line and two error kinds; an Iterator would hide the fatal one"
    )]
    pub fn next(&mut self) -> Option<Result<Row, ImportError>> {
        let line = self.reader.position().line();
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Err(source) if matches!(source.kind(), csv::ErrorKind::Io(_)) => {
                Some(Err(ImportError::Read { line, source }))
            }
            Err(error) => Some(Ok((
                line,
                Err(RowError {
                    line,
                    reason: "malformed".to_owned(),
                    message: error.to_string(),
                }),
            ))),
            Ok(true) => {
                let line = self.record.position().map(|p| p.line()).unwrap_or(line);
                Some(Ok((line, self.candle(line))))
            }
        }
    }

    fn candle(&mut self, line: u64) -> Result<Candle, RowError> {
        let reject = |reason: &str, message: String| RowError {
            line,
            reason: reason.to_owned(),
            message,
        };
        if self.record.len() != COLUMNS.len() {
            return Err(reject(
                "malformed",
                format!(
                    "{} fields where the header has {}",
                    self.record.len(),
                    COLUMNS.len()
                ),
            ));
        }
        let record = &self.record;
        let field = |i: usize| self.layout.field(record, i);
        let symbol =
            Symbol::parse(field(0)).map_err(|e| reject("invalid_symbol", e.to_string()))?;
        match &self.file_symbol {
            None => self.file_symbol = Some(symbol.to_string()),
            Some(first) if first != symbol.as_str() => {
                return Err(reject(
                    "mixed_symbols",
                    format!("this row is {symbol} but the file's first row is {first}"),
                ));
            }
            Some(_) => {}
        }
        let interval =
            Interval::parse(field(1)).map_err(|e| reject("invalid_interval", e.to_string()))?;
        let open_time = DateTime::parse_from_rfc3339(field(2))
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| reject("invalid_time", format!("open_time {:?}: {e}", field(2))))?;
        let price = |i: usize| {
            field(i).parse::<Decimal>().map_err(|e| {
                reject(
                    "invalid_number",
                    format!("{} {:?}: {e}", COLUMNS[i], field(i)),
                )
            })
        };
        let volume = match field(7) {
            "" => None,
            _ => Some(price(7)?),
        };
        let source =
            Provider::parse(field(8)).map_err(|e| reject("invalid_source", e.to_string()))?;
        Candle::validate(
            CandleInput {
                symbol: self.target.clone(),
                interval,
                open_time,
                open: price(3)?,
                high: price(4)?,
                low: price(5)?,
                close: price(6)?,
                volume,
                source,
            },
            self.now,
        )
        .map_err(|e| reject(e.reason(), e.to_string()))
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Candles inserted or changed.
    pub written: u64,
    /// Valid rows identical to what was stored (or repeated later in the file).
    pub unchanged: u64,
    /// Refused rows, all counted here.
    pub rejected_count: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] refused rows, by line.
    pub rejected: Vec<RowError>,
    /// The earliest and latest open time stored: the range the detector rescans.
    pub first_open_time: Option<DateTime<Utc>>,
    /// Latest open time stored (see `first_open_time`).
    pub last_open_time: Option<DateTime<Utc>>,
    /// Every valid row up to this line is stored (null before the first batch).
    pub stored_through_line: Option<u64>,
}

impl ImportReport {
    /// Counts a refused row, listing it while the list is short.
    pub fn reject(&mut self, error: RowError) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_LISTED_REJECTIONS {
            self.rejected.push(error);
        }
    }

    /// Counts a stored batch.
    pub fn stored(&mut self, batch: &[Candle], written: u64) {
        self.written += written;
        self.unchanged += batch.len() as u64 - written;
        for candle in batch {
            self.first_open_time = Some(
                self.first_open_time
                    .map_or(candle.open_time, |t| t.min(candle.open_time)),
            );
            self.last_open_time = Some(
                self.last_open_time
                    .map_or(candle.open_time, |t| t.max(candle.open_time)),
            );
        }
    }
}

/// Reads every row of `rows` and stores the valid ones in batches of [`BATCH_ROWS`] through
/// `client` (a transaction makes the whole import one unit; a plain connection commits each
/// batch, and `stored_through_line` says how far it got). `after_batch` sees the report after
/// each stored batch, for progress. A file that cannot be read further stops the import with
/// the batches before it stored.
pub async fn store<R: Read>(
    client: &impl candles::CopyClient,
    rows: &mut Rows<R>,
    report: &mut ImportReport,
    mut after_batch: impl FnMut(&ImportReport),
) -> Result<(), ImportError> {
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut last_line = 0;
    loop {
        let row = rows.next();
        let done = row.is_none();
        match row {
            None => {}
            Some(Err(error)) => {
                flush(client, &mut batch, last_line, report).await?;
                return Err(error);
            }
            Some(Ok((line, outcome))) => {
                report.rows += 1;
                last_line = line;
                match outcome {
                    Ok(candle) => batch.push(candle),
                    Err(error) => report.reject(error),
                }
            }
        }
        if batch.len() >= BATCH_ROWS || (done && !batch.is_empty()) {
            flush(client, &mut batch, last_line, report).await?;
            after_batch(report);
        }
        if done {
            return Ok(());
        }
    }
}

async fn flush(
    client: &impl candles::CopyClient,
    batch: &mut Vec<Candle>,
    line: u64,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcome = candles::upsert(client, batch, UpsertMode::Replace)
        .await
        .map_err(|source| ImportError::Store { line, source })?;
    report.stored(batch, outcome.written);
    report.stored_through_line = Some(line);
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "symbol,interval,open_time,open,high,low,close,volume,source\n";

    fn all(text: &str) -> Result<Vec<Row>, ImportError> {
        let now = "2026-06-01T00:00:00Z".parse().expect("time");
        let mut rows = Rows::new(text.as_bytes(), Symbol::parse("NEW").expect("symbol"), now)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next() {
            out.push(row?);
        }
        Ok(out)
    }

    #[test]
    fn an_exported_row_becomes_a_candle_of_the_target_symbol() {
        let rows = all(&format!(
            "{HEADER}BTC,1h,2026-01-01T00:00:00Z,0.00000123,0.0000013,0.0000012,0.00000125,12.5,binance\r\n"
        ))
        .expect("readable");
        let (line, candle) = &rows[0];
        let candle = candle.as_ref().expect("valid");
        assert_eq!(*line, 2);
        assert_eq!(candle.symbol.as_str(), "NEW");
        assert_eq!(candle.open.to_string(), "0.00000123");
        assert_eq!(
            candle.volume.map(|v| v.to_string()),
            Some("12.5".to_owned())
        );
    }

    #[test]
    fn columns_may_come_in_any_order_and_an_empty_volume_is_none() {
        let rows = all(
            "source,close,low,high,open,open_time,interval,symbol,volume\n\
             coingecko,10,9,11,10,2026-01-01T01:00:00Z,1h,ETH,\n",
        )
        .expect("readable");
        let candle = rows[0].1.as_ref().expect("valid");
        assert_eq!(candle.close.to_string(), "10");
        assert_eq!(candle.volume, None);
    }

    #[test]
    fn a_missing_duplicated_or_unknown_column_refuses_the_file() {
        for (header, problem) in [
            (
                "symbol,interval,open_time,open,high,low,close,volume\n",
                "source is missing",
            ),
            (
                "symbol,interval,open_time,open,high,low,close,volume,source,source\n",
                "source appears twice",
            ),
            (
                "symbol,interval,open_time,open,high,low,close,volume,source,note\n",
                "\"note\" is not one of them",
            ),
        ] {
            let error = all(header).expect_err("refused");
            assert_eq!(error.reason(), "invalid_header");
            assert!(error.to_string().contains(problem), "{error}");
        }
        assert!(matches!(all(""), Err(ImportError::Empty)));
    }

    #[test]
    fn each_bad_row_is_refused_with_its_line_and_the_good_ones_still_pass() {
        let rows = all(&format!(
            "{HEADER}\
             BTC,1h,2026-01-01T00:00:00Z,10,11,9,10,1,binance\n\
             BTC,1h,yesterday,10,11,9,10,1,binance\n\
             BTC,1h,2026-01-01T02:00:00Z,10,9,11,10,1,binance\n\
             BTC,7m,2026-01-01T03:00:00Z,10,11,9,10,1,binance\n\
             BTC,1h,2026-01-01T04:00:00Z,ten,11,9,10,1,binance\n\
             BTC,1h,2026-01-01T05:00:00Z,10,11,9,10\n\
             ETH,1h,2026-01-01T06:00:00Z,10,11,9,10,1,binance\n\
             BTC,1h,2026-01-01T07:00:00Z,10,11,9,10,1,nowhere\n\
             BTC,1h,2027-01-01T00:00:00Z,10,11,9,10,1,binance\n\
             BTC,1h,2026-01-01T08:00:00Z,10,11,9,10,-1,binance\n\
             BTC,1h,2026-01-01T09:00:00Z,10,11,9,10,1,binance\n"
        ))
        .expect("readable");
        let outcome: Vec<(u64, Option<String>)> = rows
            .iter()
            .map(|(line, r)| (*line, r.as_ref().err().map(|e| e.reason.clone())))
            .collect();
        let reason = |line: u64| {
            outcome
                .iter()
                .find(|(l, _)| *l == line)
                .and_then(|(_, r)| r.clone())
        };
        assert_eq!(outcome.len(), 11);
        assert_eq!(reason(2), None);
        assert_eq!(reason(3).as_deref(), Some("invalid_time"));
        assert_eq!(reason(4).as_deref(), Some("high_below_low"));
        assert_eq!(reason(5).as_deref(), Some("invalid_interval"));
        assert_eq!(reason(6).as_deref(), Some("invalid_number"));
        assert_eq!(reason(7).as_deref(), Some("malformed"));
        assert_eq!(reason(8).as_deref(), Some("mixed_symbols"));
        assert_eq!(reason(9).as_deref(), Some("invalid_source"));
        assert!(reason(10).is_some(), "a candle from the future");
        assert!(reason(11).is_some(), "a negative volume");
        assert_eq!(reason(12), None);
    }

    #[test]
    fn a_report_lists_the_first_rejections_and_counts_them_all() {
        let mut report = ImportReport::default();
        for line in 0..(MAX_LISTED_REJECTIONS as u64 + 5) {
            report.reject(RowError {
                line,
                reason: "malformed".to_owned(),
                message: String::new(),
            });
        }
        assert_eq!(report.rejected.len(), MAX_LISTED_REJECTIONS);
        assert_eq!(report.rejected_count, MAX_LISTED_REJECTIONS as u64 + 5);
    }
}
