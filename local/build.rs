//! Links the start-up benchmark's hello-world Lambda (`hello-lambda`) position-dependent, like
//! every function (see `functions/no-pie.rs`), so `make bench-startup` compares our start-up
//! work with a hello-world's rather than two ways of linking: a position-independent baseline
//! pays the dynamic loader's relocations, which the functions no longer do. The other
//! binaries of this crate (the local runner, the importer, the benchmark runner) stay as the
//! toolchain links them.

include!("../functions/no-pie.rs");

#[allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo through its standard output"
)]
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    link_position_dependent(NoPie::Bin("hello-lambda"));
}
