//! CSV for `history?format=csv`: one header line, then one line per candle in the JSON
//! page's order, with the same values (prices as exact decimals, times in RFC 3339).

use std::fmt::Write as _;

use tickwatch::model::Candle;

/// The header line's columns.
pub const HEADER: &str = "symbol,interval,open_time,open,high,low,close,volume,source";

/// Renders candles as CSV (RFC 4180 line endings). Every field is a validated symbol, a
/// decimal, a time or an enumeration name, none of which can hold a comma, quote or newline.
pub fn candles(rows: &[Candle]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(HEADER);
    out.push_str("\r\n");
    for c in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}\r\n",
            c.symbol,
            c.interval,
            c.open_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume.map(|v| v.to_string()).unwrap_or_default(),
            c.source,
        );
    }
    out
}
