//! Technical signals: Wilder's RSI crossing into overbought or oversold territory, and a close
//! outside its Bollinger bands. These are chart signals rather than statistical tests: they
//! fire in an ordinary market too, so the defaults are stricter than the textbook 70/30 and
//! 2σ (80/20 and 3σ) to keep the rate of findings useful.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::{Params, check_positive, check_window};
use super::rolling::{Bollinger, WilderRsi};
use super::{Detector, InvalidParams, Series, finding, ratio_score, round};
use crate::model::{Anomaly, AnomalyKind, Method, Score};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TechnicalParams {
    pub enabled: bool,
    pub rsi_period: usize,
    pub overbought: f64,
    pub oversold: f64,
    pub band_window: usize,
    pub band_k: f64,
}

impl Default for TechnicalParams {
    fn default() -> Self {
        Self {
            enabled: true,
            rsi_period: 14,
            overbought: 80.0,
            oversold: 20.0,
            band_window: 20,
            band_k: 3.0,
        }
    }
}

impl Params for TechnicalParams {
    const METHOD: Method = Method::Technical;
    fn validate(&self) -> Result<(), InvalidParams> {
        check_window(Self::METHOD, "rsi_period", self.rsi_period, 2)?;
        check_window(Self::METHOD, "band_window", self.band_window, 5)?;
        check_positive(Self::METHOD, "band_k", self.band_k)?;
        if !(self.overbought > 50.0 && self.overbought < 100.0) {
            return Err(InvalidParams::new(
                Self::METHOD,
                "overbought",
                "must lie strictly between 50 and 100",
            ));
        }
        if !(self.oversold > 0.0 && self.oversold < 50.0) {
            return Err(InvalidParams::new(
                Self::METHOD,
                "oversold",
                "must lie strictly between 0 and 50",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Technical {
    params: TechnicalParams,
}

impl Technical {
    pub fn new(params: TechnicalParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { params })
    }
}

impl Detector for Technical {
    fn method(&self) -> Method {
        Method::Technical
    }

    fn lookback(&self) -> usize {
        // Wilder's smoothing remembers far back; ten periods make the seed negligible.
        (self.params.rsi_period * 10).max(self.params.band_window)
    }

    fn detect(&self, series: &Series<'_>, from: usize) -> Vec<Anomaly> {
        let p = &self.params;
        let mut rsi = WilderRsi::new(p.rsi_period);
        let mut bands = Bollinger::new(p.band_window, p.band_k);
        let mut previous_rsi: Option<f64> = None;
        let mut found = Vec::new();
        for (i, &close) in series.close.iter().enumerate() {
            if !close.is_finite() {
                continue;
            }
            let current = rsi.push(close);
            let band = bands.push(close);
            if i < from {
                previous_rsi = current;
                continue;
            }
            if let (Some(before), Some(now)) = (previous_rsi, current) {
                let crossing = if before <= p.overbought && now > p.overbought {
                    Some((
                        AnomalyKind::Overbought,
                        (now - p.overbought) / (100.0 - p.overbought),
                        p.overbought,
                    ))
                } else if before >= p.oversold && now < p.oversold {
                    Some((
                        AnomalyKind::Oversold,
                        (p.oversold - now) / p.oversold,
                        p.oversold,
                    ))
                } else {
                    None
                };
                if let Some((kind, strength, level)) = crossing {
                    found.extend(finding(
                        series,
                        i,
                        Method::Technical,
                        kind,
                        Score::saturating(strength),
                        json!({
                            "rsi": round(now),
                            "previous_rsi": round(before),
                            "level": level,
                            "rsi_period": p.rsi_period,
                        }),
                    ));
                }
            }
            if let Some(b) = band
                && b.std > 0.0
                && (close > b.upper || close < b.lower)
            {
                let side = if close > b.upper { "upper" } else { "lower" };
                found.extend(finding(
                    series,
                    i,
                    Method::Technical,
                    AnomalyKind::BandBreach,
                    ratio_score((close - b.middle).abs() / (p.band_k * b.std)),
                    json!({
                        "close": round(close),
                        "side": side,
                        "middle": round(b.middle),
                        "upper": round(b.upper),
                        "lower": round(b.lower),
                        "band_k": p.band_k,
                        "band_window": p.band_window,
                    }),
                ));
            }
            previous_rsi = current;
        }
        found
    }
}
