//! The trailing distribution of a statistic, for calibration: how many of the last `window`
//! values are at least a given one, and the j-th largest, each in O(log n).
//!
//! Values are quantised to multiples of [`STAT_QUANTUM`] and counted in a Fenwick tree over
//! their ranks: like [`super::ExactMoments`], what the window answers depends only on the values
//! in it, never on the path that filled it.

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
    counts: Vec<u32>,
    top: usize,
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
            counts: vec![0; size + 1],
            top,
        }
    }

    fn update(&mut self, rank: usize, sign: i32) {
        let mut i = rank + 1;
        while i < self.counts.len() {
            self.counts[i] = self.counts[i].wrapping_add_signed(sign);
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
        let mut i = self.index.values.partition_point(|v| *v < value);
        let mut under = 0u32;
        while i > 0 {
            under += self.counts[i];
            i -= i & i.wrapping_neg();
        }
        self.count - under as usize
    }

    /// The `j`-th largest value (0-based); `None` unless the window holds more than `j` values.
    pub fn largest(&self, j: usize) -> Option<i64> {
        if j >= self.count {
            return None;
        }
        // Walk down the tree: the largest prefix of ranks holding at most m values.
        let m = (self.count - 1 - j) as u32;
        let (mut position, mut remaining) = (0usize, m);
        let mut step = self.top;
        while step > 0 {
            let next = position + step;
            if next < self.counts.len() && self.counts[next] <= remaining {
                position = next;
                remaining -= self.counts[next];
            }
            step >>= 1;
        }
        self.index.values.get(position).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_order_statistics_match_a_sort_of_the_window() {
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
            for j in [0, 1, 5, 20, n - 1] {
                let expected = (j < n).then(|| sorted[n - 1 - j]);
                assert_eq!(w.largest(j), expected, "j {j} at {i}");
            }
            assert_eq!(w.largest(n), None);
        }
    }

    #[test]
    fn empty_slots_age_out_and_short_windows_have_no_order_statistics() {
        let index = StatIndex::new([1, 2, 3]);
        let mut w = TailWindow::new(&index, 2);
        w.push(Some(3));
        w.push(None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.largest(1), None);
        w.push(Some(1));
        assert_eq!(w.len(), 1, "the 3 left with its slot");
        assert_eq!(w.count_at_least(2), 0);
        assert_eq!(w.largest(0), Some(1));
    }
}
