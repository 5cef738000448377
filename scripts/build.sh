#!/usr/bin/env bash
# Builds the deployable zips: target/lambda/<function>/bootstrap.zip for every crate under
# functions/, release profile, for one Lambda architecture (arm64 by default, or x86_64):
#   scripts/build.sh [arm64|x86_64]
# Each zip carries rds-ca-bundle.pem next to `bootstrap`, so the functions can verify the
# database's certificate (DB_TLS=verify-full, DB_TLS_CA_FILE=/var/task/rds-ca-bundle.pem): the
# RDS CAs (for the instance) plus Amazon's public roots (for RDS Proxy). It is downloaded once
# from AWS's trust stores; set RDS_CA_BUNDLE=<file> to use a bundle you already have.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/lambda.sh

arch="${1:-arm64}"
lambda_target "$arch" >/dev/null
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup"
ensure_cargo_lambda

RDS_BUNDLE_URL="https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
AMAZON_ROOTS_URL="https://www.amazontrust.com/repository/AmazonRootCA1.pem"
bundle="target/lambda-extra/rds-ca-bundle.pem"
mkdir -p "$(dirname "$bundle")"
if [ -n "${RDS_CA_BUNDLE:-}" ]; then
    [ -f "$RDS_CA_BUNDLE" ] || die "RDS_CA_BUNDLE=$RDS_CA_BUNDLE does not exist"
    cp "$RDS_CA_BUNDLE" "$bundle"
elif [ ! -s "$bundle" ]; then
    command -v curl >/dev/null || die "curl not found: install it, or set RDS_CA_BUNDLE=<pem file>"
    say "downloading the RDS CA bundle and Amazon Root CA 1"
    { curl -fsSL --proto '=https' "$RDS_BUNDLE_URL" && curl -fsSL --proto '=https' "$AMAZON_ROOTS_URL"; } >"$bundle.tmp" \
        || { rm -f "$bundle.tmp"; die "could not download the CA bundle; set RDS_CA_BUNDLE=<pem file> to use one you have"; }
    mv "$bundle.tmp" "$bundle"
fi
certs=$(grep -c 'BEGIN CERTIFICATE' "$bundle" || true)
[ "$certs" -gt 0 ] || die "$bundle holds no PEM certificate"

started=$(date +%s)
lambda_build "$arch"
for fn in $(lambda_functions); do
    zip="target/lambda/$fn/bootstrap.zip"
    [ -f "$zip" ] || die "$zip was not written"
    # At the zip's root, so it lands in /var/task/ (cargo lambda --include keeps the path).
    zip_add_file "$zip" "$bundle" rds-ca-bundle.pem
    printf '  %-10s %s  %d KiB\n' "$fn" "$zip" $(( $(stat -c %s "$zip") / 1024 )) >&2
done
say "built for $arch in $(( $(date +%s) - started )) s (CA bundle: $certs certificates)"
