//! Integration tests, compiled as one binary: each module talks to the real services that
//! `make test` starts (PostgreSQL, LocalStack).

// Tests report what they skip on stderr, which the test runner shows.
#![allow(clippy::print_stderr)]

mod collector;
mod collector_db;
mod collector_exchanges;
mod collector_sources;
mod database;
mod detector;
mod events;
mod faults;
mod gaps;
mod metrics;
mod metrics_terraform;
mod migrations;
mod notify;
mod roles;
mod secrets;
mod store;
mod symbol_integrity;
mod tls;
