//! The per-candle score series of a symbol: the consensus score of every judged candle and
//! each method's calibrated reading, newest first, a page at a time.

#![allow(
    unused_qualifications,
    reason = "utoipa's path macro qualifies the IntoParams types it is given"
)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tickwatch::db::scores;
use tickwatch::detect::CandleScore;
use tickwatch::detect::recurrence::recurrence_days;
use tickwatch::model::{Interval, Severity};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, TimeRange, cursor};
use crate::routes::prices::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoresQuery {
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
}

/// One method's calibrated reading of a candle.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingView {
    /// The method's statistic (a magnitude: larger is more unusual).
    pub statistic: f64,
    /// Its tail probability against the method's own trailing distribution for the series.
    pub p: f64,
    /// +1 up, −1 down, 0 without a direction.
    pub direction: i8,
}

/// The verdict on one candle.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreView {
    pub open_time: DateTime<Utc>,
    /// Consensus score in [0, 1]; null while the series is too young to judge.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: Option<f64>,
    /// Consensus tail probability.
    pub p: Option<f64>,
    /// Expected days between candles this unusual.
    pub recurrence_days: Option<f64>,
    /// Null below weekly rarity.
    pub severity: Option<Severity>,
    /// Each method that judged the candle, by name.
    pub readings: BTreeMap<String, ReadingView>,
}

impl ScoreView {
    fn new(score: &CandleScore, interval: Interval) -> Self {
        Self {
            open_time: score.open_time,
            score: score.score,
            p: score.p,
            recurrence_days: score.p.map(|p| recurrence_days(p, interval)),
            severity: score.severity,
            readings: score
                .readings
                .iter()
                .map(|r| {
                    (
                        r.method.as_str().to_owned(),
                        ReadingView {
                            statistic: r.statistic,
                            p: r.p,
                            direction: r.direction,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// A page of scores, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScorePage {
    #[schema(example = "BTC")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub interval: String,
    pub scores: Vec<ScoreView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The consensus score of every judged candle in a range, with each method's reading, newest
/// first, a page at a time. One statement, which also answers `unknown_symbol`.
#[utoipa::path(get, path = "/v1/prices/{symbol}/scores", tag = "anomalies",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20), ScoresQuery),
    responses(
        (status = 200, body = ScorePage),
        (status = 400, description = "Malformed parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range or limit", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn scores(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScoresQuery>,
) -> Result<Json<ScorePage>, ApiError> {
    let symbol = params::symbol(&raw)?;
    let interval = params::interval(query.interval.as_deref())?;
    let range = TimeRange::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        query.days.as_deref(),
        Utc::now(),
    )?;
    let limit = params::integer("limit", query.limit.as_deref(), DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let before = match query.cursor.as_deref() {
        Some(raw) => cursor::decode_candle(raw)?.min(range.to),
        None => range.to,
    };
    let client = state.client().await?;
    let (interval, mut rows) =
        scores::page_watched(&client, &symbol, interval, range.from, before, limit + 1)
            .await?
            .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|s| cursor::encode_candle(s.open_time)))
        .flatten();
    Ok(Json(ScorePage {
        symbol: symbol.to_string(),
        interval: interval.to_string(),
        scores: rows
            .into_iter()
            .map(|s| ScoreView::new(&s, interval))
            .collect(),
        next_cursor,
    }))
}
