//! The watch list: which symbols are collected, from which source, at which interval.

use serde::{Deserialize, Serialize};

use super::{Interval, Symbol};

/// A name that is not one of an enumeration's known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        // Each variant (de)serialises as its stored name, so JSON, SQL and logs agree.
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(input: &str) -> Result<Self, $crate::model::UnknownName> {
                match input {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::model::UnknownName {
                        kind: $kind,
                        value: other.chars().take(32).collect(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        // By hand, not derived: utoipa's derive cannot read the serde renames this macro
        // generates, and would document the Rust variant names instead of the stored ones.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// What kind of market a symbol trades in; it decides which sources make sense.
    AssetClass, "asset class" {
        Crypto => "crypto",
        Stock => "stock",
    }
);

named_enum!(
    /// Where a symbol's prices come from.
    Provider, "provider" {
        CoinGecko => "coingecko",
        Binance => "binance",
        Coinbase => "coinbase",
        Kraken => "kraken",
        AlphaVantage => "alphavantage",
        Synthetic => "synthetic",
    }
);

/// One row of the watch list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchedSymbol {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "BTC"))]
    pub symbol: Symbol,
    pub asset_class: AssetClass,
    pub provider: Provider,
    /// The source's own name for the instrument: `bitcoin` on CoinGecko, `BTCUSDT` on Binance,
    /// `BTC-USD` on Coinbase, `XBTUSD` on Kraken. The provider names the exchange.
    pub provider_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1h"))]
    pub interval: Interval,
    pub enabled: bool,
    /// Per-symbol detector thresholds that override the environment's defaults.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detector_overrides: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_round_trip_and_unknown_ones_name_the_choices() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Ok(*provider));
        }
        let err = Provider::parse("yahoo").expect_err("unknown provider");
        assert!(err.to_string().contains("coingecko"), "{err}");
        assert!(AssetClass::parse("bond").is_err());
    }

    #[test]
    fn json_names_are_the_stored_names() {
        for provider in Provider::ALL {
            let json = serde_json::to_value(provider).expect("serialises");
            assert_eq!(json, provider.as_str());
            assert_eq!(
                serde_json::from_value::<Provider>(json).ok(),
                Some(*provider)
            );
        }
        let json = serde_json::to_value(crate::model::Method::ZScore).expect("serialises");
        assert_eq!(json, "zscore");
    }
}
