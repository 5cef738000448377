//! When a watched symbol is due for collection on a scheduled run.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{Provider, WatchedSymbol};

/// Whether `entry` should be fetched on the scheduled run that fired at `at`, given the open
/// time of its newest stored candle and the schedule's period.
///
/// - A quote source (CoinGecko) is polled on every run: each poll refines the current bucket's
///   high, low and close.
/// - A candle source is polled on the first run after each of its buckets opens, when the
///   previous bucket's candle has become final.
/// - It is also polled whenever its last closed candle is missing (a failed run, a new
///   symbol), so gaps heal on the next run. Not for Alpha Vantage, whose markets close at
///   night and at weekends (the "missing" candle may never exist) and whose free tier allows
///   25 calls a day.
///
/// Decisions use the schedule's firing time, which EventBridge keeps when it retries, so a
/// retried run fetches what the failed one meant to.
pub fn is_due(
    entry: &WatchedSymbol,
    newest: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    period: Duration,
) -> bool {
    if entry.provider == Provider::CoinGecko {
        return true;
    }
    let bucket = entry.interval.bucket_start(at);
    let period = TimeDelta::from_std(period).unwrap_or(TimeDelta::minutes(5));
    if at - bucket < period {
        return true;
    }
    entry.provider != Provider::AlphaVantage
        && newest.is_none_or(|newest| newest < bucket - entry.interval.duration())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetClass, Interval, Symbol};
    use chrono::TimeZone;

    fn entry(provider: Provider, interval: Interval) -> WatchedSymbol {
        WatchedSymbol {
            symbol: Symbol::parse("X").expect("valid"),
            asset_class: AssetClass::Crypto,
            provider,
            provider_id: "x".into(),
            interval,
            enabled: true,
            detector_overrides: serde_json::json!({}),
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn candle_sources_are_due_just_after_a_bucket_opens_or_when_behind() {
        let five = Duration::from_secs(300);
        let hourly = entry(Provider::Binance, Interval::OneHour);
        let fresh = Some(at(9, 0));
        assert!(
            is_due(&hourly, fresh, at(10, 2), five),
            "first run after 10:00"
        );
        assert!(
            !is_due(&hourly, Some(at(10, 0)), at(10, 7), five),
            "already fetched"
        );
        assert!(
            is_due(&hourly, Some(at(8, 0)), at(10, 7), five),
            "09:00 candle missing"
        );
        assert!(is_due(&hourly, None, at(10, 7), five), "nothing stored yet");
        let stock = entry(Provider::AlphaVantage, Interval::OneDay);
        assert!(
            !is_due(&stock, None, at(10, 7), five),
            "no catch-up for the daily quota"
        );
        assert!(is_due(&stock, None, at(0, 3), five));
        let quotes = entry(Provider::CoinGecko, Interval::OneHour);
        assert!(is_due(&quotes, Some(at(10, 0)), at(10, 37), five));
    }
}
