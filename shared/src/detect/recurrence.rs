//! From a tail probability to a score a person can read: how often a candle like this one
//! comes along.
//!
//! A candle whose consensus probability is `p` is expected about once every `interval / p`
//! (its recurrence time `T`). The score puts `T` on a log scale between a day and a century:
//!
//! `score = clamp(log10(T / 1 day) / log10(36,525), 0, 1)`
//!
//! | recurrence | score | severity |
//! |---|---|---|
//! | a day or more often | 0 | — |
//! | a week | 0.185 | `low` from here |
//! | a month (30.44 days) | 0.325 | `medium` from here |
//! | a year | 0.562 | `high` from here |
//! | a decade | 0.781 | `critical` from here |
//! | a century or rarer | 1 | `critical` |
//!
//! So the same score means the same rarity on 1-minute and daily candles: a 1-minute candle
//! needs a far smaller `p` than a daily one to be a once-a-year event.
//!
//! **Calendar time, not candle time.** The scorer uses the time a candle stands for in the
//! series' own calendar ([`score_over`]): the time the trailing calibration window spans over
//! the candles in it. `p` is a share of those candles, so `T = span / candles / p` is how
//! often such a candle comes along in real time. A 24/7 coin's hourly candles stand for an
//! hour each; a stock's hourly candles, seven a day on five days a week, stand for almost
//! five hours each, and its daily candles for 1.4 days. With `interval / p` the stock spent
//! its alert budget (per symbol per *week*) at a fraction of the coin's rate.

use crate::model::{Interval, Severity};

const DAY_SECONDS: f64 = 86_400.0;
/// log10 of a century in days, the top of the scale.
const SCALE_DECADES: f64 = 4.562_553_9; // log10(36_525)

/// Recurrence time, in days, at which `low` starts; the constants below start the next
/// severities (see [`severity_floor`]).
pub const WEEK_DAYS: f64 = 7.0;
/// Where `medium` starts: a mean Gregorian month (365.2425 / 12 days).
pub const MONTH_DAYS: f64 = 30.436_875;
/// Where `high` starts: a Julian year.
pub const YEAR_DAYS: f64 = 365.25;
/// Where `critical` starts: ten Julian years.
pub const DECADE_DAYS: f64 = 3_652.5;

/// The expected time between candles as unusual as this one, in days.
pub fn recurrence_days(p: f64, interval: Interval) -> f64 {
    interval.seconds() as f64 / DAY_SECONDS / p.max(f64::MIN_POSITIVE)
}

/// The score of a recurrence time in days.
pub fn score_of_days(days: f64) -> f64 {
    if days.is_nan() {
        return 0.0;
    }
    (days.max(1.0).log10() / SCALE_DECADES).clamp(0.0, 1.0)
}

/// The score of a tail probability on `interval` candles, each standing for one interval.
pub fn score(p: f64, interval: Interval) -> f64 {
    score_of_days(recurrence_days(p, interval))
}

/// The score of a tail probability on candles that each stand for `candle_seconds` of
/// calendar time (never less than an interval).
pub fn score_over(p: f64, candle_seconds: f64) -> f64 {
    score_of_days(candle_seconds / DAY_SECONDS / p.max(f64::MIN_POSITIVE))
}

/// The recurrence time, in days, at which each severity starts.
pub fn floor_days(severity: Severity) -> f64 {
    match severity {
        Severity::Low => WEEK_DAYS,
        Severity::Medium => MONTH_DAYS,
        Severity::High => YEAR_DAYS,
        Severity::Critical => DECADE_DAYS,
    }
}

/// The score at which each severity starts.
pub fn severity_floor(severity: Severity) -> f64 {
    score_of_days(floor_days(severity))
}

/// The severity of a score, `None` below weekly.
pub fn severity(score: f64) -> Option<Severity> {
    [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .find(|s| score >= severity_floor(*s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_a_day_to_a_century() {
        assert_eq!(score_of_days(0.5), 0.0);
        assert_eq!(score_of_days(1.0), 0.0);
        assert!((score_of_days(36_525.0) - 1.0).abs() < 1e-9);
        assert_eq!(score_of_days(1e9), 1.0);
        assert!((severity_floor(Severity::Low) - 0.185).abs() < 1e-3);
        assert!((severity_floor(Severity::Medium) - 0.325).abs() < 1e-3);
        assert!((severity_floor(Severity::High) - 0.562).abs() < 1e-3);
        assert!((severity_floor(Severity::Critical) - 0.781).abs() < 1e-3);
    }

    #[test]
    fn the_same_rarity_scores_higher_on_longer_candles() {
        let p = 1e-3;
        // One in a thousand: every 17 hours on minute candles, every 2.7 years on daily ones.
        assert_eq!(severity(score(p, Interval::OneMinute)), None);
        assert_eq!(severity(score(p, Interval::OneDay)), Some(Severity::High));
        assert_eq!(
            severity(score(1.0 / (20.0 * 365.25 * 1440.0), Interval::OneMinute)),
            Some(Severity::Critical)
        );
        assert_eq!(severity(score(1.0, Interval::OneDay)), None);
    }

    #[test]
    fn a_candle_that_stands_for_more_calendar_time_is_rarer() {
        let p = 1e-3;
        let hour = Interval::OneHour.seconds() as f64;
        assert_eq!(score_over(p, hour), score(p, Interval::OneHour));
        // A stock's hourly candle, 35 to a 168-hour week: 4.8 hours of calendar each.
        let stock = score_over(p, hour * 168.0 / 35.0);
        let expected = score_of_days(4.8 / 24.0 / p);
        assert!(
            (stock - expected).abs() < 1e-12,
            "{stock} against {expected}"
        );
        assert!(stock > score(p, Interval::OneHour));
    }
}
