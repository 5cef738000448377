//! Rolling statistics that move one candle at a time and depend only on the candles in their
//! window: exact integer sums for means and variances, Fenwick trees over ranks for order
//! statistics and for the calibration tail. The reference tests compare them with values
//! computed independently (see `tests/reference/`).

mod exact;
mod order;
mod tail;

pub use exact::{ExactMoments, LIMIT, QUANTUM, quantise};
pub use order::{OrderWindow, RankIndex};
pub use tail::{STAT_LIMIT, STAT_QUANTUM, StatIndex, TailWindow, quantise_stat};
