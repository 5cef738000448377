//! The OpenAPI document, generated from the handlers' own annotations so it cannot drift from
//! the routes. Served at `/openapi.json`; the fuzz run (`scripts/fuzz-api.sh`) drives the
//! server with it.
//!
//! The function serves the rendered text, committed as `functions/api/openapi.json`, rather than
//! rendering it: utoipa's schema builders are then dead code the linker drops from the Lambda
//! binary. A unit test below fails when the committed text is not what `ApiDoc` renders, and
//! `UPDATE_OPENAPI=1 cargo test -p api --lib openapi` rewrites it.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorEnvelope};
use crate::routes::{anomalies, collect, corrections, health, import, prices, scores, symbols};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "tickwatch",
        description = "Market prices and the anomalies found in them. Reads are public; writes need `Authorization: Bearer <key>`. Every error, whatever its status (including 408, 413, 414, 415, 429 and 431, which any route may answer, and 503 `timeout` past a request's time budget), is `{\"error\": {\"code\", \"message\"}}`; every response carries `x-request-id`.",
    ),
    paths(
        health::health,
        health::metrics,
        serve,
        symbols::list,
        symbols::put,
        symbols::delete,
        prices::latest,
        prices::history,
        prices::moving_average,
        corrections::post_candles,
        corrections::put_candle,
        corrections::delete_candle,
        import::import,
        collect::collect,
        anomalies::list,
        anomalies::stats,
        anomalies::latest,
        scores::scores,
    ),
    components(schemas(
        ErrorEnvelope,
        ErrorBody,
        tickwatch::model::Candle,
        tickwatch::model::WatchedSymbol,
        tickwatch::model::AssetClass,
        tickwatch::model::Provider,
        tickwatch::model::CandleSource,
        tickwatch::model::Method,
        tickwatch::model::AnomalyKind,
        tickwatch::model::Severity,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, metrics and this document"),
        (name = "symbols", description = "The watch list"),
        (name = "prices", description = "Candles and moving averages"),
        (name = "corrections", description = "Fixing stored candles by hand"),
        (name = "collect", description = "Collecting on demand"),
        (name = "anomalies", description = "Anomaly events, and the calibrated score of every candle"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], json())
}

/// The document as a value.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as JSON: `document()` rendered at development time (see the module docs).
pub fn json() -> &'static str {
    COMMITTED
}

const COMMITTED: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use super::*;

    /// `document()` as the committed file holds it: pretty JSON and a final newline.
    fn render(document: &utoipa::openapi::OpenApi) -> String {
        let mut text = document
            .to_pretty_json()
            .expect("an OpenAPI document always serialises");
        text.push('\n');
        text
    }

    #[test]
    fn the_committed_document_is_the_one_the_annotations_generate() {
        let generated = render(&document());
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, &generated).expect("openapi.json is writable");
            return;
        }
        assert!(
            COMMITTED == generated,
            "functions/api/openapi.json is stale: the handlers' annotations changed. \
             Run `UPDATE_OPENAPI=1 cargo test -p api --lib openapi` and commit the file."
        );
    }
}
