//! The evaluation suite (filled in below).
