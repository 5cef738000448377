//! Anomalies (events: runs of candles whose consensus score passed the threshold): a filtered,
//! paged list; counts over a range; the newest events of a symbol. Each route is one
//! statement, `unknown_symbol` included.

#![allow(
    unused_qualifications,
    reason = "utoipa's path macro qualifies the IntoParams types it is given"
)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tickwatch::db::anomalies::{self, AnomalyFilter, StoredAnomaly};
use tickwatch::model::{AnomalyKind, Method, Severity, UnknownName};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiQuery, QueryPairs};
use crate::params::{self, AnomalyCursor, Page, SymbolFilter, SymbolPath, TimeRange};
use crate::state::AppState;

/// One anomaly: a run of candles whose consensus score passed the threshold.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyView {
    /// The event's identity: it keeps it while a rescan moves its start, end or peak.
    pub id: i64,
    #[schema(example = "BTC")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub interval: String,
    /// Open time of the first candle of the run.
    pub start_time: DateTime<Utc>,
    /// Open time of the last candle of the run.
    pub end_time: DateTime<Utc>,
    /// Open time of the candle with the highest score.
    pub peak_time: DateTime<Utc>,
    /// Candles from start to end.
    pub candles: i32,
    /// The peak's consensus score: its recurrence time on a log scale from a day (0) to a
    /// century (1).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: f64,
    /// `low` rarer than weekly, `medium` monthly, `high` yearly, `critical` once a decade.
    pub severity: Severity,
    pub kind: AnomalyKind,
    /// The methods that contributed.
    pub methods: Vec<Method>,
    /// The peak's readings and facts, and each contributing method's strongest reading.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When the event was first stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its severity last rose, if it ever did.
    pub severity_raised_at: Option<DateTime<Utc>>,
}

impl From<StoredAnomaly> for AnomalyView {
    fn from(stored: StoredAnomaly) -> Self {
        let a = stored.anomaly;
        Self {
            id: stored.id,
            symbol: a.symbol.to_string(),
            interval: a.interval.to_string(),
            start_time: a.start_time,
            end_time: a.end_time,
            peak_time: a.peak_time,
            candles: a.candles,
            score: a.score.value(),
            severity: a.severity,
            kind: a.kind,
            methods: a.methods,
            details: a.details,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            severity_raised_at: stored.severity_raised_at,
        }
    }
}

/// `method` and `severity`: which events a listing keeps.
#[derive(Debug, Clone, Copy, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events this method contributed to.
    #[param(value_type = Option<Method>)]
    pub method: Option<Method>,
    /// Only this severity.
    #[param(value_type = Option<Severity>)]
    pub severity: Option<Severity>,
}

impl<S: Send + Sync> FromRequestParts<S> for EventFilter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = QueryPairs::of(parts);
        let invalid = |e: UnknownName| ApiError::bad_request("invalid_parameter", e.to_string());
        Ok(Self {
            method: query
                .get("method")?
                .map(Method::parse)
                .transpose()
                .map_err(invalid)?,
            severity: query
                .get("severity")?
                .map(Severity::parse)
                .transpose()
                .map_err(invalid)?,
        })
    }
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyPage {
    pub anomalies: Vec<AnomalyView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The 404 for a filter whose symbol is not watched.
fn unknown(filter: &AnomalyFilter) -> ApiError {
    match &filter.symbol {
        Some(symbol) => ApiError::unknown_symbol(symbol),
        None => ApiError::not_found("unknown_symbol", "the symbol is not on the watch list"),
    }
}

/// Events newest first by start, filtered and paged (keyset paging on `(start_time, id)`:
/// exact under concurrent inserts). One statement, which also answers `unknown_symbol`.
#[utoipa::path(get, path = "/v1/anomalies", tag = "anomalies",
    params(SymbolFilter, EventFilter, TimeRange, Page<AnomalyCursor>),
    responses(
        (status = 200, body = AnomalyPage),
        (status = 400, description = "Malformed parameter or cursor", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range or limit", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<AppState>,
    SymbolFilter { symbol }: SymbolFilter,
    EventFilter { method, severity }: EventFilter,
    range: TimeRange,
    page: Page<AnomalyCursor>,
) -> Result<Json<AnomalyPage>, ApiError> {
    let client = state.reader().await?;
    let filter = AnomalyFilter {
        symbol,
        method,
        severity,
        from: range.from,
        to: range.to,
    };
    let after = page.cursor.map(|c| (c.start_time, c.id));
    let mut rows = anomalies::page(&*client, &filter, after, page.fetch())
        .await?
        .ok_or_else(|| unknown(&filter))?;
    let next_cursor = page.finish(&mut rows, |a| AnomalyCursor {
        start_time: a.anomaly.start_time,
        id: a.id,
    });
    Ok(Json(AnomalyPage {
        anomalies: rows.into_iter().map(AnomalyView::from).collect(),
        next_cursor,
    }))
}

/// Counts of events in a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyStats {
    /// Start of the range counted, inclusive (`from`, or `to` less `days`); null when the
    /// request left the range open at that end: every event since the first is counted.
    #[schema(required = true)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range counted, exclusive (`to`, or now with `days`); null when the request
    /// left the range open at that end.
    #[schema(required = true)]
    pub to: Option<DateTime<Utc>>,
    pub total: i64,
    pub by_method: BTreeMap<String, i64>,
    pub by_kind: BTreeMap<String, i64>,
    pub by_severity: BTreeMap<String, i64>,
    pub by_symbol: BTreeMap<String, i64>,
}

/// How many events overlapped a range, by contributing method, kind, severity and symbol. One
/// statement, which also answers `unknown_symbol`.
#[utoipa::path(get, path = "/v1/anomalies/stats", tag = "anomalies",
    params(SymbolFilter, TimeRange),
    responses(
        (status = 200, body = AnomalyStats),
        (status = 400, description = "Malformed parameter", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Impossible range", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn stats(
    State(state): State<AppState>,
    SymbolFilter { symbol }: SymbolFilter,
    range: TimeRange,
) -> Result<Json<AnomalyStats>, ApiError> {
    let client = state.client().await?;
    let counts = anomalies::stats(&client, symbol.as_ref(), range.from, range.to)
        .await?
        .ok_or_else(|| match &symbol {
            Some(symbol) => ApiError::unknown_symbol(symbol),
            None => ApiError::not_found("unknown_symbol", "the symbol is not on the watch list"),
        })?;
    // An open end is the earliest or latest instant a query may reach: say "open", not a
    // year 1 or 9999 nobody asked for.
    let bound = |at: DateTime<Utc>, open: DateTime<Utc>| (at != open).then_some(at);
    Ok(Json(AnomalyStats {
        from: bound(range.from, tickwatch::model::EARLIEST),
        to: bound(range.to, tickwatch::model::LATEST),
        total: counts.total,
        by_method: counts.by_method.into_iter().collect(),
        by_kind: counts.by_kind.into_iter().collect(),
        by_severity: counts.by_severity.into_iter().collect(),
        by_symbol: counts.by_symbol.into_iter().collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// How many, 1–100 (default 10).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// The newest events of one symbol.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolAnomalies {
    #[schema(example = "BTC")]
    pub symbol: String,
    /// Newest first; empty when nothing was found yet.
    pub anomalies: Vec<AnomalyView>,
}

/// The newest events of a symbol, newest first. One statement, which also answers
/// `unknown_symbol`.
#[utoipa::path(get, path = "/v1/anomalies/{symbol}/latest", tag = "anomalies",
    params(SymbolPath, LatestQuery),
    responses(
        (status = 200, body = SymbolAnomalies),
        (status = 400, description = "Malformed symbol or limit", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 422, description = "Limit out of range", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn latest(
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    ApiQuery(query): ApiQuery<LatestQuery>,
) -> Result<Json<SymbolAnomalies>, ApiError> {
    let limit = params::integer("limit", query.limit.as_deref(), 10, 1, 100)?;
    let client = state.reader().await?;
    let filter = AnomalyFilter {
        symbol: Some(symbol.clone()),
        method: None,
        severity: None,
        from: tickwatch::model::EARLIEST,
        to: tickwatch::model::LATEST,
    };
    let rows = anomalies::page(&*client, &filter, None, limit)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    Ok(Json(SymbolAnomalies {
        symbol: symbol.to_string(),
        anomalies: rows.into_iter().map(AnomalyView::from).collect(),
    }))
}
