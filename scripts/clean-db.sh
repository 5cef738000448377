#!/usr/bin/env bash
# Deletes the local database of `make run` and `make watch` (stopping it first): the next run
# starts from an empty one, migrated from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/localdb.sh

localdb_remove
