//! Rolling statistics that move one candle at a time and depend only on the candles in their
//! window: exact integer sums for means and variances, a Fenwick tree over ranks for order
//! statistics (medians, quantiles, MADs, and the calibration's tail), and the price averages
//! the API draws. The reference tests compare them with values computed independently (see
//! `tests/reference/`).

mod averages;
mod exact;
mod order;

pub use averages::{Ema, Sma};
pub use exact::{ExactMoments, LIMIT, QUANTUM, quantise};
pub use order::{OrderWindow, RankIndex};
