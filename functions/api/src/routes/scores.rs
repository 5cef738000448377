//! The per-candle score series of a symbol: the consensus score of every judged candle and
//! each method's calibrated reading, newest first, a page at a time.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tickwatch::db::scores;
use tickwatch::detect::CandleScore;
use tickwatch::detect::recurrence::recurrence_days;
use tickwatch::model::{Interval, Severity};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorEnvelope};
use crate::params::{CandleCursor, IntervalParam, Page, SymbolPath, TimeRange};
use crate::state::AppState;

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
    params(SymbolPath, IntervalParam, TimeRange, Page<CandleCursor>),
    responses(
        (status = 200, body = ScorePage),
        (status = 400, description = "Malformed parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range or limit", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn scores(
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    IntervalParam { interval }: IntervalParam,
    range: TimeRange,
    page: Page<CandleCursor>,
) -> Result<Json<ScorePage>, ApiError> {
    let before = page.cursor.map_or(range.to, |c| c.0.min(range.to));
    let client = state.reader().await?;
    let (interval, mut rows) = scores::page_watched(
        &*client,
        &symbol,
        interval,
        range.from,
        before,
        page.fetch(),
    )
    .await?
    .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let next_cursor = page.finish(&mut rows, |s| CandleCursor(s.open_time));
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
