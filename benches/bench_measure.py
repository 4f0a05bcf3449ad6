#!/usr/bin/env python3
"""Runs every measurement of benches/matrix.sh in the namespaces it built; writes raw JSON.

Each process is timed by /usr/bin/time inside its namespace (wall, user+sys, peak
RSS); verdicts are matched against the ground truth of bench_plan.py (matrix) or
of a clean run (loss and slow cases). Python 3 stdlib only. Also has a small
`connect` subcommand: the sequential connect loop's per-port cost, run inside
the source namespace.
"""

import argparse
import collections
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import bench_plan as P
from bench_cases import measure_loss, measure_slow
from bench_run import (ENV, MSSP_FOR, agreement, finish_timed, load, log, mssp_agreement, mssp_results, norm,
                       start_timed,
                       strip, summary, timed)

NMAP_KIND = {"open": "open", "closed": "reset", "filtered": "dropped"}
WINDOWS_DROPPED_S = 21.0  # issue 12: Test-NetConnection's ~21 s per blocked port (3 + 6 + 12 s of SYN retries)


# ------------------------------------------------------------------ the matrix --

def matrix_argv(binary, timeout=None, ca=None):
    """The matrix run; with `ca`, the licensing path goes to a real server's address (no DNS)."""
    ih, cas = P.matrix_peers()
    argv = [binary, "--role", "mgmt", "--ih", ",".join(a for pair in ih for a in pair),
            "--cas", ",".join(a for pair in cas for a in pair), "--format", "json"]
    argv += ["--mailstore-host", P.srv(1), "--public-ca", ca] if ca else ["--mailstore-host", P.MAILSTORE_NAME]
    return argv + (["--timeout", timeout] if timeout else [])


def nmap_groups():
    """nmap scans hosts x ports and one address family per process: four groups."""
    ih, cas = P.matrix_peers()
    return [(f"{name} IPv{v}", [pair[v == 6] for pair in peers], port, v == 6)
            for name, peers, port in (("IH", ih, P.IH_PORT), ("CAS", cas, P.CAS_PORT)) for v in (4, 6)]


def nmap_argv(addrs, port, v6=False, listfile=None):
    argv = ["nmap", "-sT", "-Pn", "-n", "-p", str(port), "-oX", "-"] + (["-6"] if v6 else [])
    return argv + (["-iL", listfile] if listfile else addrs)


def nmap_kinds(xml_text):
    kinds = {}
    for host in ET.fromstring(xml_text).iter("host"):
        addr = host.find("address").get("addr")
        for port in host.iter("port"):
            state = port.find("state").get("state")
            kinds[norm(addr, port.get("portid"))] = (NMAP_KIND.get(state, state), state)
    return kinds


def nmap_matrix():
    """The four nmap processes at once; the group's wall is the last to finish."""
    t0 = time.monotonic()
    started = [(g, start_timed(P.NS_SRC, nmap_argv(addrs, port, v6), "nmap")) for g, addrs, port, v6 in nmap_groups()]
    done = [(g, finish_timed(s)) for g, s in started]
    outer = time.monotonic() - t0
    kinds = {}
    for _, r in done:
        kinds.update(nmap_kinds(r["stdout"]))
    return {
        "wall_s": max(r["wall_s"] for _, r in done),
        "outer_wall_s": round(outer, 3),
        "cpu_s": round(sum(r["cpu_s"] for _, r in done), 3),
        "rss_mb": round(sum(r["rss_mb"] for _, r in done), 1),
        "rc": max(r["rc"] for _, r in done),
        "processes": {g: strip(r) for g, r in done},
    }, kinds


def connect_once(host, port):
    """A plain blocking connect with the OS's own timeouts, as a connect loop does it."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    t = time.monotonic()
    try:
        s.connect((host, port))
        kind = "open"
    except ConnectionRefusedError:
        kind = "reset"
    except TimeoutError:
        kind = "dropped"
    except OSError as e:
        kind = f"error {e.errno}"
    finally:
        took = time.monotonic() - t
        s.close()
    return {"target": f"{host}:{port}", "kind": kind, "seconds": round(took, 6)}


def connect_in_src(targets, repeat):
    argv = ["python3", os.path.abspath(__file__), "connect", "--repeat", str(repeat), *targets]
    out = subprocess.run(["ip", "netns", "exec", P.NS_SRC, *argv], capture_output=True, env=ENV, check=True)
    return json.loads(out.stdout)


def syn_retries():
    out = subprocess.run(["ip", "netns", "exec", P.NS_SRC, "sysctl", "-n", "net.ipv4.tcp_syn_retries"],
                         capture_output=True, text=True, env=ENV, check=True)
    return int(out.stdout)


def loop_start(truth, quick):
    """The dropped pair's blocking connect lasts minutes (SYN retries): it runs beside the rest."""
    first = {kind: next(k for k, v in sorted(truth.items()) if v == kind and "." in k[0]) for kind in MSSP_FOR}
    box = {"first": first}
    if not quick:
        target = "%s:%d" % first["dropped"]
        th = threading.Thread(target=lambda: box.update(dropped=connect_in_src([target], 1)), daemon=True)
        th.start()
        box["thread"] = th
    return box


def loop_finish(box, truth, nmap_wall):
    first = box["first"]
    samples = connect_in_src(["%s:%d" % first["open"], "%s:%d" % first["reset"]], 5)
    cost = {k: statistics.median(s["seconds"] for s in samples if s["target"] == "%s:%d" % first[k])
            for k in ("open", "reset")}
    retries = syn_retries()
    if "thread" in box:
        log("waiting for the dropped pair's blocking connect (SYN retries)")
        box["thread"].join()
        cost["dropped"] = box["dropped"][0]["seconds"]
        samples += box["dropped"]
        dropped_how = "measured"
    else:
        cost["dropped"] = float(2 ** (retries + 1) - 1)  # RTO 1 s doubling: 1 + 2 + ... + 2^retries
        dropped_how = f"computed from tcp_syn_retries={retries} (--quick)"
    counts = collections.Counter(truth.values())
    linux = sum(counts[k] * cost[k] for k in counts)
    windows = counts["open"] * cost["open"] + counts["reset"] * cost["reset"] + counts["dropped"] * WINDOWS_DROPPED_S
    kind_of = {"%s:%d" % t: k for k, t in first.items()}
    right = sum(1 for s in samples if s["kind"] == kind_of[s["target"]])
    return {
        "per_port_s": cost, "dropped_cost": dropped_how, "tcp_syn_retries": retries, "counts": dict(counts),
        "linux_total_s": round(linux, 2), "windows_total_s": round(windows, 2),
        "windows_dropped_s": WINDOWS_DROPPED_S, "samples": samples, "kinds_right": f"{right}/{len(samples)}",
        "vs_nmap": round(linux / nmap_wall, 1) if nmap_wall else None,
    }


def matrix_truth():
    return {norm(*k): v for k, v in P.matrix_truth().items()}


def measure_matrix(binary, reps, state):
    truth = matrix_truth()
    runs = {"default": [], "t2": [], "default_ip": [], "nmap": []}
    kinds_nmap = []
    ca = os.path.join(state, "pki", "ca.pem")
    for i in range(reps):
        log(f"matrix repeat {i + 1}/{reps}: mssp-check defaults, --timeout 2s, no DNS; nmap (load {load()})")
        runs["default"].append(timed(P.NS_SRC, matrix_argv(binary)))
        runs["t2"].append(timed(P.NS_SRC, matrix_argv(binary, "2s")))
        runs["default_ip"].append(timed(P.NS_SRC, matrix_argv(binary, ca=ca)))
        n, kinds = nmap_matrix()
        runs["nmap"].append(n)
        kinds_nmap.append(kinds)
    nmap_sum = {"wall_s": statistics.median(r["wall_s"] for r in runs["nmap"]),
                "cpu_s": statistics.median(r["cpu_s"] for r in runs["nmap"]),
                "rss_mb": statistics.median(r["rss_mb"] for r in runs["nmap"]), "runs": runs["nmap"]}
    nmap_agree = {"pairs": 0, "right": 0, "wrong": []}
    for kinds in kinds_nmap:
        a = agreement(truth, kinds)
        nmap_agree["pairs"] += a["pairs"]
        nmap_agree["right"] += a["right"]
        nmap_agree["wrong"] += a["wrong"][:10]
    nmap_sum["agreement"] = nmap_agree
    out = {"pairs": len(truth), "mix": dict(collections.Counter(truth.values())),
           "nmap_arrangement": "four nmap -sT -Pn -n processes at once (IH v4 / IH v6 on 8472, "
                               "CAS v4 / CAS v6 on 8473); wall = the last to finish, CPU and RSS summed",
           "nmap": nmap_sum}
    for name in ("default", "t2", "default_ip"):
        out[f"mssp_{name}"] = summary(runs[name]) | {"agreement": mssp_agreement(runs[name], truth)}
        # The licensing path: its name is asked of the DNS server that never answers.
        named = [(key, v) for run in runs[name] for (_, key), v in (mssp_results(run) or {}).items()
                 if key[0] in (P.MAILSTORE_NAME, P.srv(1))]
        out[f"mssp_{name}"]["licensing"] = sorted({f"{v[0]}: {v[1]}" for _, v in named})
    return out


def measure_big(binary, reps, quick, state):
    truth = {norm(*k): v for k, v in P.big_truth().items()}
    argv = [binary, "--role", "mgmt", "--ih", ",".join(P.big_targets()), "--mailstore-host", P.MAILSTORE_NAME,
            "--timeout", "2s", "--format", "json"]
    runs = []
    for i in range(reps):
        log(f"5,000 targets, repeat {i + 1}/{reps} (load {load()})")
        runs.append(timed(P.NS_SRC, argv))
    out = {"targets": len(truth), "timeout_s": 2.0, "mssp_t2": summary(runs) | {"agreement": mssp_agreement(runs, truth)}}
    if not quick:
        listfile = os.path.join(state, "big.list")
        with open(listfile, "w") as f:
            f.write("\n".join(P.big_targets()) + "\n")
        log("5,000 targets with nmap -sT (capped at 300 s)")
        r = timed(P.NS_SRC, ["timeout", "300", *nmap_argv([], P.IH_PORT, listfile=listfile)], "nmap-big")
        kinds = nmap_kinds(r["stdout"]) if r["rc"] == 0 else {}
        out["nmap"] = strip(r) | {"agreement": agreement(truth, kinds) | {"wrong": []}}
    return out


def connect_main(argv):
    """`connect [--repeat N] HOST:PORT...`: the connect loop's samples, as JSON (run in msc-b-src)."""
    ap = argparse.ArgumentParser(prog="bench_measure.py connect")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args(argv)
    res = []
    for _ in range(a.repeat):
        for t in a.targets:
            host, _, port = t.rpartition(":")
            res.append(connect_once(host.strip("[]"), int(port)))
    print(json.dumps(res))

def main():
    if sys.argv[1:2] == ["connect"]:
        connect_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    reps = 1 if a.quick else 3
    version = subprocess.run([a.bin, "--version"], capture_output=True, text=True).stdout.strip()
    res = {"meta": {"binary": os.path.abspath(a.bin), "version": version, "quick": a.quick, "repeats": reps,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
                    "load_start": load(), "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}}
    t0 = time.monotonic()
    # The connect loop's dropped pair blocks for minutes: it is measured beside everything else.
    loop = loop_start(matrix_truth(), a.quick)
    res["matrix"] = measure_matrix(a.bin, reps, a.state)
    res["big"] = measure_big(a.bin, reps, a.quick, a.state)
    res["loss"] = measure_loss(a.bin, a.state, a.quick)
    res["slow"] = measure_slow(a.bin, a.state, a.quick, res["loss"]["truth"])
    res["matrix"]["loop"] = loop_finish(loop, matrix_truth(), res["matrix"]["nmap"]["wall_s"])
    res["meta"] |= {"load_end": load(), "seconds": round(time.monotonic() - t0, 1),
                    "uptime_end": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
