//! Interquartile distance of returns: how many interquartile ranges a candle's log return lies
//! from the median of the returns before it. Quartiles ignore the tails, so a few earlier spikes
//! in the window do not widen the reference the way they inflate a standard deviation. Returns
//! across a gap are judged against the series' gap returns, as in [`super::ZScore`].

use serde::{Deserialize, Serialize};

use super::config::{Params, check_window};
use super::rolling::{OrderWindow, RankIndex};
use super::series::gap_scale;
use super::zscore::MIN_GAP_RETURNS;
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

/// Parameters of the interquartile distance method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IqrParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Candles whose ordinary returns form the reference window.
    pub window: usize,
    /// Candles whose gap returns form the reference for returns across a gap.
    pub gap_window: usize,
}

impl Default for IqrParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 100,
            gap_window: 1_000,
        }
    }
}

impl Params for IqrParams {
    const METHOD: Method = Method::Iqr;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "window", self.window, 10)?;
        check_window(Self::METHOD, "gap_window", self.gap_window, 10)
    }
}

/// The interquartile distance method, holding parameters that [`Iqr::new`] has validated.
#[derive(Debug, Clone)]
pub struct Iqr {
    params: IqrParams,
}

impl Iqr {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: IqrParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

fn distance(r: f64, window: &OrderWindow<'_>, min: usize, scale: f64) -> Option<f64> {
    if window.len() < min {
        return None;
    }
    let (q1, median, q3) = (
        window.quantile(0.25)?,
        window.quantile(0.5)?,
        window.quantile(0.75)?,
    );
    (q3 > q1).then(|| (r - median) / ((q3 - q1) * scale))
}

impl Detector for Iqr {
    fn method(&self) -> Method {
        Method::Iqr
    }

    fn group(&self) -> Group {
        Group::Price
    }

    fn lookback(&self) -> usize {
        self.params.window.max(self.params.gap_window) + 1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let IqrParams {
            window, gap_window, ..
        } = self.params;
        let min = (window / 2).max(10);
        let index = RankIndex::new(series.log_return.iter().flatten().copied());
        let mut ordinary = OrderWindow::new(&index, window);
        let mut gaps = OrderWindow::new(&index, gap_window);
        let mut out = Vec::with_capacity(series.len());
        for (i, r) in series.log_return.iter().enumerate() {
            let gap = series.after_gap(i);
            let reading = r.and_then(|r| {
                let value = if !gap {
                    distance(r, &ordinary, min, 1.0)
                } else if gaps.len() >= MIN_GAP_RETURNS {
                    distance(r, &gaps, MIN_GAP_RETURNS, 1.0)
                } else {
                    distance(r, &ordinary, min, gap_scale(series.elapsed[i]))
                };
                value.and_then(Reading::signed)
            });
            out.push(reading);
            ordinary.push_slot(r.filter(|_| !gap));
            gaps.push_slot(r.filter(|_| gap));
        }
        out
    }
}
