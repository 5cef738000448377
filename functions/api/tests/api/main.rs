//! The API over a real PostgreSQL: in-process through `tower::ServiceExt::oneshot`, and over a
//! real socket. Every route's happy path and each of its error paths. Run with `make test`.

mod anomalies;
mod browser;
mod collect;
mod corrections;
mod faults;
mod helpers;
mod import;
mod lambda;
mod operations;
mod plans;
mod prices;
mod round_trips;
mod server;
mod socket;
mod symbols;
mod web;
