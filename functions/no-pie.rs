//! The build script of the function crates (`build = "../no-pie.rs"`; the api's own build.rs
//! does the same beside its assets): each Lambda `bootstrap` is linked as a position-dependent
//! executable on Linux.
//!
//! Why: a position-independent executable carries a relative relocation for every pointer
//! in its static data (tracing's call-site metadata, string tables, vtables), and the dynamic
//! loader patches each one before `main`: tens of thousands of them, about a fifth of a
//! cold start's instructions. Linked at a fixed address, the linker resolves them instead and
//! the binary loses its relocation table too. The cost is ASLR for the executable's own image
//! (shared libraries, stack and heap are still randomised); see the README's Benchmarks.
#[allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo through its standard output"
)]
fn main() {
    println!("cargo:rerun-if-changed=../no-pie.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
