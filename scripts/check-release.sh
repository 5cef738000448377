#!/usr/bin/env bash
# The release build of every function, checked as Lambda will run it: for each architecture
# given (default x86_64; `scripts/check-release.sh arm64 x86_64` for both) it builds
# target/lambda/<fn>/bootstrap.zip with cargo-lambda, then checks that the zip exists, holds an
# executable `bootstrap` for that architecture, and that the binary needs no glibc symbol newer
# than Amazon Linux 2023's 2.34, and that it is linked position-dependent (ELF type EXEC; see
# functions/no-pie.rs), so a toolchain or linker change that brings PIE back fails here rather
# than silently adding the dynamic loader's relocations to every cold start; and that the zip
# is within its size limit: 3 MiB (3,145,728 bytes), the package size issue 13 set, since
# Lambda downloads and unpacks every byte of it at each cold start. Prints each zip's size.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/lambda.sh

GLIBC_CEILING="2.34"
# The largest zip a function may have, in bytes: 3 MiB, the aim of issue 13.
ZIP_LIMIT=3145728

command -v readelf >/dev/null || die "readelf not found: install binutils (apt-get install binutils)"
command -v unzip >/dev/null || die "unzip not found: install it (apt-get install unzip)"
ensure_cargo_lambda

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64)
work="$(mktemp -d /tmp/tickwatch-release.XXXXXX)"
trap 'rm -rf "$work"' EXIT

failed=0
for arch in "${archs[@]}"; do
    started=$(date +%s)
    lambda_build "$arch"
    say "built for $arch in $(( $(date +%s) - started )) s"
    case "$arch" in
        x86_64) machine="X86-64" ;;
        arm64) machine="AArch64" ;;
    esac
    for fn in $(lambda_functions); do
        zip="target/lambda/$fn/bootstrap.zip"
        if [ ! -f "$zip" ]; then echo "FAIL $fn ($arch): $zip was not written"; failed=1; continue; fi
        rm -rf "${work:?}/$fn" && mkdir -p "$work/$fn"
        unzip -q "$zip" -d "$work/$fn"
        bin="$work/$fn/bootstrap"
        if [ ! -f "$bin" ]; then echo "FAIL $fn ($arch): $zip holds no bootstrap"; failed=1; continue; fi
        if [ ! -x "$bin" ]; then echo "FAIL $fn ($arch): bootstrap is not executable"; failed=1; continue; fi
        if ! readelf -h "$bin" | grep -q "Machine:.*$machine"; then
            echo "FAIL $fn ($arch): bootstrap is not an $machine binary"; failed=1; continue
        fi
        # A position-independent executable is ELF type DYN; a position-dependent one EXEC.
        elf_type="$(readelf -h "$bin" | awk '$1 == "Type:" {print $2}')"
        if [ "$elf_type" != EXEC ]; then
            echo "FAIL $fn ($arch): bootstrap is ELF type ${elf_type:-unknown}, not EXEC: it was linked position-independent (see functions/no-pie.rs)"
            failed=1; continue
        fi
        # The newest GLIBC_x.y version the binary asks the dynamic linker for.
        newest="$(readelf --version-info --wide "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V -u | tail -1)"
        newest="${newest:-none}"
        if [ "$newest" != none ] && [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_CEILING" | sort -V | tail -1)" != "$GLIBC_CEILING" ]; then
            echo "FAIL $fn ($arch): bootstrap needs GLIBC_$newest, newer than Amazon Linux 2023's $GLIBC_CEILING"
            failed=1; continue
        fi
        zip_size=$(stat -c %s "$zip"); bin_size=$(stat -c %s "$bin")
        limit=$ZIP_LIMIT
        if [ "$zip_size" -gt "$limit" ]; then
            echo "FAIL $fn ($arch): bootstrap.zip is $zip_size bytes ($((zip_size / 1024)) KiB), over its limit of $limit bytes ($((limit / 1024)) KiB) by $((zip_size - limit))"
            failed=1; continue
        fi
        printf 'ok   %-10s %-7s zip %6d KiB (limit %d)  bootstrap %6d KiB  newest glibc symbol %s, ELF %s\n' \
            "$fn" "$arch" $((zip_size / 1024)) $((limit / 1024)) $((bin_size / 1024)) "$newest" "$elf_type"
    done
done
[ "$failed" = 0 ] || die "the release build check failed"
