//! Operational routes: `/health` for load balancers and alarms, `/metrics` for Prometheus.
//! (`/openapi.json` is served by [`crate::openapi`], beside the document it lists.)

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tickwatch::db::stats;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// The service is up and the database answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "up")]
    pub database: String,
    pub checked_at: DateTime<Utc>,
    /// Every watched symbol's own series and how old its newest candle is.
    pub series: Vec<SeriesHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesHealth {
    #[schema(example = "BTC")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub interval: String,
    pub enabled: bool,
    /// Open time of the newest candle; null before the first one is stored.
    pub newest_candle: Option<DateTime<Utc>>,
    /// Seconds since the newest candle's open time; null without candles.
    pub age_seconds: Option<i64>,
}

/// Whether the database is reachable, and how fresh each series is.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let client = state.client().await?;
    let rows = stats::freshness(&client).await?;
    let now = Utc::now();
    Ok(Json(Health {
        status: "ok".to_owned(),
        database: "up".to_owned(),
        checked_at: now,
        series: rows
            .into_iter()
            .map(|row| SeriesHealth {
                age_seconds: row.newest.map(|t| (now - t).num_seconds()),
                symbol: row.symbol,
                interval: row.interval,
                enabled: row.enabled,
                newest_candle: row.newest,
            })
            .collect(),
    }))
}

/// Prometheus text exposition: candles and anomalies stored per series, and data age.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let client = state.client().await?;
    let candles = stats::candle_counts(&client).await?;
    let anomalies = stats::anomaly_counts(&client).await?;
    let freshness = stats::freshness(&client).await?;
    let now = Utc::now();
    let mut out = String::new();
    // Labels come from validated columns (symbol and interval character sets have no quotes
    // or backslashes), so they need no escaping.
    let _ = writeln!(out, "# HELP tickwatch_candles Candles stored per series.");
    let _ = writeln!(out, "# TYPE tickwatch_candles gauge");
    for c in &candles {
        let _ = writeln!(
            out,
            "tickwatch_candles{{symbol=\"{}\",interval=\"{}\"}} {}",
            c.symbol, c.interval, c.rows
        );
    }
    let _ = writeln!(
        out,
        "# HELP tickwatch_anomalies Anomalies stored per series."
    );
    let _ = writeln!(out, "# TYPE tickwatch_anomalies gauge");
    for a in &anomalies {
        let _ = writeln!(
            out,
            "tickwatch_anomalies{{symbol=\"{}\",interval=\"{}\"}} {}",
            a.symbol, a.interval, a.rows
        );
    }
    let _ = writeln!(
        out,
        "# HELP tickwatch_data_age_seconds Seconds since the newest candle of each watched series opened."
    );
    let _ = writeln!(out, "# TYPE tickwatch_data_age_seconds gauge");
    for f in freshness.iter().filter_map(|f| f.newest.map(|t| (f, t))) {
        let (f, newest) = f;
        let _ = writeln!(
            out,
            "tickwatch_data_age_seconds{{symbol=\"{}\",interval=\"{}\"}} {}",
            f.symbol,
            f.interval,
            (now - newest).num_seconds()
        );
    }
    let _ = writeln!(
        out,
        "# HELP tickwatch_watched_symbols Symbols on the watch list."
    );
    let _ = writeln!(out, "# TYPE tickwatch_watched_symbols gauge");
    let _ = writeln!(out, "tickwatch_watched_symbols {}", freshness.len());
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    ))
}
