//! Scoring detections against labels: the Numenta Anomaly Benchmark's rules, implemented from
//! their public description (Lavin and Ahmad, 2015), plus precision, recall and F1.
//!
//! Each label gets a window of `10 % of the series / number of labels` candles centred on the
//! label's start (stretched to cover the whole label). Within a window only the first
//! detection counts, weighted by the scaled sigmoid `σ(y) = 2 / (1 + e^{5y}) − 1` of its
//! relative position `y` (−1 at the window's start, 0 at its end): early detection earns
//! almost `A_TP`, a late one almost nothing. A detection outside every window is a false
//! positive costing `A_FP · σ(y)` with `y` its distance past the preceding window in window
//! lengths (a full `A_FP` far from any). A window without detection costs `A_FN`. The raw score
//! is normalised so that the null detector (no detections) scores 0 and the perfect one
//! (the first candle of every window) scores 100. Detections in the probationary period at
//! the start of a series (while windows fill) are not counted, as in the NAB.

/// The weights of one application profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// The name the table prints: `standard`, `low FP` or `low FN`.
    pub name: &'static str,
    /// `A_TP`: the most an early detection in a window earns.
    pub true_positive: f64,
    /// `A_FP`: the most a detection outside every window costs.
    pub false_positive: f64,
    /// `A_FN`: the cost of a window without detection.
    pub false_negative: f64,
}

/// NAB's three profiles.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        true_positive: 1.0,
        false_positive: 0.11,
        false_negative: 1.0,
    },
    Profile {
        name: "low FP",
        true_positive: 1.0,
        false_positive: 0.22,
        false_negative: 1.0,
    },
    Profile {
        name: "low FN",
        true_positive: 1.0,
        false_positive: 0.11,
        false_negative: 2.0,
    },
];

/// The scaled sigmoid of a relative position.
pub fn scaled_sigmoid(y: f64) -> f64 {
    2.0 / (1.0 + (5.0 * y).exp()) - 1.0
}

/// A labelled window, candles `start ..= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the window's first candle in the series.
    pub start: usize,
    /// Index of its last candle (inclusive).
    pub end: usize,
}

/// The NAB windows of labels `(start, end)` on a series of `len` candles.
pub fn windows(len: usize, labels: &[(usize, usize)]) -> Vec<Window> {
    if labels.is_empty() {
        return Vec::new();
    }
    let width = (len as f64 * 0.1 / labels.len() as f64).max(2.0) as usize;
    labels
        .iter()
        .map(|&(start, end)| Window {
            start: start.saturating_sub(width / 2),
            end: (start + width / 2).max(end).min(len.saturating_sub(1)),
        })
        .collect()
}

/// What one detector did on one series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Raw NAB score per profile.
    pub raw: [f64; 3],
    /// The null detector's raw score per profile: the 0 of the normalised score.
    pub null: [f64; 3],
    /// The perfect detector's raw score per profile: the 100 of the normalised score.
    pub perfect: [f64; 3],
    /// Labelled windows seen.
    pub windows: usize,
    /// Windows with at least one counted detection.
    pub detected_windows: usize,
    /// Runs of consecutive detections outside every window.
    pub false_runs: usize,
}

impl Tally {
    /// Sums `other` into `self`, so tallies of many series make one.
    pub fn add(&mut self, other: &Tally) {
        for p in 0..3 {
            self.raw[p] += other.raw[p];
            self.null[p] += other.null[p];
            self.perfect[p] += other.perfect[p];
        }
        self.windows += other.windows;
        self.detected_windows += other.detected_windows;
        self.false_runs += other.false_runs;
    }

    /// The normalised NAB score of profile `p`.
    pub fn normalised(&self, p: usize) -> f64 {
        let span = self.perfect[p] - self.null[p];
        if span <= 0.0 {
            return 0.0;
        }
        100.0 * (self.raw[p] - self.null[p]) / span
    }

    /// Detected windows over windows; 0 when there were none.
    pub fn recall(&self) -> f64 {
        if self.windows == 0 {
            return 0.0;
        }
        self.detected_windows as f64 / self.windows as f64
    }

    /// Detected windows over those plus false runs (a run counts once); 0 when nothing was
    /// flagged.
    pub fn precision(&self) -> f64 {
        let flagged = self.detected_windows + self.false_runs;
        if flagged == 0 {
            return 0.0;
        }
        self.detected_windows as f64 / flagged as f64
    }

    /// Harmonic mean of precision and recall; 0 when both are.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Scores `detections` (one flag per candle) against `windows`, ignoring the first
/// `probation` candles.
pub fn score(detections: &[bool], windows: &[Window], probation: usize) -> Tally {
    let mut tally = Tally {
        windows: windows.len(),
        ..Tally::default()
    };
    for (p, profile) in PROFILES.iter().enumerate() {
        tally.null[p] = -profile.false_negative * windows.len() as f64;
        tally.perfect[p] = profile.true_positive * scaled_sigmoid(-1.0) * windows.len() as f64;
    }
    let inside = |i: usize| windows.iter().position(|w| (w.start..=w.end).contains(&i));
    let mut first_in: Vec<Option<usize>> = vec![None; windows.len()];
    let mut previous_flag_outside = false;
    for (i, &flag) in detections.iter().enumerate() {
        if !flag || i < probation {
            previous_flag_outside = false;
            continue;
        }
        match inside(i) {
            Some(w) => {
                first_in[w].get_or_insert(i);
                previous_flag_outside = false;
            }
            None => {
                if !previous_flag_outside {
                    tally.false_runs += 1;
                }
                previous_flag_outside = true;
                let before = windows.iter().filter(|w| w.end < i).max_by_key(|w| w.end);
                let weight = match before {
                    Some(w) => {
                        let length = (w.end - w.start).max(1) as f64;
                        scaled_sigmoid((i - w.end) as f64 / length)
                    }
                    None => -1.0,
                };
                for (p, profile) in PROFILES.iter().enumerate() {
                    tally.raw[p] += profile.false_positive * weight;
                }
            }
        }
    }
    for (w, first) in windows.iter().zip(&first_in) {
        match first {
            Some(i) => {
                tally.detected_windows += 1;
                let length = (w.end - w.start).max(1) as f64;
                let y = (*i as f64 - w.end as f64) / length;
                for (p, profile) in PROFILES.iter().enumerate() {
                    tally.raw[p] += profile.true_positive * scaled_sigmoid(y);
                }
            }
            None => {
                for (p, profile) in PROFILES.iter().enumerate() {
                    tally.raw[p] -= profile.false_negative;
                }
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sigmoid_rewards_early_detection_and_fades_false_positives() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_2).abs() < 1e-9);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!(scaled_sigmoid(0.5) < 0.0 && scaled_sigmoid(3.0) > -1.0);
    }

    #[test]
    fn null_and_perfect_detectors_score_zero_and_a_hundred() {
        let windows = windows(1_000, &[(200, 200), (600, 605)]);
        assert_eq!(windows.len(), 2);
        let none = vec![false; 1_000];
        let mut perfect = none.clone();
        for w in &windows {
            perfect[w.start] = true;
        }
        for p in 0..3 {
            assert_eq!(score(&none, &windows, 0).normalised(p), 0.0);
            assert!((score(&perfect, &windows, 0).normalised(p) - 100.0).abs() < 1e-9);
        }
    }

    #[test]
    fn late_detections_earn_less_and_false_alarms_cost() {
        let windows = windows(1_000, &[(500, 500)]);
        let at = |i: usize| {
            let mut d = vec![false; 1_000];
            d[i] = true;
            d
        };
        let early = score(&at(windows[0].start), &windows, 0).normalised(0);
        let on_time = score(&at(500), &windows, 0).normalised(0);
        let late = score(&at(windows[0].end), &windows, 0).normalised(0);
        assert!(
            early > on_time && on_time > late,
            "{early} {on_time} {late}"
        );
        let mut noisy = at(500);
        noisy[100] = true;
        noisy[101] = true;
        noisy[900] = true;
        let tally = score(&noisy, &windows, 0);
        assert_eq!(
            score(&noisy, &windows, 200).false_runs,
            1,
            "the first alarm is in probation"
        );
        assert!(tally.normalised(0) < on_time);
        assert!(
            tally.normalised(1) < tally.normalised(0),
            "low FP weighs false alarms more"
        );
        assert_eq!(tally.false_runs, 2);
        assert_eq!(tally.recall(), 1.0);
        assert!((tally.precision() - 1.0 / 3.0).abs() < 1e-12);
    }
}
