//! The build script of the function crates (`build = "../build.rs"`): links the Lambda
//! `bootstrap` position-dependent (see `functions/no-pie.rs`).

include!("no-pie.rs");

#[allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo through its standard output"
)]
fn main() {
    // Cargo reruns a build script whose source changed (the included file counts, through
    // rustc's dependency list); nothing else of the package concerns this one.
    println!("cargo::rerun-if-changed=../build.rs");
    link_position_dependent(NoPie::AllBins);
}
