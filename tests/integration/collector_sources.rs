//! How the collector meets misbehaving sources and bad data: every failure is classified,
//! retried only where a retry can help, and never costs other symbols their data.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::json;
use tickwatch::collect::{CollectError, OutcomeError, OutcomeStatus};
use tickwatch::model::{Interval, Provider};
use tickwatch_tests::{TestDb, hours_ago, sym, watch, watch_every};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::collector::{collector, kline, klines_mock, stored};

/// Collects BTC from Binance at `server` and returns its outcome's error (the run fails, since
/// BTC is the only symbol).
async fn btc_error(server: &MockServer) -> (OutcomeError, CollectError) {
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    let error = collector(&test_db, server)
        .collect(&[sym("BTC")])
        .await
        .expect_err("nothing could be stored");
    let outcome = error
        .report()
        .and_then(|r| r.outcome(&sym("BTC")))
        .and_then(|o| o.error.clone())
        .expect("a per-symbol error");
    (outcome, error)
}

#[tokio::test]
async fn a_429_then_success_is_retried_after_the_wait_and_stored() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    klines_mock(
        "BTCUSDT",
        json!([kline(hours_ago(0), "10", "11", "9", "10.5", "1")]),
    )
    .expect(1)
    .mount(&server)
    .await;

    let started = Instant::now();
    let report = collector(&test_db, &server)
        .collect(&[sym("BTC")])
        .await
        .expect("stored on the second attempt");

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(report.stored, 1);
}

#[tokio::test]
async fn server_errors_are_tried_three_times_then_reported_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(3)
        .mount(&server)
        .await;

    let (outcome, error) = btc_error(&server).await;

    assert_eq!(outcome.code, "server_error");
    assert!(outcome.retryable);
    assert!(error.is_retryable(), "EventBridge should retry: {error}");
    assert!(error.to_string().contains("a retry may help"), "{error}");
}

#[tokio::test]
async fn a_source_that_never_answers_times_out_and_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(3)),
        )
        .expect(3)
        .mount(&server)
        .await;

    let started = Instant::now();
    let (outcome, _) = btc_error(&server).await;

    assert_eq!(outcome.code, "timeout");
    assert!(outcome.retryable);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_json_is_reported_once_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("[[1700000000000, \"1\",", "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let (outcome, error) = btc_error(&server).await;

    assert_eq!(outcome.code, "malformed");
    assert!(
        outcome.message.contains("invalid JSON"),
        "{}",
        outcome.message
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_html_error_page_is_recognised_for_what_it_is() {
    let page =
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page, "text/html"))
        .mount(&server)
        .await;
    let (outcome, _) = btc_error(&server).await;
    assert_eq!(outcome.code, "malformed");
    assert!(outcome.message.contains("HTML page"), "{}", outcome.message);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .expect(3)
        .mount(&server)
        .await;
    let (outcome, _) = btc_error(&server).await;
    assert_eq!(outcome.code, "server_error");
    assert!(
        outcome.message.contains("502 Bad Gateway"),
        "{}",
        outcome.message
    );
}

/// Bodies are read as UTF-8 (JSON's own encoding): a page in another charset is decoded
/// lossily, so its error still reads and nothing fails on the bytes themselves.
#[tokio::test]
async fn an_error_page_in_another_charset_still_names_the_error() {
    let mut page = b"<html><head><title>503 Service Unavailable</title></head><body>R".to_vec();
    page.push(0xE9); // 'é' in ISO-8859-1: not UTF-8
    page.extend_from_slice(b"essayez plus tard</body></html>");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(
            ResponseTemplate::new(503).set_body_raw(page, "text/html; charset=iso-8859-1"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let (outcome, error) = btc_error(&server).await;
    assert_eq!(outcome.code, "server_error");
    assert!(
        outcome.message.contains("503 Service Unavailable"),
        "{}",
        outcome.message
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_418_ban_with_retry_after_stops_at_once_and_reports_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(
            ResponseTemplate::new(418)
                .insert_header("Retry-After", "120")
                .set_body_json(json!({"code": -1003, "msg": "Way too many requests; IP banned until 1763775000000."})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let (outcome, error) = btc_error(&server).await;

    assert_eq!(outcome.code, "rate_limited");
    assert_eq!(outcome.retry_after_seconds, Some(120));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_429_asking_for_a_longer_wait_than_allowed_is_not_waited_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "600"))
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, _) = btc_error(&server).await;
    assert_eq!(
        (outcome.code.as_str(), outcome.retry_after_seconds),
        ("rate_limited", Some(600))
    );
}

#[tokio::test]
async fn a_451_region_block_is_reported_and_not_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(451).set_body_json(json!({
            "code": 0, "msg": "Service unavailable from a restricted location."
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, error) = btc_error(&server).await;
    assert_eq!(outcome.code, "region_blocked");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_unknown_binance_symbol_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": -1121, "msg": "Invalid symbol."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, _) = btc_error(&server).await;
    assert_eq!(outcome.code, "unknown_instrument");
    assert!(!outcome.retryable);
}

#[tokio::test]
async fn each_alpha_vantage_message_body_is_classified_and_never_read_as_empty_data() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    let cases = [
        (
            "PACE",
            json!({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}),
            "pacing",
            true,
        ),
        (
            "QUOTA",
            json!({"Information": "We have detected your API key as TESTKEY and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}),
            "quota_exhausted",
            true,
        ),
        (
            "BURST",
            json!({"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the per-second burst limit, and remove the daily rate limit."}),
            "pacing",
            true,
        ),
        (
            "BAD",
            json!({"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}),
            "bad_request",
            false,
        ),
        (
            "PREMIUM",
            json!({"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"}),
            "bad_request",
            false,
        ),
    ];
    for (symbol, body, _, _) in &cases {
        watch_every(
            &test_db,
            symbol,
            Provider::AlphaVantage,
            symbol,
            Interval::OneDay,
        )
        .await;
        Mock::given(method("GET"))
            .and(path("/query"))
            .and(query_param("symbol", *symbol))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let symbols: Vec<_> = cases.iter().map(|(s, ..)| sym(s)).collect();

    let error = collector(&test_db, &server)
        .collect(&symbols)
        .await
        .expect_err("nothing was stored");

    let report = error.report().expect("a report");
    for (symbol, _, code, retryable) in &cases {
        let outcome = report.outcome(&sym(symbol)).expect("an outcome");
        let e = outcome
            .error
            .as_ref()
            .expect("an error, not an empty series");
        assert_eq!(
            (e.code.as_str(), e.retryable),
            (*code, *retryable),
            "{symbol}"
        );
        assert_eq!(outcome.status, OutcomeStatus::Failed);
    }
    assert!(error.is_retryable(), "pacing and quota errors can clear");
}

#[tokio::test]
async fn bad_prices_high_below_low_and_future_times_are_rejected_and_counted_while_good_candles_are_stored()
 {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    klines_mock(
        "BTCUSDT",
        json!([
            kline(hours_ago(6), "10", "11", "9", "10.5", "1"),
            kline(hours_ago(5), "-10", "11", "9", "10.5", "1"),
            kline(hours_ago(4), "10", "11", "9", "NaN", "1"),
            kline(hours_ago(3), "10", "11", "0", "10.5", "1"),
            kline(hours_ago(2), "10", "9", "11", "10", "1"),
            kline(hours_ago(1), "10", "11", "9", "10.5", "-3"),
            kline(hours_ago(-3), "10", "11", "9", "10.5", "1"),
            kline(hours_ago(0), "10.5", "12", "10", "11", "2"),
        ]),
    )
    .mount(&server)
    .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC")])
        .await
        .expect("the good candles are stored");

    let outcome = report.outcome(&sym("BTC")).expect("an outcome");
    assert_eq!(outcome.fetched, 8);
    assert_eq!(outcome.stored, 2);
    let expected: Vec<(String, u64)> = [
        ("future_timestamp", 1),
        ("high_below_low", 1),
        ("negative_volume", 1),
        ("non_finite_price", 1),
        ("non_positive_price", 2),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_owned(), n))
    .collect();
    assert_eq!(
        outcome.rejected.clone().into_iter().collect::<Vec<_>>(),
        expected
    );
    let rows = stored(&test_db, "BTC", Interval::OneHour).await;
    assert_eq!(
        rows.iter().map(|c| c.open_time).collect::<Vec<_>>(),
        [hours_ago(6), hours_ago(0)]
    );
}

#[tokio::test]
async fn a_coingecko_quote_from_the_future_or_without_a_price_is_rejected() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::CoinGecko, "bitcoin").await;
    watch(&test_db, "ETH", Provider::CoinGecko, "ethereum").await;
    watch(&test_db, "DOGE", Provider::CoinGecko, "dogecoin").await;
    watch(&test_db, "GONE", Provider::CoinGecko, "delisted-coin").await;
    let now = Utc::now().timestamp();
    Mock::given(method("GET"))
        .and(path("/api/v3/simple/price"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bitcoin": {"usd": 64250.12, "last_updated_at": now + 7_200},
            "ethereum": {"usd": 0, "last_updated_at": now},
            "dogecoin": {"usd": 0.1234, "last_updated_at": now},
        })))
        .expect(1)
        .mount(&server)
        .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC"), sym("ETH"), sym("DOGE"), sym("GONE")])
        .await
        .expect("DOGE is stored");

    let reasons = |s: &str| {
        report
            .outcome(&sym(s))
            .expect("outcome")
            .rejected
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(reasons("BTC"), ["future_timestamp"]);
    assert_eq!(reasons("ETH"), ["non_positive_price"]);
    assert_eq!(report.outcome(&sym("DOGE")).map(|o| o.stored), Some(1));
    assert_eq!(report.error_code(&sym("GONE")), Some("unknown_instrument"));
}

#[tokio::test]
async fn repeated_open_times_inside_one_response_are_refused_and_counted() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    klines_mock(
        "BTCUSDT",
        json!([
            kline(hours_ago(1), "10", "11", "9", "10.5", "1"),
            kline(hours_ago(1), "10", "12", "9", "11.5", "2"),
            kline(hours_ago(0), "11.5", "12", "11", "11.75", "1"),
        ]),
    )
    .mount(&server)
    .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC")])
        .await
        .expect("stored");

    let outcome = report.outcome(&sym("BTC")).expect("an outcome");
    assert_eq!(outcome.stored, 1);
    assert_eq!(outcome.rejected.get("duplicate_open_time"), Some(&2));
    let rows = stored(&test_db, "BTC", Interval::OneHour).await;
    assert_eq!(
        rows.len(),
        1,
        "the two disagreeing klines of hour 1 are both refused"
    );
    assert_eq!(rows[0].open_time, hours_ago(0));
}

#[tokio::test]
async fn one_failing_source_never_costs_the_others_their_data() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::Binance, "BTCUSDT").await;
    watch(&test_db, "ETH", Provider::CoinGecko, "ethereum").await;
    watch(&test_db, "SYN", Provider::Synthetic, "syn").await;
    Mock::given(method("GET"))
        .and(path("/api/v3/klines"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/simple/price"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ethereum": {"usd": 3012.5, "last_updated_at": Utc::now().timestamp()}
        })))
        .mount(&server)
        .await;

    let report = collector(&test_db, &server)
        .collect(&[sym("BTC"), sym("ETH"), sym("SYN")])
        .await
        .expect("ETH and SYN are stored");

    let status = |s: &str| report.outcome(&sym(s)).map(|o| o.status);
    assert_eq!(status("BTC"), Some(OutcomeStatus::Failed));
    assert_eq!(status("ETH"), Some(OutcomeStatus::Stored));
    assert_eq!(status("SYN"), Some(OutcomeStatus::Stored));
    assert_eq!(report.failed, 1);
    assert!(report.retry_can_help());
}

#[tokio::test]
async fn a_coingecko_backfill_folds_price_points_into_candles_without_rolling_volumes() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch(&test_db, "BTC", Provider::CoinGecko, "bitcoin").await;
    let from = hours_ago(3);
    let at = |minutes: i64| (from + TimeDelta::minutes(minutes)).timestamp_millis();
    Mock::given(method("GET"))
        .and(path("/api/v3/coins/bitcoin/market_chart/range"))
        .and(query_param("vs_currency", "usd"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "prices": [[at(0), 100.0], [at(20), 104.0], [at(40), 98.0], [at(55), 101.0], [at(65), 101.5]],
            "market_caps": [[at(0), 1.9e12]],
            "total_volumes": [[at(0), 3.1e10], [at(65), 3.2e10]]
        })))
        .expect(1)
        .mount(&server)
        .await;

    collector(&test_db, &server)
        .backfill(&[sym("BTC")], from, hours_ago(1))
        .await
        .expect("stored");

    let rows = stored(&test_db, "BTC", Interval::OneHour).await;
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(
        (
            first.open.to_string(),
            first.high.to_string(),
            first.low.to_string(),
            first.close.to_string()
        ),
        ("100".into(), "104".into(), "98".into(), "101".into())
    );
    assert!(rows.iter().all(|c| c.volume.is_none()));
}

#[tokio::test]
async fn a_coingecko_backfill_refuses_hourly_points_for_a_five_minute_series() {
    let server = MockServer::start().await;
    let test_db = TestDb::migrated().await;
    watch_every(
        &test_db,
        "BTC",
        Provider::CoinGecko,
        "bitcoin",
        Interval::FiveMinutes,
    )
    .await;
    // What CoinGecko answers for a range older than a day: one point an hour.
    let from = hours_ago(30);
    let at = |hours: i64| (from + TimeDelta::hours(hours)).timestamp_millis();
    Mock::given(method("GET"))
        .and(path("/api/v3/coins/bitcoin/market_chart/range"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "prices": (0..24).map(|h| json!([at(h), 100.0 + h as f64])).collect::<Vec<_>>(),
            "market_caps": [],
            "total_volumes": []
        })))
        .mount(&server)
        .await;

    let error = collector(&test_db, &server)
        .backfill(&[sym("BTC")], from, hours_ago(6))
        .await
        .expect_err("nothing could be stored");

    let code = error
        .report()
        .and_then(|r| r.error_code(&sym("BTC")))
        .map(str::to_owned);
    assert_eq!(code.as_deref(), Some("unsupported_interval"));
    assert!(
        stored(&test_db, "BTC", Interval::FiveMinutes)
            .await
            .is_empty()
    );
}
