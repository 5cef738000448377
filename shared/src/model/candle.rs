//! OHLCV candles and the rules a candle must satisfy before it may be stored.

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Interval, Provider, Symbol};

/// How far in the future a candle's open time may lie: clocks drift, and an exchange's current
/// candle can open a moment before ours says it should.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::seconds(120);

/// Candle fields as a source delivered them, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CandleInput {
    pub symbol: Symbol,
    pub interval: Interval,
    pub open_time: DateTime<Utc>,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    /// Traded volume within this candle only; `None` where the source has none (a 24 h rolling
    /// figure is not a candle volume and must not be passed here).
    pub volume: Option<Decimal>,
    pub source: Provider,
}

/// A candle that passed every rule in [`Candle::validate`]. Prices are exact decimals: a coin
/// quoted at 0.00000123 must come back as exactly that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candle {
    #[schema(value_type = String, example = "BTC")]
    pub symbol: Symbol,
    #[schema(value_type = String, example = "1h")]
    pub interval: Interval,
    pub open_time: DateTime<Utc>,
    #[schema(value_type = String, example = "64250.12")]
    pub open: Decimal,
    #[schema(value_type = String, example = "64500.00")]
    pub high: Decimal,
    #[schema(value_type = String, example = "64010.55")]
    pub low: Decimal,
    #[schema(value_type = String, example = "64333.90")]
    pub close: Decimal,
    #[schema(value_type = Option<String>, example = "12.5")]
    pub volume: Option<Decimal>,
    #[schema(value_type = String, example = "binance")]
    pub source: Provider,
}

/// Why a candle was rejected. [`CandleError::reason`] is the stable, low-cardinality code used
/// for counting rejections in metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandleError {
    #[error("price is not a finite number")]
    NonFinitePrice,
    #[error("{field} price {value} is not positive")]
    NonPositivePrice { field: &'static str, value: Decimal },
    #[error("high {high} is below low {low}")]
    HighBelowLow { high: Decimal, low: Decimal },
    #[error("{field} {value} lies outside the low–high range {low}..{high}")]
    OutsideRange {
        field: &'static str,
        value: Decimal,
        low: Decimal,
        high: Decimal,
    },
    #[error("volume {0} is negative")]
    NegativeVolume(Decimal),
    #[error("open time {open_time} is in the future (now {now})")]
    FutureTimestamp {
        open_time: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("open time {open_time} is not aligned to the {interval} interval")]
    Misaligned {
        open_time: DateTime<Utc>,
        interval: Interval,
    },
}

impl CandleError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NonFinitePrice => "non_finite_price",
            Self::NonPositivePrice { .. } => "non_positive_price",
            Self::HighBelowLow { .. } => "high_below_low",
            Self::OutsideRange { .. } => "outside_range",
            Self::NegativeVolume(_) => "negative_volume",
            Self::FutureTimestamp { .. } => "future_timestamp",
            Self::Misaligned { .. } => "misaligned_time",
        }
    }
}

/// Converts a provider's floating-point price to an exact decimal, refusing NaN and infinities.
/// The shortest decimal that round-trips the float is kept, so `0.1` stays `0.1`.
pub fn price_from_f64(value: f64) -> Result<Decimal, CandleError> {
    if !value.is_finite() {
        return Err(CandleError::NonFinitePrice);
    }
    Decimal::from_str_exact(&value.to_string())
        .or_else(|_| Decimal::try_from(value))
        .map(|d| d.normalize())
        .map_err(|_| CandleError::NonFinitePrice)
}

impl Candle {
    /// Applies every rule to `input` as of `now`.
    pub fn validate(input: CandleInput, now: DateTime<Utc>) -> Result<Self, CandleError> {
        for (field, value) in [
            ("open", input.open),
            ("high", input.high),
            ("low", input.low),
            ("close", input.close),
        ] {
            if value <= Decimal::ZERO {
                return Err(CandleError::NonPositivePrice { field, value });
            }
        }
        if input.high < input.low {
            return Err(CandleError::HighBelowLow {
                high: input.high,
                low: input.low,
            });
        }
        for (field, value) in [("open", input.open), ("close", input.close)] {
            if value < input.low || value > input.high {
                return Err(CandleError::OutsideRange {
                    field,
                    value,
                    low: input.low,
                    high: input.high,
                });
            }
        }
        if let Some(volume) = input.volume
            && volume < Decimal::ZERO
        {
            return Err(CandleError::NegativeVolume(volume));
        }
        if input.open_time > now + FUTURE_TOLERANCE {
            return Err(CandleError::FutureTimestamp {
                open_time: input.open_time,
                now,
            });
        }
        if !input.interval.is_aligned(input.open_time) {
            return Err(CandleError::Misaligned {
                open_time: input.open_time,
                interval: input.interval,
            });
        }
        Ok(Self {
            symbol: input.symbol,
            interval: input.interval,
            open_time: input.open_time,
            open: input.open,
            high: input.high,
            low: input.low,
            close: input.close,
            volume: input.volume,
            source: input.source,
        })
    }

    /// Folds a newer quote into this candle, as a quote-only source builds OHLC by polling:
    /// the open stays, high and low widen, the close becomes the newer price.
    pub fn absorb_quote(&mut self, price: Decimal) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
    }
}

impl From<Candle> for CandleInput {
    /// A stored or transported candle, to be validated again where it is received.
    fn from(candle: Candle) -> Self {
        Self {
            symbol: candle.symbol,
            interval: candle.interval,
            open_time: candle.open_time,
            open: candle.open,
            high: candle.high,
            low: candle.low,
            close: candle.close,
            volume: candle.volume,
            source: candle.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal::dec;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
            .single()
            .expect("valid time")
    }

    fn input() -> CandleInput {
        CandleInput {
            symbol: Symbol::parse("BTC").expect("valid symbol"),
            interval: Interval::OneHour,
            open_time: now() - TimeDelta::hours(1),
            open: dec!(100),
            high: dec!(110),
            low: dec!(95),
            close: dec!(105),
            volume: Some(dec!(12.5)),
            source: Provider::Synthetic,
        }
    }

    fn rejected(change: impl FnOnce(&mut CandleInput)) -> &'static str {
        let mut candle = input();
        change(&mut candle);
        Candle::validate(candle, now())
            .expect_err("the candle should be rejected")
            .reason()
    }

    #[test]
    fn a_consistent_candle_is_accepted_unchanged() {
        let candle = Candle::validate(input(), now()).expect("valid candle");
        assert_eq!(candle.close, dec!(105));
        assert_eq!(candle.volume, Some(dec!(12.5)));
    }

    #[test]
    fn every_rule_rejects_with_its_own_reason() {
        assert_eq!(rejected(|c| c.open = dec!(0)), "non_positive_price");
        assert_eq!(rejected(|c| c.low = dec!(-1)), "non_positive_price");
        assert_eq!(rejected(|c| c.close = dec!(-105)), "non_positive_price");
        assert_eq!(rejected(|c| c.high = dec!(90)), "high_below_low");
        assert_eq!(rejected(|c| c.open = dec!(111)), "outside_range");
        assert_eq!(rejected(|c| c.close = dec!(94)), "outside_range");
        assert_eq!(rejected(|c| c.volume = Some(dec!(-0.1))), "negative_volume");
        assert_eq!(
            rejected(|c| c.open_time = now() + TimeDelta::hours(2)),
            "future_timestamp"
        );
        assert_eq!(
            rejected(|c| c.open_time = now() - TimeDelta::minutes(30)),
            "misaligned_time"
        );
    }

    #[test]
    fn a_candle_within_the_clock_tolerance_is_accepted() {
        let mut candle = input();
        candle.interval = Interval::OneMinute;
        candle.open_time = now() + TimeDelta::minutes(1);
        assert!(Candle::validate(candle, now()).is_ok());
    }

    #[test]
    fn missing_volume_is_allowed_and_zero_volume_too() {
        let mut candle = input();
        candle.volume = None;
        assert!(Candle::validate(candle.clone(), now()).is_ok());
        candle.volume = Some(Decimal::ZERO);
        assert!(Candle::validate(candle, now()).is_ok());
    }

    #[test]
    fn non_finite_floats_are_refused_and_sub_cent_prices_survive_exactly() {
        assert_eq!(price_from_f64(f64::NAN), Err(CandleError::NonFinitePrice));
        assert_eq!(
            price_from_f64(f64::INFINITY),
            Err(CandleError::NonFinitePrice)
        );
        assert_eq!(
            price_from_f64(f64::NEG_INFINITY),
            Err(CandleError::NonFinitePrice)
        );
        assert_eq!(price_from_f64(0.1), Ok(dec!(0.1)));
        assert_eq!(price_from_f64(0.00000123), Ok(dec!(0.00000123)));
        assert_eq!(price_from_f64(64250.12), Ok(dec!(64250.12)));
    }

    #[test]
    fn absorbing_quotes_builds_ohlc() {
        let mut candle = Candle::validate(input(), now()).expect("valid candle");
        candle.absorb_quote(dec!(120));
        candle.absorb_quote(dec!(90));
        candle.absorb_quote(dec!(101));
        assert_eq!(
            (candle.open, candle.high, candle.low, candle.close),
            (dec!(100), dec!(120), dec!(90), dec!(101))
        );
    }
}
