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
#   run.sh --loss PERCENT            the same table with PERCENT (1..50) of the
#                                    router's forwarded packets dropped at random:
#                                    a verdict one lost packet can flip is wrong
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

loss=""
args=()
while (($#)); do
  case $1 in
  --loss)
    (($# >= 2)) || fail_setup "--loss expects a percentage (1..50)"
    loss=$2
    shift 2
    ;;
  --loss=*)
    loss=${1#--loss=}
    shift
    ;;
  *)
    args+=("$1")
    shift
    ;;
  esac
done

if [[ -n $loss ]]; then
  [[ $loss =~ ^[0-9]+$ ]] && ((loss >= 1 && loss <= 50)) ||
    fail_setup "--loss expects a percentage 1..50, got '$loss'"
  # At the top of the forward chain, before `ct state established,related accept`:
  # segments of open connections are lost too, not only SYNs. Removed by its handle.
  ip netns exec "$LAB_ROUTER" nft insert rule inet msc_lab forward \
    numgen random mod 100 '<' "$loss" counter drop comment '"lab suite: random loss"'
  handle=$(ip netns exec "$LAB_ROUTER" nft -a list chain inet msc_lab forward |
    awk '/lab suite: random loss/ { print $NF; exit }')
  [[ -n $handle ]] || fail_setup "the loss rule was not found in the router's forward chain"
  trap 'ip netns exec "$LAB_ROUTER" nft delete rule inet msc_lab forward handle "$handle" || true' EXIT
  echo "lab suite: ${loss}% random loss on $LAB_ROUTER (forward chain, rule handle $handle)"
fi

MSSP_CHECK=${MSSP_CHECK:-$LAB_DIR/../../target/debug/mssp-check}
rc=0
python3 "$LAB_DIR/labsuite.py" --bin "$MSSP_CHECK" --pki "$LAB_PKI" \
  --results-dir "$LAB_STATE/results" ${args[@]+"${args[@]}"} || rc=$?
if [[ -n $loss ]]; then
  dropped=$(ip netns exec "$LAB_ROUTER" nft -a list chain inet msc_lab forward |
    awk '/lab suite: random loss/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
  echo "lab suite: the loss rule dropped ${dropped:-?} packets"
fi
exit "$rc"
