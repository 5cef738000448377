//! The api's own settings, read once per cold start (the database's come from
//! `tickwatch::config`).

use std::time::Duration;

use tickwatch::config::{ConfigError, Env};

use crate::server::ServerLimits;

/// The longest request budget accepted: API Gateway gives up on an integration after 29 s,
/// and the answer must be ours, not the gateway's.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(28);

/// The default request budget: under the api Lambda's 10 s timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSettings {
    /// Each request's time budget (`API_REQUEST_TIMEOUT_MS`); see [`crate::deadline`].
    pub request_timeout: Duration,
    /// The local server's limits; unused on Lambda.
    pub server: ServerLimits,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            server: ServerLimits::default(),
        }
    }
}

fn millis(
    env: &Env,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<Duration>, ConfigError> {
    env.parse_with(name, |v| {
        v.parse::<u64>()
            .ok()
            .filter(|ms| range.contains(ms))
            .map(Duration::from_millis)
            .ok_or_else(|| {
                format!(
                    "{v:?}: expected {} to {} milliseconds",
                    range.start(),
                    range.end()
                )
            })
    })
}

fn count(env: &Env, name: &'static str, max: usize) -> Result<Option<usize>, ConfigError> {
    env.parse_with(name, |v| {
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{v:?}: expected a whole number from 1 to {max}"))
    })
}

impl ApiSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_budget = u64::try_from(MAX_REQUEST_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        Ok(Self {
            request_timeout: millis(env, "API_REQUEST_TIMEOUT_MS", 100..=max_budget)?
                .unwrap_or(defaults.request_timeout),
            server: ServerLimits {
                header_read_timeout: millis(env, "API_HEADER_TIMEOUT_MS", 100..=300_000)?
                    .unwrap_or(defaults.server.header_read_timeout),
                max_connections: count(env, "API_MAX_CONNECTIONS", 100_000)?
                    .unwrap_or(defaults.server.max_connections),
                max_connections_per_client: count(env, "API_MAX_CONNECTIONS_PER_CLIENT", 100_000)?
                    .unwrap_or(defaults.server.max_connections_per_client),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_each_bad_value_names_its_variable() {
        let settings = ApiSettings::from_env(&Env::default()).expect("defaults");
        assert_eq!(settings, ApiSettings::default());
        let set = ApiSettings::from_env(&Env::from_pairs(&[
            ("API_REQUEST_TIMEOUT_MS", "2500"),
            ("API_HEADER_TIMEOUT_MS", "1000"),
            ("API_MAX_CONNECTIONS", "10"),
            ("API_MAX_CONNECTIONS_PER_CLIENT", "3"),
        ]))
        .expect("valid");
        assert_eq!(set.request_timeout, Duration::from_millis(2500));
        assert_eq!(set.server.header_read_timeout, Duration::from_secs(1));
        assert_eq!(
            (
                set.server.max_connections,
                set.server.max_connections_per_client
            ),
            (10, 3)
        );
        for (name, value) in [
            ("API_REQUEST_TIMEOUT_MS", "29000"),
            ("API_REQUEST_TIMEOUT_MS", "0"),
            ("API_HEADER_TIMEOUT_MS", "soon"),
            ("API_MAX_CONNECTIONS", "0"),
            ("API_MAX_CONNECTIONS_PER_CLIENT", "-1"),
        ] {
            let err =
                ApiSettings::from_env(&Env::from_pairs(&[(name, value)])).expect_err("refused");
            assert_eq!(err.variable(), name);
        }
    }
}
