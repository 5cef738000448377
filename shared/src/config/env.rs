//! A read-only view of environment variables, so settings can be parsed from a map in tests.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::ConfigError;

/// Environment variables as a map. Empty values count as unset: Terraform and shells often
/// write `FOO=` when they mean "no value".
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Arc<HashMap<String, String>>,
}

/// The process environment as first read: a function's `main` and the shared start-up both
/// ask for it, and copying every variable into a map is a few percent of a cold start's
/// instructions, so the second asker shares the first one's map.
static PROCESS: OnceLock<Arc<HashMap<String, String>>> = OnceLock::new();

impl Env {
    /// The process environment, read once per process (at cold start); later changes to the
    /// environment are not seen, as nothing of ours sets variables after start.
    pub fn process() -> Self {
        Self {
            vars: PROCESS
                .get_or_init(|| Arc::new(std::env::vars().collect()))
                .clone(),
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
        }
    }

    /// Returns a copy with `name` set, for tests and for local runs that fill in defaults
    /// (the process map itself is left as it is).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.vars).insert(name.to_owned(), value.to_owned());
        self
    }

    /// The trimmed value of `name`; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
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
    fn the_process_environment_is_read_once_and_a_copy_with_a_value_leaves_it_alone() {
        let first = Env::process();
        let second = Env::process();
        assert!(Arc::ptr_eq(&first.vars, &second.vars));
        let name = "TICKWATCH_ENV_TEST_ONLY_IN_THE_COPY";
        let changed = second.with(name, "x");
        assert_eq!(changed.get(name).as_deref(), Some("x"));
        assert_eq!(Env::process().get(name), None);
        assert_eq!(first.get(name), None);
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
