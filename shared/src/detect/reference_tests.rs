//! Every statistic and the calibration against values computed independently by
//! `tests/reference/make_fixtures.py` (numpy and pandas over explicit windows, TA-Lib for the
//! Bollinger bands), to 1e-9 relative.

use std::str::FromStr;

use chrono::{TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::calibrate::{CalibrationParams, calibrate};
use super::rolling::{ExactMoments, OrderWindow, RankIndex};
use super::technical::cutler_rsi;
use super::*;
use crate::model::{Candle, Interval, Provider, Symbol};

const FIXTURE: &str = include_str!("../../../tests/reference/rolling.json");
const TOLERANCE: f64 = 1e-9;

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the fixture is JSON")
}

fn column(value: &Value) -> Vec<Option<f64>> {
    value
        .as_array()
        .expect("a column is an array")
        .iter()
        .map(Value::as_f64)
        .collect()
}

fn usize_of(value: &Value) -> usize {
    value.as_u64().expect("a count") as usize
}

/// Asserts that `ours` has a value exactly where the reference has one, and that it is close:
/// within 1e-9 relative, or 1e-9 absolute for statistics of order one (a z-score near 0 is a
/// difference of two nearly equal numbers, and the fixed-point grid is 1e-12).
fn assert_matches(name: &str, ours: &[Option<f64>], reference: &[Option<f64>]) {
    assert_close(name, ours, reference, 1e-9);
}

/// As [`assert_matches`] with relative tolerance only, for probabilities that may be tiny.
fn assert_relative(name: &str, ours: &[Option<f64>], reference: &[Option<f64>]) {
    assert_close(name, ours, reference, 0.0);
}

fn assert_close(name: &str, ours: &[Option<f64>], reference: &[Option<f64>], absolute: f64) {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    let mut compared = 0;
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => {
                let scale = b.abs().max(1e-300);
                assert!(
                    (a - b).abs() / scale <= TOLERANCE || (a - b).abs() <= absolute.max(1e-300),
                    "{name}[{i}]: ours {a}, reference {b}"
                );
                compared += 1;
            }
            (None, None) => {}
            _ => panic!("{name}[{i}]: ours {a:?}, reference {b:?}"),
        }
    }
    assert!(compared >= 50, "{name}: only {compared} values compared");
}

fn candles(f: &Value) -> Vec<Candle> {
    let c = &f["candles"];
    let text = |name: &str, i: usize| c[name][i].as_str().expect("a decimal string");
    let decimal = |name: &str, i: usize| Decimal::from_str(text(name, i)).expect("a decimal");
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    (0..c["close"].as_array().expect("closes").len())
        .map(|i| Candle {
            symbol: Symbol::parse("REF").expect("valid"),
            interval: Interval::OneHour,
            open_time: start + TimeDelta::hours(i as i64),
            open: decimal("open", i),
            high: decimal("high", i),
            low: decimal("low", i),
            close: decimal("close", i),
            volume: Some(decimal("volume", i)),
            source: Provider::Synthetic.into(),
        })
        .collect()
}

fn statistics(detector: &dyn Detector, series: &Series<'_>) -> Vec<Option<f64>> {
    detector
        .readings(series)
        .into_iter()
        .map(|r| r.map(|r| r.statistic))
        .collect()
}

#[test]
fn every_method_statistic_matches_the_reference() {
    let f = fixture();
    let candles = candles(&f);
    let series = Series::new(&candles);
    let config = DetectorConfig::default();
    let cases: Vec<(&str, Box<dyn Detector>)> = vec![
        (
            "pct_change",
            Box::new(PctChange::new(config.pct_change.clone()).expect("valid")),
        ),
        (
            "zscore",
            Box::new(ZScore::new(config.zscore.clone()).expect("valid")),
        ),
        (
            "iqr",
            Box::new(Iqr::new(config.iqr.clone()).expect("valid")),
        ),
        (
            "conditional_z",
            Box::new(ConditionalZ::new(config.conditional_z.clone()).expect("valid")),
        ),
        (
            "multi_horizon",
            Box::new(MultiHorizon::new(config.multi_horizon.clone()).expect("valid")),
        ),
        (
            "variance_ratio",
            Box::new(VarianceRatio::new(config.variance_ratio.clone()).expect("valid")),
        ),
        (
            "moving_average",
            Box::new(MovingAverage::new(config.moving_average.clone()).expect("valid")),
        ),
        (
            "technical",
            Box::new(Technical::new(config.technical.clone()).expect("valid")),
        ),
        (
            "volume_spike",
            Box::new(VolumeSpike::new(config.volume_spike.clone()).expect("valid")),
        ),
    ];
    for (name, detector) in cases {
        assert_matches(
            name,
            &statistics(detector.as_ref(), &series),
            &column(&f[name]),
        );
    }
    let stale = StaleFeed::new(config.stale_feed).expect("valid");
    let readings = stale.readings(&series);
    let p: Vec<Option<f64>> = readings.iter().map(|r| r.and_then(|r| r.p)).collect();
    assert_relative("stale_feed.p", &p, &column(&f["stale_feed"]["p"]));
    assert_matches(
        "stale_feed.run",
        &statistics(&stale, &series),
        &column(&f["stale_feed"]["run"]),
    );
    let period = usize_of(&f["rsi_period"]);
    let rsi: Vec<Option<f64>> = (0..series.len())
        .map(|i| cutler_rsi(&series.log_return, i, period))
        .collect();
    assert_matches("rsi", &rsi, &column(&f["rsi"]));
}

#[test]
fn the_conditional_volatility_filter_matches_the_reference_with_gaps() {
    let f = fixture();
    let case = &f["conditional"];
    let returns = column(&case["returns"]);
    let after_gap: Vec<bool> = case["after_gap"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|v| v.as_bool().expect("a flag"))
        .collect();
    let elapsed: Vec<f64> = column(&case["elapsed"])
        .into_iter()
        .map(|v| v.expect("elapsed"))
        .collect();
    let ours = volatility::Conditional::new(&returns, &after_gap, &elapsed);
    assert_matches("conditional.sigma", &ours.sigma, &column(&case["sigma"]));
    let scale: Vec<Option<f64>> = ours.scale.iter().copied().map(Some).collect();
    assert_matches("conditional.scale", &scale, &column(&case["scale"]));
    assert_matches("conditional.z", &ours.z, &column(&case["z"]));
    // Both the measured gap factor and the fallback before enough gaps were seen are checked.
    assert!(
        after_gap
            .iter()
            .zip(&ours.scale)
            .any(|(g, s)| *g && *s != 1.0)
    );
}

#[test]
fn exact_moments_match_numpy_over_windows_with_empty_slots() {
    let f = fixture();
    let case = &f["moments"];
    let values = column(&case["values"]);
    let mut moments = ExactMoments::new(usize_of(&case["window"]));
    let (mut mean, mut std) = (vec![], vec![]);
    for v in &values {
        moments.push(*v);
        mean.push(moments.mean());
        std.push(moments.std(1));
    }
    assert_matches("moments.mean", &mean, &column(&case["mean"]));
    assert_matches("moments.std", &std, &column(&case["std"]));
    // The constant stretch has a spread of exactly zero, as numpy says.
    assert_eq!(std[459], Some(0.0));
}

#[test]
fn rolling_median_mad_and_quantiles_match_numpy_for_both_window_parities() {
    let f = fixture();
    let cases = f["order"].as_object().expect("order cases");
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let series: Vec<f64> = column(&f[case["series"].as_str().expect("series name")])
            .into_iter()
            .map(|v| v.expect("no gaps"))
            .collect();
        let window = usize_of(&case["window"]);
        let index = RankIndex::new(series.iter().copied());
        let mut order = OrderWindow::new(&index, window);
        let (mut median, mut mad, mut q25, mut q75) = (vec![], vec![], vec![], vec![]);
        for &x in &series {
            assert!(order.push(x));
            let full = order.is_full();
            let mm = order.median_mad().filter(|_| full);
            median.push(mm.map(|(m, _)| m));
            mad.push(mm.map(|(_, d)| d));
            q25.push(order.quantile(0.25).filter(|_| full));
            q75.push(order.quantile(0.75).filter(|_| full));
        }
        assert_matches(&format!("{name}.median"), &median, &column(&case["median"]));
        assert_matches(&format!("{name}.mad"), &mad, &column(&case["mad"]));
        assert_matches(&format!("{name}.q25"), &q25, &column(&case["q25"]));
        assert_matches(&format!("{name}.q75"), &q75, &column(&case["q75"]));
    }
}

#[test]
fn calibrated_tail_probabilities_match_the_reference() {
    let f = fixture();
    let case = &f["calibration"];
    let params = CalibrationParams {
        window: usize_of(&case["window"]),
        min_history: usize_of(&case["min_history"]),
        tail_fraction: case["tail_fraction"].as_f64().expect("fraction"),
        shape_prior: case["shape_prior"].as_f64().expect("prior shape"),
        shape_weight: case["shape_weight"].as_f64().expect("prior weight"),
    };
    let readings: Vec<Option<Reading>> = column(&case["statistic"])
        .into_iter()
        .map(|s| {
            s.map(|statistic| Reading {
                statistic,
                direction: 0,
                p: None,
            })
        })
        .collect();
    let ours: Vec<Option<f64>> = calibrate(&readings, &params)
        .into_iter()
        .map(|c| c.map(|c| c.p))
        .collect();
    assert_relative("calibration.p", &ours, &column(&case["p"]));
}
