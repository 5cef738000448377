//! A read-only view of environment variables, so settings can be parsed from a map in tests.

use std::collections::HashMap;
use std::sync::Arc;

use super::ConfigError;

/// Environment variables as a map. Empty values count as unset: Terraform and shells often
/// write `FOO=` when they mean "no value".
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Values of this view itself: every value of a test's map, or a local run's defaults.
    vars: Arc<HashMap<String, String>>,
    /// Whether a name not in `vars` is looked up in the process environment.
    process: bool,
}

impl Env {
    /// The process environment. Each lookup reads the one variable it names: a start-up
    /// looks up a few dozen names, and copying every variable into a map first cost more
    /// (its allocations and hashing were about 4% of the api's cold start).
    pub fn process() -> Self {
        Self {
            vars: Arc::default(),
            process: true,
        }
    }

    /// A map of the given pairs, for tests: the process environment is never touched.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self {
            vars: Arc::new(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            process: false,
        }
    }

    /// Returns a copy with `name` set, for tests and for local runs that fill in defaults
    /// (the process environment itself is left as it is).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.vars).insert(name.to_owned(), value.to_owned());
        self
    }

    /// The trimmed value of `name`; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        let trimmed = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match self.vars.get(name) {
            Some(value) => trimmed(value),
            None if self.process => std::env::var(name).ok().and_then(|value| trimmed(&value)),
            None => None,
        }
    }

    /// The value of `name`, or [`ConfigError::Missing`] with `hint` when it is unset or blank.
    pub fn require(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// Parses `name` with `parse` when it is set; a parse failure names the variable.
    pub fn parse_with<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|value| parse(&value).map_err(|reason| ConfigError::Invalid { name, reason }))
            .transpose()
    }

    /// Parses `name` with [`std::str::FromStr`], falling back to `default` when unset.
    pub fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        Ok(self
            .parse_with(name, |v| v.parse::<T>().map_err(|e| format!("{v:?}: {e}")))?
            .unwrap_or(default))
    }

    /// A boolean written as true/false, 1/0 or yes/no.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        Ok(self
            .parse_with(name, |v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(format!("{v:?} is not true or false")),
            })?
            .unwrap_or(default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_unset() {
        let env = Env::from_pairs(&[("A", "  "), ("B", " x ")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B").as_deref(), Some("x"));
    }

    #[test]
    fn the_process_environment_is_seen_and_a_copy_with_a_value_leaves_it_alone() {
        let path = std::env::var("PATH").expect("tests run with a PATH");
        assert_eq!(Env::process().get("PATH").as_deref(), Some(path.trim()));
        let name = "TICKWATCH_ENV_TEST_ONLY_IN_THE_COPY";
        let changed = Env::process().with(name, "x").with("PATH", "/only/here");
        assert_eq!(changed.get(name).as_deref(), Some("x"));
        assert_eq!(changed.get("PATH").as_deref(), Some("/only/here"));
        assert_eq!(Env::process().get(name), None);
        assert_eq!(Env::process().get("PATH").as_deref(), Some(path.trim()));
        assert_eq!(Env::from_pairs(&[]).get("PATH"), None);
    }

    #[test]
    fn flags_accept_common_spellings_and_reject_others() {
        let env = Env::from_pairs(&[("T", "YES"), ("F", "0"), ("X", "maybe")]);
        assert!(env.flag("T", false).expect("valid"));
        assert!(!env.flag("F", true).expect("valid"));
        assert!(env.flag("UNSET", true).expect("default"));
        assert_eq!(env.flag("X", false).expect_err("invalid").variable(), "X");
    }
}
