//! Database settings: where the credentials come from, TLS, and pool sizing.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, Env, millis};

/// Where the database credentials come from. Exactly one source is chosen, in this order of
/// precedence: `DATABASE_URL`, `DB_SECRET_ARN`, `DB_IAM_AUTH=true`.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A libpq-style URL or key/value string, typical for local runs.
    Url(SecretString),
    /// A Secrets Manager secret in the JSON shape RDS writes (`username`, `password`, and
    /// optionally `host`, `port`, `dbname`); the `DB_*` variables fill in what it lacks,
    /// because the secret RDS manages for a master user holds only the username and password.
    Secret {
        /// `DB_SECRET_ARN`; read once per cold start.
        arn: String,
        /// `DB_HOST`, used when the secret holds no host.
        host: Option<String>,
        /// `DB_PORT`, used when the secret holds no port.
        port: Option<u16>,
        /// `DB_NAME`, used when the secret holds no database name.
        dbname: Option<String>,
    },
    /// A short-lived RDS IAM authentication token, signed for each new connection.
    IamAuth {
        /// `DB_HOST`: the RDS instance or proxy endpoint the token is signed for.
        host: String,
        /// `DB_PORT`, 5432 by default.
        port: u16,
        /// `DB_NAME`.
        dbname: String,
        /// `DB_USER`: a database role granted `rds_iam`.
        user: String,
    },
}

/// How the connection is protected, named as libpq names the same choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP; only for a database on the same host.
    Disable,
    /// Encrypted, but the server's certificate is not checked.
    Require,
    /// Encrypted, and the certificate must chain to the CA bundle and name the host.
    VerifyFull,
}

impl TlsMode {
    /// The libpq name (`disable`, `require`, `verify-full`), as `DB_TLS` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Require => "require",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// How to reach PostgreSQL and how many connections to keep, read from the `DB_*` variables.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Where the login comes from; see [`Credentials`] for the precedence.
    pub credentials: Credentials,
    /// `DB_TLS`: by default `disable` with a URL, `verify-full` with a secret or IAM login.
    pub tls: TlsMode,
    /// PEM bundle of trusted CAs for `verify-full` (the RDS global bundle in the cloud). Without
    /// it the public web roots are used, which is right for RDS Proxy but not for RDS itself.
    pub ca_file: Option<PathBuf>,
    /// Connections per function instance. Keep it small: Lambda multiplies it by concurrency.
    pub pool_size: usize,
    /// Of those, how many are shared by concurrent one-statement reads, which pipeline on
    /// them (see `db::lanes`); always fewer than `pool_size`, so writes keep connections.
    pub read_lanes: usize,
    /// How long opening a connection may take (TCP, TLS and startup).
    pub connect_timeout: Duration,
    /// How long a caller waits for a pooled connection when all are busy.
    pub pool_wait_timeout: Duration,
    /// The server cancels a statement running longer than this; a connection whose server
    /// answers nothing for this long plus a second is given up by the client.
    pub statement_timeout: Duration,
    /// Whether this process applies pending migrations on first use (`DB_MIGRATE`); otherwise
    /// it only checks the schema version. On by default in builds with the `migrations`
    /// feature (local runs, tests); off, and refused when asked for, in builds without it
    /// (every cloud function but the migrator, whose roles may not run DDL anyway).
    pub migrate: bool,
}

/// At most this many read lanes unless `DB_READ_LANES` says otherwise: a few pipelined
/// connections keep the database's cores busy; more only add backends to wake (measured with
/// `make bench-api`: 2–8 lanes beat 0, 1 and 16 at 32 concurrent requests).
pub const DEFAULT_READ_LANES_MAX: usize = 4;

/// Every statement's deadline unless `DB_STATEMENT_TIMEOUT_MS` says otherwise: the API's
/// queries take milliseconds, and a collector batch or a detector page well under a second.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_TIMEOUT_MIN: Duration = Duration::from_millis(100);
const STATEMENT_TIMEOUT_MAX: Duration = Duration::from_secs(600);

const URL_HINT: &str =
    "set DATABASE_URL, or DB_SECRET_ARN, or DB_IAM_AUTH=true with DB_HOST, DB_NAME and DB_USER";

impl DatabaseSettings {
    /// Reads the `DATABASE_URL`/`DB_*` variables from `env`; fails naming the first bad or missing one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let port = env.parse_with("DB_PORT", |v| {
            v.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{v:?} is not a TCP port"))
        })?;
        let credentials = if let Some(url) = env.get("DATABASE_URL") {
            url.parse::<tokio_postgres::Config>()
                .map_err(|_| ConfigError::Invalid {
                    name: "DATABASE_URL",
                    // The parser's message may quote the URL, and the URL holds the password.
                    reason: "not a valid postgres:// URL or key=value connection string".to_owned(),
                })?;
            Credentials::Url(SecretString::from(url))
        } else if let Some(arn) = env.get("DB_SECRET_ARN") {
            if !arn.starts_with("arn:") {
                return Err(ConfigError::Invalid {
                    name: "DB_SECRET_ARN",
                    reason: format!("{arn:?} is not an ARN"),
                });
            }
            Credentials::Secret {
                arn,
                host: env.get("DB_HOST"),
                port,
                dbname: env.get("DB_NAME"),
            }
        } else if env.flag("DB_IAM_AUTH", false)? {
            Credentials::IamAuth {
                host: env.require("DB_HOST", "DB_IAM_AUTH needs the database host")?,
                port: port.unwrap_or(5432),
                dbname: env.require("DB_NAME", "DB_IAM_AUTH needs the database name")?,
                user: env.require("DB_USER", "DB_IAM_AUTH needs the database user")?,
            }
        } else {
            return Err(ConfigError::Missing {
                name: "DATABASE_URL",
                hint: URL_HINT,
            });
        };
        let tls = env
            .parse_with("DB_TLS", |v| match v {
                "disable" => Ok(TlsMode::Disable),
                "require" => Ok(TlsMode::Require),
                "verify-full" => Ok(TlsMode::VerifyFull),
                _ => Err(format!("{v:?}: expected disable, require or verify-full")),
            })?
            // A URL names its own host, usually a local one; the cloud paths always use TLS.
            .unwrap_or(match credentials {
                Credentials::Url(_) => TlsMode::Disable,
                _ => TlsMode::VerifyFull,
            });
        let ca_file = env.get("DB_TLS_CA_FILE").map(PathBuf::from);
        if let Some(path) = &ca_file
            && !path.is_file()
        {
            return Err(ConfigError::Invalid {
                name: "DB_TLS_CA_FILE",
                reason: format!("{} is not a readable file", path.display()),
            });
        }
        let pool_size = env
            .parse_with("DB_POOL_SIZE", |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("{v:?}: expected a whole number from 1 to 64"))
            })?
            .unwrap_or(2);
        let read_lanes = env
            .parse_with("DB_READ_LANES", |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| *n < pool_size)
                    .ok_or_else(|| {
                        format!("{v:?}: expected a whole number below DB_POOL_SIZE ({pool_size})")
                    })
            })?
            .unwrap_or((pool_size / 2).min(DEFAULT_READ_LANES_MAX));
        let connect_timeout = env
            .parse_with("DB_CONNECT_TIMEOUT_MS", millis)?
            .unwrap_or(Duration::from_secs(5));
        let pool_wait_timeout = env
            .parse_with("DB_POOL_WAIT_MS", millis)?
            .unwrap_or(Duration::from_secs(5));
        let statement_timeout = env
            .parse_with("DB_STATEMENT_TIMEOUT_MS", |v| {
                millis(v).and_then(|d| {
                    if (STATEMENT_TIMEOUT_MIN..=STATEMENT_TIMEOUT_MAX).contains(&d) {
                        Ok(d)
                    } else {
                        Err(format!(
                            "{v:?}: expected {} to {} milliseconds",
                            STATEMENT_TIMEOUT_MIN.as_millis(),
                            STATEMENT_TIMEOUT_MAX.as_millis()
                        ))
                    }
                })
            })?
            .unwrap_or(DEFAULT_STATEMENT_TIMEOUT);
        Ok(Self {
            credentials,
            tls,
            ca_file,
            pool_size,
            read_lanes,
            connect_timeout,
            pool_wait_timeout,
            statement_timeout,
            migrate: migrate_setting(env, cfg!(feature = "migrations"))?,
        })
    }
}

/// `DB_MIGRATE`, given whether this build can migrate: by default it does when it can, and a
/// build without the `migrations` feature refuses `DB_MIGRATE=true` at start rather than
/// quietly only checking the schema.
fn migrate_setting(env: &Env, built_in: bool) -> Result<bool, ConfigError> {
    let migrate = env.flag("DB_MIGRATE", built_in)?;
    if migrate && !built_in {
        return Err(ConfigError::NotBuiltIn {
            name: "DB_MIGRATE",
            feature: "migrations",
        });
    }
    Ok(migrate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_credentials_at_all_names_database_url_and_the_alternatives() {
        let err = DatabaseSettings::from_env(&Env::default()).expect_err("no credentials");
        assert_eq!(err.variable(), "DATABASE_URL");
        assert!(err.to_string().contains("DB_SECRET_ARN"), "{err}");
    }

    #[test]
    fn iam_auth_names_each_missing_variable() {
        let base = Env::from_pairs(&[("DB_IAM_AUTH", "true")]);
        let err = DatabaseSettings::from_env(&base).expect_err("no host");
        assert_eq!(err.variable(), "DB_HOST");
        let err = DatabaseSettings::from_env(&base.clone().with("DB_HOST", "db.internal"))
            .expect_err("no name");
        assert_eq!(err.variable(), "DB_NAME");
        let err = DatabaseSettings::from_env(
            &base
                .with("DB_HOST", "db.internal")
                .with("DB_NAME", "tickwatch"),
        )
        .expect_err("no user");
        assert_eq!(err.variable(), "DB_USER");
    }

    #[test]
    fn a_malformed_url_is_rejected_without_echoing_it() {
        let env = Env::from_pairs(&[("DATABASE_URL", "postgres://user:hunter2@host:notaport/db")]);
        let err = DatabaseSettings::from_env(&env).expect_err("bad url");
        assert_eq!(err.variable(), "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_secret_arn_is_checked_and_defaults_to_verified_tls() {
        let bad = Env::from_pairs(&[("DB_SECRET_ARN", "my-secret")]);
        assert_eq!(
            DatabaseSettings::from_env(&bad)
                .expect_err("not an arn")
                .variable(),
            "DB_SECRET_ARN"
        );
        let good = Env::from_pairs(&[
            (
                "DB_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            ),
            ("DB_HOST", "db.internal"),
        ]);
        let settings = DatabaseSettings::from_env(&good).expect("valid");
        assert_eq!(settings.tls, TlsMode::VerifyFull);
        assert!(matches!(
            settings.credentials,
            Credentials::Secret { host: Some(_), .. }
        ));
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let env = Env::from_pairs(&[("DATABASE_URL", "postgres://app:hunter2@localhost/db")]);
        let settings = DatabaseSettings::from_env(&env).expect("valid");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }

    #[test]
    fn deadlines_default_and_are_bounded() {
        let url = ("DATABASE_URL", "postgres://localhost/db");
        let settings = DatabaseSettings::from_env(&Env::from_pairs(&[url])).expect("valid");
        assert_eq!(settings.statement_timeout, DEFAULT_STATEMENT_TIMEOUT);
        assert_eq!(settings.pool_wait_timeout, Duration::from_secs(5));
        let set = DatabaseSettings::from_env(&Env::from_pairs(&[
            url,
            ("DB_STATEMENT_TIMEOUT_MS", "250"),
            ("DB_POOL_WAIT_MS", "100"),
        ]))
        .expect("valid");
        assert_eq!(set.statement_timeout, Duration::from_millis(250));
        assert_eq!(set.pool_wait_timeout, Duration::from_millis(100));
        for bad in ["0", "50", "600001", "soon"] {
            let err = DatabaseSettings::from_env(&Env::from_pairs(&[
                url,
                ("DB_STATEMENT_TIMEOUT_MS", bad),
            ]))
            .expect_err("refused");
            assert_eq!(err.variable(), "DB_STATEMENT_TIMEOUT_MS", "{bad}");
        }
    }

    #[test]
    fn read_lanes_default_to_half_the_pool_up_to_four_and_always_leave_connections_for_writes() {
        let url = ("DATABASE_URL", "postgres://localhost/db");
        let lanes = |pairs: &[(&str, &str)]| {
            let mut all = vec![url];
            all.extend_from_slice(pairs);
            DatabaseSettings::from_env(&Env::from_pairs(&all)).map(|s| (s.pool_size, s.read_lanes))
        };
        assert_eq!(lanes(&[]).expect("valid"), (2, 1));
        assert_eq!(lanes(&[("DB_POOL_SIZE", "1")]).expect("valid"), (1, 0));
        assert_eq!(lanes(&[("DB_POOL_SIZE", "6")]).expect("valid"), (6, 3));
        assert_eq!(lanes(&[("DB_POOL_SIZE", "32")]).expect("valid"), (32, 4));
        assert_eq!(
            lanes(&[("DB_POOL_SIZE", "32"), ("DB_READ_LANES", "4")]).expect("valid"),
            (32, 4)
        );
        assert_eq!(lanes(&[("DB_READ_LANES", "0")]).expect("valid"), (2, 0));
        for bad in ["2", "3", "-1", "many"] {
            let err = lanes(&[("DB_READ_LANES", bad)]).expect_err("refused");
            assert_eq!(err.variable(), "DB_READ_LANES", "{bad}");
            assert!(err.to_string().contains("below DB_POOL_SIZE (2)"), "{err}");
        }
    }

    #[test]
    fn db_migrate_defaults_to_what_the_build_can_do_and_is_refused_where_it_cannot() {
        let unset = Env::default();
        assert!(migrate_setting(&unset, true).expect("valid"));
        assert!(!migrate_setting(&unset, false).expect("valid"));
        let off = Env::from_pairs(&[("DB_MIGRATE", "false")]);
        assert!(!migrate_setting(&off, true).expect("valid"));
        assert!(!migrate_setting(&off, false).expect("valid"));
        let on = Env::from_pairs(&[("DB_MIGRATE", "true")]);
        assert!(migrate_setting(&on, true).expect("valid"));
        let refused = migrate_setting(&on, false).expect_err("refused");
        assert_eq!(refused.variable(), "DB_MIGRATE");
        assert_eq!(
            refused.to_string(),
            "DB_MIGRATE needs the `migrations` feature of the tickwatch crate, which this function is built without"
        );
        let bad = Env::from_pairs(&[("DB_MIGRATE", "sometimes")]);
        assert_eq!(
            migrate_setting(&bad, false).expect_err("bad").variable(),
            "DB_MIGRATE"
        );
    }

    #[test]
    fn a_missing_ca_file_is_reported() {
        let env = Env::from_pairs(&[
            ("DATABASE_URL", "postgres://localhost/db"),
            ("DB_TLS_CA_FILE", "/nonexistent/rds-global-bundle.pem"),
        ]);
        let err = DatabaseSettings::from_env(&env).expect_err("missing file");
        assert_eq!(err.variable(), "DB_TLS_CA_FILE");
    }
}
