//! The domain types every crate shares. Each is built by parsing at the boundary (HTTP
//! parameters, provider payloads, database rows, configuration), so code past that point can
//! rely on a value being valid without checking it again.

mod anomaly;
mod candle;
mod interval;
mod query_range;
mod symbol;
mod watch;

pub use anomaly::{Anomaly, AnomalyError, AnomalyKind, Method, Score, Severity};
pub use candle::{
    Candle, CandleError, CandleInput, CandleSource, Deduplicated, DuplicateRejection,
    EARLIEST_OPEN_TIME, FUTURE_TOLERANCE, Partitioned, partition_repeats, price_from_f64,
    reject_duplicates,
};
pub use interval::{Interval, IntervalError};
pub use query_range::{EARLIEST, LATEST};
pub use symbol::{Symbol, SymbolError};
pub use watch::{AssetClass, Provider, UnknownName, WatchedSymbol};
