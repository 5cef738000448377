//! The HTTP client every source shares: one `reqwest` client (rustls) per cold start, a
//! timeout per attempt, up to three attempts with exponential backoff and jitter on 429, 5xx
//! and timeouts, `Retry-After` honoured, and a pacer per source so that a run never sends more
//! than the source's published rate.
//!
//! Pacing uses `governor`'s GCRA limiter with a burst of one: requests are spaced evenly at the
//! published rate, which is the only shape that never exceeds "N per minute" over any window
//! (a burst allowance would let up to twice N through across a window boundary). The limiter
//! lives as long as the process, so a warm Lambda keeps its pace across invocations. Its clock
//! is `std::time::Instant` (governor without its `quanta` feature), so building a pacer costs
//! nothing at cold start.

use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use super::{SourceError, snippet};
use crate::config::HttpSettings;
use crate::model::Provider;

/// Builds the one HTTP client a process needs: rustls on the process's shared TLS
/// configuration ([`crate::net`]: compiled-in roots, nothing read from disk), pooled
/// connections, a request timeout. Sources set their own per-attempt timeout too, so a client
/// built elsewhere (the API's) works.
pub fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, reqwest::Error> {
    crate::net::http_client_builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("tickwatch/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Spaces one source's requests evenly at its published rate.
#[derive(Debug)]
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
}

impl Pacer {
    /// At most `per_minute` requests in any minute, evenly spaced.
    pub fn per_minute(per_minute: u32) -> Self {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(rate).allow_burst(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// Waits until the next request may go.
    pub async fn ready(&self) {
        self.limiter.until_ready().await;
    }
}

/// One GET request: URL, query and headers. Header values are secrets so a key never reaches
/// a log line through `Debug`.
#[derive(Debug, Clone)]
pub struct Request {
    /// Full URL without the query string.
    pub url: String,
    /// Query parameters, percent-encoded when sent; values may be logged.
    pub query: Vec<(&'static str, String)>,
    /// Headers such as API keys; kept secret so they never reach a log line.
    pub headers: Vec<(&'static str, SecretString)>,
}

impl Request {
    /// A request for `url` with no query and no headers.
    pub fn new(url: String) -> Self {
        Self {
            url,
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds one query parameter.
    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Adds one header whose value must not be logged.
    pub fn header(mut self, name: &'static str, value: SecretString) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// The shared client and its retry policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
}

enum Attempt {
    /// Worth another try after the given wait (or the backoff when `None`).
    Retry(SourceError, Option<Duration>),
    /// Final.
    Fail(SourceError),
}

impl HttpClient {
    /// Wraps a client built once per cold start (rustls, timeouts) with the retry policy.
    pub fn new(client: reqwest::Client, settings: HttpSettings) -> Self {
        Self { client, settings }
    }

    /// The timeout, attempts and waits this client applies.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Sends `request` through `pacer`, retrying what can be retried, and returns the body of
    /// the first successful answer.
    ///
    /// Fails with: [`SourceError::Timeout`] / [`SourceError::Transport`] /
    /// [`SourceError::ServerError`] once the attempts are spent; [`SourceError::RateLimited`]
    /// on a 429 that persists or asks for a longer wait than we allow, and at once on a 418
    /// (Binance's ban: hammering it only lengthens the ban); [`SourceError::RegionBlocked`] on
    /// 451; [`SourceError::Rejected`] on any other 4xx.
    pub async fn get(
        &self,
        source: Provider,
        pacer: &Pacer,
        request: &Request,
    ) -> Result<String, SourceError> {
        let attempts = self.settings.attempts.max(1);
        let mut attempt = 1;
        loop {
            pacer.ready().await;
            let started = Instant::now();
            let outcome = self.attempt(source, request, attempt).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let (error, wait) = match outcome {
                Ok(body) => {
                    tracing::debug!(source = %source, attempt, elapsed_ms, "source answered");
                    return Ok(body);
                }
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::Retry(error, wait)) => (error, wait),
            };
            if attempt >= attempts {
                tracing::warn!(source = %source, attempt, %error, "giving up on the source");
                return Err(error);
            }
            let wait = wait.unwrap_or_else(|| self.backoff(attempt));
            tracing::warn!(source = %source, attempt, %error, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Exponential backoff with "equal jitter": half the delay is fixed, half random, so
    /// retries from many instances spread out but never collapse to zero.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let full = self
            .settings
            .retry_base
            .saturating_mul(1 << exponent)
            .min(self.settings.max_wait);
        let half = full / 2;
        half + half.mul_f64(rand::random_range(0.0..=1.0))
    }

    async fn attempt(
        &self,
        source: Provider,
        request: &Request,
        attempt: u32,
    ) -> Result<String, Attempt> {
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                Attempt::Fail(SourceError::MissingKey {
                    source_name: source,
                    hint: "the API key holds characters a header cannot carry",
                })
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        let sent = self
            .client
            .get(&request.url)
            .query(&request.query)
            .headers(headers)
            .timeout(self.settings.timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Err(Attempt::Retry(
                    self.transport_error(source, &e, attempt),
                    None,
                ));
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match response.text().await {
            Ok(body) => body,
            Err(e) => {
                return Err(Attempt::Retry(
                    self.transport_error(source, &e, attempt),
                    None,
                ));
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        let code = status.as_u16();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                let error = SourceError::RateLimited {
                    source_name: source,
                    status: code,
                    retry_after,
                };
                match retry_after {
                    Some(wait) if wait > self.settings.max_wait => Err(Attempt::Fail(error)),
                    wait => Err(Attempt::Retry(error, wait)),
                }
            }
            StatusCode::IM_A_TEAPOT => Err(Attempt::Fail(SourceError::RateLimited {
                source_name: source,
                status: code,
                retry_after,
            })),
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS => {
                Err(Attempt::Fail(SourceError::RegionBlocked {
                    source_name: source,
                }))
            }
            s if s.is_server_error() => Err(Attempt::Retry(
                SourceError::ServerError {
                    source_name: source,
                    status: code,
                    attempts: attempt,
                    snippet: snippet(&body),
                },
                retry_after.filter(|w| *w <= self.settings.max_wait),
            )),
            _ => Err(Attempt::Fail(SourceError::Rejected {
                source_name: source,
                status: code,
                snippet: snippet(&body),
            })),
        }
    }

    fn transport_error(
        &self,
        source: Provider,
        error: &reqwest::Error,
        attempt: u32,
    ) -> SourceError {
        if error.is_timeout() {
            SourceError::Timeout {
                source_name: source,
                attempts: attempt,
            }
        } else {
            let mut reason = error.to_string();
            let mut cause = std::error::Error::source(error);
            while let Some(c) = cause {
                reason.push_str(": ");
                reason.push_str(&c.to_string());
                cause = c.source();
            }
            SourceError::Transport {
                source_name: source,
                attempts: attempt,
                reason,
            }
        }
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let parsed = retry_after(&headers(&httpdate::fmt_http_date(later))).expect("a date");
        assert!(parsed <= Duration::from_secs(120) && parsed >= Duration::from_secs(100));
        assert_eq!(retry_after(&headers("soon")), None);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let client = HttpClient::new(
            crate::net::http_client_builder()
                .build()
                .expect("a client on the shared TLS configuration"),
            HttpSettings {
                retry_base: Duration::from_millis(100),
                max_wait: Duration::from_millis(300),
                ..HttpSettings::default()
            },
        );
        for _ in 0..50 {
            let first = client.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = client.backoff(2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            assert!(client.backoff(9) <= Duration::from_millis(300));
        }
    }

    #[tokio::test]
    async fn the_pacer_spaces_requests_at_the_rate() {
        let pacer = Pacer::per_minute(600); // one every 100 ms
        let started = Instant::now();
        for _ in 0..4 {
            pacer.ready().await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(290),
            "{:?}",
            started.elapsed()
        );
    }
}
