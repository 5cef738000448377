//! The trailing distribution of a statistic, for calibration: how many of the last `window`
//! values are at least a given one, the k-th largest, and the sums and sums of squares of the
//! largest values, each in O(log n).
//!
//! Values are quantised to multiples of [`STAT_QUANTUM`] and kept in Fenwick trees of counts,
//! sums and sums of squares over their ranks, all integers: like [`super::ExactMoments`], what
//! the window answers depends only on the values in it, never on the path that filled it.

use std::collections::VecDeque;

/// Resolution of calibrated statistics (z-scores, ratios, isolation scores).
pub const STAT_QUANTUM: f64 = 1e-6;
/// Statistics are clamped to this before quantising (a z-score of a million says all there is).
pub const STAT_LIMIT: f64 = 1e6;

/// A statistic on the calibration grid; negative values count as 0 (statistics are magnitudes).
pub fn quantise_stat(x: f64) -> i64 {
    (x.clamp(0.0, STAT_LIMIT) / STAT_QUANTUM).round() as i64
}

/// The sorted distinct quantised values a [`TailWindow`] can hold.
#[derive(Debug, Clone)]
pub struct StatIndex {
    values: Vec<i64>,
}

impl StatIndex {
    pub fn new(values: impl IntoIterator<Item = i64>) -> Self {
        let mut values: Vec<i64> = values.into_iter().collect();
        values.sort_unstable();
        values.dedup();
        Self { values }
    }

    fn rank(&self, value: i64) -> Option<usize> {
        self.values.binary_search(&value).ok()
    }
}

/// The last `window` slots of a statistic (a slot may be empty).
#[derive(Debug, Clone)]
pub struct TailWindow<'a> {
    index: &'a StatIndex,
    window: usize,
    slots: VecDeque<Option<usize>>,
    count: usize,
    total: i128,
    total_squares: i128,
    counts: Vec<u32>,
    sums: Vec<i128>,
    squares: Vec<i128>,
    top: usize,
}

/// The largest values of a window: how many, the value just below them, and the mean and
/// variance of their excesses over it, in quanta.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    pub k: usize,
    pub threshold: i64,
    pub mean_excess: f64,
    pub excess_variance: f64,
}

impl<'a> TailWindow<'a> {
    pub fn new(index: &'a StatIndex, window: usize) -> Self {
        let size = index.values.len();
        let top = if size == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - size.leading_zeros())
        };
        Self {
            index,
            window: window.max(1),
            slots: VecDeque::with_capacity(window + 1),
            count: 0,
            total: 0,
            total_squares: 0,
            counts: vec![0; size + 1],
            sums: vec![0; size + 1],
            squares: vec![0; size + 1],
            top,
        }
    }

    fn update(&mut self, rank: usize, sign: i32) {
        let value = i128::from(self.index.values[rank]);
        let (v, v2) = (value * i128::from(sign), value * value * i128::from(sign));
        self.total += v;
        self.total_squares += v2;
        let mut i = rank + 1;
        while i < self.counts.len() {
            self.counts[i] = self.counts[i].wrapping_add_signed(sign);
            self.sums[i] += v;
            self.squares[i] += v2;
            i += i & i.wrapping_neg();
        }
    }

    /// Moves the window on by one slot holding `value` (which must be in the index) or nothing.
    pub fn push(&mut self, value: Option<i64>) {
        if self.slots.len() == self.window
            && let Some(Some(old)) = self.slots.pop_front()
        {
            self.update(old, -1);
            self.count -= 1;
        }
        let rank = value.and_then(|v| self.index.rank(v));
        if let Some(rank) = rank {
            self.update(rank, 1);
            self.count += 1;
        }
        self.slots.push_back(rank);
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many values in the window are at least `value`.
    pub fn count_at_least(&self, value: i64) -> usize {
        let below = self.index.values.partition_point(|v| *v < value);
        let mut i = below;
        let mut under = 0u32;
        while i > 0 {
            under += self.counts[i];
            i -= i & i.wrapping_neg();
        }
        self.count - under as usize
    }

    /// The `m` smallest values: the sum and sum of squares of them, and the value of the next
    /// one (the `m`-th smallest, 0-based) when there is one.
    fn smallest(&self, m: usize) -> (i128, i128, Option<i64>) {
        let (mut position, mut remaining) = (0usize, m as u32);
        let (mut sum, mut squares) = (0i128, 0i128);
        let mut step = self.top;
        while step > 0 {
            let next = position + step;
            if next < self.counts.len() && self.counts[next] <= remaining {
                position = next;
                remaining -= self.counts[next];
                sum += self.sums[next];
                squares += self.squares[next];
            }
            step >>= 1;
        }
        // Ranks below `position` are all in; the rest of the m are copies of the next value.
        let next = self.index.values.get(position).copied();
        if let Some(value) = next {
            let value = i128::from(value);
            sum += value * i128::from(remaining);
            squares += value * value * i128::from(remaining);
        }
        (sum, squares, next)
    }

    /// The `k` largest values and the (k+1)-th largest as the threshold they exceed; `None`
    /// unless the window holds more than `k` values.
    pub fn tail(&self, k: usize) -> Option<Tail> {
        let n = self.count;
        if k == 0 || n <= k {
            return None;
        }
        let (low_sum, low_squares, _) = self.smallest(n - k);
        let (_, _, threshold) = self.smallest(n - k - 1);
        let threshold = threshold?;
        let top_sum = self.total - low_sum;
        let top_squares = self.total_squares - low_squares;
        let u = i128::from(threshold);
        let k128 = k as i128;
        // Σ(x − u) and Σ(x − u)² over the top k, exact.
        let excess = top_sum - k128 * u;
        let excess_squares = top_squares - 2 * u * top_sum + k128 * u * u;
        let mean = excess as f64 / k as f64;
        // k·Σe² − (Σe)², exact, over k².
        let variance = (k128 * excess_squares - excess * excess) as f64 / (k as f64 * k as f64);
        Some(Tail {
            k,
            threshold,
            mean_excess: mean,
            excess_variance: variance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_tails_match_a_sort_of_the_window() {
        let data: Vec<i64> = (0..400).map(|i| (i * 7919 % 211) as i64).collect();
        let index = StatIndex::new(data.iter().copied());
        let window = 64;
        let mut w = TailWindow::new(&index, window);
        for (i, &x) in data.iter().enumerate() {
            w.push(Some(x));
            let start = (i + 1).saturating_sub(window);
            let mut sorted = data[start..=i].to_vec();
            sorted.sort_unstable();
            let n = sorted.len();
            assert_eq!(w.len(), n);
            assert_eq!(
                w.count_at_least(100),
                sorted.iter().filter(|v| **v >= 100).count()
            );
            let k = 7;
            match w.tail(k) {
                None => assert!(n <= k),
                Some(tail) => {
                    assert_eq!(tail.threshold, sorted[n - k - 1]);
                    let excess: Vec<f64> = sorted[n - k..]
                        .iter()
                        .map(|v| (v - tail.threshold) as f64)
                        .collect();
                    let mean = excess.iter().sum::<f64>() / k as f64;
                    let var = excess.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / k as f64;
                    assert!((tail.mean_excess - mean).abs() < 1e-9, "at {i}");
                    assert!((tail.excess_variance - var).abs() < 1e-6, "at {i}");
                }
            }
        }
    }

    #[test]
    fn empty_slots_age_out_and_short_windows_have_no_tail() {
        let index = StatIndex::new([1, 2, 3]);
        let mut w = TailWindow::new(&index, 2);
        w.push(Some(3));
        w.push(None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.tail(1), None);
        w.push(Some(1));
        assert_eq!(w.len(), 1, "the 3 left with its slot");
        assert_eq!(w.count_at_least(2), 0);
    }
}
