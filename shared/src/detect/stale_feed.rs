//! A stale feed: a run of candles that did not trade — the close equal to the previous close
//! and no range (high = low) — longer than the series makes likely.
//!
//! This method knows its own null distribution, so it gives a probability directly: if a
//! fraction `q` of the last `window` candles were unchanged (with one pseudo-count each way, so
//! `q` is never 0 or 1), a run of `L` unchanged candles has a chance of `q^L`. A busy market
//! that freezes for three candles is then very unusual, while a series that is flat all along
//! (a pegged price, an illiquid stock) has `q` near 1 and never fires: flat is not stale.
//! Run lengths are capped at `window`, so the reading depends on the last `window` candles.
//! Only unchanged candles get a reading: one that traded says nothing about the feed.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

/// Parameters of the stale-feed method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaleFeedParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Candles over which the usual share of unchanged candles is measured.
    pub window: usize,
}

impl Default for StaleFeedParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 1_000,
        }
    }
}

impl Params for StaleFeedParams {
    const METHOD: Method = Method::StaleFeed;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 50)
    }
}

/// The stale-feed method, holding parameters that [`StaleFeed::new`] has validated.
#[derive(Debug, Clone)]
pub struct StaleFeed {
    params: StaleFeedParams,
}

impl StaleFeed {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: StaleFeedParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for StaleFeed {
    fn method(&self) -> Method {
        Method::StaleFeed
    }

    fn group(&self) -> Group {
        Group::Feed
    }

    fn lookback(&self) -> usize {
        self.params.window + 1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let window = self.params.window;
        let min = (window / 10).max(20);
        let mut history: VecDeque<bool> = VecDeque::with_capacity(window + 1);
        let mut unchanged_in_window = 0usize;
        let mut run = 0usize;
        let mut out = Vec::with_capacity(series.len());
        for i in 0..series.len() {
            let unchanged =
                i > 0 && series.close[i] == series.close[i - 1] && series.high[i] == series.low[i];
            // A candle that traded says nothing about the feed: no reading, so the feed group
            // does not count among the groups the consensus corrects for.
            let reading = (unchanged && history.len() >= min).then(|| {
                let n = history.len() as f64;
                let q = (unchanged_in_window as f64 + 1.0) / (n + 2.0);
                let length = (run + 1).min(window);
                Reading {
                    statistic: length as f64,
                    direction: 0,
                    p: Some(q.powi(length as i32)),
                }
            });
            out.push(if i > 0 { reading } else { None });
            run = if unchanged { (run + 1).min(window) } else { 0 };
            if i > 0 {
                if history.len() == window && history.pop_front() == Some(true) {
                    unchanged_in_window -= 1;
                }
                history.push_back(unchanged);
                unchanged_in_window += usize::from(unchanged);
            }
        }
        out
    }
}
