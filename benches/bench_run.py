"""Running timed processes in the bench's namespaces and reading their verdicts (stdlib only).

Shared by bench_measure.py (matrix, 5,000 targets) and bench_cases.py (loss, slow
peers): /usr/bin/time inside the namespace gives wall, user+sys and peak RSS of
exactly the measured program (not of `ip netns exec`).
"""

import collections
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile

# A clean environment: no proxy variables, nothing of the caller's.
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
# Configured kind -> the verdict mssp-check must give.
MSSP_FOR = {"open": "ok", "reset": "refused", "dropped": "filtered"}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def start_timed(ns, argv, tag):
    with tempfile.NamedTemporaryFile("w", prefix=f"msc-bench-{tag}-", suffix=".time", delete=False) as tf:
        tname = tf.name
    cmd = ["ip", "netns", "exec", ns, "/usr/bin/time", "-o", tname, "-f", "%e %U %S %M", *argv]
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=ENV)
    return proc, tname, out


def finish_timed(started, timeout=900):
    proc, tname, out = started
    _, err = proc.communicate(timeout=timeout)
    with open(tname) as f:
        lines = f.read().strip().splitlines()
    os.unlink(tname)
    # "Command exited with non-zero status N" may precede the figures.
    e, u, s, m = lines[-1].split()
    out.seek(0)
    text = out.read().decode(errors="replace")
    out.close()
    return {
        "wall_s": float(e),
        "cpu_s": round(float(u) + float(s), 3),
        "rss_mb": round(int(m) / 1024, 1),
        "rc": proc.returncode,
        "stdout": text,
        "stderr": err.decode(errors="replace")[-1500:],
    }


def timed(ns, argv, tag="run"):
    return finish_timed(start_timed(ns, argv, tag))


def norm(addr, port):
    return (str(ipaddress.ip_address(addr.strip("[]"))), int(port))


def mssp_results(run):
    """(path, (address, port)) -> (verdict, reason) from a JSON report; None if none came."""
    try:
        doc = json.loads(run["stdout"])
    except ValueError:
        return None
    seen = {}
    for r in doc.get("results", []):
        where = r.get("address") or f"{r.get('host')}:{r.get('port')}"
        host, _, port = where.rpartition(":")
        try:
            key = norm(host, port)
        except ValueError:
            key = (host, port)  # a name: the licensing path that DNS never answers
        seen[(r["path"], key)] = (r["verdict"], r.get("reason", ""))
    return seen


def strip(run):
    """A run without its output; with the report's own duration when it printed one."""
    out = {k: v for k, v in run.items() if k not in ("stdout", "stderr")}
    try:
        out["report_s"] = json.loads(run["stdout"])["duration_ms"] / 1000
    except (ValueError, KeyError, TypeError):
        pass
    return out


def summary(runs):
    """Medians of the repeats, and every repeat as measured."""
    stripped = [strip(r) for r in runs]
    reports = [r["report_s"] for r in stripped if "report_s" in r]
    return {
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
        "report_s": statistics.median(reports) if reports else None,
        "runs": stripped,
    }


def agreement(truth, kind_of):
    """truth: target -> kind; kind_of: target -> (kind, reason) as the tool said it."""
    wrong = []
    for key, kind in sorted(truth.items()):
        got = kind_of.get(key)
        if got is None or got[0] != kind:
            wrong.append({"target": f"{key[0]}:{key[1]}", "expected": kind,
                          "got": got[0] if got else "missing", "reason": got[1] if got else ""})
    return {"pairs": len(truth), "right": len(truth) - len(wrong), "wrong": wrong}


def mssp_agreement(runs, truth):
    """Every repeat against the configured truth (ok = open, refused = reset, filtered = dropped)."""
    back = {v: k for k, v in MSSP_FOR.items()}
    total = {"pairs": 0, "right": 0, "wrong": [], "verdicts": collections.Counter()}
    for run in runs:
        by_target = {}
        for (_, key), (verdict, reason) in (mssp_results(run) or {}).items():
            total["verdicts"][verdict] += 1
            by_target[key] = (back.get(verdict, verdict), reason)
        a = agreement(truth, by_target)
        for w in a["wrong"]:
            w["expected"], w["got"] = MSSP_FOR[w["expected"]], MSSP_FOR.get(w["got"], w["got"])
        total["pairs"] += a["pairs"]
        total["right"] += a["right"]
        total["wrong"] += a["wrong"]
    total["wrong"] = total["wrong"][:30]
    total["verdicts"] = dict(total["verdicts"])
    return total
