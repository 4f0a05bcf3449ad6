#!/usr/bin/env bash
# benches/matrix.sh — issue 12's benchmark: mssp-check against nmap -sT and a
# sequential connect loop on a 120-peer Management Server matrix (240 host:port
# pairs) with a DNS server that never answers, a 5,000-target matrix, and real
# servers behind 10% random loss and behind a slow relay. Prints one Markdown
# table of ratios against baselines measured in the same run and writes the raw
# numbers as JSON beside it.
#
# Usage: sudo bash benches/matrix.sh [--quick] [--out DIR] [--hold]
#   MSSP_CHECK=PATH   the binary (default: target/release/mssp-check of this checkout;
#                     built with `cargo build --release --locked` when missing)
#   --quick           one repeat, fewer loss/slow checks, the dropped connect computed
#   --out DIR         where table.md and results.json go (default benches/out)
#   --hold            build the network and daemons, measure nothing, wait for Ctrl-C
#                     (to look by hand: sudo ip netns exec msc-b-src bash)
#
# Builds its own namespaces msc-b-router, msc-b-src, msc-b-peers, msc-b-srv and
# msc-b-relay (addresses in 198.19.0.0/16 and fd00:19::/32 only) and deletes
# exactly those on exit; never touches any other msc-* namespace. Needs root;
# installs the Debian packages it uses when they are missing.
set -euo pipefail

export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
STATE=${MSC_BENCH_STATE:-/run/msc-bench}
OUT=$BENCH_DIR/out
QUICK=()
HOLD=0
while (($#)); do
  case $1 in
    --quick) QUICK=(--quick) ;;
    --out) OUT=$2; shift ;;
    --hold) HOLD=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "matrix.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
MSSP_CHECK=${MSSP_CHECK:-$REPO/target/release/mssp-check}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (namespaces, nftables, daemons): sudo bash $0"
command -v python3 >/dev/null || die "python3 is needed"
eval "$(python3 "$BENCH_DIR/bench_plan.py" env)"

# ---------------------------------------------------------------- packages --

# command (or file) that must exist -> Debian package that provides it
REQUIRES=(
  ip:iproute2 nft:nftables openssl:openssl nmap:nmap /usr/bin/time:time ss:iproute2
  nginx:nginx-light dovecot:dovecot-core /usr/lib/dovecot/imap:dovecot-imapd
  /usr/lib/dovecot/pop3:dovecot-pop3d slapd:slapd
)

install_packages() {
  local req missing=()
  for req in "${REQUIRES[@]}"; do
    local what=${req%%:*} pkg=${req##*:}
    if [[ $what == /* ]]; then [[ -e $what ]] && continue
    else command -v "$what" >/dev/null 2>&1 && continue; fi
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  # Package scripts must not start system daemons in the root namespace.
  # An existing policy-rc.d is the host's own and stays as it is.
  local policy_made=0 rc=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, from mssp-check benches/matrix.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  {
    apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${missing[@]}"
  } >"/tmp/msc-bench-apt.$$.log" 2>&1 || rc=$?
  ((policy_made)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || { tail -20 "/tmp/msc-bench-apt.$$.log" >&2; die "apt-get failed"; }
  rm -f "/tmp/msc-bench-apt.$$.log"
}

# ------------------------------------------------------------ cleanup (trap) --

# Namespaces and daemons this run made are recorded as they are made; the trap
# ends exactly those daemons (by pid) and deletes exactly those namespaces.
MADE_NS=()
ns_made() { [[ " ${MADE_NS[*]} " == *" $1 "* ]]; }

stop_daemons() {
  local f pid
  for f in "$STATE"/pids/*.pid; do
    [[ -e $f ]] || continue
    pid=$(cat "$f")
    # Only a process that still lives in one of the bench's namespaces is ours.
    if [[ -n $pid ]] && [[ " $B_NAMESPACES " == *" $(ip netns identify "$pid" 2>/dev/null) "* ]]; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  sleep 0.5
}

# The measuring helper runs in a session of its own, in the background, so that a
# signal reaches this script at once (bash runs traps only between foreground
# commands) and the trap can end the helper and every probe it started as one group.
MEASURER=
run_measurer() {
  setsid "$@" &
  MEASURER=$!
  wait "$MEASURER"
  local rc=$?
  MEASURER=
  return "$rc"
}

cleanup() {
  local rc=$? ns
  trap - EXIT INT TERM
  if [[ -n $MEASURER ]]; then
    kill -TERM -- "-$MEASURER" 2>/dev/null || true
    wait "$MEASURER" 2>/dev/null || true
  fi
  stop_daemons
  for ns in "${MADE_NS[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  [[ -d /etc/netns/$B_SRC ]] && rm -rf "/etc/netns/${B_SRC:?}"
  if ((rc == 0)); then
    [[ -e $STATE/.msc-bench-state ]] && rm -rf "${STATE:?}"
  else
    ((rc == 130 || rc == 143)) && log "stopped by a signal; namespaces removed"
    ((rc == 130 || rc == 143)) || log "failed (exit $rc)"
    log "configs and daemon logs stay in $STATE"
  fi
  exit "$rc"
}

# A run that was killed hard leaves its namespaces behind: those exact names
# (and the daemons still inside them, by their pid files) go before we start.
remove_leftovers() {
  local ns
  [[ -d $STATE/pids ]] && stop_daemons
  for ns in $B_NAMESPACES; do
    if [[ -e /run/netns/$ns ]]; then
      log "removing $ns left by an earlier run"
      ip netns delete "$ns"
    fi
  done
}

# ---------------------------------------------------------------- network --

nsx() { ip netns exec "$@"; }

make_network() {
  local ns entry idx
  for ns in $B_NAMESPACES; do
    ip netns add "$ns"
    MADE_NS+=("$ns")
    ip -n "$ns" link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
  done
  nsx "$B_ROUTER" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 >/dev/null
  for entry in $B_HOSTS; do
    ns=${entry%%:*} idx=${entry##*:}
    ip -n "$B_ROUTER" link add "v$idx" type veth peer name eth0 netns "$ns"
    ip -n "$B_ROUTER" addr add "198.19.$idx.1/24" dev "v$idx"
    ip -n "$B_ROUTER" addr add "fd00:19:$idx::1/64" dev "v$idx" nodad
    ip -n "$B_ROUTER" link set "v$idx" up
    ip -n "$ns" addr add "198.19.$idx.2/24" dev eth0
    ip -n "$ns" addr add "fd00:19:$idx::2/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "198.19.$idx.1"
    ip -n "$ns" -6 route add default via "fd00:19:$idx::1"
  done
  # Whole ranges answered by one namespace: routed there, "local" inside (AnyIP).
  ip -n "$B_ROUTER" route add "$B_PEERS_V4" via 198.19.1.2
  ip -n "$B_ROUTER" -6 route add "$B_PEERS_V6" via fd00:19:1::2
  ip -n "$B_PEERS" route add local "$B_PEERS_V4" dev lo
  ip -n "$B_PEERS" -6 route add local "$B_PEERS_V6" dev lo
  ip -n "$B_ROUTER" route add "$B_SRV_V4" via 198.19.3.2
  ip -n "$B_SRV" route add local "$B_SRV_LOCAL" dev lo
  ip -n "$B_ROUTER" route add "$B_RELAY_LOCAL" via 198.19.5.2
  ip -n "$B_RELAY" route add local "$B_RELAY_LOCAL" dev lo
  # The peers take thousands of connections in a burst.
  nsx "$B_PEERS" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 >/dev/null

  python3 "$BENCH_DIR/bench_plan.py" nft >"$STATE/router.nft"
  nsx "$B_ROUTER" nft -f "$STATE/router.nft"

  # A DNS server that never answers: the router drops it (raw prerouting).
  mkdir -p "/etc/netns/$B_SRC"
  printf '# mssp-check benches/matrix.sh: a DNS server that never answers\nnameserver %s\n' \
    "$B_DEAD_DNS" >"/etc/netns/$B_SRC/resolv.conf"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$(hostname)" >"/etc/netns/$B_SRC/hosts"
}

# ------------------------------------------------------------ certificates --

# ECDSA P-256 throughout: thousands of handshakes on two shared cores must not
# measure the server's RSA signing.
pki_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

make_pki() {
  local pki=$STATE/pki
  mkdir -p "$pki"
  # The matrix's peers: self-signed, CA:FALSE, like SPE's own 847x certificates.
  pki_key "$pki/peer.key"
  openssl req -x509 -new -key "$pki/peer.key" -out "$pki/peer.pem" -subj "/CN=peer.bench.invalid" \
    -days 2 -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -addext "subjectAltName=DNS:peer.bench.invalid" 2>/dev/null
  # The loss lab's servers: a leaf of a bench CA that the runs pass as --public-ca
  # (IMAP, EWS, LDAP and the my.mailstore.com stand-in are public endpoints).
  pki_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
    -subj "/O=mssp-check bench (local only)/CN=Bench Public Root" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  pki_key "$pki/srv.key"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:srv.bench.invalid,%s\n' \
    "$B_CERT_IPS" >"$pki/srv.ext"
  openssl req -new -key "$pki/srv.key" -subj "/CN=srv.bench.invalid" 2>/dev/null |
    openssl x509 -req -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
      -extfile "$pki/srv.ext" -out "$pki/srv.pem" 2>/dev/null
  chmod 755 "$pki"
}

# ---------------------------------------------------------------- daemons --

start_daemon() { # NS TAG CMD... (foreground daemons; `ip netns exec` execs in place)
  local ns=$1 tag=$2
  shift 2
  setsid ip netns exec "$ns" "$@" </dev/null >>"$STATE/$tag.log" 2>&1 &
  echo $! >"$STATE/pids/$tag.pid"
}

wait_listen() { # NS PORT
  local i
  for ((i = 0; i < 100; i++)); do
    nsx "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.1
  done
  tail -n 20 "$STATE"/*.log >&2 || true
  die "$1: nothing listens on TCP $2 after 10 s"
}

nginx_conf() { # NAME SERVERS
  local dir=$STATE/$1
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
# nginx of benches/matrix.sh ($1)
worker_processes 1;
worker_rlimit_nofile 20000;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type text/plain;
  ssl_protocols TLSv1.2 TLSv1.3;
$2
}
EOF
  echo "$dir/nginx.conf"
}

tls_server() { # PORT CERT BODY
  printf '  server {\n    listen %s ssl backlog=8192;\n    listen [::]:%s ssl backlog=8192;\n' "$1" "$1"
  printf '    ssl_certificate %s.pem;\n    ssl_certificate_key %s.key;\n%s\n  }\n' \
    "$STATE/pki/$2" "$STATE/pki/$2" "$3"
}

start_peers() {
  local conf
  conf=$(nginx_conf peers "$(tls_server 8472 peer '    location / { return 404; }'
    tls_server 8473 peer '    location / { return 404; }')")
  start_daemon "$B_PEERS" nginx-peers nginx -p "$STATE/peers/" -c "$conf" -g 'daemon off;'
}

start_servers() {
  local conf dir=$STATE/srv
  conf=$(nginx_conf srv "$(
    tls_server 443 srv '    location = /EWS/Exchange.asmx {
      add_header WWW-Authenticate "Negotiate" always;
      add_header WWW-Authenticate "NTLM" always;
      return 401 "401 - Unauthorized\n";
    }
    location / { return 200 "bench web server\n"; }'
    tls_server 8470 srv '    location / { default_type text/html; return 200 "<html><title>MailStore SPE Management Console (bench stand-in)</title></html>\n"; }'
    tls_server 8471 srv '    location / { return 404; }'
    tls_server 8472 srv '    location / { return 404; }'
    tls_server 8473 srv '    location / { return 404; }'
  )")
  start_daemon "$B_SRV" nginx-srv nginx -p "$dir/" -c "$conf" -g 'daemon off;'

  mkdir -p "$dir/dovecot-run" "$dir/dovecot-state" "$dir/mail"
  chown dovecot:dovecot "$dir/mail"
  cat >"$dir/dovecot.conf" <<EOF
# Dovecot of benches/matrix.sh
base_dir = $dir/dovecot-run
state_dir = $dir/dovecot-state
instance_name = msc-bench
protocols = imap pop3
listen = *
log_path = $dir/dovecot.log
ssl = yes
ssl_cert = <$STATE/pki/srv.pem
ssl_key = <$STATE/pki/srv.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = static
  args = password=bench
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dir/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
  process_limit = 256
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
  process_limit = 256
}
EOF
  start_daemon "$B_SRV" dovecot dovecot -F -c "$dir/dovecot.conf"

  mkdir -p "$dir/ldap-db"
  cat >"$dir/slapd.conf" <<EOF
# slapd of benches/matrix.sh
include /etc/ldap/schema/core.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $STATE/pki/srv.pem
TLSCertificateKeyFile $STATE/pki/srv.key
database mdb
maxsize 16777216
suffix "dc=bench,dc=invalid"
rootdn "cn=admin,dc=bench,dc=invalid"
rootpw bench
directory $dir/ldap-db
EOF
  start_daemon "$B_SRV" slapd slapd -d 0 -f "$dir/slapd.conf" -h "ldap:/// ldaps:///"

  # shellcheck disable=SC2086  # the port list is words
  start_daemon "$B_RELAY" slowrelay python3 "$BENCH_DIR/slowrelay.py" \
    --upstream-net "$B_SRV_LOCAL" --ports $B_RELAY_PORTS
}

# --------------------------------------------------------------------- main --

if [[ ! -x $MSSP_CHECK ]]; then
  [[ $MSSP_CHECK == "$REPO/target/release/mssp-check" ]] || die "MSSP_CHECK=$MSSP_CHECK is not an executable"
  log "building $MSSP_CHECK (cargo build --release --locked)"
  (cd "$REPO" && cargo build --release --locked) || die "cargo build failed"
fi
install_packages
remove_leftovers
[[ -e $STATE && ! -e $STATE/.msc-bench-state ]] && die "$STATE exists and is not the bench's state dir"
rm -rf "$STATE"
mkdir -p "$STATE/pids" "$OUT"
touch "$STATE/.msc-bench-state"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SECONDS=0
log "certificates, namespaces, router"
make_pki
make_network
log "daemons"
start_peers
start_servers
for p in 8472 8473; do wait_listen "$B_PEERS" "$p"; done
for p in 443 8470 8471 8472 8473 143 993 110 995 389 636; do wait_listen "$B_SRV" "$p"; done
for p in $B_RELAY_PORTS; do wait_listen "$B_RELAY" "$p"; done
if ((HOLD)); then
  trap 'exit 0' INT TERM
  log "up in ${SECONDS}s; holding until Ctrl-C or SIGTERM (pid $$)"
  while :; do sleep 1; done
fi
log "up in ${SECONDS}s; measuring with $MSSP_CHECK"

mkdir -p "$STATE/tmp"
TMPDIR=$STATE/tmp run_measurer python3 "$BENCH_DIR/bench_measure.py" --state "$STATE" --bin "$MSSP_CHECK" "${QUICK[@]}" \
  --out "$OUT/results.json" || die "measuring failed"
python3 "$BENCH_DIR/bench_report.py" "$OUT/results.json" | tee "$OUT/table.md"
log "table: $OUT/table.md, raw numbers: $OUT/results.json (${SECONDS}s in all)"
