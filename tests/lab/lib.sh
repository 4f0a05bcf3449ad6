# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared definitions of the mssp-check network lab, sourced by up.sh, down.sh,
# run.sh and check-lab.sh. The topology lives here and nowhere else: the list of
# namespaces that up.sh creates is exactly the list that down.sh deletes.

# Runtime state: certificates, daemon configs, logs, pid files. Everything the
# lab writes goes here, except /etc/netns/msc-* (see below) and the namespaces.
LAB_STATE=${MSC_LAB_STATE:-/run/msc-lab}
LAB_PKI=$LAB_STATE/pki
LAB_PIDS=$LAB_STATE/pids
# up.sh writes this file into LAB_STATE; down.sh only removes a state dir that
# carries it, so a mistyped MSC_LAB_STATE cannot make it delete something else.
LAB_MARKER=.msc-lab-state

LAB_ROUTER=msc-router

# Every host of the lab: "name:index". Host NAME lives in namespace msc-NAME,
# is joined to msc-router by a veth pair (router side v-NAME, host side eth0)
# and has the addresses 198.18.INDEX.2/24 and fd00:18:INDEX::2/64; the router
# has .1 / ::1 on that link. Keep the indexes stable: expected.toml, the
# firewall rules and the README use the addresses.
LAB_HOSTS=(
  mgmt01:1     # Management Server: nginx 8470 (https), 8471, 8474 (self-signed)
  ih01:2       # Instance Host: nginx 8472 (self-signed); dual-stack test source
  cas01:3      # Client Access Server: dovecot 143/993, nginx 443 (public), 8473 (self-signed)
  mail01:4     # customer mail server: dovecot IMAP 143/993, POP3 110/995 (public)
  ews01:5      # Exchange-like EWS host: nginx 443, /EWS/Exchange.asmx -> 401 Negotiate/NTLM
  ldap01:6     # directory server: slapd 389 (StartTLS) and 636 (public)
  mailstore:7  # stand-in for my.mailstore.com: nginx 443 (public)
  mitm:8       # middleboxes: sslsplit (FortiGate CA), STARTTLS stripper and hider, perdition
  dns01:9      # dnsmasq for lab.test and my.mailstore.com
  adm01:10     # administrator's workstation (source only)
  client01:11  # archive user's machine (source only)
  client02:12  # archive user behind a STARTTLS-stripping middlebox (source only)
  silent01:13  # accepts every TCP port, then says nothing
  mail02:14    # wrong service: an SMTP banner on the IMAP and POP3 ports
  mgmt02:15    # second Management Server, behind TLS interception (source only)
  ih02:16      # second Instance Host: "bad network" source; nothing listens on 8472
  client03:17  # archive user behind a middlebox that hides STARTTLS from CAPABILITY (source only)
  legacy01:18  # old customer mail server: IMAPS TLS 1.0 only, POP3S TLS 1.2 with RSA key exchange only
  proxy01:19   # explicit HTTP proxy, squid: 3128 ssl-bump (re-signs with its CA), 3129 CONNECT only
)

# An address that is routed nowhere: the router drops it silently. Used as the
# dead first address of cas01-rr.lab.test.
LAB_DEAD_V4=198.18.200.1
LAB_DNS_V4=198.18.9.2

lab_host_index() { # NAME -> INDEX
  local entry
  for entry in "${LAB_HOSTS[@]}"; do
    if [[ ${entry%%:*} == "$1" ]]; then echo "${entry##*:}"; return 0; fi
  done
  echo "lab: unknown host $1" >&2
  return 1
}
lab_host_names() { local e; for e in "${LAB_HOSTS[@]}"; do echo "${e%%:*}"; done; }
lab_v4() { echo "198.18.$(lab_host_index "$1").2"; }
lab_v6() { echo "fd00:18:$(lab_host_index "$1")::2"; }

# All namespaces of the lab, router first. down.sh deletes exactly these.
lab_namespaces() {
  echo "$LAB_ROUTER"
  local n
  for n in $(lab_host_names); do echo "msc-$n"; done
}

lab_ns_exists() { [[ -e /run/netns/$1 ]]; }

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

lab_need_root() {
  [[ $(id -u) -eq 0 ]] || lab_die "must run as root (network namespaces, nftables, daemons)"
}
