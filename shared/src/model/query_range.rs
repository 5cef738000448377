//! The instants a query may name. A caller that leaves a bound open gets these, and a bound
//! outside them is clamped, so every layer (API parameters, the database's queries) agrees on
//! one range inside both PostgreSQL's and chrono's.

use chrono::{DateTime, Utc};

/// The earliest instant a query may reach: 0001-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = match DateTime::from_timestamp(-62_135_596_800, 0) {
    Some(t) => t,
    None => panic!("0001-01-01 is representable"),
};

/// The latest instant a query may reach: 9999-12-31T23:59:59Z.
pub const LATEST: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => panic!("9999-12-31 is representable"),
};
