//! The scoring model on synthetic series: exact under any split, silent on flat and step
//! series at any price level, awake after gaps, robust to awkward input.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::*;
use crate::model::{Candle, Interval, Provider, Severity, Symbol};
use crate::providers::synthetic::{InjectedKind, SyntheticParams, generate};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

fn scorer() -> Scorer {
    Scorer::new(&DetectorConfig::default()).expect("defaults build")
}

fn synthetic(symbol: &str, count: usize, params: &SyntheticParams) -> Vec<Candle> {
    let symbol = Symbol::parse(symbol).expect("valid symbol");
    generate(&symbol, Interval::OneHour, start(), count, params).candles
}

/// A candle at `hour` with every price `price` and volume `volume`.
fn flat_candle(hour: i64, price: f64, volume: Option<f64>) -> Candle {
    let p = Decimal::from_f64(price).expect("price");
    Candle {
        symbol: Symbol::parse("FLAT").expect("valid"),
        interval: Interval::OneHour,
        open_time: start() + TimeDelta::hours(hour),
        open: p,
        high: p,
        low: p,
        close: p,
        volume: volume.and_then(Decimal::from_f64),
        source: Provider::Synthetic.into(),
    }
}

fn severities(scores: &[CandleScore]) -> Vec<(usize, Severity)> {
    scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.severity.map(|v| (i, v)))
        .collect()
}

#[test]
fn any_split_gives_bit_identical_scores() {
    let candles = synthetic("XRP", 5_000, &SyntheticParams::default());
    let scorer = scorer();
    let full = scorer.score(&Series::new(&candles), 0);
    let lookback = scorer.lookback();
    for cut in [lookback + 1, 3_100, 4_321, 4_999] {
        let first = cut.saturating_sub(lookback);
        let tail = scorer.score(&Series::new(&candles[first..]), cut - first);
        assert_eq!(tail.len(), candles.len() - cut);
        for (a, b) in tail.iter().zip(&full[cut..]) {
            assert_eq!(a.open_time, b.open_time);
            assert_eq!(a.p.map(f64::to_bits), b.p.map(f64::to_bits), "cut {cut}");
            assert_eq!(
                a.readings.len(),
                b.readings.len(),
                "cut {cut} at {}",
                a.open_time
            );
            for (x, y) in a.readings.iter().zip(&b.readings) {
                assert_eq!(x.method, y.method);
                assert_eq!(x.statistic.to_bits(), y.statistic.to_bits(), "{}", x.method);
                assert_eq!(
                    x.p.to_bits(),
                    y.p.to_bits(),
                    "{} at {}",
                    x.method,
                    a.open_time
                );
            }
        }
    }
}

#[test]
fn every_method_judges_an_ordinary_series_once_warmed_up() {
    let candles = synthetic("ETH", 3_000, &SyntheticParams::default());
    let scorer = scorer();
    let scores = scorer.score(&Series::new(&candles), 0);
    let last = scores.last().expect("scored");
    let methods: Vec<Method> = last.readings.iter().map(|r| r.method).collect();
    let trading: Vec<Method> = Method::ALL
        .iter()
        .copied()
        .filter(|m| *m != Method::StaleFeed)
        .collect();
    assert_eq!(
        methods, trading,
        "every method but the stale feed judges a trading candle"
    );
    assert!(last.p.is_some() && last.score.is_some());
}

#[test]
fn injected_moves_are_found_and_a_quiet_series_stays_mostly_silent() {
    let scorer = scorer();
    let threshold = DetectorConfig::default().events.threshold;
    let mut found = 0;
    let mut expected = 0;
    let mut missed = Vec::new();
    for seed in [42, 7] {
        let params = SyntheticParams {
            seed,
            ..SyntheticParams::default()
        };
        let series = generate(
            &Symbol::parse("BTC").expect("valid"),
            Interval::OneHour,
            start(),
            5_000,
            &params,
        );
        let scores = scorer.score(&Series::new(&series.candles), 0);
        // Price moves of 15σ; volume spikes are measured by the evaluation suite.
        let moves = series
            .injected
            .iter()
            .filter(|e| e.index > 1_200 && e.kind != InjectedKind::VolumeSpike);
        for event in moves {
            expected += 1;
            if scores[event.index].score.is_some_and(|s| s >= threshold) {
                found += 1;
            } else {
                missed.push((event.kind, scores[event.index].score));
            }
            assert!(
                event.kind != InjectedKind::Spike
                    || scores[event.index]
                        .readings
                        .iter()
                        .any(|r| r.method == Method::ZScore && r.direction > 0),
                "a spike reads upwards"
            );
        }
    }
    assert!(expected >= 8, "{expected} injections");
    assert!(
        found * 10 >= expected * 8,
        "found {found} of {expected}; missed {missed:?}"
    );

    let mut flagged = 0;
    let mut judged = 0;
    for seed in 0..3 {
        let candles = synthetic("SOL", 5_000, &SyntheticParams::quiet(seed));
        let scores = scorer.score(&Series::new(&candles), 1_200);
        judged += scores.len();
        flagged += scores
            .iter()
            .filter(|s| s.score.is_some_and(|v| v >= threshold))
            .count();
    }
    // Monthly rarity on hourly candles is about one in 730: allow a few times that.
    assert!(
        flagged * 200 <= judged,
        "{flagged} of {judged} quiet candles flagged"
    );
}

#[test]
fn a_flat_series_has_no_finding_at_any_price_level() {
    let scorer = scorer();
    for price in [1e-8, 0.1, 1.0, 12_345.678, 1e7] {
        let candles: Vec<Candle> = (0..2_500)
            .map(|h| flat_candle(h, price, Some(100.0)))
            .collect();
        let scores = scorer.score(&Series::new(&candles), 0);
        assert_eq!(severities(&scores), vec![], "price {price}");
    }
}

#[test]
fn step_series_are_judged_alike_at_every_price_level_and_the_step_is_found() {
    // The same small random walk around a level that steps up by half, at levels from 1e-8 to
    // 1e7: logs make the level irrelevant and exact sums leave no rounding behind, so every
    // level flags exactly the same candles, the step among them.
    let scorer = scorer();
    let threshold = DetectorConfig::default().events.threshold;
    let mut flagged_at_each_level = Vec::new();
    for base in [1e-8, 3.7, 1e7] {
        let mut candles = Vec::new();
        let mut noise = ChaCha8Rng::seed_from_u64(11);
        let mut wiggle = 1.0;
        for h in 0..3_000 {
            let level = if h < 1_500 { base } else { base * 1.5 };
            let shock: f64 = StandardNormal.sample(&mut noise);
            wiggle *= 1.0 + 1e-4 * shock;
            let volume = 100.0 * (1.0 + 0.1 * noise.random_range(-1.0..1.0));
            candles.push(flat_candle(h, level * wiggle, Some(volume)));
        }
        let scores = scorer.score(&Series::new(&candles), 0);
        let flagged: Vec<usize> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.score.is_some_and(|v| v >= threshold))
            .map(|(i, _)| i)
            .collect();
        assert!(
            flagged.contains(&1_500),
            "base {base}: the step is found {flagged:?}"
        );
        assert!(
            flagged.len() <= 4,
            "base {base}: {} candles flagged in a calm walk: {flagged:?}",
            flagged.len()
        );
        flagged_at_each_level.push(flagged);
    }
    assert!(
        flagged_at_each_level.windows(2).all(|w| w[0] == w[1]),
        "{flagged_at_each_level:?}"
    );
}

#[test]
fn a_big_move_right_after_a_gap_is_judged_and_found() {
    let scorer = scorer();
    let mut candles = synthetic("ADA", 2_600, &SyntheticParams::quiet(9));
    // A weekend-like hole, then a 12σ move on the first candle after it.
    candles.drain(2_400..2_460);
    let sigma: f64 = 0.004;
    let factor = Decimal::from_f64((12.0 * sigma).exp()).expect("factor");
    for candle in &mut candles[2_400..] {
        for price in [
            &mut candle.open,
            &mut candle.high,
            &mut candle.low,
            &mut candle.close,
        ] {
            *price *= factor;
        }
    }
    let series = Series::new(&candles);
    assert!(series.after_gap(2_400));
    let scores = scorer.score(&series, 0);
    let after_gap = &scores[2_400];
    assert!(
        after_gap
            .readings
            .iter()
            .any(|r| r.method == Method::ZScore),
        "the return across the gap is judged"
    );
    assert!(
        after_gap.severity.is_some(),
        "a 12σ move after a gap is flagged: {:?}",
        after_gap.readings
    );
}

#[test]
fn missing_volumes_leave_the_other_methods_working() {
    let mut candles = synthetic("DOT", 2_500, &SyntheticParams::default());
    for (i, candle) in candles.iter_mut().enumerate() {
        if i % 3 == 1 {
            candle.volume = None;
        }
    }
    let scores = scorer().score(&Series::new(&candles), 2_000);
    assert!(scores.iter().all(|s| s.p.is_some()));
    let no_volume: Vec<Candle> = candles
        .into_iter()
        .map(|c| Candle { volume: None, ..c })
        .collect();
    let scores = scorer().score(&Series::new(&no_volume), 2_000);
    assert!(scores.iter().all(|s| {
        s.readings.iter().all(|r| r.method != Method::VolumeSpike)
            && s.readings
                .iter()
                .any(|r| r.method == Method::IsolationForest)
    }));
}

#[test]
fn short_series_give_no_scores_and_no_panics() {
    let candles = synthetic("LTC", 60, &SyntheticParams::default());
    let scorer = scorer();
    for count in [0, 1, 2, 3, 10, 59] {
        let series = Series::new(&candles[..count]);
        for from in [0, count / 2, count] {
            let scores = scorer.score(&series, from);
            assert_eq!(scores.len(), count - from);
            assert!(scores.iter().all(|s| s.p.is_none()), "{count} candles");
        }
    }
}

#[test]
fn invalid_parameters_are_refused_at_construction() {
    assert!(
        ZScore::new(ZScoreParams {
            window: 2,
            ..Default::default()
        })
        .is_err()
    );
    assert!(
        IsolationForest::new(IsolationForestParams {
            refit_every: 0,
            ..Default::default()
        })
        .is_err()
    );
    let err = Technical::new(TechnicalParams {
        band_window: 1,
        ..Default::default()
    })
    .expect_err("refused");
    assert_eq!(err.field, "band_window");
    let mut config = DetectorConfig::default();
    config.calibration.min_history = 5_000;
    assert!(Scorer::new(&config).is_err());
}

#[test]
fn values_in_details_are_rounded_to_ten_digits() {
    assert_eq!(round(0.123_456_789_012_3), 0.123_456_789_0);
    assert_eq!(round(0.0), 0.0);
}

#[test]
fn a_candle_stands_for_the_calendar_time_of_its_window() {
    // Seven hourly candles a day on weekdays only: 35 a week, each standing for 4.8 hours.
    let mut candles = Vec::new();
    for day in 0..70 {
        let weekday = (day % 7) < 5;
        for hour in 0..7 {
            if weekday {
                candles.push(flat_candle(day * 24 + 9 + hour, 100.0, None));
            }
        }
    }
    let series = Series::new(&candles);
    let hour = 3_600.0;
    assert_eq!(series.seconds_per_candle(0, 350), hour, "nothing before it");
    assert_eq!(series.seconds_per_candle(1, 350), hour);
    // 35 candles back is the same hour a week earlier: 168 hours over 35 candles.
    let last = series.len() - 1;
    assert_eq!(series.seconds_per_candle(last, 35), 168.0 * hour / 35.0);
    // A 24/7 series' candles stand for one interval each.
    let round_the_clock: Vec<Candle> = (0..100).map(|h| flat_candle(h, 1.0, None)).collect();
    assert_eq!(
        Series::new(&round_the_clock).seconds_per_candle(99, 50),
        hour
    );
    // The scorer turns a share of its window into a recurrence over that calendar.
    let scorer = scorer();
    assert_eq!(
        scorer.candle_seconds(&series, last),
        series.seconds_per_candle(last, DetectorConfig::default().calibration.window)
    );
}
