//! OHLCV candles and the rules a candle must satisfy before it may be stored.
//!
//! One valid time range holds for every candle, whoever sends it (a source, a correction, an
//! import): it opens at or after [`EARLIEST_OPEN_TIME`] (1970-01-01T00:00:00Z) and no later than
//! [`FUTURE_TOLERANCE`] past the present. No supported source has prices before the Unix
//! epoch, so an older time is a unit mistake (seconds read as milliseconds) or a typo.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Interval, Provider, Symbol, UnknownName};

/// How far in the future a candle's open time may lie: clocks drift, and an exchange's current
/// candle can open a moment before ours says it should.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::seconds(120);

/// The earliest open time a candle may have: the Unix epoch.
pub const EARLIEST_OPEN_TIME: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// Where a stored candle's values come from: a price source, or a person who corrected them
/// through the API. A correction wins over the feed: the collector never overwrites a candle
/// whose source is [`CandleSource::Correction`] (see `db::candles::upsert`); deleting the
/// correction lets the feed write that bucket again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandleSource {
    /// Collected from this source.
    Feed(Provider),
    /// Written by `POST`/`PUT /v1/prices/{symbol}/candles…`.
    Correction,
}

impl CandleSource {
    /// The name stored in `candles.source`: the provider's name, or `correction`.
    pub const CORRECTION: &'static str = "correction";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feed(provider) => provider.as_str(),
            Self::Correction => Self::CORRECTION,
        }
    }

    pub fn parse(input: &str) -> Result<Self, UnknownName> {
        if input == Self::CORRECTION {
            return Ok(Self::Correction);
        }
        Provider::parse(input).map(Self::Feed)
    }

    pub fn is_correction(self) -> bool {
        self == Self::Correction
    }
}

impl From<Provider> for CandleSource {
    fn from(provider: Provider) -> Self {
        Self::Feed(provider)
    }
}

impl PartialEq<Provider> for CandleSource {
    fn eq(&self, other: &Provider) -> bool {
        *self == Self::Feed(*other)
    }
}

impl fmt::Display for CandleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CandleSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CandleSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CandleSource {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names = Provider::ALL
            .iter()
            .map(|p| p.as_str())
            .chain([Self::CORRECTION]);
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names))
            .description(Some(
                "The source the candle was collected from, or `correction` when a person set it",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CandleSource {}

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candle {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "BTC"))]
    pub symbol: Symbol,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1h"))]
    pub interval: Interval,
    pub open_time: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "64250.12"))]
    pub open: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "64500.00"))]
    pub high: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "64010.55"))]
    pub low: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "64333.90"))]
    pub close: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "12.5"))]
    pub volume: Option<Decimal>,
    pub source: CandleSource,
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
    #[error("open time {0} is before 1970-01-01T00:00:00Z, the earliest a candle may open")]
    TooOld(DateTime<Utc>),
    #[error(
        "another candle in the same batch opens at {0} too; a batch may hold one candle per open time"
    )]
    DuplicateOpenTime(DateTime<Utc>),
    #[error(
        "the candle at {0} claims to be a correction; corrections are written through the API, not collected"
    )]
    NotFromASource(DateTime<Utc>),
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
            Self::TooOld(_) => "too_old",
            Self::DuplicateOpenTime(_) => "duplicate_open_time",
            Self::NotFromASource(_) => "not_from_a_source",
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
        if input.open_time < EARLIEST_OPEN_TIME {
            return Err(CandleError::TooOld(input.open_time));
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
            source: input.source.into(),
        })
    }

    /// The key a candle is stored under.
    fn key_owned(&self) -> (Symbol, Interval, DateTime<Utc>) {
        (self.symbol.clone(), self.interval, self.open_time)
    }

    /// Whether two candles carry the same values (provenance aside).
    pub fn same_values(&self, other: &Self) -> bool {
        (self.open, self.high, self.low, self.close, self.volume)
            == (other.open, other.high, other.low, other.close, other.volume)
    }

    /// Folds a newer quote into this candle, as a quote-only source builds OHLC by polling:
    /// the open stays, high and low widen, the close becomes the newer price.
    pub fn absorb_quote(&mut self, price: Decimal) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
    }
}

impl TryFrom<Candle> for CandleInput {
    type Error = CandleError;

    /// A stored or transported candle, to be validated again where it is received. Only a
    /// source's candle converts: a correction is written by a person through the API, never
    /// carried by the collector's batches, so a batch that claims one is refused.
    fn try_from(candle: Candle) -> Result<Self, CandleError> {
        let CandleSource::Feed(source) = candle.source else {
            return Err(CandleError::NotFromASource(candle.open_time));
        };
        Ok(Self {
            symbol: candle.symbol,
            interval: candle.interval,
            open_time: candle.open_time,
            open: candle.open,
            high: candle.high,
            low: candle.low,
            close: candle.close,
            volume: candle.volume,
            source,
        })
    }
}

/// A candle refused because its batch held another one for the same open time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRejection {
    /// Position of the refused candle in the batch, from 0.
    pub index: usize,
    pub error: CandleError,
}

/// A batch with its repeated open times taken out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deduplicated {
    /// The candles that may be stored, in their original order.
    pub kept: Vec<Candle>,
    pub rejected: Vec<DuplicateRejection>,
}

/// Applies the batch rule: one candle per (symbol, interval, open time). Exact repeats of a
/// candle are refused and its first copy kept (storing it loses nothing); copies that disagree
/// are all refused, since nothing says which one is right. Every refusal carries the reason
/// `duplicate_open_time`, so it is counted like any other rejection.
pub fn reject_duplicates(batch: Vec<Candle>) -> Deduplicated {
    let split = partition_repeats(batch, Candle::key_owned, Candle::same_values);
    Deduplicated {
        kept: split.kept.into_iter().map(|(_, candle)| candle).collect(),
        rejected: split
            .refused
            .into_iter()
            .map(|(index, candle)| DuplicateRejection {
                index,
                error: CandleError::DuplicateOpenTime(candle.open_time),
            })
            .collect(),
    }
}

/// A batch split by [`partition_repeats`]: items with their positions, each in batch order.
#[derive(Debug, Clone, PartialEq)]
pub struct Partitioned<T> {
    pub kept: Vec<(usize, T)>,
    pub refused: Vec<(usize, T)>,
}

/// The batch rule of [`reject_duplicates`] for any item: items sharing a `key` are refused,
/// except the first of a group whose members are all `same` as it.
pub fn partition_repeats<T, K: Eq + Hash>(
    batch: Vec<T>,
    key: impl Fn(&T) -> K,
    same: impl Fn(&T, &T) -> bool,
) -> Partitioned<T> {
    let mut first_of: HashMap<K, usize> = HashMap::new();
    // For each position: the first position with its key.
    let firsts: Vec<usize> = batch
        .iter()
        .enumerate()
        .map(|(index, item)| *first_of.entry(key(item)).or_insert(index))
        .collect();
    let mut conflicting = vec![false; batch.len()];
    for (index, &first) in firsts.iter().enumerate() {
        if first != index && !same(&batch[index], &batch[first]) {
            conflicting[first] = true;
        }
    }
    let mut kept = Vec::with_capacity(batch.len());
    let mut refused = Vec::new();
    for (index, item) in batch.into_iter().enumerate() {
        if firsts[index] == index && !conflicting[index] {
            kept.push((index, item));
        } else {
            refused.push((index, item));
        }
    }
    Partitioned { kept, refused }
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
        assert_eq!(
            rejected(|c| c.open_time = Utc
                .with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
                .single()
                .expect("valid time")),
            "too_old"
        );
    }

    #[test]
    fn the_valid_range_starts_at_the_epoch_inclusive() {
        let mut candle = input();
        candle.open_time = EARLIEST_OPEN_TIME;
        assert!(Candle::validate(candle.clone(), now()).is_ok());
        candle.open_time = EARLIEST_OPEN_TIME - Interval::OneHour.duration();
        assert_eq!(
            Candle::validate(candle, now()).map_err(|e| e.reason()),
            Err("too_old")
        );
    }

    #[test]
    fn exact_repeats_keep_their_first_copy_and_disagreeing_copies_are_all_refused() {
        let at = |hours: i64| now() - TimeDelta::hours(hours);
        let make = |hours: i64, close: Decimal| {
            let mut candle = input();
            candle.open_time = at(hours);
            candle.close = close;
            Candle::validate(candle, now()).expect("valid")
        };
        let batch = vec![
            make(1, dec!(101)),
            make(2, dec!(102)),
            make(1, dec!(101)),
            make(3, dec!(103)),
            make(3, dec!(104)),
            make(1, dec!(101)),
        ];
        let out = reject_duplicates(batch);
        let kept: Vec<_> = out.kept.iter().map(|c| c.close).collect();
        assert_eq!(kept, [dec!(101), dec!(102)]);
        let refused: Vec<(usize, &str)> = out
            .rejected
            .iter()
            .map(|r| (r.index, r.error.reason()))
            .collect();
        assert_eq!(
            refused,
            [
                (2, "duplicate_open_time"),
                (3, "duplicate_open_time"),
                (4, "duplicate_open_time"),
                (5, "duplicate_open_time"),
            ]
        );
    }

    #[test]
    fn sources_round_trip_through_their_stored_names() {
        for provider in Provider::ALL {
            let source = CandleSource::from(*provider);
            assert_eq!(CandleSource::parse(source.as_str()), Ok(source));
            assert_eq!(source, *provider);
        }
        assert_eq!(
            CandleSource::parse("correction"),
            Ok(CandleSource::Correction)
        );
        assert!(CandleSource::parse("feed").is_err());
        assert_eq!(
            serde_json::to_value(CandleSource::Correction).ok(),
            Some(serde_json::json!("correction"))
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
