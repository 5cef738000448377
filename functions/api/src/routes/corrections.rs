//! Corrections: a person fixing stored candles by hand, one at a time or in a batch.
//!
//! A correction is validated by the rules collected candles pass, stored with the provenance
//! `correction`, and from then on wins over the feed: the collector never overwrites it.
//! Deleting it lets the feed write that bucket again. Each request is one statement (one round
//! trip), see `tickwatch::db::corrections`.

use std::collections::HashMap;
use std::fmt;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use tickwatch::db::corrections::{self, Correction, WriteOutcome};
use tickwatch::model::{
    Candle, CandleError, CandleInput, CandleSource, Interval, Provider, Symbol, partition_repeats,
};
use utoipa::ToSchema;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::params::{self, CandlePath, IntervalParam, MAX_LIMIT, SymbolPath};
use crate::state::AppState;

/// A candle sent by a person correcting the record. Prices are decimal strings (or numbers);
/// the candle passes exactly the rules collected candles pass.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a candle: an object with open, high, low and close"
)]
pub struct CandleBody {
    /// Defaults to the symbol's own interval.
    #[schema(value_type = Option<String>, example = "1h")]
    pub interval: Option<Interval>,
    /// Required in a batch; taken from the path by PUT (where it must match when present).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub open_time: Option<String>,
    #[serde(deserialize_with = "price")]
    #[schema(value_type = String, example = "64250.12")]
    pub open: Decimal,
    #[serde(deserialize_with = "price")]
    #[schema(value_type = String, example = "64500.00")]
    pub high: Decimal,
    #[serde(deserialize_with = "price")]
    #[schema(value_type = String, example = "64010.55")]
    pub low: Decimal,
    #[serde(deserialize_with = "price")]
    #[schema(value_type = String, example = "64333.90")]
    pub close: Decimal,
    #[serde(default, deserialize_with = "optional_price")]
    #[schema(value_type = Option<String>, example = "12.5")]
    pub volume: Option<Decimal>,
}

/// A batch of corrections.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "an object with a candles array")]
pub struct CandleBatch {
    /// 1–1000 candles, each checked on its own; at most one per open time.
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

impl Rejection {
    fn new(index: usize, reason: &str, message: impl Into<String>) -> Self {
        Self {
            index,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn candle(index: usize, error: &CandleError) -> Self {
        Self::new(index, error.reason(), error.to_string())
    }
}

/// A decimal from a JSON string (`"64250.12"`, exact) or number.
fn price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    struct PriceVisitor;
    impl serde::de::Visitor<'_> for PriceVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number such as \"64250.12\"")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str_exact(v)
                .or_else(|_| Decimal::from_scientific(v))
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
            tickwatch::model::price_from_f64(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Float(v), &self))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
    }
    deserializer.deserialize_any(PriceVisitor)
}

fn optional_price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Price(#[serde(deserialize_with = "price")] Decimal);
    Ok(Option::<Price>::deserialize(deserializer)?.map(|p| p.0))
}

/// Checks one correction as of `now`. With no interval in the body the symbol's own applies,
/// which only the database knows: alignment is checked here against the finest interval (a
/// time misaligned for it is misaligned for every interval) and by the statement against the
/// symbol's.
fn check(
    symbol: &Symbol,
    body: &CandleBody,
    path_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Correction, (&'static str, String)> {
    let body_time = body
        .open_time
        .as_deref()
        .map(|raw| params::instant("open_time", raw).map_err(|e| e.message().to_owned()))
        .transpose()
        .map_err(|message| ("malformed", message))?;
    let open_time = match (path_time, body_time) {
        (Some(p), Some(b)) if p != b => {
            return Err((
                "mismatched_time",
                "open_time in the body differs from the one in the path".to_owned(),
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(("malformed", "open_time is required".to_owned())),
    };
    let input = CandleInput {
        symbol: symbol.clone(),
        interval: body.interval.unwrap_or(Interval::ALL[0]),
        open_time,
        open: body.open,
        high: body.high,
        low: body.low,
        close: body.close,
        volume: body.volume,
        // Replaced by the correction's own provenance when stored.
        source: Provider::Synthetic,
    };
    let candle = Candle::validate(input, now).map_err(|e| (e.reason(), e.to_string()))?;
    Ok(Correction {
        interval: body.interval,
        open_time: candle.open_time,
        open: candle.open,
        high: candle.high,
        low: candle.low,
        close: candle.close,
        volume: candle.volume,
    })
}

/// How each correction of a write fared.
enum Fate {
    Created,
    Replaced,
    Unchanged,
    Refused(CandleError),
}

/// Tells, for each of `sent`, what the statement did with it (see
/// [`tickwatch::db::corrections::WriteOutcome`]).
fn fates(sent: &[Correction], outcome: &WriteOutcome) -> Vec<Fate> {
    let resolved: Vec<(Interval, DateTime<Utc>)> = sent
        .iter()
        .map(|c| (c.resolved_interval(outcome.symbol_interval), c.open_time))
        .collect();
    let mut copies: HashMap<(Interval, DateTime<Utc>), usize> = HashMap::new();
    for key in &resolved {
        *copies.entry(*key).or_default() += 1;
    }
    let written: HashMap<(Interval, DateTime<Utc>), bool> = outcome
        .written
        .iter()
        .map(|w| ((w.interval, w.open_time), w.created))
        .collect();
    resolved
        .iter()
        .map(|&(interval, open_time)| {
            if !interval.is_aligned(open_time) {
                Fate::Refused(CandleError::Misaligned {
                    open_time,
                    interval,
                })
            } else if copies[&(interval, open_time)] > 1 {
                Fate::Refused(CandleError::DuplicateOpenTime(open_time))
            } else {
                match written.get(&(interval, open_time)) {
                    Some(true) => Fate::Created,
                    Some(false) => Fate::Replaced,
                    None => Fate::Unchanged,
                }
            }
        })
        .collect()
}

/// Stores a batch of corrected candles (each replaces the stored one for its time and from
/// then on wins over the feed). Every candle is validated like collected data; bad ones are
/// reported with their reason and the rest are stored.
#[utoipa::path(post, path = "/v1/prices/{symbol}/candles", tag = "corrections",
    params(SymbolPath),
    request_body = CandleBatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "At least one candle was accepted", body = CorrectionReport),
        (status = 400, description = "Malformed symbol or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than the API accepts", body = ErrorEnvelope),
        (status = 415, description = "The body is not declared as JSON", body = ErrorEnvelope),
        (status = 422, description = "Every candle was rejected (details list why), or the batch is empty or too big", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn post_candles(
    _key: WriteKey,
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    ApiJson(batch): ApiJson<CandleBatch>,
) -> Result<Json<CorrectionReport>, ApiError> {
    if batch.candles.is_empty() || batch.candles.len() > MAX_LIMIT as usize {
        return Err(ApiError::unprocessable(
            "out_of_range",
            format!("a batch holds 1 to {MAX_LIMIT} candles"),
        ));
    }
    let now = Utc::now();
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (index, item) in batch.candles.into_iter().enumerate() {
        let checked = serde_json::from_value::<CandleBody>(item)
            .map_err(|e| ("malformed", crate::error::humane(&e.to_string())))
            .and_then(|body| check(&symbol, &body, None, now));
        match checked {
            Ok(correction) => accepted.push((correction, index)),
            Err((reason, message)) => rejected.push(Rejection::new(index, reason, message)),
        }
    }
    let split = partition_repeats(
        accepted,
        |(c, _)| (c.interval, c.open_time),
        |(a, _), (b, _)| a == b,
    );
    for (_, (repeat, index)) in split.refused {
        rejected.push(Rejection::candle(
            index,
            &CandleError::DuplicateOpenTime(repeat.open_time),
        ));
    }
    let (sent, indexes): (Vec<Correction>, Vec<usize>) =
        split.kept.into_iter().map(|(_, item)| item).unzip();
    let mut written = 0;
    let mut unchanged = 0;
    if !sent.is_empty() {
        let client = state.client().await?;
        let outcome = corrections::write(&client, &symbol, &sent)
            .await?
            .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
        for (fate, index) in fates(&sent, &outcome).into_iter().zip(indexes) {
            match fate {
                Fate::Created | Fate::Replaced => written += 1,
                Fate::Unchanged => unchanged += 1,
                Fate::Refused(error) => rejected.push(Rejection::candle(index, &error)),
            }
        }
    }
    rejected.sort_by_key(|r| r.index);
    for r in &rejected {
        tracing::info!(%symbol, index = r.index, reason = %r.reason, "correction rejected");
    }
    if written + unchanged == 0 {
        // Nothing reached the database, so an unknown symbol has not been noticed yet; every
        // candle was refused on its own merits either way.
        return Err(
            ApiError::unprocessable("invalid_candles", "every candle was rejected")
                .with_details(serde_json::to_value(&rejected).unwrap_or_default()),
        );
    }
    tracing::info!(%symbol, written, unchanged, rejected = rejected.len(), "corrections stored");
    Ok(Json(CorrectionReport {
        written,
        unchanged,
        rejected,
    }))
}

/// Creates or replaces the candle that opens at `open_time`; from then on it wins over the
/// feed. 201 when new, 200 when it replaced or equalled the stored one. Of several requests
/// racing to create one candle, exactly one is answered 201.
#[utoipa::path(put, path = "/v1/prices/{symbol}/candles/{open_time}", tag = "corrections",
    params(CandlePath),
    request_body = CandleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = Candle),
        (status = 201, description = "Created", body = Candle),
        (status = 400, description = "Malformed symbol, time or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than the API accepts", body = ErrorEnvelope),
        (status = 415, description = "The body is not declared as JSON", body = ErrorEnvelope),
        (status = 422, description = "The candle breaks a rule (reason in the details)", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn put_candle(
    _key: WriteKey,
    State(state): State<AppState>,
    CandlePath { symbol, open_time }: CandlePath,
    ApiJson(body): ApiJson<CandleBody>,
) -> Result<(StatusCode, Json<Candle>), ApiError> {
    let refused = |reason: &str, message: String| {
        ApiError::unprocessable("invalid_candle", message.clone())
            .with_details(serde_json::json!([{ "index": 0, "reason": reason, "message": message }]))
    };
    let correction = check(&symbol, &body, Some(open_time), Utc::now()).map_err(
        |(reason, message)| match reason {
            "malformed" | "mismatched_time" => ApiError::bad_request("invalid_body", message),
            _ => refused(reason, message),
        },
    )?;
    let client = state.client().await?;
    let sent = std::slice::from_ref(&correction);
    let outcome = corrections::write(&client, &symbol, sent)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let interval = correction.resolved_interval(outcome.symbol_interval);
    let status = match fates(sent, &outcome).remove(0) {
        Fate::Created => StatusCode::CREATED,
        Fate::Replaced | Fate::Unchanged => StatusCode::OK,
        Fate::Refused(error) => return Err(refused(error.reason(), error.to_string())),
    };
    tracing::info!(%symbol, %interval, open_time = %correction.open_time, created = status == StatusCode::CREATED, "candle corrected");
    Ok((
        status,
        Json(Candle {
            symbol,
            interval,
            open_time: correction.open_time,
            open: correction.open,
            high: correction.high,
            low: correction.low,
            close: correction.close,
            volume: correction.volume,
            source: CandleSource::Correction,
        }),
    ))
}

/// Deletes the candle that opens at `open_time`, whatever its source. Deleting a correction
/// lets the feed write that bucket again; a deleted feed candle comes back if its source still
/// sends it (correct it instead to keep it changed).
#[utoipa::path(delete, path = "/v1/prices/{symbol}/candles/{open_time}", tag = "corrections",
    params(CandlePath, IntervalParam),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed symbol, time or interval", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol or no such candle", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn delete_candle(
    _key: WriteKey,
    State(state): State<AppState>,
    CandlePath { symbol, open_time }: CandlePath,
    IntervalParam { interval }: IntervalParam,
) -> Result<StatusCode, ApiError> {
    let client = state.client().await?;
    let deleted = corrections::delete(&client, &symbol, interval, open_time)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    match deleted.removed {
        Some(source) => {
            tracing::info!(%symbol, interval = %deleted.interval, %open_time, %source, "candle deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::not_found(
            "no_such_candle",
            format!(
                "no {} candle of {symbol} opens at {open_time}",
                deleted.interval
            ),
        )),
    }
}
