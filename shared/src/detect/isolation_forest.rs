//! Isolation forest (Liu, Ting and Zhou, 2008) over four features per candle: the log return
//! (divided by [`gap_scale`] across a gap), its magnitude, the high–low range (log of high /
//! low) and the log volume ratio (log of volume over the median of the previous volumes; 0
//! where volume is unknown). Anomalies are the points random axis-aligned cuts isolate quickly.
//!
//! The forest judging a candle is fitted on trailing history only, on an absolute-time
//! schedule: time is cut into epochs of `refit_every` intervals (counted from the Unix epoch),
//! and the forest for an epoch is grown from the feature rows of the `window` stored candles
//! before the epoch begins, from a ChaCha8 generator seeded with `seed` and the epoch number.
//! So a candle's score depends on where it lies in time, never on where a scan started, and no
//! forest ever sees the candles it judges or anything after them.
//!
//! Each forest has its own scale (a forest fitted on a calm month scores everything lower than
//! one fitted on a wild one), and calibration compares a candle with the readings of earlier
//! candles that older forests scored. So the statistic is the isolation score measured against
//! the forest's own training rows: `(score − median) / (1.4826 · MAD)` of the scores the forest
//! gives them (the spread floored at 0.03), which means the same thing whichever forest
//! produced it.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::series::gap_scale;
use super::volume_spike::log_volume;
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

const FEATURES: usize = 4;
// The walk masks a feature index with `FEATURES - 1`.
const _: () = assert!(FEATURES.is_power_of_two());
/// Fewer training rows than this and a forest says nothing useful.
const MIN_POINTS: usize = 64;

/// Parameters of the isolation forest method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Trees in each epoch's forest; more trees, steadier path lengths, slower fits.
    pub trees: usize,
    /// Points drawn (without replacement) to grow each tree.
    pub sample_size: usize,
    /// Mixed with the epoch number to seed each forest, so a rescan grows the same trees.
    pub seed: u64,
    /// Candles before an epoch whose rows the epoch's forest is fitted on.
    pub window: usize,
    /// Length of an epoch, in intervals: how often the forest is refitted.
    pub refit_every: usize,
    /// Volumes in the median behind the volume-ratio feature.
    pub volume_window: usize,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self {
            enabled: true,
            trees: 100,
            sample_size: 256,
            seed: 42,
            window: 1_000,
            refit_every: 500,
            volume_window: 50,
        }
    }
}

impl Params for IsolationForestParams {
    const METHOD: Method = Method::IsolationForest;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "trees", self.trees, 1)?;
        check_window(Self::METHOD, "sample_size", self.sample_size, 16)?;
        check_window(Self::METHOD, "window", self.window, MIN_POINTS)?;
        check_window(Self::METHOD, "refit_every", self.refit_every, 1)?;
        check_window(Self::METHOD, "volume_window", self.volume_window, 5)
    }
}

/// The isolation forest method, holding parameters that [`IsolationForest::new`] has validated.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    params: IsolationForestParams,
}

impl IsolationForest {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: IsolationForestParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

/// The expected path length of an unsuccessful search in a binary search tree of `n` points:
/// the normaliser of the isolation depth.
fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// One node of a tree, flat so scoring walks plain memory (16 bytes). A node's children sit
/// side by side, right after left, so a walk adds the comparison's outcome to `left` and needs
/// no second index to load. A leaf cuts at +∞ on feature 0 and is its own left child, so a walk
/// that reaches it stays there: every walk takes the same number of steps with no test for
/// leaves and no branch on the comparison.
#[derive(Debug, Clone, Copy)]
struct Node {
    value: f64,
    feature: u32,
    left: u32,
}

impl Node {
    fn leaf(id: u32) -> Self {
        Self {
            value: f64::INFINITY,
            feature: 0,
            left: id,
        }
    }
}

/// The smallest and largest value of each feature among a node's rows.
type Ranges = [(f64, f64); FEATURES];

const EMPTY_RANGES: Ranges = [(f64::INFINITY, f64::NEG_INFINITY); FEATURES];

fn ranges_of(rows: &[[f64; FEATURES]]) -> Ranges {
    let mut ranges = EMPTY_RANGES;
    for row in rows {
        for (range, x) in ranges.iter_mut().zip(row) {
            range.0 = range.0.min(*x);
            range.1 = range.1.max(*x);
        }
    }
    ranges
}

#[derive(Debug)]
struct Tree {
    nodes: Vec<Node>,
    /// Per node (read at leaves only): its depth plus the expected depth of the points it did
    /// not separate, computed once at growth.
    path_length: Vec<f64>,
}

impl Tree {
    /// Grows a tree on the points `sample` indexes. The sample's rows are copied together
    /// first, so growth partitions plain memory rather than chasing indices, and each node's
    /// feature ranges are gathered by its parent's partition pass instead of a pass of their
    /// own. A node's cut depends only on the *set* of points it holds, so the tree is the same
    /// whatever order the partitions leave them in.
    fn grow(
        points: &[[f64; FEATURES]],
        sample: &[usize],
        limit: usize,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut tree = Self {
            nodes: Vec::with_capacity(2 * sample.len()),
            path_length: Vec::with_capacity(2 * sample.len()),
        };
        let mut rows: Vec<[f64; FEATURES]> = sample.iter().map(|&i| points[i]).collect();
        let ranges = ranges_of(&rows);
        tree.nodes.push(Node::leaf(0));
        tree.path_length.push(0.0);
        tree.build(0, &mut rows, &ranges, 0, limit, rng);
        tree
    }

    /// Fills node `id` (already allocated) from `rows`, and its subtree after it. Children
    /// are grown left first, so the random draws come in the same order wherever their slots
    /// lie.
    #[allow(
        clippy::too_many_arguments,
        reason = "the recursion's state; a struct for it would only rename the arguments"
    )]
    fn build(
        &mut self,
        id: u32,
        rows: &mut [[f64; FEATURES]],
        ranges: &Ranges,
        depth: usize,
        limit: usize,
        rng: &mut ChaCha8Rng,
    ) {
        self.nodes[id as usize] = Node::leaf(id);
        self.path_length[id as usize] = depth as f64 + average_path(rows.len());
        if depth >= limit || rows.len() <= 1 {
            return;
        }
        let mut splittable = [0usize; FEATURES];
        let mut count = 0;
        for (f, range) in ranges.iter().enumerate() {
            if range.1 > range.0 {
                splittable[count] = f;
                count += 1;
            }
        }
        if count == 0 {
            return;
        }
        let feature = splittable[rng.random_range(0..count)];
        let (min, max) = ranges[feature];
        let threshold = min + (max - min) * rng.random::<f64>();
        // Partition in place, rows below the cut first, without a branch on the comparison
        // (which goes either way at random): every row is swapped to the boundary and the
        // boundary moves on when it belongs below.
        let mut below = 0;
        for i in 0..rows.len() {
            let is_below = usize::from(rows[i][feature] < threshold);
            rows.swap(i, below);
            below += is_below;
        }
        let (left_rows, right_rows) = rows.split_at_mut(below);
        // The children's ranges, unless they are leaves anyway: a pass over each side's rows,
        // which stay in registers, beats widening one of two ranges chosen per row.
        let (left_ranges, right_ranges) = if depth + 1 < limit {
            (ranges_of(left_rows), ranges_of(right_rows))
        } else {
            (EMPTY_RANGES, EMPTY_RANGES)
        };
        let left = self.nodes.len() as u32;
        self.nodes.extend([Node::leaf(left), Node::leaf(left + 1)]);
        self.path_length.extend([0.0, 0.0]);
        self.nodes[id as usize] = Node {
            value: threshold,
            feature: feature as u32,
            left,
        };
        self.build(left, left_rows, &left_ranges, depth + 1, limit, rng);
        self.build(left + 1, right_rows, &right_ranges, depth + 1, limit, rng);
    }

    /// Adds each point's path length to its running sum. Points walk the tree in lanes of
    /// sixteen, level by level: the walks do not depend on each other, so the processor
    /// overlaps their memory loads instead of waiting on one chain of them (sixteen measured
    /// faster than eight).
    fn add_path_lengths(
        &self,
        points: &[(usize, [f64; FEATURES])],
        sums: &mut [f64],
        depth_limit: usize,
    ) {
        const LANES: usize = 16;
        for (chunk, sums) in points.chunks(LANES).zip(sums.chunks_mut(LANES)) {
            let mut at = [0u32; LANES];
            for _ in 0..=depth_limit {
                for (lane, (_, x)) in chunk.iter().enumerate() {
                    let node = self.nodes[at[lane] as usize];
                    // Masked to the four features, so no bounds check sits in the chain.
                    let below = x[node.feature as usize & (FEATURES - 1)] < node.value;
                    at[lane] = node.left + u32::from(!below);
                }
            }
            for (lane, sum) in sums.iter_mut().enumerate() {
                *sum += self.path_length[at[lane] as usize];
            }
        }
    }
}

/// The feature row of every candle that has one (a return and a finite range).
fn features(series: &Series<'_>, volume_window: usize) -> Vec<Option<[f64; FEATURES]>> {
    let logs: Vec<Option<f64>> = series.volume.iter().map(|v| log_volume(*v)).collect();
    let index = RankIndex::new(logs.iter().flatten().copied());
    let mut volumes = OrderWindow::new(&index, volume_window);
    let min = (volume_window / 2).max(5);
    let mut out = Vec::with_capacity(series.len());
    for (i, log) in logs.iter().enumerate() {
        let ratio = match (log, volumes.median()) {
            (Some(v), Some(m)) if volumes.len() >= min => v - m,
            _ => 0.0,
        };
        volumes.push_slot(*log);
        let row = series.log_return[i].and_then(|r| {
            let x = r / gap_scale(series.elapsed[i]);
            let range = (series.high[i] / series.low[i]).ln();
            (range.is_finite() && ratio.is_finite()).then_some([x, x.abs(), range, ratio])
        });
        out.push(row);
    }
    out
}

/// Grows a forest from `points` with the generator seeded by `seed`.
fn grow(points: &[[f64; FEATURES]], p: &IsolationForestParams, seed: u64) -> (Vec<Tree>, usize) {
    let psi = p.sample_size.min(points.len());
    let limit = (psi as f64).log2().ceil() as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pool: Vec<usize> = (0..points.len()).collect();
    let forest = (0..p.trees)
        .map(|_| {
            // A partial Fisher–Yates shuffle draws psi points without replacement.
            for k in 0..psi {
                let j = rng.random_range(k..pool.len());
                pool.swap(k, j);
            }
            Tree::grow(points, &pool[..psi], limit, &mut rng)
        })
        .collect();
    (forest, psi)
}

/// The median of `scores` and their robust spread (1.4826 · MAD, at least [`MIN_SPREAD`]).
fn median_spread(mut scores: Vec<f64>) -> (f64, f64) {
    let median_of = |sorted: &[f64]| {
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        }
    };
    scores.sort_by(f64::total_cmp);
    let median = median_of(&scores);
    let mut deviations: Vec<f64> = scores.iter().map(|s| (s - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    (median, (1.4826 * median_of(&deviations)).max(MIN_SPREAD))
}

/// The smallest spread of training scores measured against: a forest fitted on a few repeated
/// points scores them all alike.
const MIN_SPREAD: f64 = 0.03;

/// The seed of an epoch's forest: the configured seed mixed with the epoch number.
fn epoch_seed(seed: u64, epoch: i64) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Detector for IsolationForest {
    fn method(&self) -> Method {
        Method::IsolationForest
    }

    fn group(&self) -> Group {
        Group::Multivariate
    }

    fn lookback(&self) -> usize {
        // The epoch's start can lie `refit_every` candles back, its training rows `window`
        // before that, and their volume ratios `volume_window` before those.
        self.params.refit_every + self.params.window + self.params.volume_window + 1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let p = &self.params;
        let mut out = vec![None; series.len()];
        let Some(interval) = series.interval else {
            return out;
        };
        let rows = features(series, p.volume_window);
        let epoch_seconds = interval.seconds() * p.refit_every as i64;
        let mut start = 0;
        while start < series.len() {
            let epoch = series.open_seconds[start].div_euclid(epoch_seconds);
            let next_epoch_at = (epoch + 1) * epoch_seconds;
            let end = start + series.open_seconds[start..].partition_point(|t| *t < next_epoch_at);
            let training: Vec<[f64; FEATURES]> = rows[start.saturating_sub(p.window)..start]
                .iter()
                .flatten()
                .copied()
                .collect();
            if training.len() >= MIN_POINTS {
                let (forest, psi) = grow(&training, p, epoch_seed(p.seed, epoch));
                let norm = average_path(psi);
                let limit = (psi as f64).log2().ceil() as usize;
                let score = |points: &[(usize, [f64; FEATURES])]| -> Vec<f64> {
                    // Tree by tree rather than point by point: one small tree stays in cache
                    // while every point walks it.
                    let mut depths = vec![0.0; points.len()];
                    for tree in &forest {
                        tree.add_path_lengths(points, &mut depths, limit);
                    }
                    depths
                        .iter()
                        .map(|sum| 2f64.powf(-(sum / forest.len() as f64) / norm))
                        .collect()
                };
                let own: Vec<(usize, [f64; FEATURES])> = training.iter().map(|x| (0, *x)).collect();
                let (median, spread) = median_spread(score(&own));
                let judged: Vec<(usize, [f64; FEATURES])> = (start..end)
                    .filter_map(|i| rows[i].map(|x| (i, x)))
                    .collect();
                for ((i, _), s) in judged.iter().zip(score(&judged)) {
                    let z = (s - median) / spread;
                    out[*i] = Some(Reading {
                        statistic: z.max(0.0),
                        direction: 0,
                        p: None,
                    });
                }
            }
            start = end.max(start + 1);
        }
        out
    }
}
