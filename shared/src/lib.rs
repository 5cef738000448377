//! tickwatch: the library behind the collector, detector and api Lambdas.
//!
//! The Lambda binaries only wire things up; everything they do lives here, where it can be
//! tested against a real PostgreSQL and real HTTP servers on loopback.

// Every public item is documented: the library is what functions, the local runner, tests
// and benches build on, and its docs are where a reader learns why a thing is as it is.
#![warn(missing_docs)]

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
/// Builds without the AWS SDK (no `aws` feature) keep the same handle, which never loads
/// anything: the code that would use it is compiled out.
#[cfg(not(feature = "aws"))]
#[path = "aws_absent.rs"]
pub mod aws;
pub mod collect;
pub mod config;
pub mod db;
pub mod detect;
pub mod error;
pub mod import;
pub mod metrics;
pub mod model;
pub mod net;
pub mod notify;
pub mod providers;
pub mod startup;
pub mod telemetry;
