#!/usr/bin/env bash
# Offline checks of terraform/ (no provider registry, no AWS):
#   1. terraform fmt -check;
#   2. checkov: no failed check (each skip is written beside its resource with the reason);
#   3. tests/terraform: the Terraform agrees with the code (every function crate has a Lambda,
#      every variable the code requires is set on its function).
# With TICKWATCH_TF_VALIDATE=1 it also runs `terraform init -backend=false`, `validate` and
# `terraform test` (mock providers, plan only) in a copy, for machines that can install the
# providers. The tools are installed once into virtualenvs in the cache directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
export CHECKPOINT_DISABLE=1

CHECKOV_VERSION="3.3.30"
HCL2_VERSION="8.1.4"
PYTEST_VERSION="9.2.0"

command -v terraform >/dev/null || die "terraform not found: install the Terraform CLI (1.11 or newer)"
command -v python3 >/dev/null || die "python3 not found: install Python 3.11 or newer"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 is older than 3.11 (tomllib): install a newer Python"

# venv NAME MARKER PACKAGES...: creates (once) a virtualenv in the cache directory; prints its path.
venv() {
    local name="$1" marker="$2"; shift 2
    local dir
    dir="$(cache_dir)/$name"
    if [ ! -f "$dir/.installed-$marker" ]; then
        say "installing $* into $dir (once)"
        rm -rf "$dir"
        python3 -m venv "$dir" || die "could not create a virtualenv (apt-get install python3-venv)"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >"$dir.log" 2>&1 \
            || { tail -20 "$dir.log" >&2; die "pip could not install $*"; }
        touch "$dir/.installed-$marker"
    fi
    echo "$dir"
}

say "terraform fmt -check"
terraform fmt -check -recursive -diff terraform || die "terraform/ is not formatted: run 'terraform fmt -recursive terraform'"

# checkov and python-hcl2 get separate virtualenvs: checkov's bc-python-hcl2 installs a
# module of the same name (hcl2) with a different output format.
checkov_venv="$(venv checkov-venv "$CHECKOV_VERSION" "checkov==$CHECKOV_VERSION")"
say "checkov $CHECKOV_VERSION"
"$checkov_venv/bin/checkov" -d terraform --skip-download --framework terraform --compact --quiet \
    || die "checkov found failed checks (fix them, or skip one beside its resource with #checkov:skip=ID:reason)"

hcl2_venv="$(venv hcl2-venv "$HCL2_VERSION-$PYTEST_VERSION" "python-hcl2==$HCL2_VERSION" "pytest==$PYTEST_VERSION")"
say "tests/terraform (python-hcl2 $HCL2_VERSION)"
status=0
"$hcl2_venv/bin/python" -m pytest -q -p no:cacheprovider tests/terraform || status=$?
# pytest exits 5 when it collected nothing: that is a broken check, not a pass.
[ "$status" = 0 ] || die "tests/terraform failed (pytest exit $status)"

if [ "${TICKWATCH_TF_VALIDATE:-0}" = 1 ]; then
    work="$(mktemp -d /tmp/tickwatch-tf.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    cp -r terraform "$work/terraform"
    rm -rf "$work/terraform/.terraform" "$work/terraform/terraform.tfstate"*
    say "terraform init/validate/test (mock providers) in a copy"
    terraform -chdir="$work/terraform" init -backend=false -input=false >"$work/init.log" 2>&1 \
        || { tail -20 "$work/init.log" >&2; die "terraform init could not install the providers"; }
    terraform -chdir="$work/terraform" validate
    terraform -chdir="$work/terraform" test
fi
say "terraform checks passed"
