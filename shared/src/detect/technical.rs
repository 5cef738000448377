//! Technical signal: the close against its Bollinger bands, as a continuous statistic — the
//! distance of the log close from the average of the last `band_window` log closes (itself
//! included), in population standard deviations, as Bollinger defines the bands. Where the
//! bands say 3σ this says 3.
//!
//! The RSI is reported as evidence, in its finite-window form (Cutler's: the simple averages
//! of the gains and losses of the last `rsi_period` log returns), not as a trigger: RSI
//! crossings happen in every trending market and, as a rule of their own, raised alerts every
//! few days on a quiet currency pair. Wilder's RSI remembers every price since the series
//! began, so it could never be computed the same way by an incremental run and a rescan.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_window};
use super::rolling::ExactMoments;
use super::{Detector, Group, InvalidParams, Reading, Series, round};
use crate::model::Method;

/// Parameters of the Bollinger-band method; defaults in [`Default`], layered by [`super::DetectorConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TechnicalParams {
    /// Whether the method runs at all; `true` unless switched off.
    pub enabled: bool,
    /// Log returns in the RSI reported as evidence (Cutler's, not Wilder's).
    pub rsi_period: usize,
    /// Log closes, the candle's own included, behind the Bollinger average and spread.
    pub band_window: usize,
}

impl Default for TechnicalParams {
    fn default() -> Self {
        Self {
            enabled: true,
            rsi_period: 14,
            band_window: 20,
        }
    }
}

impl Params for TechnicalParams {
    const METHOD: Method = Method::Technical;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "rsi_period", self.rsi_period, 2)?;
        check_window(Self::METHOD, "band_window", self.band_window, 5)
    }
}

/// The Bollinger-band method, holding parameters that [`Technical::new`] has validated.
#[derive(Debug, Clone)]
pub struct Technical {
    params: TechnicalParams,
}

impl Technical {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: TechnicalParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

/// Cutler's RSI over the returns of `series` in `i + 1 - period ..= i`: 100 · gains / (gains +
/// losses), 50 when nothing moved; `None` without `period` returns.
pub fn cutler_rsi(returns: &[Option<f64>], i: usize, period: usize) -> Option<f64> {
    if i + 1 < period {
        return None;
    }
    let mut gains = ExactMoments::new(period);
    let mut losses = ExactMoments::new(period);
    for r in &returns[i + 1 - period..=i] {
        let r = (*r)?;
        gains.push(Some(r.max(0.0)));
        losses.push(Some((-r).max(0.0)));
    }
    let (g, l) = (gains.mean()?, losses.mean()?);
    Some(if g + l == 0.0 {
        50.0
    } else {
        100.0 * g / (g + l)
    })
}

impl Detector for Technical {
    fn method(&self) -> Method {
        Method::Technical
    }

    fn group(&self) -> Group {
        Group::Level
    }

    fn lookback(&self) -> usize {
        self.params.band_window.max(self.params.rsi_period + 1)
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        let window = self.params.band_window;
        let mut bands = ExactMoments::new(window);
        series
            .log_close
            .iter()
            .map(|&x| {
                bands.push(x.is_finite().then_some(x));
                if bands.count() < window || !x.is_finite() {
                    return None;
                }
                let (mean, std) = (bands.mean()?, bands.std(0)?);
                (std > 0.0)
                    .then(|| (x - mean) / std)
                    .and_then(Reading::signed)
            })
            .collect()
    }

    fn evidence(&self, series: &Series<'_>, index: usize) -> serde_json::Value {
        match cutler_rsi(&series.log_return, index, self.params.rsi_period) {
            Some(rsi) => json!({"rsi": round(rsi), "rsi_period": self.params.rsi_period}),
            None => serde_json::Value::Null,
        }
    }
}
