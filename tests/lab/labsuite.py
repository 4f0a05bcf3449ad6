#!/usr/bin/env python3
"""Lab suite of mssp-check: run the binary inside the lab's namespaces and check
every reported path against expected.toml. Python 3.11+ stdlib only.

Normally started through run.sh (which checks root and that the lab is up).
The last line printed is always "N passed, N failed, N skipped", where
skipped counts the PENDING rows (paths waiting for a later issue).
Exit: 0 all passed, 1 a row failed, 2 the suite could not run.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field

VERDICTS = {"ok", "refused", "filtered", "unreachable", "dns", "intercepted", "tls-failed",
            "no-service", "protocol-error", "skipped"}
REPORT_SCHEMA = "mssp-check/report/1"
RUN_TIMEOUT_S = 120  # a whole mssp-check run; its own --timeout is per phase


class SetupError(Exception):
    """The suite itself cannot run (bad table, no binary, lab down)."""


@dataclass
class Row:
    run: str
    path: str
    verdict: str
    host: str | None = None
    address: str | None = None
    pending: str | None = None
    findings: list[str] = field(default_factory=list)

    def key(self) -> str:
        parts = [self.run, self.path, self.host or "*"]
        if self.address:
            parts.append(f"@{self.address}")
        return " ".join(parts)

    def specificity(self) -> int:
        return (self.host is not None) + (self.address is not None)


@dataclass
class Run:
    name: str
    ns: str
    args: list[str]
    about: str
    rows: list[Row]


# ------------------------------------------------------------------ table --

def load_table(path: str) -> tuple[list[str], list[Run]]:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SetupError(f"{path}: {e}") from e
    default_args = list(doc.get("defaults", {}).get("args", []))
    runs, names = [], set()
    for i, r in enumerate(doc.get("run", [])):
        where = f"{path}: run #{i + 1}"
        for k in ("name", "ns", "args", "expect"):
            if k not in r:
                raise SetupError(f"{where}: missing '{k}'")
        if r["name"] in names:
            raise SetupError(f"{where}: duplicate run name {r['name']!r}")
        names.add(r["name"])
        if not r["ns"].startswith("msc-"):
            raise SetupError(f"{where}: ns must be a lab namespace (msc-*)")
        rows, keys = [], set()
        for e in r["expect"]:
            unknown = set(e) - {"path", "host", "address", "verdict", "pending", "findings"}
            if unknown or "path" not in e or "verdict" not in e:
                raise SetupError(f"{where}: bad row {e} (needs path and verdict; unknown keys {sorted(unknown)})")
            if e["verdict"] not in VERDICTS:
                raise SetupError(f"{where}: unknown verdict {e['verdict']!r} in {e}")
            row = Row(run=r["name"], path=e["path"], verdict=e["verdict"], host=e.get("host"),
                      address=e.get("address"), pending=e.get("pending"),
                      findings=list(e.get("findings", [])))
            if row.key() in keys:
                raise SetupError(f"{where}: duplicate row {row.key()}")
            keys.add(row.key())
            rows.append(row)
        runs.append(Run(r["name"], r["ns"], list(r["args"]), r.get("about", ""), rows))
    if not runs:
        raise SetupError(f"{path}: no [[run]]")
    return default_args, runs


# -------------------------------------------------------------- matching --

def norm_host(h) -> str | None:
    if h is None or h == "":
        return None
    return str(h).strip("[]").rstrip(".").lower()


def addr_ip(a) -> str | None:
    """'198.18.1.2:8471', '[fd00::5]:8472', 'fd00::5' or '198.18.1.2' -> the IP."""
    if not a:
        return None
    a = str(a)
    m = re.fullmatch(r"\[([^\]]+)\](?::\d+)?", a)
    if m:
        a = m.group(1)
    elif a.count(":") == 1:
        a = a.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


def matches(row: Row, res: dict) -> bool:
    if row.path != res.get("path"):
        return False
    if row.host is not None and norm_host(row.host) != norm_host(res.get("host")):
        return False
    if row.address is not None and addr_ip(row.address) != addr_ip(res.get("address")):
        return False
    return True


def describe(res: dict) -> str:
    bits = [f"got {res.get('verdict')}"]
    if res.get("address"):
        bits.append(f"at {res['address']}")
    if res.get("reason"):
        bits.append(f"({res['reason']})")
    return " ".join(bits)


# ------------------------------------------------------------------- runs --

def run_tool(run: Run, tool: str, pki: str, default_args: list[str], outdir: str | None):
    """Returns (results, error). error is a string when the run itself failed."""
    args = [a.replace("{pki}", pki) for a in run.args]
    extra = [a for a in default_args]
    # Flags given by the run itself win over [defaults].
    for flag in ("--format", "--timeout"):
        if flag in args and flag in extra:
            i = extra.index(flag)
            del extra[i:i + 2]
    if "--proxy" in args and "--no-proxy" in extra:
        extra.remove("--no-proxy")
    cmd = ["ip", "netns", "exec", run.ns, tool, *args, *extra]
    print(f"--- run {run.name}: {run.about}")
    print(f"    ip netns exec {run.ns} mssp-check {' '.join(args + extra)}")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"mssp-check did not finish within {RUN_TIMEOUT_S}s"
    except OSError as e:
        return None, f"cannot start mssp-check: {e}"
    if outdir:
        with open(os.path.join(outdir, f"{run.name}.json"), "w") as f:
            f.write(p.stdout)
        with open(os.path.join(outdir, f"{run.name}.stderr"), "w") as f:
            f.write(p.stderr)
    # Exit 0 (all required ok) and 1 (a required path failed) both carry a report.
    if p.returncode not in (0, 1):
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return None, f"exit {p.returncode}: {tail}"
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        return None, f"stdout is not JSON ({e}); exit {p.returncode}"
    if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA:
        return None, f"schema is {doc.get('schema') if isinstance(doc, dict) else type(doc).__name__!r}, want {REPORT_SCHEMA!r}"
    results = doc.get("results")
    if not isinstance(results, list):
        return None, "report has no results list"
    return results, None


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    pending: int = 0
    statuses: dict = field(default_factory=dict)  # row key -> PASS/FAIL/PENDING

    def mark(self, status: str, label: str, detail: str, key: str | None = None):
        print(f"{status:<10} {label}  {detail}")
        if key:
            self.statuses[key] = status
        if status == "PASS":
            self.passed += 1
        elif status == "PENDING":
            self.pending += 1
        else:
            self.failed += 1


def label(row: Row) -> str:
    return f"{row.run} {row.path} {row.host or '-'}" + (f" @{row.address}" if row.address else "")


def check_run(run: Run, results, error, tally: Tally, include_pending: bool):
    def is_pending(row: Row) -> bool:
        return row.pending is not None and not include_pending

    if error is not None:
        tally.mark("FAIL", f"{run.name}", f"run failed: {error}")
        for row in run.rows:
            if is_pending(row):
                tally.mark("PENDING", label(row), f"expected {row.verdict}; run failed; {row.pending}", row.key())
            else:
                tally.statuses[row.key()] = "FAIL"
        return

    by_row: dict[str, list[dict]] = {row.key(): [] for row in run.rows}
    for res in results:
        cands = [row for row in run.rows if matches(row, res)]
        if not cands:
            tally.mark("FAIL", f"{run.name} {res.get('path')} {res.get('host') or '-'}",
                       f"UNEXPECTED result, no row in the table: {describe(res)}")
            continue
        best = max(cands, key=Row.specificity)
        by_row[best.key()].append(res)

    for row in run.rows:
        got = by_row[row.key()]
        problems = []
        if not got:
            problems.append("MISSING: no such result in the report")
        for res in got:
            if res.get("verdict") != row.verdict:
                problems.append(f"expected {row.verdict}, {describe(res)}")
            kinds = {f.get("kind") for f in res.get("findings") or [] if isinstance(f, dict)}
            for want in row.findings:
                if want not in kinds:
                    problems.append(f"finding {want!r} missing (has {sorted(k for k in kinds if k)})")
        if is_pending(row):
            now = "; ".join(problems) if problems else f"already matches ({describe(got[0])}): remove 'pending'?"
            tally.mark("PENDING", label(row), f"expected {row.verdict}: {now} [{row.pending}]", row.key())
        elif problems:
            tally.mark("FAIL", label(row), "; ".join(problems), row.key())
        else:
            tally.mark("PASS", label(row), row.verdict, row.key())


def run_suite(opts, table_path: str) -> Tally:
    default_args, runs = load_table(table_path)
    if opts.run:
        unknown = set(opts.run) - {r.name for r in runs}
        if unknown:
            raise SetupError(f"no such run(s): {', '.join(sorted(unknown))}")
        runs = [r for r in runs if r.name in opts.run]
    for r in runs:
        if not os.path.exists(f"/run/netns/{r.ns}"):
            raise SetupError(f"namespace {r.ns} does not exist: is the lab up? (tests/lab/up.sh)")
    tally = Tally()
    for r in runs:
        results, error = run_tool(r, opts.bin, opts.pki, default_args, opts.results_dir)
        check_run(r, results, error, tally, opts.include_pending)
    return tally


def summary(tally: Tally) -> str:
    return f"{tally.passed} passed, {tally.failed} failed, {tally.pending} skipped"


# -------------------------------------------------------------- self-test --

def mutate_table(src: str, target: Row, new_verdict: str) -> str:
    """Copy of the table text with the verdict of one row changed, edited as
    text (one row = one line) so that the file itself is what changes."""
    out, current_run, done = [], None, False
    for line in src.splitlines(keepends=True):
        m = re.match(r'\s*name\s*=\s*"([^"]+)"', line)
        if m:
            current_run = m.group(1)
        stripped = line.strip().rstrip(",")
        if not done and current_run == target.run and stripped.startswith("{") and "path" in stripped:
            row = tomllib.loads(f"r = {stripped}")["r"]
            if (row.get("path"), row.get("host"), row.get("address")) == (target.path, target.host, target.address):
                line, n = re.subn(r'verdict\s*=\s*"[^"]*"', f'verdict = "{new_verdict}"', line, count=1)
                done = n == 1
        out.append(line)
    if not done:
        raise SetupError(f"self-test: could not find the line of {target.key()}")
    return "".join(out)


def selftest_mutate(opts) -> int:
    print("=== self-test: the suite as it is")
    base = run_suite(opts, opts.expected)
    print(summary(base))
    _, runs = load_table(opts.expected)
    rows = {row.key(): row for run in runs for row in run.rows}
    passing = [rows[k] for k, s in base.statuses.items() if s == "PASS"]
    if not passing:
        print("self-test: no row passes yet, so there is nothing to flip")
        print("0 passed, 1 failed")
        return 1
    target = passing[0]
    new_verdict = "filtered" if target.verdict == "ok" else "ok"
    with open(opts.expected, encoding="utf-8") as f:
        mutated = mutate_table(f.read(), target, new_verdict)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="expected-mutated-", delete=False) as tmp:
        tmp.write(mutated)
    try:
        print(f"=== self-test: {target.key()} flipped {target.verdict} -> {new_verdict} in {tmp.name}")
        cmd = [sys.executable, os.path.abspath(__file__), "--expected", tmp.name, "--bin", opts.bin,
               "--pki", opts.pki, "--run", target.run]
        if opts.include_pending:
            cmd.append("--include-pending")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2)
        print(p.stdout, end="")
        lines = p.stdout.strip().splitlines()
        last = lines[-1] if lines else ""
        m = re.fullmatch(r"(\d+) passed, (\d+) failed(, \d+ skipped)?", last)
        flagged = any(l.startswith("FAIL") and f" {label(target)}  " in l for l in lines)
        ok = p.returncode == 1 and m is not None and int(m.group(2)) >= 1 and flagged
    finally:
        os.unlink(tmp.name)
    if ok:
        print(f"self-test: the mutated table made the suite fail (exit {p.returncode}, '{last}'), as it must")
        print("1 passed, 0 failed")
        return 0
    print(f"self-test: the mutated table did NOT make the suite fail as expected (exit {p.returncode}, '{last}')")
    print("0 passed, 1 failed")
    return 1


# ------------------------------------------------------------------- main --

def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expected", default=os.path.join(here, "expected.toml"))
    ap.add_argument("--bin", default=os.environ.get("MSSP_CHECK",
                                                    os.path.join(here, "..", "..", "target", "debug", "mssp-check")))
    ap.add_argument("--pki", default=os.path.join(os.environ.get("MSC_LAB_STATE", "/run/msc-lab"), "pki"))
    ap.add_argument("--run", action="append", help="only this run (repeatable)")
    ap.add_argument("--include-pending", action="store_true",
                    help="judge PENDING rows like the others (to see what an issue still lacks)")
    ap.add_argument("--results-dir", help="keep each run's JSON and stderr here")
    ap.add_argument("--selftest-mutate", action="store_true",
                    help="flip one passing verdict in a temp copy of the table; the suite must then fail")
    opts = ap.parse_args()
    opts.bin = os.path.abspath(opts.bin)

    try:
        if not os.access(opts.bin, os.X_OK):
            raise SetupError(f"mssp-check binary not found or not executable: {opts.bin} (set MSSP_CHECK)")
        if opts.results_dir:
            os.makedirs(opts.results_dir, exist_ok=True)
        if opts.selftest_mutate:
            return selftest_mutate(opts)
        tally = run_suite(opts, opts.expected)
    except SetupError as e:
        print(f"lab suite: error: {e}")
        print("0 passed, 1 failed")
        return 2
    if tally.pending:
        print(f"PENDING: {tally.pending} rows wait for later issues (listed above; counted as skipped)")
    print(summary(tally))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
