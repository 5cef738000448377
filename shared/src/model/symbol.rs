//! Ticker symbols. A symbol travels through URLs, SQL, metric dimensions and log lines, so only
//! a small, unambiguous character set is accepted.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest symbol accepted. Real tickers are far shorter; the cap keeps hostile input cheap.
pub const MAX_SYMBOL_LEN: usize = 20;

/// A validated ticker symbol such as `BTC`, `AAPL`, `BRK.B` or `BTC-USD`.
///
/// Normalised to upper case. Letters and digits, with `.` and `-` allowed between them (never
/// first, last or doubled), at most [`MAX_SYMBOL_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

/// Why a string is not a [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// Nothing was given.
    #[error("symbol is empty")]
    Empty,
    /// More than `MAX_SYMBOL_LEN` characters.
    #[error("symbol is longer than {MAX_SYMBOL_LEN} characters")]
    TooLong,
    /// A character other than an ASCII letter, digit, `.` or `-` (the offending one).
    #[error("symbol contains {0:?}; only letters, digits, '.' and '-' are allowed")]
    InvalidCharacter(char),
    /// A `.` or `-` at either end, or two in a row.
    #[error("symbol must start and end with a letter or digit and not repeat '.' or '-'")]
    BadSeparator,
}

impl Symbol {
    /// Parses and normalises user or provider input. Surrounding whitespace is not trimmed:
    /// a symbol with spaces in it is a mistake worth reporting, not guessing about.
    pub fn parse(input: &str) -> Result<Self, SymbolError> {
        if input.is_empty() {
            return Err(SymbolError::Empty);
        }
        if input.chars().count() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong);
        }
        if let Some(bad) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(SymbolError::InvalidCharacter(bad));
        }
        let bytes = input.as_bytes();
        let is_separator = |b: u8| b == b'.' || b == b'-';
        let first_or_last_is_separator =
            is_separator(bytes[0]) || is_separator(bytes[bytes.len() - 1]);
        let doubled_separator = bytes
            .windows(2)
            .any(|pair| is_separator(pair[0]) && is_separator(pair[1]));
        if first_or_last_is_separator || doubled_separator {
            return Err(SymbolError::BadSeparator);
        }
        Ok(Self(input.to_ascii_uppercase()))
    }

    /// The normalised, upper-case ticker, e.g. `BRK.B`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_tickers_are_accepted_and_upper_cased() {
        for (input, expected) in [
            ("BTC", "BTC"),
            ("btc", "BTC"),
            ("aapl", "AAPL"),
            ("BRK.B", "BRK.B"),
            ("btc-usd", "BTC-USD"),
            ("1INCH", "1INCH"),
            ("A", "A"),
            ("ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRST"),
        ] {
            assert_eq!(
                Symbol::parse(input).map(String::from),
                Ok(expected.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn hostile_and_malformed_strings_are_rejected_with_a_reason() {
        let cases: &[(&str, SymbolError)] = &[
            ("", SymbolError::Empty),
            ("ABCDEFGHIJKLMNOPQRSTU", SymbolError::TooLong),
            (" BTC", SymbolError::InvalidCharacter(' ')),
            ("BTC\n", SymbolError::InvalidCharacter('\n')),
            ("BTC\0", SymbolError::InvalidCharacter('\0')),
            ("BTC'; DROP TABLE candles;--", SymbolError::TooLong),
            ("B'--", SymbolError::InvalidCharacter('\'')),
            ("../etc", SymbolError::InvalidCharacter('/')),
            ("BTC/USD", SymbolError::InvalidCharacter('/')),
            ("BTC%00", SymbolError::InvalidCharacter('%')),
            ("<script>", SymbolError::InvalidCharacter('<')),
            ("ВТС", SymbolError::InvalidCharacter('В')),
            ("BTC\u{200b}", SymbolError::InvalidCharacter('\u{200b}')),
            ("ＢＴＣ", SymbolError::InvalidCharacter('Ｂ')),
            ("${jndi}", SymbolError::InvalidCharacter('$')),
            (".BTC", SymbolError::BadSeparator),
            ("BTC-", SymbolError::BadSeparator),
            ("BTC..B", SymbolError::BadSeparator),
            ("BTC.-B", SymbolError::BadSeparator),
            ("-", SymbolError::BadSeparator),
        ];
        for (input, expected) in cases {
            assert_eq!(Symbol::parse(input).as_ref(), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn a_multibyte_string_is_measured_in_characters_without_panicking() {
        let long = "é".repeat(MAX_SYMBOL_LEN + 1);
        assert_eq!(Symbol::parse(&long), Err(SymbolError::TooLong));
        assert_eq!(Symbol::parse("é"), Err(SymbolError::InvalidCharacter('é')));
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Symbol>("\"eth\"").is_ok());
        assert!(serde_json::from_str::<Symbol>("\"e th\"").is_err());
    }
}
