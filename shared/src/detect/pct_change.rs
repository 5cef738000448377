//! Percentage change: how far the close moved from the previous stored close. The simplest
//! statistic, the one a person would check by hand; calibration decides how unusual a given
//! change is for this series (5 % is noise for a small coin and a crash for an index).

use super::config::{Params, switch_params};
use super::{Detector, Group, InvalidParams, Reading, Series};
use crate::model::Method;

switch_params!(
    /// The percentage change has nothing to set but whether it runs.
    PctChangeParams,
    Method::PctChange
);

/// The percentage change method, holding parameters that [`PctChange::new`] has validated.
#[derive(Debug, Clone)]
pub struct PctChange {
    _params: PctChangeParams,
}

impl PctChange {
    /// Fails with the first parameter out of range, named as in configuration.
    pub fn new(params: PctChangeParams) -> Result<Self, InvalidParams> {
        params.validate()?;
        Ok(Self { _params: params })
    }
}

impl Detector for PctChange {
    fn method(&self) -> Method {
        Method::PctChange
    }

    fn group(&self) -> Group {
        Group::Price
    }

    fn lookback(&self) -> usize {
        1
    }

    fn readings(&self, series: &Series<'_>) -> Vec<Option<Reading>> {
        series
            .log_return
            .iter()
            .map(|r| r.and_then(|r| Reading::signed(r.exp_m1())))
            .collect()
    }
}
