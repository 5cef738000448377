//! The JSON bodies of `history` and `latest`, written straight into one buffer: the API's
//! hottest paths.
//!
//! Through serde, every candle of a page cost a `String` for its symbol (`Symbol` serializes
//! through `String`), a decimal rendered digit by digit with a 128-bit division per digit, a
//! time formatted through `core::fmt`, and an escape scan of each of those strings; with the
//! row decoding, that was most of the API's CPU per `history?limit=100` request (`perf` under
//! `make bench-api`). Here decimals and times are written from their parts, and only text that
//! could need escaping (none of a validated candle's, but the cursor) goes through serde_json.
//! The bytes are the same as `serde_json::to_vec(&HistoryPage { .. })` (and of the `Candle`
//! alone), which the tests check over edge cases of every field.

use chrono::{DateTime, Datelike, Timelike, Utc};
use rust_decimal::Decimal;
use tickwatch::model::Candle;

/// Bytes of one candle's JSON object, roughly (prices of a few digits and 8 decimals): the
/// buffer is sized once from it.
const CANDLE_BYTES: usize = 200;

/// `{"symbol":…,"interval":…,"candles":[…],"next_cursor":…}`, the fields in the order and
/// form of [`crate::routes::prices::HistoryPage`]'s derived serialization.
pub fn history_page(
    symbol: &str,
    interval: &str,
    candles: &[Candle],
    next_cursor: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + CANDLE_BYTES * candles.len());
    out.extend_from_slice(b"{\"symbol\":");
    push_str(&mut out, symbol);
    out.extend_from_slice(b",\"interval\":");
    push_str(&mut out, interval);
    out.extend_from_slice(b",\"candles\":[");
    for (i, candle) in candles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_candle(&mut out, candle);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    match next_cursor {
        Some(cursor) => push_str(&mut out, cursor),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

/// One candle, as `Json(candle)` would write it: the body of `latest`.
pub fn candle(candle: &Candle) -> Vec<u8> {
    let mut out = Vec::with_capacity(CANDLE_BYTES);
    push_candle(&mut out, candle);
    out
}

/// One candle as `Candle`'s derived `Serialize` writes it.
fn push_candle(out: &mut Vec<u8>, candle: &Candle) {
    out.extend_from_slice(b"{\"symbol\":");
    push_str(out, candle.symbol.as_str());
    out.extend_from_slice(b",\"interval\":");
    push_str(out, candle.interval.as_str());
    out.extend_from_slice(b",\"open_time\":\"");
    push_time(out, &candle.open_time);
    out.extend_from_slice(b"\",\"open\":\"");
    push_decimal(out, &candle.open);
    out.extend_from_slice(b"\",\"high\":\"");
    push_decimal(out, &candle.high);
    out.extend_from_slice(b"\",\"low\":\"");
    push_decimal(out, &candle.low);
    out.extend_from_slice(b"\",\"close\":\"");
    push_decimal(out, &candle.close);
    out.extend_from_slice(b"\",\"volume\":");
    match &candle.volume {
        Some(volume) => {
            out.push(b'"');
            push_decimal(out, volume);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"source\":");
    push_str(out, candle.source.as_str());
    out.push(b'}');
}

/// A JSON string: written as is when nothing in it needs escaping (every validated symbol,
/// interval and source name), else through serde_json.
fn push_str(out: &mut Vec<u8>, text: &str) {
    let plain = text
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f);
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a &str into a Vec cannot fail; an empty string keeps the JSON whole.
        out.extend_from_slice(b"\"\"");
    }
}

/// A decimal as `Decimal`'s `Display` (and its serde string form) writes it: the digits of the
/// mantissa with the point `scale` digits from the right, at least one digit before the point,
/// every trailing zero of the scale kept (`1.50` stays `1.50`), a `-` when the sign is set.
pub fn push_decimal(out: &mut Vec<u8>, value: &Decimal) {
    if value.is_sign_negative() {
        out.push(b'-');
    }
    let mut digits = itoa::Buffer::new();
    let mantissa = value.mantissa().unsigned_abs();
    let digits = if mantissa == 0 {
        ""
    } else {
        digits.format(mantissa)
    };
    let scale = value.scale() as usize;
    if scale == 0 {
        out.extend_from_slice(if digits.is_empty() {
            b"0"
        } else {
            digits.as_bytes()
        });
        return;
    }
    if digits.len() > scale {
        let (whole, fraction) = digits.as_bytes().split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits.as_bytes());
    }
}

/// A time as chrono's serde form writes a `DateTime<Utc>` (RFC 3339, `Z`, the fraction in
/// 3, 6 or 9 digits and only when there is one). Years outside 0..=9999 and leap seconds,
/// which chrono writes in other forms, are left to chrono.
pub fn push_time(out: &mut Vec<u8>, time: &DateTime<Utc>) {
    let year = time.year();
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        let quoted = serde_json::to_string(time).unwrap_or_default();
        out.extend_from_slice(quoted.trim_matches('"').as_bytes());
        return;
    }
    let mut fixed = *b"0000-00-00T00:00:00";
    put_digits(&mut fixed[0..4], year as u32);
    put_digits(&mut fixed[5..7], time.month());
    put_digits(&mut fixed[8..10], time.day());
    put_digits(&mut fixed[11..13], time.hour());
    put_digits(&mut fixed[14..16], time.minute());
    put_digits(&mut fixed[17..19], time.second());
    out.extend_from_slice(&fixed);
    if nanos != 0 {
        let (value, width) = if nanos.is_multiple_of(1_000_000) {
            (nanos / 1_000_000, 3)
        } else if nanos.is_multiple_of(1_000) {
            (nanos / 1_000, 6)
        } else {
            (nanos, 9)
        };
        let mut fraction = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0'];
        put_digits(&mut fraction[1..=width], value);
        out.extend_from_slice(&fraction[..=width]);
    }
    out.push(b'Z');
}

/// Writes `value`'s last `slot.len()` decimal digits into `slot`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for byte in slot.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;
    use tickwatch::model::{CandleSource, Interval, Provider, Symbol};

    use super::*;
    use crate::routes::prices::HistoryPage;

    fn serde_form<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("serializes")
    }

    /// Decimals of every scale, from the smallest to the largest mantissa, both signs, zeros
    /// with and without a scale: each must read exactly as rust_decimal writes it.
    #[test]
    fn decimals_read_as_rust_decimal_writes_them() {
        let mut mantissas: Vec<i128> = vec![0, 1, 7, 9, 10, 99, 100, 101, 12_345, 1_000_000];
        let mut power: i128 = 1;
        for _ in 0..28 {
            power *= 10;
            mantissas.extend([power - 1, power, power + 1, power / 3]);
        }
        let max = Decimal::MAX.mantissa();
        mantissas.extend([
            max,
            max - 1,
            max / 7,
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
        ]);
        let mut checked = 0;
        for &mantissa in &mantissas {
            for scale in 0..=28 {
                for negative in [false, true] {
                    let Ok(mut value) = Decimal::try_from_i128_with_scale(mantissa, scale) else {
                        continue;
                    };
                    value.set_sign_negative(negative);
                    let mut ours = Vec::new();
                    push_decimal(&mut ours, &value);
                    assert_eq!(
                        String::from_utf8(ours).expect("ascii"),
                        value.to_string(),
                        "mantissa {mantissa}, scale {scale}, negative {negative}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 3_000, "only {checked} decimals checked");
    }

    /// Times with no fraction, milli-, micro- and nanoseconds, the ends of the four-digit
    /// years, and what chrono writes in other forms (a leap second, years past 9999 and
    /// before 0): each as chrono's serde form.
    #[test]
    fn times_read_as_chrono_writes_them() {
        let base = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid");
        let mut times = vec![
            base,
            base + chrono::Duration::milliseconds(120),
            base + chrono::Duration::microseconds(1_500),
            base + chrono::Duration::nanoseconds(7),
            base + chrono::Duration::nanoseconds(999_999_999),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0)
                .single()
                .expect("valid"),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .single()
                .expect("valid"),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0)
                .single()
                .expect("valid"),
            Utc.with_ymd_and_hms(-1, 6, 30, 12, 0, 0)
                .single()
                .expect("valid"),
        ];
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("valid leap second");
        times.push(Utc.from_utc_datetime(&leap));
        for time in times {
            let mut ours = vec![b'"'];
            push_time(&mut ours, &time);
            ours.push(b'"');
            assert_eq!(String::from_utf8(ours).expect("ascii"), serde_form(&time));
        }
    }

    fn candle(minute: u32, volume: Option<&str>, source: CandleSource) -> Candle {
        Candle {
            symbol: Symbol::parse("BTC-USD").expect("valid symbol"),
            interval: Interval::parse("1m").expect("valid interval"),
            open_time: Utc
                .with_ymd_and_hms(2026, 3, 1, 12, minute, 0)
                .single()
                .expect("valid"),
            open: Decimal::from_str("64250.12").expect("decimal"),
            high: Decimal::from_str("64500.00").expect("decimal"),
            low: Decimal::from_str("0.00000123").expect("decimal"),
            close: Decimal::from_str("64333.9").expect("decimal"),
            volume: volume.map(|v| Decimal::from_str(v).expect("decimal")),
            source,
        }
    }

    /// A whole page, with and without a next cursor (one that needs escaping, too), a candle
    /// without volume and a correction: byte for byte the derived serialization.
    #[test]
    fn a_page_is_byte_for_byte_the_derived_serialization() {
        let candles = [
            candle(2, Some("12.50"), CandleSource::Feed(Provider::Binance)),
            candle(1, None, CandleSource::Correction),
            candle(0, Some("0"), CandleSource::Feed(Provider::Synthetic)),
        ];
        for cursor in [None, Some("2026-03-01T12:00:00Z"), Some("a\"b\\c\u{1}")] {
            for rows in [&candles[..], &candles[..1], &[]] {
                let page = HistoryPage {
                    symbol: "BTC-USD".to_owned(),
                    interval: "1m".to_owned(),
                    candles: rows.to_vec(),
                    next_cursor: cursor.map(str::to_owned),
                };
                let ours = history_page(&page.symbol, &page.interval, rows, cursor);
                assert_eq!(String::from_utf8(ours).expect("utf-8"), serde_form(&page));
            }
        }
    }

    /// `latest`'s body, for each kind of candle of the page test: the derived serialization.
    #[test]
    fn a_candle_is_byte_for_byte_the_derived_serialization() {
        for candle in [
            candle(2, Some("12.50"), CandleSource::Feed(Provider::Binance)),
            candle(1, None, CandleSource::Correction),
            candle(0, Some("0"), CandleSource::Feed(Provider::Synthetic)),
        ] {
            let ours = super::candle(&candle);
            assert_eq!(String::from_utf8(ours).expect("utf-8"), serde_form(&candle));
        }
    }
}
