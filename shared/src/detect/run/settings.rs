//! The detector's settings: method parameters, calibration, events, and how many candles one
//! page reads.

use crate::config::{ConfigError, Env};
use crate::detect::DetectorConfig;

/// What the detector reads from its environment once per cold start.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Method, calibration and event parameters from `DETECTOR_*`; symbols may override them.
    pub config: DetectorConfig,
    /// Candles judged per transaction; a long backlog is worked through page by page. Any page
    /// size gives the same scores and events.
    pub page_size: usize,
}

impl Detection {
    /// Reads `DETECTOR_PAGE_SIZE` (default 5000) and the method parameters.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let page_size = env.parse_or("DETECTOR_PAGE_SIZE", 5_000usize)?;
        if !(10..=100_000).contains(&page_size) {
            return Err(ConfigError::Invalid {
                name: "DETECTOR_PAGE_SIZE",
                reason: format!("{page_size} must lie in 10..=100000"),
            });
        }
        let config = DetectorConfig::from_env(env)?;
        crate::detect::Scorer::new(&config).map_err(|e| ConfigError::Invalid {
            name: "DETECTOR_METHODS",
            reason: e.to_string(),
        })?;
        Ok(Self { config, page_size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_size_is_validated() {
        let err = Detection::from_env(&Env::from_pairs(&[("DETECTOR_PAGE_SIZE", "3")]))
            .expect_err("too small");
        assert_eq!(err.variable(), "DETECTOR_PAGE_SIZE");
        assert!(Detection::from_env(&Env::default()).is_ok());
    }
}
