#!/usr/bin/env bash
# Take the mssp-check network lab down. Idempotent; needs root.
#
#  1. stops the daemons that up.sh started, by the pids in $LAB_STATE/pids
#     (a pid is only signalled while it still lives in a lab namespace);
#  2. stops whatever else still runs inside a lab namespace (e.g. a probe
#     started by hand), by pid, with a warning;
#  3. deletes exactly the namespaces listed in lib.sh - never by pattern;
#  4. removes exactly their /etc/netns/msc-NAME dirs and the state dir.
#
# Usage: sudo tests/lab/down.sh [--quiet]
set -euo pipefail

export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
lab_need_root

QUIET=0
[[ ${1:-} == --quiet ]] && QUIET=1
say() { ((QUIET)) || lab_log "$@"; }

net_of() { readlink "/proc/$1/ns/net" 2>/dev/null; }

# Network-namespace ids (net:[inode]) of the lab namespaces that exist now.
declare -A LAB_NETS=()
for ns in $(lab_namespaces); do
  if lab_ns_exists "$ns"; then
    LAB_NETS["net:[$(stat -L -c %i "/run/netns/$ns")]"]=$ns
  fi
done
MY_NET=$(net_of $$)

# Is PID a process of the lab? Yes if it lives in a lab namespace; if that
# namespace is already gone, if it at least does not live in ours.
is_lab_pid() { # PID NS
  local net
  net=$(net_of "$1") || return 1
  if lab_ns_exists "$2"; then [[ -n ${LAB_NETS[$net]:-} ]]; else [[ $net != "$MY_NET" ]]; fi
}

stop_pids() { # PID...
  local pid i alive
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || return 0
    sleep 0.1
  done
  say "still running after 5 s, sending KILL: ${alive[*]}"
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

# 1. daemons started by up.sh
to_stop=()
if [[ -d $LAB_STATE/pids ]]; then
  for pidfile in "$LAB_STATE"/pids/*.pid; do
    [[ -e $pidfile ]] || continue
    base=$(basename "$pidfile" .pid) # NS.TAG
    pid=$(<"$pidfile")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && is_lab_pid "$pid" "${base%%.*}"; then
      say "stopping ${base#*.} in ${base%%.*} (pid $pid)"
      to_stop+=("$pid")
    fi
    rm -f "$pidfile"
  done
fi
stop_pids "${to_stop[@]}"

# 2. anything left inside a lab namespace (children, hand-started probes)
for ns in $(lab_namespaces); do
  lab_ns_exists "$ns" || continue
  left=$(ip netns pids "$ns" | tr '\n' ' ')
  if [[ -n ${left// /} ]]; then
    lab_log "warning: processes left in $ns, stopping them: $left"
    # shellcheck disable=SC2086
    stop_pids $left
  fi
done

# 3. namespaces, by exact name (their veth pairs go with them)
for ns in $(lab_namespaces); do
  if lab_ns_exists "$ns"; then
    say "deleting namespace $ns"
    ip netns delete "$ns"
  fi
done

# 4. per-namespace /etc files and the state dir
for name in $(lab_host_names); do
  rm -rf "/etc/netns/msc-$name"
done
if [[ -d $LAB_STATE ]]; then
  if [[ -e $LAB_STATE/$LAB_MARKER ]]; then
    rm -rf "$LAB_STATE"
  else
    lab_log "warning: $LAB_STATE has no $LAB_MARKER file; not removing it"
  fi
fi
say "lab is down"
