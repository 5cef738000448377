//! Detector parameters: defaults, then the environment (`DETECTOR_<METHOD>_<PARAM>`,
//! `DETECTOR_CALIBRATION_<PARAM>`, `DETECTOR_EVENTS_<PARAM>`, and `DETECTOR_METHODS` to choose
//! the methods), then per-symbol overrides from the watch list's `detector_overrides` column,
//! e.g. `{"zscore": {"window": 50}, "events": {"threshold": 0.56}}`.
//!
//! Every layer is validated by the same code: a parameter that cannot be used is refused with
//! its name and the reason, at start-up for the environment and per symbol for overrides (a
//! bad override skips that symbol only).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::calibrate::CalibrationParams;
use super::events::EventParams;
use super::{
    ConditionalZ, ConditionalZParams, Detector, Iqr, IqrParams, IsolationForest,
    IsolationForestParams, MovingAverage, MovingAverageParams, MultiHorizon, MultiHorizonParams,
    PctChange, PctChangeParams, StaleFeed, StaleFeedParams, Technical, TechnicalParams,
    VarianceRatio, VarianceRatioParams, VolumeSpike, VolumeSpikeParams, ZScore, ZScoreParams,
};
use crate::config::variables::VARIABLES;
use crate::config::{ConfigError, Env};
use crate::model::Method;

/// A parameter the detector cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{scope}.{field}: {reason}")]
pub struct InvalidParams {
    /// The method (`zscore`) or section (`calibration`, `events`) the parameter belongs to.
    pub scope: &'static str,
    /// The parameter's name as written in variables and overrides, e.g. `window`.
    pub field: String,
    /// What is wrong with the value, with the accepted range where there is one.
    pub reason: String,
}

impl InvalidParams {
    pub(crate) fn new(scope: impl Scope, field: &str, reason: impl Into<String>) -> Self {
        Self {
            scope: scope.name(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a parameter belongs to: a method or a named section.
pub(crate) trait Scope {
    fn name(self) -> &'static str;
}

impl Scope for Method {
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Scope for &'static str {
    fn name(self) -> &'static str {
        self
    }
}

/// The parameters of one method: serialisable so layers merge as JSON, validated in one place.
pub(crate) trait Params: Serialize + DeserializeOwned + Default + Clone {
    const METHOD: Method;
    fn validate(&self) -> Result<(), InvalidParams>;
}

/// The parameters of a method with nothing to set but whether it runs: one definition for all of
/// them, so they parse, merge and validate alike (`{"enabled": false}`, nothing else).
macro_rules! switch_params {
    ($(#[$doc:meta])* $name:ident, $method:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether the method runs at all; `true` unless switched off.
            pub enabled: bool,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { enabled: true }
            }
        }

        impl $crate::detect::config::Params for $name {
            const METHOD: $crate::model::Method = $method;
            fn validate(&self) -> Result<(), $crate::detect::InvalidParams> {
                Ok(())
            }
        }
    };
}
pub(crate) use switch_params;

/// A section of parameters that is not a method (calibration, events).
pub(crate) trait Section: Serialize + DeserializeOwned + Default + Clone {
    const NAME: &'static str;
    fn check(&self) -> Result<(), InvalidParams>;
}

impl Section for CalibrationParams {
    const NAME: &'static str = "calibration";
    fn check(&self) -> Result<(), InvalidParams> {
        self.validate()
    }
}

impl Section for EventParams {
    const NAME: &'static str = "events";
    fn check(&self) -> Result<(), InvalidParams> {
        self.validate()
    }
}

/// Methods and sections alike: a name for variables and overrides, and a validation.
pub(crate) trait Layer: Serialize + DeserializeOwned + Default + Clone {
    fn layer_name() -> &'static str;
    fn check_layer(&self) -> Result<(), InvalidParams>;
}

impl<T: Params> Layer for T {
    fn layer_name() -> &'static str {
        T::METHOD.as_str()
    }
    fn check_layer(&self) -> Result<(), InvalidParams> {
        self.validate()
    }
}

/// Sections wrap in a newtype so they do not collide with the blanket method impl.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Sec<T>(pub T);

impl<T: Section> Layer for Sec<T> {
    fn layer_name() -> &'static str {
        T::NAME
    }
    fn check_layer(&self) -> Result<(), InvalidParams> {
        self.0.check()
    }
}

/// Checks shared by every method: a window long enough for statistics, a positive threshold.
pub(crate) fn check_window(
    method: impl Scope,
    field: &str,
    value: usize,
    min: usize,
) -> Result<(), InvalidParams> {
    if value < min || value > 100_000 {
        return Err(InvalidParams::new(
            method,
            field,
            format!("{value} must lie in {min}..=100000"),
        ));
    }
    Ok(())
}

/// Why a symbol's overrides were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    /// The column holds JSON that is not an object (an array, a number, a string).
    #[error("detector_overrides must be a JSON object keyed by method name")]
    NotAnObject,
    #[error("detector_overrides: unknown method or section {0:?}")]
    /// A key that names neither a method nor a section; the key as written.
    UnknownMethod(String),
    #[error("detector_overrides.{0}: must be an object of parameters")]
    /// A method or section whose value is not an object of parameters; its name.
    MethodNotAnObject(String),
    #[error("detector_overrides.{method}: {reason}")]
    /// The merged parameters do not deserialise (unknown field, wrong type).
    Unreadable {
        /// The method or section whose parameters failed to parse.
        method: &'static str,
        /// The deserialiser's message, naming the field.
        reason: String,
    },
    /// The parameters parse but a value is out of range.
    #[error("detector_overrides.{0}")]
    Invalid(InvalidParams),
}

/// The parameters of every method.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Close against the previous close (`DETECTOR_PCT_CHANGE_*`).
    pub pct_change: PctChangeParams,
    /// A log return against the mean and spread of the returns before it (`DETECTOR_ZSCORE_*`).
    pub zscore: ZScoreParams,
    /// A log return against the median and interquartile range before it (`DETECTOR_IQR_*`).
    pub iqr: IqrParams,
    /// A log return in units of the current (RiskMetrics) volatility (`DETECTOR_CONDITIONAL_Z_*`).
    pub conditional_z: ConditionalZParams,
    /// A move spread over 2, 3 or 6 candles (`DETECTOR_MULTI_HORIZON_*`).
    pub multi_horizon: MultiHorizonParams,
    /// A burst of volatility against the variance before it (`DETECTOR_VARIANCE_RATIO_*`).
    pub variance_ratio: VarianceRatioParams,
    /// Candles that random cuts isolate quickly (`DETECTOR_ISOLATION_FOREST_*`).
    pub isolation_forest: IsolationForestParams,
    /// The log close against its moving average (`DETECTOR_MOVING_AVERAGE_*`).
    pub moving_average: MovingAverageParams,
    /// Log volume against the median of the volumes before it (`DETECTOR_VOLUME_SPIKE_*`).
    pub volume_spike: VolumeSpikeParams,
    /// The close against its Bollinger bands, RSI as evidence (`DETECTOR_TECHNICAL_*`).
    pub technical: TechnicalParams,
    /// A run of untraded candles longer than the series makes likely (`DETECTOR_STALE_FEED_*`).
    pub stale_feed: StaleFeedParams,
    /// How raw method scores map to one comparable scale (`DETECTOR_CALIBRATION_*`).
    pub calibration: CalibrationParams,
    /// How scored candles group into reported events (`DETECTOR_EVENTS_*`).
    pub events: EventParams,
}

/// Parses an environment value: numbers and booleans as themselves, anything else as text.
fn env_value(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(raw.to_owned()),
    }
}

/// Applies `patch` to `current` and validates the result.
fn merge<T: Layer>(current: &T, patch: &Map<String, Value>) -> Result<T, String> {
    let mut json = serde_json::to_value(current).map_err(|e| e.to_string())?;
    if let Value::Object(fields) = &mut json {
        for (k, v) in patch {
            fields.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value::<T>(json).map_err(|e| e.to_string())
}

fn from_env_one<T: Layer>(env: &Env, current: &T) -> Result<T, ConfigError> {
    let prefix = format!("DETECTOR_{}_", T::layer_name().to_ascii_uppercase());
    let mut value = current.clone();
    let mut names = Vec::new();
    for variable in VARIABLES.iter().filter(|v| v.name.starts_with(&prefix)) {
        let Some(raw) = env.get(variable.name) else {
            continue;
        };
        let field = variable.name[prefix.len()..].to_ascii_lowercase();
        let mut patch = Map::new();
        patch.insert(field.clone(), env_value(&raw));
        value = merge(&value, &patch).map_err(|reason| ConfigError::Invalid {
            name: variable.name,
            reason,
        })?;
        names.push((field, variable.name));
    }
    value.check_layer().map_err(|e| {
        let name = names
            .iter()
            .find(|(field, _)| *field == e.field)
            .map_or("DETECTOR_METHODS", |(_, name)| *name);
        ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }
    })?;
    Ok(value)
}

fn override_one<T: Layer>(current: &T, patch: Option<&Value>) -> Result<T, OverrideError> {
    let Some(patch) = patch else {
        return Ok(current.clone());
    };
    let Value::Object(patch) = patch else {
        return Err(OverrideError::MethodNotAnObject(T::layer_name().to_owned()));
    };
    let value = merge(current, patch).map_err(|reason| OverrideError::Unreadable {
        method: T::layer_name(),
        reason,
    })?;
    value.check_layer().map_err(OverrideError::Invalid)?;
    Ok(value)
}

/// The override keys that are sections rather than methods.
const SECTIONS: [&str; 2] = ["calibration", "events"];

impl DetectorConfig {
    /// Reads `DETECTOR_METHODS` (a comma-separated list; all methods when unset) and every
    /// `DETECTOR_<METHOD>_<PARAM>` variable registered in `config::variables`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(list) = env.get("DETECTOR_METHODS") {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                chosen.push(Method::parse(name).map_err(|e| ConfigError::Invalid {
                    name: "DETECTOR_METHODS",
                    reason: e.to_string(),
                })?);
            }
            for method in Method::ALL {
                config.set_enabled(*method, chosen.contains(method));
            }
        }
        Ok(Self {
            pct_change: from_env_one(env, &config.pct_change)?,
            zscore: from_env_one(env, &config.zscore)?,
            iqr: from_env_one(env, &config.iqr)?,
            conditional_z: from_env_one(env, &config.conditional_z)?,
            multi_horizon: from_env_one(env, &config.multi_horizon)?,
            variance_ratio: from_env_one(env, &config.variance_ratio)?,
            isolation_forest: from_env_one(env, &config.isolation_forest)?,
            moving_average: from_env_one(env, &config.moving_average)?,
            volume_spike: from_env_one(env, &config.volume_spike)?,
            technical: from_env_one(env, &config.technical)?,
            stale_feed: from_env_one(env, &config.stale_feed)?,
            calibration: from_env_one(env, &Sec(config.calibration.clone()))?.0,
            events: from_env_one(env, &Sec(config.events.clone()))?.0,
        })
    }

    fn set_enabled(&mut self, method: Method, enabled: bool) {
        match method {
            Method::PctChange => self.pct_change.enabled = enabled,
            Method::ZScore => self.zscore.enabled = enabled,
            Method::Iqr => self.iqr.enabled = enabled,
            Method::ConditionalZ => self.conditional_z.enabled = enabled,
            Method::MultiHorizon => self.multi_horizon.enabled = enabled,
            Method::VarianceRatio => self.variance_ratio.enabled = enabled,
            Method::IsolationForest => self.isolation_forest.enabled = enabled,
            Method::MovingAverage => self.moving_average.enabled = enabled,
            Method::VolumeSpike => self.volume_spike.enabled = enabled,
            Method::Technical => self.technical.enabled = enabled,
            Method::StaleFeed => self.stale_feed.enabled = enabled,
        }
    }

    /// This configuration with one symbol's overrides applied (`{}` changes nothing).
    pub fn with_overrides(&self, overrides: &Value) -> Result<Self, OverrideError> {
        let Value::Object(map) = overrides else {
            return Err(OverrideError::NotAnObject);
        };
        if let Some(unknown) = map
            .keys()
            .find(|k| Method::parse(k).is_err() && !SECTIONS.contains(&k.as_str()))
        {
            return Err(OverrideError::UnknownMethod(
                unknown.chars().take(40).collect(),
            ));
        }
        let get = |m: Method| map.get(m.as_str());
        let section = |name: &str| map.get(name);
        Ok(Self {
            pct_change: override_one(&self.pct_change, get(Method::PctChange))?,
            zscore: override_one(&self.zscore, get(Method::ZScore))?,
            iqr: override_one(&self.iqr, get(Method::Iqr))?,
            conditional_z: override_one(&self.conditional_z, get(Method::ConditionalZ))?,
            multi_horizon: override_one(&self.multi_horizon, get(Method::MultiHorizon))?,
            variance_ratio: override_one(&self.variance_ratio, get(Method::VarianceRatio))?,
            isolation_forest: override_one(&self.isolation_forest, get(Method::IsolationForest))?,
            moving_average: override_one(&self.moving_average, get(Method::MovingAverage))?,
            volume_spike: override_one(&self.volume_spike, get(Method::VolumeSpike))?,
            technical: override_one(&self.technical, get(Method::Technical))?,
            stale_feed: override_one(&self.stale_feed, get(Method::StaleFeed))?,
            calibration: override_one(&Sec(self.calibration.clone()), section("calibration"))?.0,
            events: override_one(&Sec(self.events.clone()), section("events"))?.0,
        })
    }

    /// The enabled detectors, each constructed (and so validated) from its parameters.
    pub fn build(&self) -> Result<Vec<Box<dyn Detector>>, InvalidParams> {
        let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
        if self.pct_change.enabled {
            detectors.push(Box::new(PctChange::new(self.pct_change.clone())?));
        }
        if self.zscore.enabled {
            detectors.push(Box::new(ZScore::new(self.zscore.clone())?));
        }
        if self.iqr.enabled {
            detectors.push(Box::new(Iqr::new(self.iqr.clone())?));
        }
        if self.conditional_z.enabled {
            detectors.push(Box::new(ConditionalZ::new(self.conditional_z.clone())?));
        }
        if self.multi_horizon.enabled {
            detectors.push(Box::new(MultiHorizon::new(self.multi_horizon.clone())?));
        }
        if self.variance_ratio.enabled {
            detectors.push(Box::new(VarianceRatio::new(self.variance_ratio.clone())?));
        }
        if self.isolation_forest.enabled {
            detectors.push(Box::new(IsolationForest::new(
                self.isolation_forest.clone(),
            )?));
        }
        if self.moving_average.enabled {
            detectors.push(Box::new(MovingAverage::new(self.moving_average.clone())?));
        }
        if self.volume_spike.enabled {
            detectors.push(Box::new(VolumeSpike::new(self.volume_spike.clone())?));
        }
        if self.technical.enabled {
            detectors.push(Box::new(Technical::new(self.technical.clone())?));
        }
        if self.stale_feed.enabled {
            detectors.push(Box::new(StaleFeed::new(self.stale_feed.clone())?));
        }
        Ok(detectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_names<T: Serialize>(value: &T) -> Vec<String> {
        match serde_json::to_value(value).expect("serialisable") {
            Value::Object(map) => map.keys().filter(|k| *k != "enabled").cloned().collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_parameter_has_a_registered_environment_variable() {
        let c = DetectorConfig::default();
        let all = [
            (Method::PctChange, param_names(&c.pct_change)),
            (Method::ZScore, param_names(&c.zscore)),
            (Method::Iqr, param_names(&c.iqr)),
            (Method::ConditionalZ, param_names(&c.conditional_z)),
            (Method::MultiHorizon, param_names(&c.multi_horizon)),
            (Method::VarianceRatio, param_names(&c.variance_ratio)),
            (Method::IsolationForest, param_names(&c.isolation_forest)),
            (Method::MovingAverage, param_names(&c.moving_average)),
            (Method::VolumeSpike, param_names(&c.volume_spike)),
            (Method::Technical, param_names(&c.technical)),
            (Method::StaleFeed, param_names(&c.stale_feed)),
        ];
        for (method, fields) in all {
            for field in fields {
                let name = format!("DETECTOR_{}_{}", method.as_str(), field).to_ascii_uppercase();
                assert!(
                    VARIABLES.iter().any(|v| v.name == name),
                    "{name} is not in config/variables.rs"
                );
            }
        }
        for (section, fields) in [
            ("calibration", param_names(&Sec(c.calibration.clone()))),
            ("events", param_names(&Sec(c.events))),
        ] {
            for field in fields {
                let name = format!("DETECTOR_{section}_{field}").to_ascii_uppercase();
                assert!(
                    VARIABLES.iter().any(|v| v.name == name),
                    "{name} is not in config/variables.rs"
                );
            }
        }
    }

    #[test]
    fn the_defaults_are_valid_and_enable_every_method() {
        let built = DetectorConfig::from_env(&Env::default())
            .expect("defaults are valid")
            .build()
            .expect("defaults build");
        let methods: Vec<_> = built.iter().map(|d| d.method()).collect();
        assert_eq!(methods, Method::ALL);
    }

    #[test]
    fn environment_values_apply_and_bad_ones_name_their_variable() {
        let env = Env::from_pairs(&[
            ("DETECTOR_ZSCORE_WINDOW", "50"),
            ("DETECTOR_MOVING_AVERAGE_AVERAGE", "ema"),
            ("DETECTOR_EVENTS_THRESHOLD", "0.5"),
            ("DETECTOR_METHODS", "zscore, moving_average"),
        ]);
        let config = DetectorConfig::from_env(&env).expect("valid");
        assert_eq!(config.zscore.window, 50);
        assert_eq!(config.events.threshold, 0.5);
        assert!(!config.pct_change.enabled);
        assert_eq!(config.build().expect("builds").len(), 2);
        for (name, value) in [
            ("DETECTOR_EVENTS_THRESHOLD", "-1"),
            ("DETECTOR_CALIBRATION_WINDOW", "10"),
            ("DETECTOR_ZSCORE_WINDOW", "1.5"),
            ("DETECTOR_IQR_WINDOW", "1"),
            ("DETECTOR_MOVING_AVERAGE_AVERAGE", "wma"),
            ("DETECTOR_METHODS", "zscore,magic"),
        ] {
            let err = DetectorConfig::from_env(&Env::from_pairs(&[(name, value)]))
                .expect_err("should be refused");
            assert_eq!(err.variable(), name, "{err}");
        }
    }

    #[test]
    fn overrides_apply_per_method_and_bad_ones_are_explained() {
        let base = DetectorConfig::default();
        let tuned = base
            .with_overrides(&serde_json::json!({
                "zscore": {"window": 40}, "iqr": {"enabled": false}, "events": {"threshold": 0.6}
            }))
            .expect("valid overrides");
        assert_eq!(tuned.zscore.window, 40);
        assert_eq!(tuned.events.threshold, 0.6);
        assert!(!tuned.iqr.enabled);
        assert_eq!(tuned.pct_change, base.pct_change);
        for (bad, needle) in [
            (serde_json::json!([1]), "JSON object"),
            (serde_json::json!({"zscroe": {}}), "unknown method"),
            (serde_json::json!({"zscore": 4}), "object of parameters"),
            (serde_json::json!({"zscore": {"windw": 4}}), "windw"),
            (serde_json::json!({"zscore": {"window": "long"}}), "zscore"),
            (
                serde_json::json!({"zscore": {"window": 2}}),
                "zscore.window",
            ),
            (
                serde_json::json!({"events": {"threshold": 0}}),
                "events.threshold",
            ),
        ] {
            let err = base.with_overrides(&bad).expect_err("should be refused");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }
}
