//! Prices: the newest candle, pages of history (JSON or CSV), moving averages, and candle
//! corrections.

#![allow(
    unused_qualifications,
    reason = "utoipa's path macro qualifies the IntoParams types it is given"
)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tickwatch::db::candles::{self, UpsertMode};
use tickwatch::db::symbols;
use tickwatch::model::{Candle, CandleInput, Interval, Provider, Symbol, WatchedSymbol};
use utoipa::{IntoParams, ToSchema};

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::indicators::{self, AverageKind};
use crate::params::{self, TimeRange, cursor};
use crate::state::AppState;

/// The header that carries the next page's cursor on CSV responses.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntervalQuery {
    /// Candle width; defaults to the symbol's own.
    #[param(value_type = Option<String>, pattern = "^(1m|5m|15m|1h|4h|1d)$", example = "1h")]
    pub interval: Option<String>,
}

/// The newest candle of a symbol.
#[utoipa::path(get, path = "/v1/prices/{symbol}/latest", tag = "prices",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20), IntervalQuery),
    responses(
        (status = 200, body = Candle),
        (status = 400, description = "Malformed symbol or interval", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol, or no candle yet", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn latest(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<IntervalQuery>,
) -> Result<Json<Candle>, ApiError> {
    let symbol = params::symbol(&raw)?;
    let interval = params::interval(query.interval.as_deref())?;
    let client = state.client().await?;
    let read = candles::latest_watched(&client, &symbol, interval)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    read.value.map(Json).ok_or_else(|| {
        ApiError::not_found(
            "no_data",
            format!("no {} candle is stored for {symbol} yet", read.interval),
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Candle width; defaults to the symbol's own.
    #[param(value_type = Option<String>, pattern = "^(1m|5m|15m|1h|4h|1d)$", example = "1h")]
    pub interval: Option<String>,
    /// Earliest open time, inclusive (RFC 3339). Not with `days`.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Latest open time, exclusive (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// Reach back this many days from `to` (default now). Not with `from`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    pub days: Option<String>,
    /// Page size, 1–1000 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// One page of candles, newest first.
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
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20), HistoryQuery),
    responses(
        (status = 200, description = "A page of candles", content(
            (HistoryPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Malformed parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range or limit", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn history(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let symbol = params::symbol(&raw)?;
    let interval = params::interval(query.interval.as_deref())?;
    let range = TimeRange::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        query.days.as_deref(),
        Utc::now(),
    )?;
    let limit = params::integer("limit", query.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "format must be json or csv",
            ));
        }
    };
    let before = match query.cursor.as_deref() {
        Some(raw) => cursor::decode_candle(raw)?.min(range.to),
        None => range.to,
    };
    let client = state.client().await?;
    // One row more than asked tells whether another page follows.
    let read = candles::page_watched(&client, &symbol, interval, range.from, before, limit + 1)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let mut rows = read.value;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|c| cursor::encode_candle(c.open_time)))
        .flatten();
    if csv {
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
    Ok(Json(HistoryPage {
        symbol: symbol.to_string(),
        interval: read.interval.to_string(),
        candles: rows,
        next_cursor,
    })
    .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MaQuery {
    /// Candle width; defaults to the symbol's own.
    #[param(value_type = Option<String>, pattern = "^(1m|5m|15m|1h|4h|1d)$", example = "1h")]
    pub interval: Option<String>,
    /// Candles per average, 2–200 (default 20).
    #[param(value_type = Option<i64>, minimum = 2, maximum = 200)]
    pub window: Option<String>,
    /// `sma` (default) or `ema`.
    #[param(value_type = Option<String>, pattern = "^(sma|ema)$")]
    pub kind: Option<String>,
    /// How many points, 1–1000 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
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
    pub points: Vec<indicators::Point>,
}

/// The simple or exponential moving average of the closes of the newest candles. The EMA
/// starts from the SMA of the first window it sees, `window - 1` candles before the oldest
/// point returned.
#[utoipa::path(get, path = "/v1/prices/{symbol}/ma", tag = "prices",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20), MaQuery),
    responses(
        (status = 200, body = MovingAverage),
        (status = 400, description = "Malformed parameter", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Window or limit out of range", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn moving_average(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<MaQuery>,
) -> Result<Json<MovingAverage>, ApiError> {
    let symbol = params::symbol(&raw)?;
    let interval = params::interval(query.interval.as_deref())?;
    let window = params::integer("window", query.window.as_deref(), 20, 2, 200)?;
    let limit = params::integer("limit", query.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let kind = match query.kind.as_deref() {
        None | Some("sma") => AverageKind::Simple,
        Some("ema") => AverageKind::Exponential,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "kind must be sma or ema",
            ));
        }
    };
    let client = state.client().await?;
    let read = candles::page_watched(
        &client,
        &symbol,
        interval,
        candles::EARLIEST,
        candles::LATEST,
        limit + window - 1,
    )
    .await?
    .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let mut oldest_first = read.value;
    oldest_first.reverse();
    let mut points = indicators::moving_average(&oldest_first, window as usize, kind);
    points.reverse();
    Ok(Json(MovingAverage {
        symbol: symbol.to_string(),
        interval: read.interval.to_string(),
        kind: kind.as_str().to_owned(),
        window,
        points,
    }))
}

// ---- Corrections --------------------------------------------------------------------------

/// A candle sent by a person correcting the record. Prices are decimal strings (or numbers);
/// the candle passes exactly the rules collected candles pass.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandleBody {
    /// Defaults to the symbol's own interval.
    #[schema(value_type = Option<String>, example = "1h")]
    pub interval: Option<Interval>,
    /// Required in a batch; taken from the path by PUT (where it must match when present).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub open_time: Option<String>,
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
    /// Defaults to the symbol's provider.
    pub source: Option<Provider>,
}

/// A batch of corrections.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandleBatch {
    /// 1–1000 candles; each is checked on its own.
    #[schema(value_type = Vec<CandleBody>)]
    pub candles: Vec<serde_json::Value>,
}

/// What a batch did: rejected items are listed with their reason and never stop the others.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionReport {
    /// Candles inserted or changed.
    pub written: u64,
    /// Candles accepted but identical to what was stored.
    pub unchanged: u64,
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rejection {
    /// Position in the batch, from 0.
    pub index: usize,
    #[schema(example = "high_below_low")]
    pub reason: String,
    pub message: String,
}

fn to_input(
    body: &CandleBody,
    watched: &WatchedSymbol,
    path_time: Option<DateTime<Utc>>,
) -> Result<CandleInput, Rejection> {
    let reject = |reason: &str, message: String| Rejection {
        index: 0,
        reason: reason.to_owned(),
        message,
    };
    let body_time = body
        .open_time
        .as_deref()
        .map(|raw| {
            params::instant("open_time", raw)
                .map_err(|e| reject("malformed", e.message().to_owned()))
        })
        .transpose()?;
    let open_time = match (path_time, body_time) {
        (Some(p), Some(b)) if p != b => {
            return Err(reject(
                "mismatched_time",
                "open_time in the body differs from the path".to_owned(),
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(reject("malformed", "open_time is required".to_owned())),
    };
    Ok(CandleInput {
        symbol: watched.symbol.clone(),
        interval: body.interval.unwrap_or(watched.interval),
        open_time,
        open: body.open,
        high: body.high,
        low: body.low,
        close: body.close,
        volume: body.volume,
        source: body.source.unwrap_or(watched.provider),
    })
}

pub(crate) async fn watched(
    client: &tickwatch::db::Client,
    symbol: &Symbol,
) -> Result<WatchedSymbol, ApiError> {
    symbols::get(client, symbol)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(symbol))
}

/// Stores a batch of corrected candles (each replaces the stored one for its time). Every
/// candle is validated like collected data; bad ones are reported and the rest are stored.
#[utoipa::path(post, path = "/v1/prices/{symbol}/candles", tag = "corrections",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20)),
    request_body = CandleBatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "At least one candle was accepted", body = CorrectionReport),
        (status = 400, description = "Malformed symbol or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Every candle was rejected (details list why), or the batch is empty or too big", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn post_candles(
    _key: WriteKey,
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(batch): ApiJson<CandleBatch>,
) -> Result<Json<CorrectionReport>, ApiError> {
    let symbol = params::symbol(&raw)?;
    if batch.candles.is_empty() || batch.candles.len() > MAX_LIMIT as usize {
        return Err(ApiError::unprocessable(
            "out_of_range",
            format!("a batch holds 1 to {MAX_LIMIT} candles"),
        ));
    }
    let client = state.client().await?;
    let watched = watched(&client, &symbol).await?;
    let now = Utc::now();
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (index, item) in batch.candles.into_iter().enumerate() {
        let checked = serde_json::from_value::<CandleBody>(item)
            .map_err(|e| Rejection {
                index,
                reason: "malformed".to_owned(),
                message: e.to_string(),
            })
            .and_then(|body| to_input(&body, &watched, None).map_err(|r| Rejection { index, ..r }))
            .and_then(|input| {
                Candle::validate(input, now).map_err(|e| Rejection {
                    index,
                    reason: e.reason().to_owned(),
                    message: e.to_string(),
                })
            });
        match checked {
            Ok(candle) => accepted.push(candle),
            Err(rejection) => rejected.push(rejection),
        }
    }
    for r in &rejected {
        tracing::info!(%symbol, index = r.index, reason = %r.reason, "correction rejected");
    }
    if accepted.is_empty() {
        return Err(
            ApiError::unprocessable("invalid_candles", "every candle was rejected")
                .with_details(serde_json::to_value(&rejected).unwrap_or_default()),
        );
    }
    let outcome = candles::upsert(&client, &accepted, UpsertMode::Replace).await?;
    let accepted_count = accepted.len() as u64 - outcome.duplicates;
    tracing::info!(%symbol, written = outcome.written, rejected = rejected.len(), "corrections stored");
    Ok(Json(CorrectionReport {
        written: outcome.written,
        unchanged: accepted_count.saturating_sub(outcome.written),
        rejected,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandleKeyQuery {
    /// Candle width; defaults to the symbol's own.
    #[param(value_type = Option<String>, pattern = "^(1m|5m|15m|1h|4h|1d)$", example = "1h")]
    pub interval: Option<String>,
}

/// Creates or replaces the candle that opens at `open_time`. 201 when new, 200 when replaced.
#[utoipa::path(put, path = "/v1/prices/{symbol}/candles/{open_time}", tag = "corrections",
    params(
        ("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20),
        ("open_time" = DateTime<Utc>, Path, description = "Open time, RFC 3339"),
    ),
    request_body = CandleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = Candle),
        (status = 201, description = "Created", body = Candle),
        (status = 400, description = "Malformed symbol, time or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "The candle breaks a rule (reason in the code)", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn put_candle(
    _key: WriteKey,
    State(state): State<AppState>,
    ApiPath((raw, raw_time)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CandleBody>,
) -> Result<(StatusCode, Json<Candle>), ApiError> {
    let symbol = params::symbol(&raw)?;
    let open_time = params::instant("open_time", &raw_time)?;
    let client = state.client().await?;
    let watched = watched(&client, &symbol).await?;
    let input = to_input(&body, &watched, Some(open_time))
        .map_err(|r| ApiError::bad_request("invalid_body", r.message))?;
    let candle = Candle::validate(input, Utc::now()).map_err(|e| {
        ApiError::unprocessable("invalid_candle", e.to_string()).with_details(
            serde_json::json!([{ "index": 0, "reason": e.reason(), "message": e.to_string() }]),
        )
    })?;
    let existed = candles::get(&client, &symbol, candle.interval, candle.open_time)
        .await?
        .is_some();
    candles::upsert(&client, std::slice::from_ref(&candle), UpsertMode::Replace).await?;
    tracing::info!(%symbol, open_time = %candle.open_time, existed, "candle corrected");
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(candle)))
}

/// Deletes the candle that opens at `open_time`.
#[utoipa::path(delete, path = "/v1/prices/{symbol}/candles/{open_time}", tag = "corrections",
    params(
        ("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20),
        ("open_time" = DateTime<Utc>, Path, description = "Open time, RFC 3339"),
        CandleKeyQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed symbol, time or interval", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol or no such candle", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn delete_candle(
    _key: WriteKey,
    State(state): State<AppState>,
    ApiPath((raw, raw_time)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<CandleKeyQuery>,
) -> Result<StatusCode, ApiError> {
    let symbol = params::symbol(&raw)?;
    let open_time = params::instant("open_time", &raw_time)?;
    let interval = params::interval(query.interval.as_deref())?;
    let client = state.client().await?;
    let watched = watched(&client, &symbol).await?;
    let interval = interval.unwrap_or(watched.interval);
    if candles::delete(&client, &symbol, interval, open_time).await? {
        tracing::info!(%symbol, %open_time, "candle deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no_such_candle",
            format!("no {interval} candle of {symbol} opens at {open_time}"),
        ))
    }
}
