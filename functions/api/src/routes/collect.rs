//! `POST /v1/collect/{symbol}`: collect one symbol now, with the collector's own library code
//! (`tickwatch::collect::Collector`), and answer with what was stored. The collector itself
//! looks the symbol up (one round trip) before it fetches, then writes what the source sent;
//! the route adds no query of its own.

use axum::Json;
use axum::extract::State;
use tickwatch::collect::{CollectError, CollectReport, OutcomeCode};
use tickwatch::metrics::Metrics;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::params::SymbolPath;
use crate::state::AppState;

/// Fetches the symbol's prices from its source now and stores them, exactly as a scheduled
/// run would (same validation, same upsert). Disabled symbols are collected too: asking by
/// name is explicit.
#[utoipa::path(post, path = "/v1/collect/{symbol}", tag = "collect",
    params(SymbolPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was fetched, stored and rejected", body = CollectReport),
        (status = 400, description = "Malformed symbol", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 501, description = "Collection is not configured in this deployment", body = ErrorEnvelope),
        (status = 502, description = "The price source failed or sent nothing usable; details hold the report", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn collect(
    _key: WriteKey,
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
) -> Result<Json<CollectReport>, ApiError> {
    let Some(collector) = state.collector() else {
        return Err(ApiError::not_implemented(
            "on-demand collection is not configured in this deployment",
        ));
    };
    state.migrated().await?;
    let result = collector.collect(std::slice::from_ref(&symbol)).await;
    if let Err(error) = &result
        && error.report().and_then(|r| r.failure(&symbol)) == Some(OutcomeCode::UnknownSymbol)
    {
        return Err(ApiError::unknown_symbol(&symbol));
    }
    let mut metrics = Metrics::new("api");
    if let Some(report) = result
        .as_ref()
        .ok()
        .or_else(|| result.as_ref().err().and_then(CollectError::report))
    {
        report.record(&mut metrics);
    }
    if let Some(sink) = state.metrics() {
        sink.publish_or_warn(metrics).await;
    }
    match result {
        Ok(report) => {
            tracing::info!(%symbol, stored = report.stored, rejected = report.rejected, "collected on demand");
            Ok(Json(report))
        }
        Err(CollectError::WatchList(error)) => Err(error.into()),
        Err(error) => {
            let details = error
                .report()
                .and_then(|report| serde_json::to_value(&report.outcomes).ok());
            let database_down = error.report().is_some_and(CollectReport::database_failed);
            let api_error = if database_down {
                ApiError::database_unavailable(error.into())
            } else {
                ApiError::upstream(
                    "the price source failed or sent nothing usable",
                    error.into(),
                )
            };
            Err(match details {
                Some(details) => api_error.with_details(details),
                None => api_error,
            })
        }
    }
}
