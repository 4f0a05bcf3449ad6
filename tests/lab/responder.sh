#!/usr/bin/env bash
# Before go-live, in the lab: `mssp-check listen --role ih` on ih02 (where no Instance Host
# runs), then `--role mgmt` checks from mgmt01 (straight through the router: verified end to
# end) and from mgmt02 (through sslsplit, re-signing with the lab's "FortiGate CA": caught as
# e2e-mismatch). Last line: "N passed, N failed". The lab must be up. Needs root.
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
MSSP_CHECK=${MSSP_CHECK:-$LAB_DIR/../../target/debug/mssp-check}
out=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT
passed=0 failed=0

ip netns exec msc-ih02 "$MSSP_CHECK" listen --role ih --duration 2m --token lab-secret \
  > "$out/listen.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  grep -q '8472' "$out/listen.log" 2>/dev/null && ip netns exec msc-ih02 bash -c ': > /dev/tcp/127.0.0.1/8472' 2>/dev/null && break
  sleep 0.1
done

# verdict and finding a run must show for ih02:8472
expect() {
  local ns=$1 verdict=$2 finding=$3
  ip netns exec "$ns" "$MSSP_CHECK" --role mgmt --ih ih02.lab.test --no-proxy --token lab-secret \
    --mailstore-host 127.0.0.1:1 --format json --timeout 2s > "$out/$ns.json" 2> "$out/$ns.err" || true
  if python3 - "$out/$ns.json" "$verdict" "$finding" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = [r for r in doc["results"] if r["path"] == "multi-8472-mgmt-ih"]
ok = len(rows) == 1 and rows[0]["verdict"] == sys.argv[2] and any(f["kind"] == sys.argv[3] for f in rows[0]["findings"])
print(("PASS" if ok else "FAIL").ljust(11) + f"responder {sys.argv[2]}/{sys.argv[3]}: " + (rows[0]["reason"] if rows else "no row"))
sys.exit(0 if ok else 1)
PY
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
expect msc-mgmt01 ok e2e-verified
expect msc-mgmt02 intercepted e2e-mismatch

# The responder logged who reached it.
if grep -q "$(lab_v4 mgmt01)" "$out/listen.log"; then
  echo "PASS       responder log names mgmt01 as a source"; passed=$((passed + 1))
else
  echo "FAIL       responder log does not name mgmt01:"; sed 's/^/    /' "$out/listen.log" | head -20; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
