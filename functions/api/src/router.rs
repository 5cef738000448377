//! The route table: which handler a request's method and path reach.
//!
//! The table is a `match` over the path's segments, not an `axum::Router`. axum builds its
//! router at start, about 7,000 instructions per route (a radix-tree insert and two maps),
//! which was a sixth of the api's cold start for its twenty paths; a `match` costs nothing at
//! start and is one comparison of segments per request. The handlers are axum handlers all
//! the same, called with [`Handler::call`], so their extractors work as they would under a
//! router: path parameters reach them through [`PathParams`] (see `crate::extract`).
//!
//! Like axum's router: a parameter is one non-empty segment, taken as written (it is
//! percent-decoded when extracted); `HEAD` is served by the `GET` handler without the body;
//! a known path with a method it does not serve gets 405 with `allow`.

use axum::body::Body;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::header::ALLOW;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::routes::{
    anomalies, collect, corrections, health, import, not_found, prices, scores, symbols, web,
};
use crate::state::AppState;

/// The path parameters of the route a request reached, by name, as written in the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    fn of(pairs: &[(&'static str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned()))
                .collect(),
        )
    }

    /// The raw value of `name`, if the route has that parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Every path the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chart,
    ChartOf,
    Docs,
    Asset,
    Health,
    Metrics,
    OpenApi,
    Symbols,
    Symbol,
    Latest,
    History,
    MovingAverage,
    Scores,
    Candles,
    Candle,
    Import,
    Collect,
    Anomalies,
    AnomalyStats,
    LatestAnomaly,
}

impl Route {
    /// The route of `path`, with its parameters; `None` when no route has that path.
    fn of(path: &str) -> Option<(Self, PathParams)> {
        let rest = path.strip_prefix('/')?;
        if rest.is_empty() {
            return Some((Self::Chart, PathParams::default()));
        }
        let mut segments = [""; 6];
        let mut count = 0;
        for segment in rest.split('/') {
            // A parameter is never empty, and no route has an empty fixed segment.
            if segment.is_empty() || count == segments.len() {
                return None;
            }
            segments[count] = segment;
            count += 1;
        }
        let none = PathParams::default;
        let symbol = |s: &str| PathParams::of(&[("symbol", s)]);
        Some(match &segments[..count] {
            ["chart", s] => (Self::ChartOf, symbol(s)),
            ["docs"] => (Self::Docs, none()),
            ["assets", name] => (Self::Asset, PathParams::of(&[("name", name)])),
            ["health"] => (Self::Health, none()),
            ["metrics"] => (Self::Metrics, none()),
            ["openapi.json"] => (Self::OpenApi, none()),
            ["v1", "symbols"] => (Self::Symbols, none()),
            ["v1", "symbols", s] => (Self::Symbol, symbol(s)),
            ["v1", "prices", s, "latest"] => (Self::Latest, symbol(s)),
            ["v1", "prices", s, "history"] => (Self::History, symbol(s)),
            ["v1", "prices", s, "ma"] => (Self::MovingAverage, symbol(s)),
            ["v1", "prices", s, "scores"] => (Self::Scores, symbol(s)),
            ["v1", "prices", s, "candles"] => (Self::Candles, symbol(s)),
            ["v1", "prices", s, "candles", t] => (
                Self::Candle,
                PathParams::of(&[("symbol", s), ("open_time", t)]),
            ),
            ["v1", "prices", s, "import"] => (Self::Import, symbol(s)),
            ["v1", "collect", s] => (Self::Collect, symbol(s)),
            ["v1", "anomalies"] => (Self::Anomalies, none()),
            ["v1", "anomalies", "stats"] => (Self::AnomalyStats, none()),
            ["v1", "anomalies", s, "latest"] => (Self::LatestAnomaly, symbol(s)),
            _ => return None,
        })
    }

    /// The methods the route serves, as `allow` lists them.
    fn allow(self) -> &'static str {
        match self {
            Self::Symbol | Self::Candle => "PUT,DELETE",
            Self::Candles | Self::Import | Self::Collect => "POST",
            _ => "GET,HEAD",
        }
    }
}

/// The methods routes serve; `HEAD` is `Get` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Put,
    Delete,
    Other,
}

impl Verb {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Self::Get,
            Method::POST => Self::Post,
            Method::PUT => Self::Put,
            Method::DELETE => Self::Delete,
            _ => Self::Other,
        }
    }
}

/// Runs the handler of `request`'s route: 404 for an unknown path, 405 for a method its path
/// does not serve.
pub(crate) async fn dispatch(state: AppState, mut request: Request) -> Response {
    let Some((route, params)) = Route::of(request.uri().path()) else {
        return not_found(request.uri().path()).into_response();
    };
    request.extensions_mut().insert(params);
    let head = request.method() == Method::HEAD;
    let verb = Verb::of(request.method());
    let response = {
        use Route::*;
        use Verb::{Delete, Get, Post, Put};
        match (route, verb) {
            (Chart, Get) => web::chart.call(request, state).await,
            (ChartOf, Get) => web::chart_symbol.call(request, state).await,
            (Docs, Get) => web::docs.call(request, state).await,
            (Asset, Get) => web::assets.call(request, state).await,
            (Health, Get) => health::health.call(request, state).await,
            (Metrics, Get) => health::metrics.call(request, state).await,
            (OpenApi, Get) => crate::openapi::serve.call(request, state).await,
            (Symbols, Get) => symbols::list.call(request, state).await,
            (Symbol, Put) => symbols::put.call(request, state).await,
            (Symbol, Delete) => symbols::delete.call(request, state).await,
            (Latest, Get) => prices::latest.call(request, state).await,
            (History, Get) => prices::history.call(request, state).await,
            (MovingAverage, Get) => prices::moving_average.call(request, state).await,
            (Scores, Get) => scores::scores.call(request, state).await,
            (Candles, Post) => corrections::post_candles.call(request, state).await,
            (Candle, Put) => corrections::put_candle.call(request, state).await,
            (Candle, Delete) => corrections::delete_candle.call(request, state).await,
            (Import, Post) => import::import.call(request, state).await,
            (Collect, Post) => collect::collect.call(request, state).await,
            (Anomalies, Get) => anomalies::list.call(request, state).await,
            (AnomalyStats, Get) => anomalies::stats.call(request, state).await,
            (LatestAnomaly, Get) => anomalies::latest.call(request, state).await,
            (route, _) => return method_not_allowed(route),
        }
    };
    if head {
        return response.map(|_| Body::empty());
    }
    response
}

fn method_not_allowed(route: Route) -> Response {
    let mut response = ApiError::method_not_allowed().into_response();
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(route.allow()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reach_their_route_with_their_parameters() {
        let route = |path| Route::of(path).map(|(route, _)| route);
        assert_eq!(route("/"), Some(Route::Chart));
        assert_eq!(route("/v1/anomalies/stats"), Some(Route::AnomalyStats));
        assert_eq!(
            route("/v1/anomalies/stats/latest"),
            Some(Route::LatestAnomaly)
        );
        let (candle, params) =
            Route::of("/v1/prices/BRK.B/candles/2026-01-01T00:00:00Z").expect("a candle's path");
        assert_eq!(candle, Route::Candle);
        assert_eq!(params.get("symbol"), Some("BRK.B"));
        assert_eq!(params.get("open_time"), Some("2026-01-01T00:00:00Z"));
        assert_eq!(params.get("name"), None);
        let (_, encoded) = Route::of("/chart/a%2Fb").expect("one segment");
        assert_eq!(encoded.get("symbol"), Some("a%2Fb"));
    }

    #[test]
    fn empty_segments_extra_segments_and_other_paths_reach_no_route() {
        for path in [
            "",
            "health",
            "/health/",
            "//health",
            "/chart",
            "/chart/",
            "/v1/symbols/",
            "/v1//symbols",
            "/v1/prices/BTC",
            "/v1/prices/BTC/latest/x",
            "/v1/prices/BTC/candles/t/x",
            "/v1/prices/BTC/candles/t/x/y/z",
            "/v2/symbols",
        ] {
            assert_eq!(Route::of(path), None, "{path}");
        }
    }
}
