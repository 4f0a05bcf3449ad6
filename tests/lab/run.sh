#!/usr/bin/env bash
# Lab suite of mssp-check: runs the binary inside the lab's namespaces (one
# run per [[run]] of expected.toml) and checks every path's verdict.
# The lab must be up (tests/lab/up.sh). Needs root (ip netns exec).
#
#   MSSP_CHECK=path/to/mssp-check   default: <repo>/target/debug/mssp-check
#   run.sh [--run NAME]...           only these runs
#   run.sh --include-pending         judge PENDING rows too
#   run.sh --selftest-mutate         flip one passing verdict in a temp copy of
#                                    the table and check that the suite fails
#
# Last line: "N passed, N failed, N skipped" (skipped = PENDING rows).
# Exit 0 all passed, 1 a row failed, 2 the suite could not run.
# Each run's JSON and stderr are kept in $MSC_LAB_STATE/results/.
set -euo pipefail

export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"

fail_setup() {
  echo "lab suite: error: $*"
  echo "0 passed, 1 failed"
  exit 2
}
[[ $(id -u) -eq 0 ]] || fail_setup "must run as root (ip netns exec)"
lab_ns_exists "$LAB_ROUTER" || fail_setup "the lab is not up: run tests/lab/up.sh first"

MSSP_CHECK=${MSSP_CHECK:-$LAB_DIR/../../target/debug/mssp-check}
exec python3 "$LAB_DIR/labsuite.py" --bin "$MSSP_CHECK" --pki "$LAB_PKI" \
  --results-dir "$LAB_STATE/results" "$@"
