//! Order statistics over a sliding window: median, quantiles and the median absolute deviation
//! in O(log n) per step.
//!
//! The detectors see a whole slice of a series at once, so every value that will ever enter a
//! window is known up front. [`RankIndex`] maps each distinct value to its rank, and
//! [`OrderWindow`] keeps a Fenwick tree of counts per rank: adding or evicting a value and
//! finding the k-th smallest each walk one root-to-leaf path, O(log n) for n distinct values.
//! The MAD needs the middle of the distances to the median; those distances form two sorted
//! runs (left and right of the median) and the k-th of two sorted runs is a binary search, so
//! the MAD costs O(log w · log n) instead of a sort of the window.

use std::collections::VecDeque;

/// The sorted distinct values a window can hold.
#[derive(Debug, Clone)]
pub struct RankIndex {
    values: Vec<f64>,
}

impl RankIndex {
    /// Indexes every finite value of `values` (NaN and infinities never enter a window).
    pub fn new(values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        Self { values }
    }

    fn rank(&self, value: f64) -> Option<usize> {
        self.values
            .binary_search_by(|probe| probe.total_cmp(&value))
            .ok()
    }

    /// Distinct finite values indexed: the ranks run `0..len`.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no finite value was given: no window over it can hold anything.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The last `window` values pushed, kept in order by rank.
#[derive(Debug, Clone)]
pub struct OrderWindow<'a> {
    index: &'a RankIndex,
    window: usize,
    /// Ranks in arrival order, one slot per push (empty for a value that was absent), to know
    /// what leaves next.
    arrivals: VecDeque<Option<usize>>,
    /// Slots holding a value.
    count: usize,
    /// Fenwick tree (1-based) of how many window values have each rank.
    tree: Vec<u32>,
    /// Largest power of two not above the tree size, where the k-th search starts.
    top: usize,
}

impl<'a> OrderWindow<'a> {
    /// A window of `window` values (0 is treated as 1) drawn from `index`.
    pub fn new(index: &'a RankIndex, window: usize) -> Self {
        let size = index.len();
        let top = if size == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - size.leading_zeros())
        };
        Self {
            index,
            window: window.max(1),
            arrivals: VecDeque::with_capacity(window + 1),
            count: 0,
            tree: vec![0; size + 1],
            top,
        }
    }

    fn update(&mut self, rank: usize, add: bool) {
        let mut i = rank + 1;
        while i < self.tree.len() {
            if add {
                self.tree[i] += 1;
            } else {
                self.tree[i] -= 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// Adds `value`, evicting the oldest slot once the window is full. A value the index does
    /// not hold (NaN, or one not given to [`RankIndex::new`]) is ignored and returns false.
    pub fn push(&mut self, value: f64) -> bool {
        if self.index.rank(value).is_none() {
            return false;
        }
        self.push_slot(Some(value));
        true
    }

    /// Moves the window on by one slot holding `value`, or nothing: the window then covers the
    /// last `window` candles whether or not each had a value, so what it holds is a function of
    /// those candles alone.
    pub fn push_slot(&mut self, value: Option<f64>) {
        if self.arrivals.len() == self.window
            && let Some(Some(old)) = self.arrivals.pop_front()
        {
            self.update(old, false);
            self.count -= 1;
        }
        let rank = value.and_then(|v| self.index.rank(v));
        if let Some(rank) = rank {
            self.update(rank, true);
            self.count += 1;
        }
        self.arrivals.push_back(rank);
    }

    /// How many slots hold a value.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True while no slot holds a value (all empty, or evicted).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True once `window` slots have been pushed.
    pub fn is_full(&self) -> bool {
        self.arrivals.len() == self.window
    }

    /// The `k`-th smallest value in the window (0-based); `k` must be below [`Self::len`].
    fn select(&self, k: usize) -> f64 {
        // Walk down the Fenwick tree: find the largest prefix holding at most k values.
        let mut position = 0;
        let mut remaining = k as u32;
        let mut step = self.top;
        while step > 0 {
            let next = position + step;
            if next < self.tree.len() && self.tree[next] <= remaining {
                position = next;
                remaining -= self.tree[next];
            }
            step >>= 1;
        }
        self.index.values[position.min(self.index.values.len() - 1)]
    }

    /// How many values in the window are at least `value`.
    pub fn count_at_least(&self, value: f64) -> usize {
        let mut i = self.index.values.partition_point(|v| *v < value);
        let mut under = 0u32;
        while i > 0 {
            under += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        self.len() - under as usize
    }

    /// The `j`-th largest value (0-based); `None` unless the window holds more than `j` values.
    pub fn largest(&self, j: usize) -> Option<f64> {
        (j < self.len()).then(|| self.select(self.len() - 1 - j))
    }

    /// The `q`-quantile (0–1) with linear interpolation between the two nearest ranks, as
    /// pandas and numpy compute it by default. `None` for an empty window or `q` outside 0–1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.len();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let position = q * (n - 1) as f64;
        let below = position.floor() as usize;
        let fraction = position - below as f64;
        let low = self.select(below);
        if fraction == 0.0 || below + 1 >= n {
            return Some(low);
        }
        let high = self.select(below + 1);
        Some(low + (high - low) * fraction)
    }

    /// The median (the mean of the two middle values for an even count).
    pub fn median(&self) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        Some(if n % 2 == 1 {
            self.select(n / 2)
        } else {
            (self.select(n / 2 - 1) + self.select(n / 2)) / 2.0
        })
    }

    /// The median and the median absolute deviation from it (unscaled; multiply by 1.4826 for
    /// a consistent estimate of a normal standard deviation).
    pub fn median_mad(&self) -> Option<(f64, f64)> {
        let n = self.len();
        let median = self.median()?;
        let mad = if n % 2 == 1 {
            self.kth_distance(n / 2, median)
        } else {
            (self.kth_distance(n / 2 - 1, median) + self.kth_distance(n / 2, median)) / 2.0
        };
        Some((median, mad))
    }

    /// The `k`-th smallest |x − m| over the window, where `m` is the window's median. Values
    /// below the split point give distances growing leftwards, those above growing rightwards:
    /// two sorted runs, merged by binary search on how many come from the left run.
    fn kth_distance(&self, k: usize, median: f64) -> f64 {
        let n = self.len();
        let split = n / 2;
        let (left_len, right_len) = (split, n - split);
        let left = |i: usize| median - self.select(split - 1 - i);
        let right = |j: usize| self.select(split + j) - median;
        let take = k + 1;
        let mut lo = take.saturating_sub(right_len);
        let mut hi = take.min(left_len);
        while lo < hi {
            let i = lo + (hi - lo) / 2;
            let j = take - i;
            if left(i) < right(j - 1) {
                lo = i + 1;
            } else {
                hi = i;
            }
        }
        let (i, j) = (lo, take - lo);
        let from_left = if i > 0 {
            left(i - 1)
        } else {
            f64::NEG_INFINITY
        };
        let from_right = if j > 0 {
            right(j - 1)
        } else {
            f64::NEG_INFINITY
        };
        from_left.max(from_right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(window: &[f64]) -> (f64, f64, f64) {
        let mut sorted = window.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median_of = |s: &[f64]| {
            let n = s.len();
            if n % 2 == 1 {
                s[n / 2]
            } else {
                (s[n / 2 - 1] + s[n / 2]) / 2.0
            }
        };
        let median = median_of(&sorted);
        let mut distances: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        distances.sort_by(f64::total_cmp);
        let q = 0.25 * (sorted.len() - 1) as f64;
        let (b, f) = (q.floor() as usize, q - q.floor());
        let q25 = if b + 1 < sorted.len() {
            sorted[b] + (sorted[b + 1] - sorted[b]) * f
        } else {
            sorted[b]
        };
        (median, median_of(&distances), q25)
    }

    #[test]
    fn median_mad_and_quantiles_match_a_sort_of_every_window() {
        // Repeated values and both parities of window length.
        let data: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 97) as f64 / 7.0 - ((i * 31) % 5) as f64)
            .collect();
        let index = RankIndex::new(data.iter().copied());
        for window in [1, 2, 5, 8, 33] {
            let mut w = OrderWindow::new(&index, window);
            for (i, &x) in data.iter().enumerate() {
                assert!(w.push(x));
                let start = (i + 1).saturating_sub(window);
                let (median, mad, q25) = brute(&data[start..=i]);
                let (m, d) = w.median_mad().expect("non-empty");
                assert_eq!(m, median, "median, window {window} at {i}");
                assert!((d - mad).abs() < 1e-12, "mad, window {window} at {i}");
                let q = w.quantile(0.25).expect("non-empty");
                assert!((q - q25).abs() < 1e-12, "q25, window {window} at {i}");
                let slice = &data[start..=i];
                assert_eq!(
                    w.count_at_least(2.0),
                    slice.iter().filter(|v| **v >= 2.0).count()
                );
                let mut sorted = slice.to_vec();
                sorted.sort_by(f64::total_cmp);
                assert_eq!(w.largest(0), sorted.last().copied());
                assert_eq!(w.largest(sorted.len()), None);
            }
        }
    }

    #[test]
    fn unknown_values_are_refused_and_empty_windows_have_no_statistics() {
        let index = RankIndex::new([1.0, 2.0]);
        let mut w = OrderWindow::new(&index, 3);
        assert_eq!(w.median(), None);
        assert!(!w.push(f64::NAN));
        assert!(!w.push(3.0));
        assert_eq!(w.quantile(1.5), None);
    }
}
