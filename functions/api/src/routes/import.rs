//! `POST /v1/prices/{symbol}/import`: a CSV of candles (the columns `history?format=csv`
//! exports) stored under a symbol of the watch list, row by row, with a per-row report.
//!
//! The body is at most [`MAX_IMPORT_BYTES`]: what a Lambda behind API Gateway can be sent
//! (API Gateway takes 10 MB, a synchronous Lambda invocation 6 MB with its envelope).
//! Larger files go through `make import`, which has no limit. The whole import is one
//! transaction: either every valid row is stored, or (on a database failure) none is and
//! the error says so. The `candles` trigger queues the rescan of the imported range.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tickwatch::db::DbError;
use tickwatch::import::{self, ImportError, ImportReport, RowError, Rows};
use utoipa::ToSchema;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::params::SymbolPath;
use crate::state::AppState;

/// The largest CSV body taken: under a synchronous Lambda invocation's 6 MB payload once
/// API Gateway has wrapped it in its event.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    #[schema(example = "BTC")]
    pub symbol: String,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Candles inserted or changed.
    pub written: u64,
    /// Valid rows identical to what was stored.
    pub unchanged: u64,
    /// Every refused row is counted here…
    pub rejected_count: u64,
    /// …and the first 1000 are listed with their line (the header is line 1) and reason.
    #[schema(value_type = Vec<RowRejection>)]
    pub rejected: Vec<RowError>,
    /// The stored range: the detector rescans from its start on its next run.
    pub first_open_time: Option<DateTime<Utc>>,
    pub last_open_time: Option<DateTime<Utc>>,
}

/// One refused row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowRejection {
    /// Line in the file; the header is line 1.
    pub line: u64,
    #[schema(example = "high_below_low")]
    pub reason: String,
    pub message: String,
}

impl ImportResult {
    fn new(symbol: String, report: ImportReport) -> Self {
        Self {
            symbol,
            rows: report.rows,
            written: report.written,
            unchanged: report.unchanged,
            rejected_count: report.rejected_count,
            rejected: report.rejected,
            first_open_time: report.first_open_time,
            last_open_time: report.last_open_time,
        }
    }
}

fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"))
}

/// Imports candles from CSV: a header naming the export's columns (any order), then one
/// candle per line. Rows are stored under the path's symbol (all rows must name one symbol,
/// which may differ: that is how history is copied to a new symbol). Each row is validated
/// like a collected candle; refused rows are reported by line and never stop the others. The
/// detector rescans the imported range on its next run.
#[utoipa::path(post, path = "/v1/prices/{symbol}/import", tag = "corrections",
    params(("symbol" = String, Path, description = "Ticker on the watch list, e.g. BTC", max_length = 20)),
    request_body(content = String, content_type = "text/csv",
        description = "symbol,interval,open_time,open,high,low,close,volume,source — as history?format=csv exports; at most 5 MiB"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Valid rows stored; refused rows listed", body = ImportResult),
        (status = 400, description = "Malformed symbol, or a body that is not CSV text", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 413, description = "Body over 5 MiB: use make import", body = ErrorEnvelope),
        (status = 415, description = "Content-Type is not text/csv", body = ErrorEnvelope),
        (status = 422, description = "Missing or wrong header, or every row refused (details list the rows)", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached; nothing was imported", body = ErrorEnvelope),
    ))]
pub async fn import(
    _key: WriteKey,
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportResult>, ApiError> {
    if !is_csv(&headers) {
        return Err(ApiError::unsupported_media_type(
            "send the file with Content-Type: text/csv",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_IMPORT_BYTES)
        .await
        .map_err(|_| {
            ApiError::payload_too_large(format!(
                "the body is over {MAX_IMPORT_BYTES} bytes; import larger files with make import"
            ))
        })?;
    let mut client = state.client().await?;
    tickwatch::db::symbols::get(&client, &symbol)
        .await?
        .ok_or_else(|| ApiError::unknown_symbol(&symbol))?;
    let mut rows = Rows::new(&bytes[..], symbol.clone(), Utc::now()).map_err(|e| file_error(&e))?;
    let mut report = ImportReport::default();
    let transaction = client
        .transaction()
        .await
        .map_err(|e| ApiError::from(DbError::from(e)))?;
    import::store(&transaction, &mut rows, &mut report, |_| {})
        .await
        .map_err(|e| match e {
            ImportError::Store { source, .. } => ApiError::from(source),
            ImportError::Read { line, source } => ApiError::bad_request(
                "unreadable_csv",
                format!("the file cannot be read at line {line} ({source}); nothing was imported"),
            ),
            other => file_error(&other),
        })?;
    if report.rows > 0 && report.rejected_count == report.rows {
        return Err(ApiError::unprocessable(
            "invalid_rows",
            "every row was refused; nothing was imported",
        )
        .with_details(serde_json::to_value(&report.rejected).unwrap_or_default()));
    }
    transaction
        .commit()
        .await
        .map_err(|e| ApiError::from(DbError::from(e)))?;
    tracing::info!(
        %symbol,
        rows = report.rows,
        written = report.written,
        rejected = report.rejected_count,
        "candles imported"
    );
    Ok(Json(ImportResult::new(symbol.to_string(), report)))
}

fn file_error(error: &ImportError) -> ApiError {
    match error {
        ImportError::Read { .. } => ApiError::bad_request(error.reason(), error.to_string()),
        _ => ApiError::unprocessable(error.reason(), error.to_string()),
    }
}
