//! The fetch stage: carry out a plan against the price sources, validate every item, and hand
//! what passes to a [`BatchSink`] series by series.
//!
//! It needs the internet and nothing else — no database — so in the cloud it runs outside the
//! VPC. Failures stay local: a rejected item is counted by reason and the rest of its series
//! goes on; a failing source costs only its own series; a sink that fails stops only the
//! series it was storing.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::batch::CandleBatch;
use super::plan::{CollectPlan, SeriesWork, TimeRange};
use super::report::{CollectReport, OutcomeCode, OutcomeError, SourceCall, SymbolOutcome};
use super::sink::{BatchSink, Delivery, SinkError};
use crate::config::CollectorSettings;
use crate::model::{Candle, CandleError, Provider, Symbol};
use crate::providers::alphavantage::AlphaVantage;
use crate::providers::binance::Binance;
use crate::providers::coinbase::Coinbase;
use crate::providers::coingecko::CoinGecko;
use crate::providers::http::HttpClient;
use crate::providers::kraken::Kraken;
use crate::providers::{Fetched, Page, PriceSource, SeriesRequest, SourceError, SyntheticSource};

/// Every source, built once per cold start: their pacers must outlive one invocation to keep
/// the pace.
#[derive(Debug)]
pub struct Fetcher {
    coingecko: CoinGecko,
    binance: Binance,
    coinbase: Coinbase,
    kraken: Kraken,
    alphavantage: AlphaVantage,
    synthetic: SyntheticSource,
    /// Most candles gathered from history pages into one batch for the sink.
    batch_size: usize,
}

impl Fetcher {
    /// `client` is the process's one HTTP client (see [`crate::providers::http::build_client`]).
    pub fn new(settings: &CollectorSettings, client: reqwest::Client) -> Self {
        let http = HttpClient::new(client, settings.http);
        Self {
            coingecko: CoinGecko::new(http.clone(), &settings.coingecko),
            binance: Binance::new(http.clone(), &settings.binance),
            coinbase: Coinbase::new(http.clone(), &settings.coinbase),
            kraken: Kraken::new(http.clone(), &settings.kraken),
            alphavantage: AlphaVantage::new(http, &settings.alphavantage),
            synthetic: SyntheticSource::new(settings.synthetic_seed),
            batch_size: settings.batch_size.max(1),
        }
    }

    fn source(&self, provider: Provider) -> &dyn PriceSource {
        match provider {
            Provider::CoinGecko => &self.coingecko,
            Provider::Binance => &self.binance,
            Provider::Coinbase => &self.coinbase,
            Provider::Kraken => &self.kraken,
            Provider::AlphaVantage => &self.alphavantage,
            Provider::Synthetic => &self.synthetic,
        }
    }

    /// Runs `plan` as of `now`: every source at once, each source's series one after the
    /// other (its pacer spaces them anyway). Returns one outcome per planned series.
    pub async fn run(
        &self,
        plan: &CollectPlan,
        sink: &dyn BatchSink,
        now: DateTime<Utc>,
    ) -> CollectReport {
        let mut report = CollectReport::new(plan.kind, now);
        report.stored_here = sink.stores_in_process();
        for symbol in &plan.unknown {
            report.push(unknown_symbol(symbol.clone()));
        }
        let mut groups: BTreeMap<Provider, Vec<&SeriesWork>> = BTreeMap::new();
        for work in &plan.work {
            groups.entry(work.provider).or_default().push(work);
        }
        let runs = groups
            .into_iter()
            .map(|(provider, works)| self.run_source(provider, works, sink, now));
        for (outcomes, calls) in join_all(runs).await {
            report.calls.extend(calls);
            for outcome in outcomes {
                if let Some(error) = &outcome.error {
                    tracing::warn!(symbol = %outcome.symbol, source = ?outcome.provider, code = %error.code, error = %error.message, "symbol failed");
                }
                report.push(outcome);
            }
        }
        report
    }

    async fn run_source(
        &self,
        provider: Provider,
        works: Vec<&SeriesWork>,
        sink: &dyn BatchSink,
        now: DateTime<Utc>,
    ) -> (Vec<SymbolOutcome>, Vec<SourceCall>) {
        let source = self.source(provider);
        let mut calls = Vec::new();
        let mut outcomes: Vec<SymbolOutcome> = works
            .iter()
            .map(|w| {
                let mut outcome =
                    SymbolOutcome::new(w.symbol.clone(), Some(w.provider), Some(w.interval));
                outcome.gaps = w.gaps;
                outcome
            })
            .collect();

        // The newest candles, in as few calls as the source allows.
        let polled: Vec<usize> = (0..works.len()).filter(|&i| works[i].latest).collect();
        if !polled.is_empty() {
            let requests: Vec<SeriesRequest> = polled.iter().map(|&i| works[i].request()).collect();
            let started = Instant::now();
            let results = source.latest(&requests, now).await;
            calls.push(SourceCall {
                provider,
                millis: started.elapsed().as_secs_f64() * 1e3,
                failed: results.iter().all(Result::is_err),
            });
            for (&i, result) in polled.iter().zip(results) {
                let outcome = &mut outcomes[i];
                match result {
                    Err(error) => outcome.fail(source_error(&error)),
                    Ok(fetched) => {
                        if let Err(error) =
                            deliver(sink, outcome, works[i], fetched, None, now).await
                        {
                            outcome.fail(sink_error(&error));
                        }
                    }
                }
            }
        }

        // History, page by page. Pages are gathered into batches of up to `batch_size`
        // candles, and each batch is stored while the pages of the next one are fetched: the
        // source's work and the database's overlap, the fixed costs of a write (statement
        // triggers, gap record, commit) are paid per batch rather than per page, and memory
        // stays flat however long the range (two batches at most). An interrupted run keeps
        // every batch stored before it stopped; the next run fetches the rest again.
        for (work, outcome) in works.iter().zip(outcomes.iter_mut()) {
            if outcome.error.is_some() {
                continue;
            }
            let request = work.request();
            for range in &work.history {
                let failure = self
                    .fetch_range(
                        source, &request, work, range, outcome, sink, now, &mut calls,
                    )
                    .await;
                if let Some(error) = failure {
                    outcome.fail(error);
                    break;
                }
            }
        }
        (outcomes, calls)
    }

    /// Fetches one range of history page by page and stores it batch by batch (see
    /// `run_source`). Returns why it stopped early, if it did.
    #[allow(
        clippy::too_many_arguments,
        reason = "one series' state, borrowed from run_source"
    )]
    async fn fetch_range(
        &self,
        source: &dyn PriceSource,
        request: &SeriesRequest,
        work: &SeriesWork,
        range: &TimeRange,
        outcome: &mut SymbolOutcome,
        sink: &dyn BatchSink,
        now: DateTime<Utc>,
        calls: &mut Vec<SourceCall>,
    ) -> Option<OutcomeError> {
        let mut cursor = Some(work.interval.bucket_start(range.from)).filter(|s| *s < range.to);
        let mut storing: Option<PendingBatch> = None;
        loop {
            // The previous batch is stored while the next one is gathered.
            let (stored, gathered) = futures::join!(
                async {
                    match storing.take() {
                        Some(batch) => {
                            deliver(sink, outcome, work, batch.fetched, Some(batch.covers), now)
                                .await
                        }
                        None => Ok(()),
                    }
                },
                gather(
                    source,
                    request,
                    &mut cursor,
                    range.to,
                    self.batch_size,
                    calls
                ),
            );
            if let Err(error) = stored {
                return Some(sink_error(&error));
            }
            let (batch, failed) = gathered;
            if failed.is_some() || cursor.is_none() {
                // The last batch, or what the pages brought before the source failed.
                if let Some(batch) = batch
                    && let Err(error) =
                        deliver(sink, outcome, work, batch.fetched, Some(batch.covers), now).await
                {
                    return Some(sink_error(&error));
                }
                return failed.map(|e| source_error(&e));
            }
            storing = batch;
        }
    }
}

/// Fetches pages from `cursor` on until they hold `batch_size` candles, the range ends
/// (`cursor` becomes `None`) or the source fails. Returns the pages gathered and the failure.
async fn gather(
    source: &dyn PriceSource,
    request: &SeriesRequest,
    cursor: &mut Option<DateTime<Utc>>,
    to: DateTime<Utc>,
    batch_size: usize,
    calls: &mut Vec<SourceCall>,
) -> (Option<PendingBatch>, Option<SourceError>) {
    let mut pending = Pending::default();
    while let Some(start) = *cursor {
        let page = match fetch_page(source, request, start, to, calls).await {
            Ok(page) => page,
            Err(error) => return (pending.take(), Some(error)),
        };
        // A source that does not move forward would loop for ever.
        let next = page.next.filter(|n| *n > start && *n < to);
        pending.push(page.fetched, start, next.unwrap_or(to));
        *cursor = next;
        if pending.len() >= batch_size {
            break;
        }
    }
    (pending.take(), None)
}

/// One call for a page of history, timed into `calls`.
async fn fetch_page(
    source: &dyn PriceSource,
    request: &SeriesRequest,
    start: DateTime<Utc>,
    to: DateTime<Utc>,
    calls: &mut Vec<SourceCall>,
) -> Result<Page, SourceError> {
    let started = Instant::now();
    let page = source.history(request, start, to).await;
    calls.push(SourceCall {
        provider: source.provider(),
        millis: started.elapsed().as_secs_f64() * 1e3,
        failed: page.is_err(),
    });
    page
}

/// Pages of one range gathered into a batch: their items in order, and the span they answer.
#[derive(Debug, Default)]
struct Pending {
    batch: Option<PendingBatch>,
}

#[derive(Debug)]
struct PendingBatch {
    fetched: Fetched,
    covers: TimeRange,
}

impl Pending {
    /// Adds a page that answered `from .. to`; pages arrive in order, each starting where the
    /// last one ended.
    fn push(&mut self, page: Fetched, from: DateTime<Utc>, to: DateTime<Utc>) {
        match &mut self.batch {
            Some(batch) => {
                batch.fetched.items.extend(page.items);
                batch.covers.to = to;
            }
            None => {
                self.batch = Some(PendingBatch {
                    fetched: page,
                    covers: TimeRange { from, to },
                });
            }
        }
    }

    fn len(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.fetched.items.len())
    }

    fn take(&mut self) -> Option<PendingBatch> {
        self.batch.take()
    }
}

/// Validates `fetched` and hands the candles that pass to `sink`, counting into `outcome`.
async fn deliver(
    sink: &dyn BatchSink,
    outcome: &mut SymbolOutcome,
    work: &SeriesWork,
    fetched: Fetched,
    covers: Option<TimeRange>,
    now: DateTime<Utc>,
) -> Result<(), SinkError> {
    outcome.fetched += fetched.items.len() as u64;
    let mut candles = Vec::with_capacity(fetched.items.len());
    for item in fetched.items {
        match item.and_then(|input| Candle::validate(input, now)) {
            Ok(candle) if candle.symbol == work.symbol && candle.interval == work.interval => {
                candles.push(candle);
            }
            Ok(candle) => {
                // A source bug, never a provider's: count it rather than store it elsewhere.
                tracing::error!(expected = %work.symbol, got = %candle.symbol, "a source returned another series' candle");
                *outcome
                    .rejected
                    .entry("wrong_symbol".to_owned())
                    .or_default() += 1;
            }
            Err(error) => reject(outcome, &error),
        }
    }
    if candles.is_empty() && covers.is_none() {
        return Ok(());
    }
    let newest = candles.iter().map(|c| c.open_time).max();
    let count = candles.len() as u64;
    let batch = CandleBatch {
        symbol: work.symbol.clone(),
        interval: work.interval,
        merge: fetched.shape.into(),
        covers,
        candles,
    };
    let delivered = match sink.deliver(batch, now).await {
        Ok(delivered) => delivered,
        Err(SinkError::Store(error)) => {
            // What was stored before the database failed still counts.
            add_stored(outcome, &error.partial);
            return Err(SinkError::Store(error));
        }
        Err(other) => return Err(other),
    };
    match delivered {
        Delivery::Queued => outcome.queued += count,
        Delivery::Stored(stored) => {
            add_stored(outcome, &stored);
            if let (Some(span), Some(left)) = (covers, stored.still_missing) {
                // Only spans gap repair asked for count as filled; a backfill's span has no
                // holes planned.
                if outcome.gaps.requested > 0 {
                    let asked = ((span.to - span.from).num_seconds() / work.interval.seconds())
                        .max(0) as u64;
                    let filled = asked.saturating_sub(left).min(outcome.gaps.requested);
                    outcome.gaps_filled = Some(outcome.gaps_filled.unwrap_or(0) + filled);
                }
            }
        }
    }
    outcome.newest = outcome.newest.max(newest);
    Ok(())
}

fn add_stored(outcome: &mut SymbolOutcome, stored: &super::store::Stored) {
    outcome.stored += stored.stored;
    outcome.unchanged += stored.unchanged;
    for (reason, n) in &stored.rejected {
        *outcome.rejected.entry(reason.clone()).or_default() += n;
    }
}

fn reject(outcome: &mut SymbolOutcome, error: &CandleError) {
    tracing::warn!(symbol = %outcome.symbol, reason = error.reason(), %error, "candle rejected");
    *outcome
        .rejected
        .entry(error.reason().to_owned())
        .or_default() += 1;
}

pub(crate) fn unknown_symbol(symbol: Symbol) -> SymbolOutcome {
    let message = format!("{symbol} is not on the watch list");
    let mut outcome = SymbolOutcome::new(symbol, None, None);
    outcome.fail(OutcomeError {
        code: OutcomeCode::UnknownSymbol,
        message,
        retryable: false,
        retry_after_seconds: None,
    });
    outcome
}

fn source_error(error: &SourceError) -> OutcomeError {
    OutcomeError {
        code: OutcomeCode::Source(error.code()),
        message: error.to_string(),
        retryable: error.is_retryable(),
        retry_after_seconds: error.retry_after().map(|d| d.as_secs()),
    }
}

fn sink_error(error: &SinkError) -> OutcomeError {
    OutcomeError {
        code: error.outcome_code(),
        message: error.to_string(),
        // A statement refused for its content will be refused again; an unreachable or
        // restarting database, or a queue that hiccupped, may be back.
        retryable: error.is_retryable(),
        retry_after_seconds: None,
    }
}
