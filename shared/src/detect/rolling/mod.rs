//! Rolling statistics that move one value at a time: each push costs O(1) or O(log n), and no
//! window is ever summed or sorted again from scratch. The detectors are built on these, and
//! the reference tests compare every one of them with values computed independently (see
//! `tests/reference/`).

mod averages;
mod indicators;
mod moments;
mod order;

pub use averages::{Ema, Sma};
pub use indicators::{Bollinger, BollingerBands, WilderRsi};
pub use moments::RollingMoments;
pub use order::{OrderWindow, RankIndex};

#[cfg(test)]
mod reference_tests;
