// The one place that links a Lambda `bootstrap` position-dependent on Linux, `include!`d by
// every build script that links one: the functions' (`functions/build.rs`), the api's
// (`functions/api/build.rs`, beside its assets) and the local crate's, for the start-up
// benchmark's hello-world Lambda (`local/build.rs`), so it is compared with the functions
// linked the same way.
//
// Why: a position-independent executable carries a relative relocation for every pointer in
// its static data (tracing's call-site metadata, string tables, vtables), and the dynamic
// loader patches each one before `main`: tens of thousands of them, about a fifth of a cold
// start's instructions. Linked at a fixed address, the linker resolves them instead and the
// binary loses its relocation table too. The cost is ASLR for the executable's own image
// (shared libraries, stack and heap are still randomised); see docs/performance.md.
// `scripts/check-release.sh` fails when a release bootstrap is not ELF type EXEC.

/// Which binaries of the crate being built are linked position-dependent.
#[allow(
    dead_code,
    reason = "each build script that includes this file names the binaries its own way"
)]
#[derive(Clone, Copy)]
enum NoPie {
    /// Every binary of the crate (a function's `bootstrap`).
    AllBins,
    /// Only the named binary (the crate's other binaries stay as the toolchain links them).
    Bin(&'static str),
}

/// Tells cargo to link the binaries `which` names with `-no-pie` when the target is Linux.
#[allow(
    clippy::print_stdout,
    reason = "a build script speaks to cargo through its standard output"
)]
fn link_position_dependent(which: NoPie) {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    match which {
        NoPie::AllBins => println!("cargo::rustc-link-arg-bins=-no-pie"),
        NoPie::Bin(name) => println!("cargo::rustc-link-arg-bin={name}=-no-pie"),
    }
}
