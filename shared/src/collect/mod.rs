//! The collector's work: decide what to fetch, fetch it from each source, validate every item,
//! and upsert what passes in batches.
//!
//! Failures stay local. A rejected item is counted by reason and the rest of its batch goes
//! on; a source that fails costs only its own symbols; a batch is one statement, so it is stored
//! whole or not at all. An invocation fails — so that EventBridge retries it — only when
//! nothing at all reached the database, and its error says whether a retry can help.
//!
//! [`Collector`] is built once per cold start and is the entry point for the Lambda and for
//! the API's collect-once endpoint alike.

mod event;
mod report;
mod schedule;
mod store;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::join_all;

pub use event::{CollectorEvent, EventError, MAX_BACKFILL, MAX_SYMBOLS};
pub use report::{CollectReport, OutcomeError, OutcomeStatus, RunKind, SymbolOutcome};
pub use schedule::is_due;

use crate::config::CollectorSettings;
use crate::db::{Db, DbError, candles, symbols};
use crate::metrics::{Metrics, Unit};
use crate::model::{Provider, Symbol, WatchedSymbol};
use crate::providers::alphavantage::AlphaVantage;
use crate::providers::binance::Binance;
use crate::providers::coingecko::CoinGecko;
use crate::providers::http::HttpClient;
use crate::providers::{PriceSource, SeriesRequest, SourceError, SyntheticSource};
use report::SourceCall;

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The event itself was refused; retrying the same event cannot help.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The watch list could not be read.
    #[error("the watch list could not be read: {0}")]
    WatchList(#[source] DbError),
    /// There was work, and none of it reached the database.
    #[error("nothing could be stored ({} of {} symbols failed; {}): {}",
        .report.failed, .report.outcomes.len(),
        if *.retryable { "a retry may help" } else { "a retry will not help" },
        first_error(.report))]
    NothingStored {
        report: Box<CollectReport>,
        retryable: bool,
    },
}

fn first_error(report: &CollectReport) -> String {
    report
        .outcomes
        .iter()
        .find_map(|o| {
            o.error
                .as_ref()
                .map(|e| format!("{}: {}", o.symbol, e.message))
        })
        .unwrap_or_else(|| "every item was rejected".to_owned())
}

impl CollectError {
    /// Whether EventBridge (or a person) should try the same event again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Event(_) => false,
            Self::WatchList(e) => e.is_unavailable(),
            Self::NothingStored { retryable, .. } => *retryable,
        }
    }

    /// The report, when the run got as far as making one.
    pub fn report(&self) -> Option<&CollectReport> {
        match self {
            Self::NothingStored { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// Fetches, validates and stores candles. Build it once per cold start: it owns the sources,
/// their pacers (which must outlive one invocation to keep the pace) and the database pool.
#[derive(Debug)]
pub struct Collector {
    db: Db,
    settings: CollectorSettings,
    coingecko: CoinGecko,
    binance: Binance,
    alphavantage: AlphaVantage,
    synthetic: SyntheticSource,
}

impl Collector {
    /// `client` is the process's one HTTP client (see [`crate::providers::http::build_client`]).
    pub fn new(db: Db, settings: CollectorSettings, client: reqwest::Client) -> Self {
        let http = HttpClient::new(client, settings.http);
        Self {
            coingecko: CoinGecko::new(http.clone(), &settings.coingecko),
            binance: Binance::new(http.clone(), &settings.binance),
            alphavantage: AlphaVantage::new(http, &settings.alphavantage),
            synthetic: SyntheticSource::new(settings.synthetic_seed),
            db,
            settings,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> &CollectorSettings {
        &self.settings
    }

    fn source(&self, provider: Provider) -> &dyn PriceSource {
        match provider {
            Provider::CoinGecko => &self.coingecko,
            Provider::Binance => &self.binance,
            Provider::AlphaVantage => &self.alphavantage,
            Provider::Synthetic => &self.synthetic,
        }
    }

    /// Parses `payload`, runs it, and gathers the invocation's metrics (publish them once).
    pub async fn invoke(
        &self,
        function: &str,
        payload: serde_json::Value,
    ) -> (Result<CollectReport, CollectError>, Metrics) {
        let mut metrics = Metrics::new(function);
        let result = match CollectorEvent::parse(payload, Utc::now()) {
            Ok(event) => self.handle(event).await,
            Err(e) => Err(e.into()),
        };
        match &result {
            Ok(report) => report.record(&mut metrics),
            Err(e) => {
                if let Some(report) = e.report() {
                    report.record(&mut metrics);
                }
            }
        }
        match self.data_age(Utc::now()).await {
            Ok(Some(age)) => metrics.observe("DataAgeSeconds", age, Unit::Seconds, &[]),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not measure the data age"),
        }
        (result, metrics)
    }

    /// Runs one parsed event.
    pub async fn handle(&self, event: CollectorEvent) -> Result<CollectReport, CollectError> {
        match event {
            CollectorEvent::Scheduled { time } => self.collect_due(time).await,
            CollectorEvent::Collect { symbols } => self.collect(&symbols).await,
            CollectorEvent::Backfill { symbols, from, to } => {
                self.backfill(&symbols, from, to).await
            }
        }
    }

    /// Collects `symbols` now, whatever their schedule (disabled ones included: asking by
    /// name is explicit). A symbol not on the watch list gets an `unknown_symbol` outcome.
    pub async fn collect(&self, symbols: &[Symbol]) -> Result<CollectReport, CollectError> {
        let now = Utc::now();
        let mut report = CollectReport::new(RunKind::Collect, now);
        let (entries, unknown) = self.lookup(symbols).await?;
        for symbol in unknown {
            report.push(unknown_symbol(symbol));
        }
        self.collect_latest(&mut report, entries, now).await;
        finish(report)
    }

    /// Collects every enabled symbol that is due at `at` (see [`is_due`]).
    pub async fn collect_due(&self, at: DateTime<Utc>) -> Result<CollectReport, CollectError> {
        let now = Utc::now();
        let mut report = CollectReport::new(RunKind::Scheduled, now);
        let client = self.db.client().await.map_err(CollectError::WatchList)?;
        let watched = symbols::list_enabled(&client)
            .await
            .map_err(CollectError::WatchList)?;
        let newest: BTreeMap<_, _> = candles::newest_per_watched_series(&client)
            .await
            .map_err(CollectError::WatchList)?
            .into_iter()
            .map(|(symbol, interval, newest)| ((symbol, interval), newest))
            .collect();
        drop(client);
        let due: Vec<WatchedSymbol> = watched
            .into_iter()
            .filter(|w| {
                let newest = newest
                    .get(&(w.symbol.clone(), w.interval))
                    .copied()
                    .flatten();
                is_due(w, newest, at, self.settings.schedule_period)
            })
            .collect();
        tracing::info!(due = due.len(), %at, "scheduled collection");
        self.collect_latest(&mut report, due, now).await;
        finish(report)
    }

    /// Fetches history for `symbols` with `from <= open_time < to`, page by page, upserting
    /// each page before fetching the next: memory stays flat however long the range, and an
    /// interrupted backfill keeps what it stored. Re-running it changes nothing.
    pub async fn backfill(
        &self,
        symbols: &[Symbol],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<CollectReport, CollectError> {
        let now = Utc::now();
        let mut report = CollectReport::new(RunKind::Backfill, now);
        let (entries, unknown) = self.lookup(symbols).await?;
        for symbol in unknown {
            report.push(unknown_symbol(symbol));
        }
        for entry in entries {
            let outcome = self
                .backfill_one(&mut report, &entry, from, to.min(now))
                .await;
            report.push(outcome);
        }
        finish(report)
    }

    async fn backfill_one(
        &self,
        report: &mut CollectReport,
        entry: &WatchedSymbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SymbolOutcome {
        let mut outcome = SymbolOutcome::new(
            entry.symbol.clone(),
            Some(entry.provider),
            Some(entry.interval),
        );
        let source = self.source(entry.provider);
        let series = request(entry);
        let fetch = |start: DateTime<Utc>| {
            let series = &series;
            async move {
                let started = Instant::now();
                let page = source.history(series, start, to).await;
                let call = SourceCall {
                    provider: entry.provider,
                    millis: started.elapsed().as_secs_f64() * 1e3,
                    failed: page.is_err(),
                };
                (start, page, call)
            }
        };
        let mut pending = fetch(entry.interval.bucket_start(from)).await;
        loop {
            let (start, page, call) = pending;
            report.calls.push(call);
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    outcome.fail(source_error(&error));
                    break;
                }
            };
            // A source that does not move forward would loop for ever.
            let next = page.next.filter(|next| *next > start && *next < to);
            // Fetch the next page while this one is written: the source's latency (or the
            // synthetic source's CPU time) overlaps the database's.
            let write = store::store(
                &self.db,
                &mut outcome,
                page.fetched,
                Utc::now(),
                self.settings.batch_size,
            );
            let (written, following) = tokio::join!(write, async {
                match next {
                    Some(next) => Some(fetch(next).await),
                    None => None,
                }
            });
            if let Err(error) = written {
                outcome.fail(database_error(&error));
                break;
            }
            match following {
                Some(following) => pending = following,
                None => break,
            }
        }
        outcome
    }

    /// Splits `symbols` into watch-list entries and names not on the list.
    async fn lookup(
        &self,
        wanted: &[Symbol],
    ) -> Result<(Vec<WatchedSymbol>, Vec<Symbol>), CollectError> {
        let client = self.db.client().await.map_err(CollectError::WatchList)?;
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for symbol in wanted {
            match symbols::get(&client, symbol)
                .await
                .map_err(CollectError::WatchList)?
            {
                Some(entry) => found.push(entry),
                None => unknown.push(symbol.clone()),
            }
        }
        Ok((found, unknown))
    }

    /// Fetches the latest data of `entries`, one batched call per source where the source
    /// allows, all sources at once; then validates and stores symbol by symbol.
    async fn collect_latest(
        &self,
        report: &mut CollectReport,
        entries: Vec<WatchedSymbol>,
        now: DateTime<Utc>,
    ) {
        let mut groups: BTreeMap<Provider, Vec<WatchedSymbol>> = BTreeMap::new();
        for entry in entries {
            groups.entry(entry.provider).or_default().push(entry);
        }
        let fetches = groups.into_iter().map(|(provider, entries)| async move {
            let requests: Vec<SeriesRequest> = entries.iter().map(request).collect();
            let started = Instant::now();
            let results = self.source(provider).latest(&requests, now).await;
            let call = SourceCall {
                provider,
                millis: started.elapsed().as_secs_f64() * 1e3,
                failed: results.iter().all(Result::is_err),
            };
            (entries, results, call)
        });
        for (entries, results, call) in join_all(fetches).await {
            report.calls.push(call);
            for (entry, result) in entries.into_iter().zip(results) {
                let mut outcome = SymbolOutcome::new(
                    entry.symbol.clone(),
                    Some(entry.provider),
                    Some(entry.interval),
                );
                match result {
                    Err(error) => outcome.fail(source_error(&error)),
                    Ok(fetched) => {
                        if let Err(error) = store::store(
                            &self.db,
                            &mut outcome,
                            fetched,
                            Utc::now(),
                            self.settings.batch_size,
                        )
                        .await
                        {
                            outcome.fail(database_error(&error));
                        }
                    }
                }
                if let Some(error) = &outcome.error {
                    tracing::warn!(symbol = %entry.symbol, source = %entry.provider, code = %error.code, error = %error.message, "symbol failed");
                }
                report.push(outcome);
            }
        }
    }

    /// Seconds since the newest candle of the stalest enabled series opened (a series with no
    /// candle at all is ignored here; the API's health check reports it). `None` when nothing
    /// is stored.
    pub async fn data_age(&self, now: DateTime<Utc>) -> Result<Option<f64>, DbError> {
        let client = self.db.client().await?;
        let newest = candles::newest_per_watched_series(&client).await?;
        Ok(newest
            .iter()
            .filter_map(|(_, _, t)| *t)
            .min()
            .map(|oldest| (now - oldest).num_milliseconds() as f64 / 1e3))
    }
}

fn request(entry: &WatchedSymbol) -> SeriesRequest {
    SeriesRequest {
        symbol: entry.symbol.clone(),
        provider_id: entry.provider_id.clone(),
        interval: entry.interval,
    }
}

fn unknown_symbol(symbol: Symbol) -> SymbolOutcome {
    let message = format!("{symbol} is not on the watch list");
    let mut outcome = SymbolOutcome::new(symbol, None, None);
    outcome.fail(OutcomeError {
        code: "unknown_symbol".to_owned(),
        message,
        retryable: false,
        retry_after_seconds: None,
    });
    outcome
}

fn source_error(error: &SourceError) -> OutcomeError {
    OutcomeError {
        code: error.code().to_owned(),
        message: error.to_string(),
        retryable: error.is_retryable(),
        retry_after_seconds: error.retry_after().map(|d| d.as_secs()),
    }
}

fn database_error(error: &DbError) -> OutcomeError {
    OutcomeError {
        code: "database".to_owned(),
        message: error.to_string(),
        // A statement refused for its content will be refused again; an unreachable or
        // restarting database may be back.
        retryable: error.is_unavailable(),
        retry_after_seconds: None,
    }
}

fn finish(report: CollectReport) -> Result<CollectReport, CollectError> {
    tracing::info!(
        kind = ?report.kind,
        symbols = report.outcomes.len(),
        stored = report.stored,
        rejected = report.rejected,
        failed = report.failed,
        "collection finished"
    );
    if report.nothing_stored() {
        let retryable = report.retry_can_help();
        return Err(CollectError::NothingStored {
            report: Box::new(report),
            retryable,
        });
    }
    Ok(report)
}
