#!/usr/bin/env bash
# Bring the mssp-check network lab up: namespaces msc-*, a router with the
# nftables firewall, dnsmasq, Dovecot, slapd, nginx, sslsplit, perdition and the
# small relays of relay.py, all with lab-local configuration under $LAB_STATE.
#
# Idempotent: an existing lab (or the remains of a broken one) is torn down by
# down.sh first, then everything is built anew, certificates included.
# Needs root. Installs the Debian packages it needs when they are missing.
#
# Usage: sudo tests/lab/up.sh        (MSC_LAB_STATE=DIR to move the state dir)
set -euo pipefail

export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
# shellcheck source=pki.sh
source "$LAB_DIR/pki.sh"
lab_need_root
SECONDS=0
trap 'lab_log "up.sh failed at line $LINENO; logs are in $LAB_STATE; tests/lab/down.sh cleans up"' ERR

# ---------------------------------------------------------------- packages --

# command (or file) that must exist -> Debian package that provides it
LAB_REQUIRES=(
  ip:iproute2 nft:nftables openssl:openssl python3:python3 ss:iproute2
  dnsmasq:dnsmasq-base dovecot:dovecot-core
  /usr/lib/dovecot/imap:dovecot-imapd /usr/lib/dovecot/pop3:dovecot-pop3d
  slapd:slapd ldapsearch:ldap-utils
  nginx:nginx-light /usr/lib/nginx/modules/ngx_stream_module.so:libnginx-mod-stream
  sslsplit:sslsplit perdition:perdition
  squid:squid-openssl /usr/lib/squid/security_file_certgen:squid-openssl
  curl:curl nc:netcat-openbsd dig:bind9-dnsutils
)
LAB_DAEMON_NAMES='^(dovecot|nginx|slapd|dnsmasq|perdition|sslsplit|squid)$'

# pids of lab-type daemons in this (the root) network namespace
root_ns_daemon_pids() {
  local my_net d
  my_net=$(readlink /proc/$$/ns/net)
  for d in /proc/[0-9]*; do
    [[ $(cat "$d/comm" 2>/dev/null) =~ $LAB_DAEMON_NAMES ]] || continue
    [[ $(readlink "$d/ns/net" 2>/dev/null) == "$my_net" ]] && echo "${d#/proc/}"
  done
  return 0
}

install_packages() {
  local req missing=()
  for req in "${LAB_REQUIRES[@]}"; do
    local what=${req%%:*} pkg=${req##*:}
    if [[ $what == /* ]]; then [[ -e $what ]] && continue
    else command -v "$what" >/dev/null 2>&1 && continue; fi
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0

  lab_log "installing Debian packages: ${missing[*]}"
  local before policy_made=0
  before=" $(root_ns_daemon_pids | tr '\n' ' ') "
  # Package scripts must not start system daemons (they would bind 53, 143,
  # 443 ... in the root namespace). policy-rc.d exit 101 = "action forbidden".
  # An existing policy-rc.d is the host's own business and stays as it is.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, from mssp-check tests/lab/up.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  local rc=0
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >"/tmp/msc-lab-apt.$$.log" 2>&1 || rc=$?
  ((policy_made)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then
    tail -20 "/tmp/msc-lab-apt.$$.log" >&2
    lab_die "apt-get failed (log: /tmp/msc-lab-apt.$$.log)"
  fi
  rm -f "/tmp/msc-lab-apt.$$.log"
  # If a host policy let a postinst start a daemon anyway, stop exactly that one.
  local pid
  for pid in $(root_ns_daemon_pids); do
    if [[ $before != *" $pid "* ]]; then
      lab_log "stopping $(cat "/proc/$pid/comm") (pid $pid) started by the package install"
      kill "$pid" 2>/dev/null || true
    fi
  done
}

# ---------------------------------------------------------------- network --

ns_sysctl() { ip netns exec "$1" sysctl -qw "${@:2}" >/dev/null; }

make_namespaces() {
  local ns name idx
  for ns in $(lab_namespaces); do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # No duplicate address detection: addresses are usable at once, and no
    # router advertisements: the lab's routes are static.
    ns_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
  done

  ns_sysctl "$LAB_ROUTER" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # Every rejected SYN must get its ICMP error, however many probes run at once.
  ns_sysctl "$LAB_ROUTER" net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0

  for name in $(lab_host_names); do
    idx=$(lab_host_index "$name")
    ns=msc-$name
    ip -n "$LAB_ROUTER" link add "v-$name" type veth peer name eth0 netns "$ns"
    ip -n "$LAB_ROUTER" addr add "198.18.$idx.1/24" dev "v-$name"
    ip -n "$LAB_ROUTER" addr add "fd00:18:$idx::1/64" dev "v-$name" nodad
    ip -n "$LAB_ROUTER" link set "v-$name" up
    ip -n "$ns" addr add "198.18.$idx.2/24" dev eth0
    ip -n "$ns" addr add "fd00:18:$idx::2/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "198.18.$idx.1"
    ip -n "$ns" -6 route add default via "fd00:18:$idx::1"
  done
}

# `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc/*: every program run
# in a lab namespace resolves names through the lab's dnsmasq and nothing else.
write_etc_netns() {
  local name dir
  for name in $(lab_host_names); do
    dir=/etc/netns/msc-$name
    mkdir -p "$dir"
    printf '# mssp-check lab (tests/lab/up.sh)\nnameserver %s\noptions timeout:1 attempts:2\n' \
      "$LAB_DNS_V4" >"$dir/resolv.conf"
    # The machine's own name too: daemons look it up at start (no DNS round trip).
    printf '# mssp-check lab (tests/lab/up.sh)\n127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
      "$(hostname)" >"$dir/hosts"
  done
}

# The router's firewall. Each failure verdict of the lab comes from one rule
# here (see README.md, "Firewall"). Everything not listed is forwarded.
write_router_firewall() {
  local mgmt01 mgmt02 ih02 cas01 mail01 ldap01 mailstore mitm client02 client03
  mgmt01=$(lab_v4 mgmt01) mgmt02=$(lab_v4 mgmt02) ih02=$(lab_v4 ih02)
  cas01=$(lab_v4 cas01) mail01=$(lab_v4 mail01) ldap01=$(lab_v4 ldap01)
  mailstore=$(lab_v4 mailstore) mitm=$(lab_v4 mitm) client02=$(lab_v4 client02)
  client03=$(lab_v4 client03)
  local ih01_6 mail01_6 ldap01_6
  ih01_6=$(lab_v6 ih01) mail01_6=$(lab_v6 mail01) ldap01_6=$(lab_v6 ldap01)

  cat >"$LAB_STATE/router/firewall.nft" <<EOF
# nftables ruleset of msc-router (generated by tests/lab/up.sh)
table inet msc_lab {
  # Transparent interception for chosen sources: the router sends their
  # connections to the middlebox host (msc-mitm), which talks to the real
  # server itself. The source still sees the real server's address.
  chain nat_prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip saddr $mgmt02 ip daddr $mailstore tcp dport 443 dnat ip to $mitm:443 comment "mgmt02 -> my.mailstore.com: sslsplit, FortiGate CA"
    ip saddr $ih02 ip daddr $mgmt01 tcp dport 8471 dnat ip to $mitm:8471 comment "ih02 -> mgmt01:8471: sslsplit, FortiGate CA"
    ip saddr $mgmt02 ip daddr $ih02 tcp dport 8472 dnat ip to $mitm:8472 comment "mgmt02 -> ih02:8472: sslsplit in front of a responder (tests/lab/responder.sh)"
    ip saddr $ih02 ip daddr $mail01 tcp dport 110 dnat ip to $mitm:110 comment "ih02 -> mail01:110: perdition (own greeting, STLS with FortiGate CA)"
    ip saddr $client02 ip daddr $cas01 tcp dport 143 dnat ip to $mitm:143 comment "client02 -> cas01:143: STARTTLS stripper"
    ip saddr $client03 ip daddr $cas01 tcp dport 143 dnat ip to $mitm:1143 comment "client03 -> cas01:143: STARTTLS hider (list edited, command passes)"
  }

  # A dead address: no host, no answer (-> filtered).
  chain raw_prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip daddr $LAB_DEAD_V4 drop comment "dead first address of cas01-rr.lab.test"
  }

  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept

    # ih02 (IPv4): one rule per failure verdict
    ip saddr $ih02 ip daddr $mail01 tcp dport 993 drop comment "-> filtered"
    ip saddr $ih02 ip daddr $mail01 tcp dport 995 reject with tcp reset comment "-> refused"
    ip saddr $ih02 ip daddr $ldap01 tcp dport 636 reject with icmp type admin-prohibited comment "-> unreachable"

    # ih01 over IPv6: the same three, for ICMPv6 (admin-prohibited is EACCES on Linux)
    ip6 saddr $ih01_6 ip6 daddr $mail01_6 tcp dport 993 drop comment "-> filtered"
    ip6 saddr $ih01_6 ip6 daddr $mail01_6 tcp dport 995 reject with tcp reset comment "-> refused"
    ip6 saddr $ih01_6 ip6 daddr $ldap01_6 tcp dport 636 reject with icmpv6 type admin-prohibited comment "-> unreachable"

    # A rule scoped to one source: 8473 of cas01 only from mgmt01 (mgmt02 -> filtered)
    ip daddr $cas01 tcp dport 8473 ip saddr != $mgmt01 drop comment "-> filtered for every source but mgmt01"
  }
}
EOF
  ip netns exec "$LAB_ROUTER" nft -f "$LAB_STATE/router/firewall.nft"
}

# msc-silent01 answers every TCP port: all of them are redirected to the one
# port where relay.py accepts and stays silent — but 993 to one that closes
# without a byte and 995 to one that resets (accept-and-drop middleboxes).
write_silent_firewall() {
  cat >"$LAB_STATE/silent01/accept-all.nft" <<'EOF'
# nftables ruleset of msc-silent01 (generated by tests/lab/up.sh)
table inet msc_silent {
  chain nat_prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 993 redirect to :9998
    tcp dport 995 redirect to :9997
    meta l4proto tcp redirect to :9999
  }
}
EOF
  ip netns exec msc-silent01 nft -f "$LAB_STATE/silent01/accept-all.nft"
}

# ---------------------------------------------------------------- daemons --

# Start a foreground daemon in namespace NS; its pid goes to
# $LAB_PIDS/NS.TAG.pid, where down.sh finds it. `ip netns exec` and setsid
# exec in place, so $! is the daemon itself.
start_daemon() { # NS TAG LOGFILE CMD...
  local ns=$1 tag=$2 log=$3
  shift 3
  setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$LAB_PIDS/$ns.$tag.pid"
}

# Wait until TCP PORT listens in namespace msc-HOST, or fail showing its logs.
wait_listen() { # HOST PORT
  local host=$1 port=$2 i
  for ((i = 0; i < 100; i++)); do
    if ip netns exec "msc-$host" ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "$LAB_STATE/$host"/*.log "$LAB_STATE/$host"/*.out >&2 2>/dev/null || true
  lab_die "msc-$host: nothing listens on TCP $port after 10 s (logs in $LAB_STATE/$host)"
}

start_dnsmasq() {
  local dir=$LAB_STATE/dns01 name
  {
    echo "# dnsmasq of msc-dns01 (generated by tests/lab/up.sh)"
    echo "no-resolv"
    echo "no-hosts"
    echo "no-poll"
    echo "interface=eth0"
    echo "bind-dynamic"
    echo "user=dnsmasq"
    echo "group=nogroup"
    echo "pid-file="
    echo "log-queries"
    echo "# log to stderr, i.e. daemon.log"
    echo "log-facility=-"
    echo "# answer for these zones and never forward: unknown names are NXDOMAIN"
    echo "local=/lab.test/"
    echo "local=/mailstore.com/"
    for name in $(lab_host_names); do
      echo "host-record=$name.lab.test,$(lab_v4 "$name")"
      echo "host-record=$name-v6.lab.test,$(lab_v6 "$name")"
    done
    echo "host-record=my.mailstore.com,$(lab_v4 mailstore)"
    echo "# a name whose first address is dead"
    echo "host-record=cas01-rr.lab.test,$LAB_DEAD_V4"
    echo "host-record=cas01-rr.lab.test,$(lab_v4 cas01)"
    echo "# a name the EWS certificate does not cover"
    echo "host-record=ews-badname.lab.test,$(lab_v4 ews01)"
  } >"$dir/dnsmasq.conf"
  start_daemon msc-dns01 dnsmasq "$dir/daemon.log" \
    dnsmasq --keep-in-foreground --conf-file="$dir/dnsmasq.conf"
}

# nginx with a lab-local prefix; BLOCKS is the body of its http {} (or a full
# stream {} when the first argument is "stream").
start_nginx() { # HOST KIND BLOCKS
  local host=$1 kind=$2 blocks=$3 dir=$LAB_STATE/$1
  mkdir -p "$dir/nginx-tmp"
  {
    echo "# nginx of msc-$host (generated by tests/lab/up.sh)"
    [[ $kind == stream ]] && echo "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
    echo "worker_processes 1;"
    echo "error_log $dir/nginx-error.log warn;"
    echo "pid $dir/nginx.pid;"
    echo "events { worker_connections 256; }"
    if [[ $kind == stream ]]; then
      echo "$blocks"
    else
      cat <<EOF
http {
  access_log $dir/nginx-access.log;
  client_body_temp_path $dir/nginx-tmp/body;
  proxy_temp_path $dir/nginx-tmp/proxy;
  fastcgi_temp_path $dir/nginx-tmp/fastcgi;
  uwsgi_temp_path $dir/nginx-tmp/uwsgi;
  scgi_temp_path $dir/nginx-tmp/scgi;
  default_type text/plain;
  ssl_protocols TLSv1.2 TLSv1.3;
$blocks
}
EOF
    fi
  } >"$dir/nginx.conf"
  start_daemon "msc-$host" nginx "$dir/daemon.log" \
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" -g 'daemon off;'
}

# An HTTPS server block: PORT CERT BODY
tls_server() {
  cat <<EOF
  server {
    listen $1 ssl;
    listen [::]:$1 ssl;
    ssl_certificate $LAB_PKI/$2.pem;
    ssl_certificate_key $LAB_PKI/$2.key;
$3
  }
EOF
}

start_nginx_all() {
  # Management Server: 8470 console (https), 8471 internal, 8474 API
  start_nginx mgmt01 http "$(
    tls_server 8470 mgmt01 '    location / { default_type text/html; return 200 "<html><title>MailStore SPE Management Console (lab stand-in)</title></html>\n"; }'
    tls_server 8471 mgmt01 '    location / { return 404; }'
    tls_server 8474 mgmt01 '    location / { return 401 "Management API (lab stand-in)\n"; }'
  )"
  # Instance Host: 8472 internal (ih02 deliberately has nothing: "refused")
  start_nginx ih01 http "$(tls_server 8472 ih01 '    location / { return 404; }')"
  # Client Access Server: 443 for clients (public certificate), 8473 internal
  start_nginx cas01 http "$(
    tls_server 443 cas01 '    location / { return 200 "MailStore SPE Client Access Server (lab stand-in)\n"; }'
    tls_server 8473 cas01-internal '    location / { return 404; }'
  )"
  # Exchange-like EWS: 401 with both authentication schemes, as Exchange does
  start_nginx ews01 http "$(tls_server 443 ews01 '
    location = /EWS/Exchange.asmx {
      add_header WWW-Authenticate "Negotiate" always;
      add_header WWW-Authenticate "NTLM" always;
      add_header X-FEServer "EWS01" always;
      return 401 "401 - Unauthorized: Access is denied due to invalid credentials.\n";
    }
    location / { return 403; }')"
  # my.mailstore.com stand-in
  start_nginx mailstore http "$(tls_server 443 mailstore '    location / { return 200 "my.mailstore.com (lab stand-in)\n"; }')"
  # Wrong service: what answers on 143 and 110 is an SMTP server.
  start_nginx mail02 stream "stream {
  server { listen 143; listen [::]:143; return \"220 mail02.lab.test ESMTP Postfix (Debian/GNU)\\r\\n\"; }
  server { listen 110; listen [::]:110; return \"220 mail02.lab.test ESMTP Postfix (Debian/GNU)\\r\\n\"; }
}"
  # An old mail server: implicit TLS that rustls does not speak (TLS 1.0 only on 993;
  # TLS 1.2 with RSA key exchange and CBC only on 995), as Windows still accepts.
  start_nginx legacy01 stream "stream {
  ssl_certificate $LAB_PKI/legacy01.pem;
  ssl_certificate_key $LAB_PKI/legacy01.key;
  server { listen 993 ssl; listen [::]:993 ssl; ssl_protocols TLSv1; ssl_ciphers \"AES128-SHA:@SECLEVEL=0\";
           return \"* OK legacy01 IMAP ready\\r\\n\"; }
  server { listen 995 ssl; listen [::]:995 ssl; ssl_protocols TLSv1.2; ssl_ciphers \"AES128-SHA\";
           return \"+OK legacy01 POP3 ready\\r\\n\"; }
}"
}

start_dovecot() { # HOST PROTOCOLS CERT
  local host=$1 protocols=$2 cert=$3 dir=$LAB_STATE/$1
  mkdir -p "$dir/dovecot-run" "$dir/dovecot-state" "$dir/mail"
  chown dovecot:dovecot "$dir/mail"
  cat >"$dir/dovecot.conf" <<EOF
# Dovecot of msc-$host (generated by tests/lab/up.sh)
base_dir = $dir/dovecot-run
state_dir = $dir/dovecot-state
instance_name = msc-$host
protocols = $protocols
listen = *, ::
log_path = $dir/dovecot.log
ssl = yes
ssl_cert = <$LAB_PKI/$cert.pem
ssl_key = <$LAB_PKI/$cert.key
ssl_min_protocol = TLSv1.2
ssl_dh = </usr/share/dovecot/dh.pem
# Plaintext logins only after STARTTLS/STLS: the capability then shows
# LOGINDISABLED until TLS, as on a hardened server.
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = static
  args = password=lab
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
  process_limit = 32
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
  process_limit = 32
}
EOF
  start_daemon "msc-$host" dovecot "$dir/daemon.log" dovecot -F -c "$dir/dovecot.conf"
}

start_slapd() {
  local dir=$LAB_STATE/ldap01
  mkdir -p "$dir/db"
  cat >"$dir/slapd.conf" <<EOF
# slapd of msc-ldap01 (generated by tests/lab/up.sh)
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $LAB_PKI/ldap01.pem
TLSCertificateKeyFile $LAB_PKI/ldap01.key
# Anonymous reads (the RootDSE) are fine; nothing else is stored.
database mdb
maxsize 16777216
suffix "dc=lab,dc=test"
rootdn "cn=admin,dc=lab,dc=test"
rootpw lab
directory $dir/db
EOF
  # -d 0: stay in the foreground (any -d does) without debug output.
  start_daemon msc-ldap01 slapd "$dir/daemon.log" \
    slapd -d 0 -f "$dir/slapd.conf" -h "ldap:/// ldaps:///"
}

start_middleboxes() {
  local dir=$LAB_STATE/mitm
  # TLS interception that re-signs with the lab's "FortiGate CA". Static
  # forwarding: the router DNATs chosen sources to this host (see firewall).
  start_daemon msc-mitm sslsplit "$dir/sslsplit.log" \
    sslsplit -k "$LAB_PKI/fortigate-ca.key" -c "$LAB_PKI/fortigate-ca.pem" \
    -l "$dir/sslsplit-connect.log" -u nobody \
    ssl 0.0.0.0 443 "$(lab_v4 mailstore)" 443 \
    ssl 0.0.0.0 8471 "$(lab_v4 mgmt01)" 8471 \
    ssl 0.0.0.0 8472 "$(lab_v4 ih02)" 8472
  # A real mail proxy: greets with its own banner, answers CAPA itself and
  # offers STLS with a certificate of the proxy's CA.
  start_daemon msc-mitm perdition "$dir/perdition.out" \
    perdition --no_daemon -P POP3 -F "$dir/perdition.log" -M "" \
    -b 0.0.0.0:110 -s "$(lab_v4 mail01):110" -n \
    --ssl_mode tls_listen,tls_outgoing --ssl_cert_file "$LAB_PKI/mitm-mail01.pem" \
    --ssl_key_file "$LAB_PKI/mitm-mail01.key" --ssl_ca_file "$LAB_PKI/public-root.pem" \
    --ssl_no_cn_verify --connection_limit 64 --authenticate_timeout 60 --pid_file "" \
    -u nobody -g nogroup
  # IMAP relay in front of cas01:143 that hides STARTTLS.
  start_daemon msc-mitm strip-starttls "$dir/strip-starttls.log" \
    python3 "$LAB_DIR/relay.py" strip-starttls --listen 143 --upstream "$(lab_v4 cas01):143"
  # IMAP relay in front of cas01:143 that edits STARTTLS out of the lists only.
  start_daemon msc-mitm hide-starttls "$dir/hide-starttls.log" \
    python3 "$LAB_DIR/relay.py" hide-starttls --listen 1143 --upstream "$(lab_v4 cas01):143"
}

# An explicit HTTP proxy as companies run them: squid with ssl-bump on 3128 (every
# CONNECT is re-signed by the lab's "Example Corp Web Gateway CA", which no store trusts)
# and plain CONNECT tunnels on 3129.
start_squid() {
  local dir=$LAB_STATE/proxy01
  mkdir -p "$dir"
  rm -rf "$dir/ssl_db"
  /usr/lib/squid/security_file_certgen -c -s "$dir/ssl_db" -M 4MB >/dev/null
  cat >"$dir/squid.conf" <<EOF
# squid of msc-proxy01 (generated by tests/lab/up.sh)
http_port 3128 ssl-bump tls-cert=$LAB_PKI/squid-ca.pem tls-key=$LAB_PKI/squid-ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=4MB
http_port 3129
sslcrtd_program /usr/lib/squid/security_file_certgen -s $dir/ssl_db -M 4MB
sslcrtd_children 3 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$LAB_PKI/public-root.pem
http_access allow all
cache deny all
dns_nameservers $LAB_DNS_V4
visible_hostname proxy01.lab.test
pid_filename $dir/squid.pid
access_log stdio:$dir/access.log
cache_log $dir/cache.log
coredump_dir $dir
cache_effective_user proxy
shutdown_lifetime 1 seconds
pinger_enable off
EOF
  chown -R proxy: "$dir"
  start_daemon msc-proxy01 squid "$dir/daemon.log" squid -N -f "$dir/squid.conf"
}

start_silent() {
  start_daemon msc-silent01 silent "$LAB_STATE/silent01/silent.log" \
    python3 "$LAB_DIR/relay.py" silent --listen 9999
  start_daemon msc-silent01 drop "$LAB_STATE/silent01/drop.log" \
    python3 "$LAB_DIR/relay.py" drop --listen 9998
  start_daemon msc-silent01 reset "$LAB_STATE/silent01/reset.log" \
    python3 "$LAB_DIR/relay.py" reset --listen 9997
}

# --------------------------------------------------------------------- main --

install_packages
lab_log "tearing down any previous lab"
bash "$LAB_DIR/down.sh" --quiet

mkdir -p "$LAB_STATE" "$LAB_PIDS"
chmod 755 "$LAB_STATE"
touch "$LAB_STATE/$LAB_MARKER"
for name in router $(lab_host_names); do mkdir -p "$LAB_STATE/$name"; done

lab_log "certificates"
pki_make_all
lab_log "namespaces, links, routes"
make_namespaces
write_etc_netns
lab_log "firewall"
write_router_firewall
write_silent_firewall

lab_log "daemons"
start_dnsmasq
start_nginx_all
start_dovecot mail01 "imap pop3" mail01
start_dovecot cas01 imap cas01
start_slapd
start_middleboxes
start_silent
start_squid

# Readiness: every listening port the tests depend on.
for check in \
  dns01:53 mgmt01:8470 mgmt01:8471 mgmt01:8474 ih01:8472 \
  cas01:143 cas01:993 cas01:443 cas01:8473 ews01:443 mailstore:443 \
  mail01:143 mail01:993 mail01:110 mail01:995 mail02:143 mail02:110 legacy01:993 legacy01:995 \
  ldap01:389 ldap01:636 proxy01:3128 proxy01:3129 mitm:443 mitm:8471 mitm:8472 mitm:110 mitm:143 silent01:9999 silent01:9998 silent01:9997; do
  wait_listen "${check%%:*}" "${check##*:}"
done

lab_log "up in ${SECONDS}s: $(lab_namespaces | wc -l) namespaces, state in $LAB_STATE"
lab_log "public root for --public-ca: $LAB_PKI/public-root.pem"
