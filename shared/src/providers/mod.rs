//! Price sources. Each source is one module; the synthetic one needs no network and is the
//! default for local runs, tests and benchmarks.

pub mod synthetic;
