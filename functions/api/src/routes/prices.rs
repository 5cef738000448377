//! Prices: the newest candle, pages of history (JSON or CSV), and moving averages. Each route
//! is one query (one round trip) that also tells whether the symbol is watched.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use tickwatch::db::candles;
use tickwatch::detect::AverageKind;
use tickwatch::detect::rolling::{Ema, Sma};
use tickwatch::model::Candle;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorEnvelope};
use crate::params::{
    AverageParams, CandleCursor, Format, FormatParam, IntervalParam, Limit, Page, SymbolPath,
    TimeRange,
};
use crate::state::AppState;

pub use crate::params::{DEFAULT_LIMIT, MAX_LIMIT};

/// The header that carries the next page's cursor on CSV responses.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The newest candle of a symbol.
#[utoipa::path(get, path = "/v1/prices/{symbol}/latest", tag = "prices",
    params(SymbolPath, IntervalParam),
    responses(
        (status = 200, body = Candle),
        (status = 400, description = "Malformed symbol or interval", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol, or no candle yet", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn latest(
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    IntervalParam { interval }: IntervalParam,
) -> Result<Response, ApiError> {
    let client = state.reader().await?;
    let read = candles::latest_watched(&*client, &symbol, interval)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let candle = read.value.ok_or_else(|| {
        ApiError::not_found(
            "no_data",
            format!("no {} candle is stored for {symbol} yet", read.interval),
        )
    })?;
    // `Json(candle)`'s bytes without serde's per-field detours (see `crate::encode`).
    let body = crate::encode::candle(&candle);
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// One page of candles, newest first. `history` writes it with `crate::encode::history_page`;
/// the derived `Serialize` is the reference that encoder is tested against.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    #[schema(example = "BTC")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub interval: String,
    pub candles: Vec<Candle>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Candles in a time range, newest first, a page at a time (keyset paging: pages stay exact
/// while new candles arrive). With `format=csv` the page comes as CSV and the next cursor in
/// the `x-next-cursor` header.
#[utoipa::path(get, path = "/v1/prices/{symbol}/history", tag = "prices",
    params(SymbolPath, IntervalParam, TimeRange, Page<CandleCursor>, FormatParam),
    responses(
        (status = 200, description = "A page of candles", content(
            (HistoryPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Malformed parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range or limit", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn history(
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    IntervalParam { interval }: IntervalParam,
    range: TimeRange,
    page: Page<CandleCursor>,
    FormatParam { format }: FormatParam,
) -> Result<Response, ApiError> {
    let before = page.cursor.map_or(range.to, |c| c.0.min(range.to));
    let client = state.reader().await?;
    let read = candles::page_watched(
        &*client,
        &symbol,
        interval,
        range.from,
        before,
        page.fetch(),
    )
    .await?
    .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let mut rows = read.value;
    let next_cursor = page.finish(&mut rows, |c| CandleCursor(c.open_time));
    if format == Format::Csv {
        let mut response = (
            [(CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::csv::candles(&rows),
        )
            .into_response();
        if let Some(next) = next_cursor
            && let Ok(value) = next.parse()
        {
            response.headers_mut().insert(NEXT_CURSOR_HEADER, value);
        }
        return Ok(response);
    }
    // The body `HistoryPage` documents, written without serde's per-field detours
    // (`crate::encode` says what they cost; its tests hold it to the derived serialization).
    let body = crate::encode::history_page(
        symbol.as_str(),
        read.interval.as_str(),
        &rows,
        next_cursor.as_deref(),
    );
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// A moving average of closing prices.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovingAverage {
    #[schema(example = "BTC")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub interval: String,
    #[schema(example = "sma")]
    pub kind: String,
    pub window: i64,
    /// Newest first; one point per candle that has a full window behind it.
    pub points: Vec<Point>,
}

/// The average at one candle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub open_time: DateTime<Utc>,
    /// The candle's close.
    #[schema(value_type = String, example = "64333.90")]
    pub close: Decimal,
    /// The average up to and including this candle.
    pub value: f64,
}

/// The simple or exponential moving average of the closes of the newest candles, computed
/// with the library's rolling averages (`detect::rolling`). The EMA starts from the SMA of
/// the first window it sees, `window - 1` candles before the oldest point returned.
#[utoipa::path(get, path = "/v1/prices/{symbol}/ma", tag = "prices",
    params(SymbolPath, IntervalParam, AverageParams, Limit),
    responses(
        (status = 200, body = MovingAverage),
        (status = 400, description = "Malformed parameter", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Window or limit out of range", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn moving_average(
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    IntervalParam { interval }: IntervalParam,
    AverageParams { window, kind }: AverageParams,
    Limit { limit }: Limit,
) -> Result<Json<MovingAverage>, ApiError> {
    let client = state.reader().await?;
    let read = candles::page_watched(
        &*client,
        &symbol,
        interval,
        tickwatch::model::EARLIEST,
        tickwatch::model::LATEST,
        limit + window - 1,
    )
    .await?
    .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let mut oldest_first = read.value;
    oldest_first.reverse();
    let mut points = average(&oldest_first, window as usize, kind);
    points.reverse();
    Ok(Json(MovingAverage {
        symbol: symbol.to_string(),
        interval: read.interval.to_string(),
        kind: kind.as_str().to_owned(),
        window,
        points,
    }))
}

/// One point per candle of `oldest_first` that has `window` candles up to it, oldest first.
fn average(oldest_first: &[Candle], window: usize, kind: AverageKind) -> Vec<Point> {
    enum Rolling {
        Simple(Sma),
        Exponential(Ema),
    }
    let mut rolling = match kind {
        AverageKind::Sma => Rolling::Simple(Sma::new(window)),
        AverageKind::Ema => Rolling::Exponential(Ema::new(window)),
    };
    oldest_first
        .iter()
        .filter_map(|candle| {
            // Every stored close is a positive decimal well inside f64's range.
            let close = candle.close.to_f64()?;
            let value = match &mut rolling {
                Rolling::Simple(sma) => sma.push(close),
                Rolling::Exponential(ema) => ema.push(close),
            }?;
            Some(Point {
                open_time: candle.open_time,
                close: candle.close,
                value,
            })
        })
        .collect()
}
