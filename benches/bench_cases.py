"""The loss and slow-peer cases of benches/matrix.sh: real servers, verdicts against a clean run.

One round is two mssp-check runs from msc-b-src with IP literals only (no DNS):
  A  --role ih:   --mgmt (8470, 8471), 5 x --imap (143, 993), 5 x --pop3 (110, 995),
                  5 x --ews (443), 5 x --ldap (389, 636)                         37 paths
  B  --role mgmt: --ih 20 servers + a closed port, a dropped and a reset address
                  (8472), --cas 10 servers (8473), --mailstore-host (443)          34 paths
Every server address is a 198.19.32.N of msc-b-srv (nginx, Dovecot, slapd); the
slow case uses 198.19.40.N instead, the relay in front of the same servers, and
leaves out the three blocked targets (they are not behind the relay).
"""

import collections
import os
import statistics
import subprocess

import bench_plan as P
from bench_run import ENV, load, log, mssp_results, strip, timed

CHECKS = {False: {"loss": (1000, 300), "slow": (300, 300)}, True: {"loss": (300, 100), "slow": (100, 100)}}


def rounds_argv(binary, state, addr, blocked):
    common = ["--public-ca", os.path.join(state, "pki", "ca.pem"), "--format", "json"]
    a = [binary, "--role", "ih", "--mgmt", addr(21)]
    for flag, first in (("--imap", 1), ("--pop3", 6), ("--ews", 11), ("--ldap", 16)):
        for n in range(first, first + 5):
            a += [flag, addr(n)]
    ih = [addr(n) for n in range(21, 41)]
    if blocked:
        ih += [f"{P.srv(1)}:{P.CLOSED_PORT}", P.SRV_DROP, P.SRV_RESET]
    b = [binary, "--role", "mgmt", "--ih", ",".join(ih), "--cas", ",".join(addr(n) for n in range(1, 11)),
         "--mailstore-host", addr(1)]
    return [a + common, b + common]


def configured(key):
    """What the lab was built to give: every server ok; the three blocked targets not."""
    _, (ip, port) = key
    if ip == P.SRV_DROP:
        return "filtered"
    if ip == P.SRV_RESET or port == P.CLOSED_PORT:
        return "refused"
    return "ok"


def to_direct(key):
    """A relayed target (198.19.40.N) is judged against its server (198.19.32.N)."""
    path, (ip, port) = key
    if ip.startswith("198.19.40."):
        ip = P.srv(int(ip.rsplit(".", 1)[1]))
    return (path, (ip, port))


def run_round(binary, state, addr, blocked, timeout):
    seen, runs = {}, []
    for argv in rounds_argv(binary, state, addr, blocked):
        r = timed(P.NS_SRC, argv + (["--timeout", timeout] if timeout else []), "case")
        got = mssp_results(r)
        if got is None:
            raise SystemExit(f"bench: mssp-check gave no JSON (exit {r['rc']}): {r['stderr'][-500:]}")
        seen.update(got)
        runs.append(strip(r))
    return seen, runs


def label(key):
    path, (ip, port) = key
    return f"{path} {ip}:{port}"


def clean_truth(binary, state):
    """The clean network's verdict per path, at the defaults and at --timeout 2s."""
    truth, mismatch = {}, []
    for timeout in (None, "2s"):
        seen, _ = run_round(binary, state, P.srv, True, timeout)
        truth[timeout or "default"] = {label(k): v[0] for k, v in seen.items()}
        for k, (verdict, reason) in sorted(seen.items()):
            if verdict != configured(k):
                mismatch.append({"timeout": timeout or "default", "path": label(k), "configured": configured(k),
                                 "got": verdict, "reason": reason})
    return truth, mismatch


def repeat(binary, state, addr, blocked, timeout, want, truth):
    """Rounds until `want` path checks; every verdict that differs from the clean one is wrong."""
    checks, wrong, walls, rounds = 0, [], [], 0
    verdicts = collections.Counter()
    clean = truth[timeout or "default"]
    while checks < want:
        seen, runs = run_round(binary, state, addr, blocked, timeout)
        rounds += 1
        walls += [r["wall_s"] for r in runs]
        for key, (verdict, reason) in sorted(seen.items()):
            checks += 1
            verdicts[verdict] += 1
            expected = clean.get(label(to_direct(key)), "missing")
            if verdict != expected:
                wrong.append({"path": label(key), "expected": expected, "got": verdict, "reason": reason})
    return {"timeout": timeout or "default (5s)", "checks": checks, "rounds": rounds, "wrong_count": len(wrong),
            "wrong": wrong, "verdicts": dict(verdicts),
            "wrong_reasons": dict(collections.Counter(f"{w['expected']} -> {w['got']}: {w['reason']}" for w in wrong)),
            "run_wall_s_median": statistics.median(walls), "run_wall_s_max": max(walls)}


def nft_router(*args, stdin=None):
    subprocess.run(["ip", "netns", "exec", P.NS_ROUTER, "nft", *args], input=stdin, text=True, env=ENV, check=True)


def measure_loss(binary, state, quick):
    log(f"loss case: clean network first (load {load()})")
    truth, mismatch = clean_truth(binary, state)
    n_default, n_t2 = CHECKS[quick]["loss"]
    nft_router("-f", "-", stdin=P.loss_nft(10))
    try:
        log(f"loss case: 10% random loss, >= {n_default} path checks with the defaults (load {load()})")
        default = repeat(binary, state, P.srv, True, None, n_default, truth)
        log(f"loss case: >= {n_t2} path checks at --timeout 2s (load {load()})")
        t2 = repeat(binary, state, P.srv, True, "2s", n_t2, truth)
    finally:
        nft_router("delete", "table", "inet", "msc_bench_loss")
    return {"loss_percent": 10, "truth": truth, "clean_mismatch": mismatch, "paths_per_round": len(truth["default"]),
            "default": default, "t2": t2}


def measure_slow(binary, state, quick, truth):
    n_default, n_t2 = CHECKS[quick]["slow"]
    log(f"slow peers: relay delaying first bytes 50-300 ms, >= {n_default} path checks (load {load()})")
    default = repeat(binary, state, P.relay, False, None, n_default, truth)
    log(f"slow peers: >= {n_t2} path checks at --timeout 2s (load {load()})")
    t2 = repeat(binary, state, P.relay, False, "2s", n_t2, truth)
    return {"delay_ms": [50, 300], "default": default, "t2": t2}
