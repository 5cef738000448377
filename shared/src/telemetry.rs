//! Logging setup: JSON lines on Lambda (each line carries the invocation's request id through
//! the runtime's span), readable text at a terminal, filtered by `RUST_LOG`.
//!
//! The filter is tracing-subscriber's [`Targets`] (`info`, `info,tickwatch=debug`,
//! `warn,tickwatch::db=trace`: a default level and levels per module path) rather than its
//! `EnvFilter`: `EnvFilter`'s span and field-value directives need a regex engine, which was
//! about 440 KiB of every function's package for directives no deployment sets.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;

/// The filter without `RUST_LOG`: every target at `info`.
pub fn default_filter() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

/// Parses a `RUST_LOG` value: comma-separated directives, each a level (the default), a
/// target (everything under it), or `target=level`. Blanks around the commas are ignored.
/// `EnvFilter`'s span and field directives (`target[span{field=value}]=level`) are refused,
/// not read as a target name that never matches.
pub fn parse_filter(value: &str) -> Result<Targets, String> {
    const EXPECTED: &str =
        "expected comma-separated directives such as info or warn,tickwatch=debug";
    if value.contains(['[', '{']) {
        return Err(format!(
            "{value:?}: span and field filters are not supported; {EXPECTED}"
        ));
    }
    let directives: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    if directives.is_empty() {
        return Ok(default_filter());
    }
    directives
        .join(",")
        .parse()
        .map_err(|error| format!("{value:?}: {error}; {EXPECTED}"))
}

/// Installs the global subscriber with `filter` (see [`crate::config::Observability`], which
/// reads it from `RUST_LOG`). Calling it twice is harmless: the second call is ignored, which
/// keeps tests that share a process quiet.
pub fn init(format: LogFormat, filter: Targets) {
    let builder = tracing_subscriber::fmt().with_target(true);
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(filter)
            .try_init(),
        LogFormat::Pretty => builder.compact().finish().with(filter).try_init(),
    };
}

/// An error and the causes its own message does not already tell, joined with `: `: how a
/// log line or an exit message renders a chain. Many of our errors put their cause's text in
/// their own message (a line logged with `%error` then still says why), so printing every
/// link, as anyhow's `{:#}` does, would say the same thing twice.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Link {
        text: &'static str,
        #[source]
        cause: Option<Box<Link>>,
    }

    fn link(text: &'static str, cause: Option<Link>) -> Link {
        Link {
            text,
            cause: cause.map(Box::new),
        }
    }

    #[test]
    fn a_chain_tells_each_cause_once() {
        // A message that already carries its cause's text (DbError::Query does).
        let told = link(
            "database query failed: db error: ERROR: no such table",
            Some(link("db error", Some(link("ERROR: no such table", None)))),
        );
        assert_eq!(
            error_chain(&told),
            "database query failed: db error: ERROR: no such table"
        );
        let untold = link(
            "storing a batch",
            Some(link("the database did not answer", None)),
        );
        assert_eq!(
            error_chain(&untold),
            "storing a batch: the database did not answer"
        );
        assert_eq!(
            format!("{:#}", anyhow::Error::new(told))
                .matches("no such table")
                .count(),
            2,
            "what anyhow prints"
        );
    }

    #[test]
    fn the_default_is_info_everywhere() {
        let filter = default_filter();
        assert!(filter.would_enable("tickwatch::db", &Level::INFO));
        assert!(filter.would_enable("hyper", &Level::WARN));
        assert!(!filter.would_enable("tickwatch::db", &Level::DEBUG));
        assert!(
            parse_filter(" , ")
                .expect("blank")
                .would_enable("hyper", &Level::INFO)
        );
    }

    #[test]
    fn directives_set_a_default_level_and_levels_per_module_path() {
        let filter = parse_filter("info, tickwatch=debug").expect("valid");
        assert!(filter.would_enable("tickwatch::db::schema", &Level::DEBUG));
        assert!(!filter.would_enable("tickwatch::db::schema", &Level::TRACE));
        assert!(filter.would_enable("hyper", &Level::INFO));
        assert!(!filter.would_enable("hyper", &Level::DEBUG));
        let quiet = parse_filter("warn,tickwatch::detect=off").expect("valid");
        assert!(quiet.would_enable("tickwatch::db", &Level::WARN));
        assert!(!quiet.would_enable("tickwatch::db", &Level::INFO));
        assert!(!quiet.would_enable("tickwatch::detect::run", &Level::ERROR));
        let only = parse_filter("tickwatch=trace").expect("valid");
        assert!(only.would_enable("tickwatch", &Level::TRACE));
        assert!(!only.would_enable("hyper", &Level::ERROR));
    }

    #[test]
    fn malformed_directives_are_refused_quoting_the_value_with_an_example() {
        for bad in [
            "tickwatch=loud",
            "info,tickwatch=debug=trace",
            "tickwatch[span{id=1}]=debug",
            "tickwatch[request]=debug",
        ] {
            let error = parse_filter(bad).expect_err(bad);
            assert!(error.starts_with(&format!("{bad:?}: ")), "{error}");
            assert!(error.contains("warn,tickwatch=debug"), "{error}");
        }
    }
}
