#!/usr/bin/env python3
"""Turns benches/matrix.sh's results.json into one Markdown table (stdlib only).

Every figure is set against a baseline measured in the same run (nmap's wall
time, the --timeout, the clean run's verdicts) and against issue 12's targets.

    python3 benches/bench_report.py benches/out/results.json
"""

import collections
import json
import sys


def secs(x):
    return "—" if x is None else f"{x:.2f} s" if x < 100 else f"{x:,.0f} s"


def ratio(a, b):
    return "—" if not a or not b else f"{a / b:.2f}" if a / b < 100 else f"{a / b:,.0f}"


def met(ok):
    return "**met**" if ok else "**not met**"


def rows(d):
    m, big, loss, slow = d["matrix"], d["big"], d["loss"], d["slow"]
    nm, dflt, t2, loop = m["nmap"], m["mssp_default"], m["mssp_t2"], m["loop"]
    n_wall, n_cpu, n_rss = nm["wall_s"], nm["cpu_s"], nm["rss_mb"]
    ag = {k: m[k]["agreement"] for k in ("mssp_default", "mssp_t2", "mssp_default_ip")}
    all_right = {k: a["right"] == a["pairs"] for k, a in ag.items()}
    yield ("matrix, `--timeout 2s`: wall", secs(t2["wall_s"]), "the timeout: 2 s", ratio(t2["wall_s"], 2.0),
           "≤ 1.2", met(t2["wall_s"] <= 2.4))
    yield ("matrix, `--timeout 2s`: report ready (its `duration_ms`)", secs(t2["report_s"]), "the timeout: 2 s",
           ratio(t2["report_s"], 2.0), "", "")
    yield ("matrix, defaults: wall", secs(dflt["wall_s"]), f"nmap -sT: {secs(n_wall)}", ratio(dflt["wall_s"], n_wall),
           "≤ 1.0, every verdict right", met(dflt["wall_s"] <= n_wall and all_right["mssp_default"]))
    yield ("matrix, defaults: report ready (its `duration_ms`)", secs(dflt["report_s"]), f"nmap -sT: {secs(n_wall)}",
           ratio(dflt["report_s"], n_wall), "", "")
    ip = m["mssp_default_ip"]
    yield ("matrix, defaults, licensing path by IP (no DNS): wall", secs(ip["wall_s"]), f"nmap -sT: {secs(n_wall)}",
           ratio(ip["wall_s"], n_wall), "≤ 1.0, every verdict right",
           met(ip["wall_s"] <= n_wall and all_right["mssp_default_ip"]))
    for key, name in (("mssp_default", "defaults"), ("mssp_t2", "`--timeout 2s`"), ("mssp_default_ip", "no DNS")):
        a, run = ag[key], m[key]
        yield (f"matrix, {name}: verdicts right (all repeats)", f"{a['right']}/{a['pairs']}", "configured truth",
               ratio(a["right"], a["pairs"]), "all", met(all_right[key]))
        if key == "mssp_default_ip":
            continue  # CPU and memory as with DNS: not repeated
        yield (f"matrix, {name}: CPU user+sys", secs(run["cpu_s"]), f"nmap: {secs(n_cpu)}", ratio(run["cpu_s"], n_cpu),
               "", "")
        yield (f"matrix, {name}: peak RSS", f"{run['rss_mb']:.1f} MB", f"nmap: {n_rss:.1f} MB",
               ratio(run["rss_mb"], n_rss), "", "")
    na = nm["agreement"]
    yield ("matrix, nmap -sT: states right (all repeats)", f"{na['right']}/{na['pairs']}", "configured truth",
           ratio(na["right"], na["pairs"]), "", "")
    c = loop["per_port_s"]
    yield (f"connect loop, Linux ({loop['dropped_cost']}: {c['dropped']:.0f} s per dropped pair, "
           f"{c['open'] * 1000:.2f} / {c['reset'] * 1000:.2f} ms per open / reset pair)",
           secs(loop["linux_total_s"]), f"nmap -sT: {secs(n_wall)}", ratio(loop["linux_total_s"], n_wall), "", "")
    yield (f"connect loop, Windows ({loop['windows_dropped_s']:.0f} s per dropped pair)", secs(loop["windows_total_s"]),
           f"nmap -sT: {secs(n_wall)}", ratio(loop["windows_total_s"], n_wall), "", "")
    yield ("connect loop: outcomes right (samples)", loop["kinds_right"], "configured truth", "", "", "")
    b = big["mssp_t2"]
    yield (f"{big['targets']:,} targets, `--timeout 2s`: wall", secs(b["wall_s"]), "the timeout: 2 s",
           ratio(b["wall_s"], 2.0), "≤ 1.5", met(b["wall_s"] <= 3.0))
    yield (f"{big['targets']:,} targets: report ready (its `duration_ms`)", secs(b["report_s"]), "the timeout: 2 s",
           ratio(b["report_s"], 2.0), "", "")
    yield (f"{big['targets']:,} targets: peak RSS", f"{b['rss_mb']:.1f} MB", "64 MB", ratio(b["rss_mb"], 64.0),
           "≤ 1.0", met(b["rss_mb"] <= 64.0))
    yield (f"{big['targets']:,} targets: verdicts right", f"{b['agreement']['right']}/{b['agreement']['pairs']}",
           "configured truth", ratio(b["agreement"]["right"], b["agreement"]["pairs"]), "", "")
    if "nmap" in big:
        n = big["nmap"]
        yield (f"{big['targets']:,} targets, `--timeout 2s`: wall against nmap", secs(b["wall_s"]),
               f"nmap -sT: {secs(n['wall_s'])}", ratio(b["wall_s"], n["wall_s"]), "", "")
        yield (f"{big['targets']:,} targets, nmap -sT: states right", f"{n['agreement']['right']}/{n['agreement']['pairs']}",
               "configured truth", ratio(n["agreement"]["right"], n["agreement"]["pairs"]), "", "")
    yield ("loss lab, clean network: verdicts as configured", f"{len(loss['clean_mismatch'])} differ",
           "configured truth", "", "0", met(not loss["clean_mismatch"]))
    for case, data, want in (("10% loss", loss, {"default": 1000, "t2": 300}), ("slow relay", slow, {"default": 300, "t2": 300})):
        for key in ("default", "t2"):
            r = data[key]
            enough = r["checks"] >= want[key]
            yield (f"{case}, {'defaults' if key == 'default' else '`--timeout 2s`'}: wrong verdicts",
                   f"{r['wrong_count']} in {r['checks']:,}", "the clean run", f"{r['wrong_count'] / r['checks']:.3f}",
                   f"0 in ≥ {want[key]:,}",
                   met(r["wrong_count"] == 0) if enough or r["wrong_count"] else "— (too few checks: --quick)")


def wrong_list(d):
    out = []
    for case, data in (("10% loss", d["loss"]), ("slow relay", d["slow"])):
        for key in ("default", "t2"):
            groups = collections.defaultdict(collections.Counter)
            for w in data[key]["wrong"]:
                groups[f"{w['expected']} -> {w['got']}: {w['reason']}"][w["path"].split()[0]] += 1
            for reason, paths in sorted(groups.items(), key=lambda g: -sum(g[1].values())):
                on = ", ".join(f"{p} ×{n}" for p, n in paths.most_common())
                out.append(f"- {case}, {data[key]['timeout']}: {sum(paths.values())}× {reason} ({on})")
    for w in d["loss"]["clean_mismatch"]:
        out.append(f"- clean loss lab, {w['timeout']}: {w['path']} configured {w['configured']}, got {w['got']}: {w['reason']}")
    for key in ("mssp_default", "mssp_t2", "mssp_default_ip"):
        for w in d["matrix"][key]["agreement"]["wrong"]:
            out.append(f"- matrix {key}: {w['target']} expected {w['expected']}, got {w['got']}: {w['reason']}")
    return out


def render(d):
    meta, m = d["meta"], d["matrix"]
    lines = [
        f"**{meta['version']}** ({meta['binary']}), {meta['started']}, {meta['cpus']} CPUs, "
        f"{'--quick, ' if meta['quick'] else ''}{meta['repeats']} repeat(s) per matrix figure (median); "
        f"{meta['seconds']:.0f} s of measuring.",
        f"Load (1/5/15 min) at start {meta['load_start']}, at end {meta['load_end']}.",
        "",
        f"Matrix: {m['pairs']} pairs ({', '.join(f'{v} {k}' for k, v in sorted(m['mix'].items()))}); "
        f"the source's DNS server never answers; the licensing path: {'; '.join(sorted(set(m['mssp_default']['licensing']) | set(m['mssp_t2']['licensing'])))}. "
        f"nmap: {m['nmap_arrangement']}.",
        "",
        "| measurement | value | baseline (same run) | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(d)]
    wrong = wrong_list(d)
    lines += ["", "Wrong verdicts (expected -> got: the tool's reason):" if wrong else "No wrong verdicts.", *wrong]
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_report.py results.json")
    with open(sys.argv[1]) as f:
        sys.stdout.write(render(json.load(f)))


if __name__ == "__main__":
    main()
