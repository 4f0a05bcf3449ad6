#!/usr/bin/env bash
# The deployment's view in the lab (issue 10): one site file, copied to four lab machines
# that find their own roles in it (by address: the namespaces share the OS host name), their
# reports merged with `mssp-check report`, and the merged view checked:
#   - ih02's path to mgmt01:8471 goes through sslsplit (FortiGate CA): cert-differs naming
#     ih02 against ih01 and cas01;
#   - mgmt01 -> cas01:8473 is dropped by a rule this script adds for the run, while cas01's
#     own check says 8473 listens: listens-but-blocked;
#   - nothing listens on ih02:8472 (its own check): not-listening;
#   - ih03 is in the site file but never reports: not-reported;
#   - the JSON validates against schemas/deployment-1.schema.json's required fields, the
#     JUnit against the xUnit schema, and the HTML is one self-contained file.
# The lab must be up (tests/lab/up.sh). Needs root. Last line: "N passed, N failed".
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "deployment: needs root"; echo "0 passed, 1 failed"; exit 2; }
lab_ns_exists "$LAB_ROUTER" || { echo "deployment: the lab is not up"; echo "0 passed, 1 failed"; exit 2; }
MSSP_CHECK=${MSSP_CHECK:-$LAB_DIR/../../target/debug/mssp-check}
OUT=$LAB_STATE/deployment
rm -rf "$OUT"; mkdir -p "$OUT/reports"

cat > "$OUT/site.toml" <<SITE
# One deployment of the lab, as an admin would write it; the same file on every machine.
[hosts]
mgmt = "mgmt01.lab.test"
ih = ["ih01.lab.test", "ih02.lab.test", "ih03.lab.test"]
cas = ["cas01.lab.test"]

[options]
timeout = "2s"
public_ca = ["$LAB_PKI/public-root.pem"]
SITE

# The rule of this run only: mgmt01 cannot reach cas01:8473 (a rule scoped to the wrong
# source network). Removed again by its handle, whatever happens.
handle=$(ip netns exec "$LAB_ROUTER" nft --echo --handle add rule inet msc_lab forward \
  ip saddr "$(lab_v4 mgmt01)" ip daddr "$(lab_v4 cas01)" tcp dport 8473 drop \
  | sed -n 's/.*# handle \([0-9]*\).*/\1/p')
cleanup() { ip netns exec "$LAB_ROUTER" nft delete rule inet msc_lab forward handle "$handle" 2>/dev/null || true; }
trap cleanup EXIT

# Each machine: the same command line, no --role.
for host in mgmt01 ih01 ih02 cas01; do
  code=0
  ip netns exec "msc-$host" "$MSSP_CHECK" --site "$OUT/site.toml" --format json --no-proxy \
    > "$OUT/reports/$host.json" 2> "$OUT/reports/$host.err" || code=$?
  echo "$code" > "$OUT/reports/$host.code"
done
cleanup; trap - EXIT

code=0
"$MSSP_CHECK" report "$OUT/reports" --site "$OUT/site.toml" --format json > "$OUT/deployment.json" 2> "$OUT/report.err" || code=$?
echo "$code" > "$OUT/report.code"
"$MSSP_CHECK" report "$OUT/reports" --site "$OUT/site.toml" --format html > "$OUT/deployment.html" || true
"$MSSP_CHECK" report "$OUT/reports" --site "$OUT/site.toml" --format junit > "$OUT/deployment.xml" || true
"$MSSP_CHECK" report "$OUT/reports" --site "$OUT/site.toml" --color never > "$OUT/deployment.txt" || true

exec python3 - "$OUT" "$LAB_DIR/../../schemas/junit-10.xsd" <<'PY'
import json, os, subprocess, sys
out, xsd = sys.argv[1], sys.argv[2]
passed = failed = 0
def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1; print(f"PASS       deployment: {what}")
    else:
        failed += 1; print(f"FAIL       deployment: {what}  {detail}")

expect_roles = {"mgmt01": ["mgmt"], "ih01": ["ih"], "ih02": ["ih"], "cas01": ["cas"]}
for host, roles in expect_roles.items():
    code = open(f"{out}/reports/{host}.code").read().strip()
    err = open(f"{out}/reports/{host}.err").read().strip()
    check(code in ("0", "1"), f"{host} ran with --site and no --role", f"exit {code}: {err[:300]}")
    try:
        r = json.load(open(f"{out}/reports/{host}.json"))
    except Exception as e:
        check(False, f"{host}'s report is JSON", str(e)); continue
    check(r.get("host") == f"{host}.lab.test", f"{host} names itself as the site does", r.get("host"))
    check(r.get("roles") == roles, f"{host} found its roles {roles}", r.get("roles"))

code = open(f"{out}/report.code").read().strip()
check(code == "1", "the merged exit code is 1 (required paths failed)", code)
d = json.load(open(f"{out}/deployment.json"))
check(d.get("schema") == "mssp-check/deployment/1", "the merged view is mssp-check/deployment/1")
sources = sorted(s["host"] for s in d["sources"])
check(sources == sorted(f"{h}.lab.test" for h in expect_roles), "four sources, the matrix's columns", sources)
rows = {(r["host"], r["port"]): r for r in d["rows"]}
row = rows.get(("mgmt01.lab.test", 8471))
check(row is not None and len(row["cells"]) == 3, "mgmt01:8471 has a cell from ih01, ih02 and cas01", row and [c["source"] for c in row["cells"]])
finds = d["findings"]
def find(kind, host=None, port=None):
    return [f for f in finds if f["kind"] == kind and (host is None or (f.get("target") or "").startswith(f"{host}:{port}") or (f.get("row") or "").startswith(f"{host}:{port}"))]
cd = find("cert-differs", "mgmt01.lab.test", 8471)
check(len(cd) == 1, "cert-differs on mgmt01:8471", [f["kind"] for f in finds])
if cd:
    text = json.dumps(cd[0])
    check("ih02.lab.test" in text and "ih01.lab.test" in text, "cert-differs names ih02 and ih01", cd[0]["detail"][:300])
    check("FortiGate" in text, "cert-differs shows the re-signing CA", cd[0]["detail"][:300])
lb = find("listens-but-blocked", "cas01.lab.test", 8473)
check(len(lb) == 1 and "mgmt01.lab.test" in json.dumps(lb[0]), "listens-but-blocked on cas01:8473 from mgmt01", [ (f["kind"], f.get("target"), f.get("row")) for f in finds])
nl = find("not-listening", "ih02.lab.test", 8472)
check(len(nl) == 1, "not-listening on ih02:8472 (its own check)", [(f["kind"], f.get("target"), f.get("row")) for f in finds])
nr = [f for f in finds if f["kind"] == "not-reported"]
check(any("ih03.lab.test" in json.dumps(f) for f in nr), "ih03 never reported", [f["detail"] for f in nr])
html = open(f"{out}/deployment.html").read()
bad = [n for n in ("src=", 'href="http', "@import", "url(", "<script") if n in html]
check(html.startswith("<!DOCTYPE html") and not bad, "the HTML is one self-contained file", bad)
check("mgmt01.lab.test" in html and "cert-differs" in html, "the HTML shows the matrix and cert-differs")
x = subprocess.run(["xmllint", "--noout", "--schema", xsd, f"{out}/deployment.xml"], capture_output=True, text=True)
check(x.returncode == 0, "the JUnit validates against the xUnit schema", x.stderr[:300])
txt = open(f"{out}/deployment.txt").read()
check("ih03" in txt and "cert-differs" in txt, "the table names ih03 and cert-differs")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
