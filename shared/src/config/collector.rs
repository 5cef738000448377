//! Collector settings: where each price source lives, its key, its pacing, and how patient the
//! shared HTTP client is. Every base URL is a setting so tests and local runs point at loopback.

use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, Env, millis};

/// How a price source's own API key is provided. (Not to be confused with
/// [`crate::auth::ApiKey`], the key that authorizes writes to this service.)
#[derive(Debug, Clone, Default)]
pub enum SourceKey {
    /// No key: the source's keyless tier.
    #[default]
    None,
    /// The key itself, from a plain variable (local runs).
    Plain(SecretString),
    /// A Secrets Manager secret holding the key; read by [`CollectorSettings::resolve_keys`].
    Secret {
        /// The variable that named the secret, for error messages.
        variable: &'static str,
        /// The secret's ARN; the key is fetched from it once per cold start.
        arn: String,
    },
}

impl SourceKey {
    fn from_env(
        env: &Env,
        key_var: &'static str,
        arn_var: &'static str,
    ) -> Result<Self, ConfigError> {
        if let Some(key) = env.get(key_var) {
            return Ok(Self::Plain(SecretString::from(key)));
        }
        match env.get(arn_var) {
            Some(arn) if arn.starts_with("arn:") => Ok(Self::Secret {
                variable: arn_var,
                arn,
            }),
            Some(arn) => Err(ConfigError::Invalid {
                name: arn_var,
                reason: format!("{arn:?} is not an ARN"),
            }),
            None => Ok(Self::None),
        }
    }

    /// The key, when it is known (after [`CollectorSettings::resolve_keys`]).
    pub fn secret(&self) -> Option<&SecretString> {
        match self {
            Self::Plain(key) => Some(key),
            _ => None,
        }
    }
}

/// One source's address, key and pace.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080/api/v3` in tests.
    pub base_url: String,
    /// The source's own key; keyless sources ignore it.
    pub api_key: SourceKey,
    /// Requests per minute this process may send; the source's published limit by default.
    pub rate_per_minute: u32,
}

/// How the shared HTTP client waits and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Per attempt, connect to last byte.
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// The first retry waits about this long, each later one twice as long (with jitter).
    pub retry_base: Duration,
    /// No wait between attempts is longer than this, whatever `Retry-After` says; a source
    /// that asks for a longer wait gets a rate-limited error instead, and the next run retries.
    pub max_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            attempts: 3,
            retry_base: Duration::from_millis(250),
            max_wait: Duration::from_secs(10),
        }
    }
}

/// Everything the collector needs besides the database.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// CoinGecko (`COINGECKO_BASE_URL`, `COINGECKO_API_KEY` or `COINGECKO_SECRET_ARN`,
    /// `COINGECKO_RATE_PER_MINUTE`).
    pub coingecko: SourceSettings,
    /// Alpha Vantage (`ALPHAVANTAGE_*`); the only source that cannot work without a key.
    pub alphavantage: SourceSettings,
    /// Binance (`BINANCE_BASE_URL`, `BINANCE_RATE_PER_MINUTE`).
    pub binance: SourceSettings,
    /// Coinbase Exchange (`COINBASE_BASE_URL`, `COINBASE_RATE_PER_MINUTE`).
    pub coinbase: SourceSettings,
    /// Kraken (`KRAKEN_BASE_URL`, `KRAKEN_RATE_PER_MINUTE`).
    pub kraken: SourceSettings,
    /// Seed of the synthetic source: the same seed gives the same prices on every run.
    pub synthetic_seed: u64,
    /// Timeout, attempts and waits of the shared HTTP client (`HTTP_TIMEOUT_MS`, …).
    pub http: HttpSettings,
    /// Candles per upsert statement (and per transaction).
    pub batch_size: usize,
    /// How often the schedule fires. A candle source is polled in the first period after each
    /// of its buckets closes (and whenever its last closed candle is missing).
    pub schedule_period: Duration,
    /// Gap repair looks for holes in at most this many of a series' newest buckets (and never
    /// further back than its source keeps history).
    pub gap_lookback_buckets: i64,
    /// A hole asked for this many times without the source filling it counts as lost.
    pub gap_max_attempts: i32,
}

impl CollectorSettings {
    /// Published limits, per minute: CoinGecko's public tier allows about 30 calls, Alpha
    /// Vantage's free tier 5 (and 25 a day), Binance 6,000 request weight (a klines call weighs 2;
    /// we stay at a fifth of that).
    pub const COINGECKO_RATE: u32 = 30;
    /// Alpha Vantage's free tier: 5 a minute.
    pub const ALPHAVANTAGE_RATE: u32 = 5;
    /// A fifth of Binance's request weight: 600 klines calls a minute.
    pub const BINANCE_RATE: u32 = 600;
    /// Coinbase Exchange allows 10 public requests a second; Kraken's public endpoints about
    /// one. Both at half that.
    pub const COINBASE_RATE: u32 = 300;
    /// Half of Kraken's public limit of about one request a second.
    pub const KRAKEN_RATE: u32 = 30;

    /// Reads every collector variable from `env`, with the defaults above; fails on the first
    /// bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let source = |base_var: &'static str,
                      default_base: &str,
                      key: SourceKey,
                      rate_var: &'static str,
                      default_rate: u32|
         -> Result<SourceSettings, ConfigError> {
            let base_url = env
                .parse_with(base_var, |v| {
                    if v.starts_with("http://") || v.starts_with("https://") {
                        Ok(v.trim_end_matches('/').to_owned())
                    } else {
                        Err(format!("{v:?} is not an http(s) URL"))
                    }
                })?
                .unwrap_or_else(|| default_base.to_owned());
            let rate_per_minute = env
                .parse_with(rate_var, |v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{v:?}: expected a positive whole number"))
                })?
                .unwrap_or(default_rate);
            Ok(SourceSettings {
                base_url,
                api_key: key,
                rate_per_minute,
            })
        };
        let coingecko = source(
            "COINGECKO_BASE_URL",
            "https://api.coingecko.com/api/v3",
            SourceKey::from_env(env, "COINGECKO_API_KEY", "COINGECKO_SECRET_ARN")?,
            "COINGECKO_RATE_PER_MINUTE",
            Self::COINGECKO_RATE,
        )?;
        let alphavantage = source(
            "ALPHAVANTAGE_BASE_URL",
            "https://www.alphavantage.co",
            SourceKey::from_env(env, "ALPHAVANTAGE_API_KEY", "ALPHAVANTAGE_SECRET_ARN")?,
            "ALPHAVANTAGE_RATE_PER_MINUTE",
            Self::ALPHAVANTAGE_RATE,
        )?;
        let binance = source(
            "BINANCE_BASE_URL",
            "https://api.binance.com",
            SourceKey::None,
            "BINANCE_RATE_PER_MINUTE",
            Self::BINANCE_RATE,
        )?;
        let coinbase = source(
            "COINBASE_BASE_URL",
            "https://api.exchange.coinbase.com",
            SourceKey::None,
            "COINBASE_RATE_PER_MINUTE",
            Self::COINBASE_RATE,
        )?;
        let kraken = source(
            "KRAKEN_BASE_URL",
            "https://api.kraken.com",
            SourceKey::None,
            "KRAKEN_RATE_PER_MINUTE",
            Self::KRAKEN_RATE,
        )?;
        let defaults = HttpSettings::default();
        let http = HttpSettings {
            timeout: env
                .parse_with("HTTP_TIMEOUT_MS", millis)?
                .unwrap_or(defaults.timeout),
            attempts: defaults.attempts,
            retry_base: env
                .parse_with("HTTP_RETRY_BASE_MS", millis)?
                .unwrap_or(defaults.retry_base),
            max_wait: defaults.max_wait,
        };
        let batch_size = env
            .parse_with("COLLECTOR_BATCH_SIZE", |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=50_000).contains(n))
                    .ok_or_else(|| format!("{v:?}: expected a whole number from 1 to 50000"))
            })?
            .unwrap_or(5_000);
        let schedule_period = env
            .parse_with("COLLECTOR_SCHEDULE_SECONDS", |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (60..=86_400).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| format!("{v:?}: expected seconds from 60 to 86400"))
            })?
            .unwrap_or(Duration::from_secs(300));
        Ok(Self {
            coingecko,
            alphavantage,
            binance,
            coinbase,
            kraken,
            synthetic_seed: env.parse_or("SYNTHETIC_SEED", 42_u64)?,
            http,
            batch_size,
            schedule_period,
            gap_lookback_buckets: env
                .parse_with("GAP_LOOKBACK_BUCKETS", |v| {
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| (1..=100_000).contains(n))
                        .ok_or_else(|| format!("{v:?}: expected a whole number from 1 to 100000"))
                })?
                .unwrap_or(2_880),
            gap_max_attempts: 3,
        })
    }

    /// Settings for tests and local runs: every source at `base_url`-style loopback addresses
    /// is up to the caller; this gives the defaults without reading the environment.
    pub fn defaults() -> Self {
        Self::from_env(&Env::default()).unwrap_or_else(|_| unreachable_defaults())
    }

    /// The settings of `provider`'s source (the synthetic one has none: it is local).
    pub fn source(&self, provider: crate::model::Provider) -> Option<&SourceSettings> {
        use crate::model::Provider;
        match provider {
            Provider::CoinGecko => Some(&self.coingecko),
            Provider::AlphaVantage => Some(&self.alphavantage),
            Provider::Binance => Some(&self.binance),
            Provider::Coinbase => Some(&self.coinbase),
            Provider::Kraken => Some(&self.kraken),
            Provider::Synthetic => None,
        }
    }

    /// History calls gap repair may spend on `provider` in one run: a quarter of a minute's
    /// allowance, so a run's repairs never crowd out its regular polls.
    pub fn history_calls_per_run(&self, provider: crate::model::Provider) -> u32 {
        self.source(provider)
            .map_or(1_000, |s| (s.rate_per_minute / 4).max(1))
    }

    /// Reads keys held in Secrets Manager, once per cold start.
    pub async fn resolve_keys(
        mut self,
        aws: Option<&crate::aws::Aws>,
    ) -> Result<Self, ConfigError> {
        for source in [&mut self.coingecko, &mut self.alphavantage] {
            if let SourceKey::Secret { variable, arn } = &source.api_key {
                source.api_key = read_source_key(aws, variable, arn).await?;
            }
        }
        Ok(self)
    }
}

/// A source's key from its secret. A secret Terraform created but nobody filled yet has no
/// value: the source then runs keyless (Alpha Vantage answers each stock with a missing-key
/// error, CoinGecko uses its public tier) instead of the collector not starting.
#[cfg(feature = "aws-secrets")]
async fn read_source_key(
    aws: Option<&crate::aws::Aws>,
    variable: &'static str,
    arn: &str,
) -> Result<SourceKey, ConfigError> {
    let aws = aws.ok_or(ConfigError::Missing {
        name: variable,
        hint: "reading the key's secret needs AWS configuration",
    })?;
    let client = aws_sdk_secretsmanager::Client::new(aws.config().await);
    Ok(
        match super::read_secret_string(&client, variable, arn).await {
            Ok(key) => SourceKey::Plain(key),
            Err(error) => {
                tracing::warn!(%error, "the source key could not be read; the source runs without a key");
                SourceKey::None
            }
        },
    )
}

/// Without Secrets Manager in the build, a key held in a secret is a setting this function
/// cannot honour: refused at start rather than silently run keyless.
#[cfg(not(feature = "aws-secrets"))]
async fn read_source_key(
    _aws: Option<&crate::aws::Aws>,
    variable: &'static str,
    _arn: &str,
) -> Result<SourceKey, ConfigError> {
    Err(ConfigError::NotBuiltIn {
        name: variable,
        feature: "aws-secrets",
    })
}

/// The defaults parse from an empty environment by construction; this is never reached, but
/// keeps `defaults` free of a panic path.
fn unreachable_defaults() -> CollectorSettings {
    let source = |base: &str, rate| SourceSettings {
        base_url: base.to_owned(),
        api_key: SourceKey::None,
        rate_per_minute: rate,
    };
    CollectorSettings {
        coingecko: source("https://api.coingecko.com/api/v3", 30),
        alphavantage: source("https://www.alphavantage.co", 5),
        binance: source("https://api.binance.com", 600),
        coinbase: source("https://api.exchange.coinbase.com", 300),
        kraken: source("https://api.kraken.com", 30),
        synthetic_seed: 42,
        http: HttpSettings::default(),
        batch_size: 5_000,
        schedule_period: Duration::from_secs(300),
        gap_lookback_buckets: 2_880,
        gap_max_attempts: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let s = CollectorSettings::from_env(&Env::default()).expect("defaults");
        assert_eq!(s.http.timeout, Duration::from_secs(5));
        assert_eq!(s.http.attempts, 3);
        assert_eq!(s.alphavantage.rate_per_minute, 5);
        assert!(matches!(s.coingecko.api_key, SourceKey::None));
    }

    #[test]
    fn each_malformed_setting_names_its_variable() {
        for (name, value) in [
            ("COINGECKO_BASE_URL", "ftp://x"),
            ("BINANCE_RATE_PER_MINUTE", "0"),
            ("ALPHAVANTAGE_SECRET_ARN", "my-key"),
            ("HTTP_TIMEOUT_MS", "soon"),
            ("COLLECTOR_BATCH_SIZE", "0"),
            ("COLLECTOR_SCHEDULE_SECONDS", "5"),
            ("SYNTHETIC_SEED", "-1"),
        ] {
            let err = CollectorSettings::from_env(&Env::from_pairs(&[(name, value)]))
                .expect_err("should be rejected");
            assert_eq!(err.variable(), name);
        }
    }

    #[test]
    fn a_plain_key_wins_over_a_secret_and_never_prints() {
        let env = Env::from_pairs(&[
            ("ALPHAVANTAGE_API_KEY", "hunter2"),
            (
                "ALPHAVANTAGE_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:av",
            ),
        ]);
        let s = CollectorSettings::from_env(&env).expect("valid");
        assert!(s.alphavantage.api_key.secret().is_some());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
