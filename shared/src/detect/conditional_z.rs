//! Conditional z-score: a return in units of the series' *current* volatility (the RiskMetrics
//! filter of [`volatility`](super::volatility)), so a move is judged against how the market has
//! been moving in the last few dozen candles and not against a long average that a calm week
//! and a wild week share. A return across a gap is judged against the current σ widened by the
//! series' own gap factor.

use super::config::{Params, switch_params};
use super::{Detector, Group, InvalidParams, Reading, Series, volatility};
use crate::model::Method;

switch_params!(
    /// The conditional z-score has nothing to set but whether it runs.
    ConditionalZParams,
    Method::ConditionalZ
);

/// The conditional z-score method, holding parameters that [`ConditionalZ::new`] has validated.
#[derive(Debug, Clone)]
pub struct ConditionalZ {
    _params: ConditionalZParams,
}

impl ConditionalZ {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: ConditionalZParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { _params: params })
    }
}

impl Detector for ConditionalZ {
    fn method(&self) -> Method {
        Method::ConditionalZ
    }

    fn group(&self) -> Group {
        Group::Price
    }

    fn lookback(&self) -> usize {
        volatility::LOOKBACK
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        series
            .conditional()
            .z
            .iter()
            .map(|z| z.and_then(Reading::signed))
            .collect()
    }
}
