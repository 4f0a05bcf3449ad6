#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (not part of every CI run):
#   fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 300 s, every target)
# Needs nightly Rust (rustup toolchain install nightly) and cargo-fuzz
# (cargo install --locked cargo-fuzz). A crash stops the script; its input is in
# fuzz/artifacts/TARGET/ — fix it, and keep the input as a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-300}"
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
targets="${*:-$(cargo +nightly fuzz list)}"
for t in $targets; do
  mkdir -p "corpus/$t"
  printf '=== %s: %ss\n' "$t" "$seconds"
  # -max_len keeps inputs to what a greeting or a small file is; -rss_limit_mb bounds memory.
  cargo +nightly fuzz run "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)|ERROR|panicked' || true
  if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    echo "!!! $t: crash inputs in fuzz/artifacts/$t" >&2
    exit 1
  fi
done
echo "all targets ran ${seconds}s without a crash"
