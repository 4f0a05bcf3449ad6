#!/usr/bin/env bash
# Checks the lab itself, without mssp-check: every element that expected.toml
# relies on is probed from the namespace of the source host with standard
# tools (dig, tcpprobe.py, openssl s_client, curl, ldapsearch, nc). When the
# suite fails, this tells whether the lab or the tool is wrong.
#
# Usage: sudo tests/lab/check-lab.sh      (after up.sh)
# Last line: "N passed, N failed". Exit 1 if a check failed.
set -euo pipefail

export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
lab_need_root
lab_ns_exists "$LAB_ROUTER" || lab_die "the lab is not up: run tests/lab/up.sh first"

CA=$LAB_PKI/public-root.pem
PASSED=0
FAILED=0

# expect DESCRIPTION REGEX CMD...: CMD's output (stdout and stderr) must match REGEX.
expect() {
  local desc=$1 regex=$2 out
  shift 2
  out=$("$@" 2>&1 </dev/null | tr -d '\0') || true
  if grep -aEq -- "$regex" <<<"$out"; then
    PASSED=$((PASSED + 1))
    printf 'ok    %s\n' "$desc"
  else
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s\n      wanted /%s/, got: %s\n' "$desc" "$regex" "$(head -c 400 <<<"$out" | tr '\n' '|')"
  fi
}
# expect_not DESCRIPTION REGEX CMD...: CMD's output must NOT match REGEX.
expect_not() {
  local desc=$1 regex=$2 out
  shift 2
  out=$("$@" 2>&1 </dev/null | tr -d '\0') || true
  if grep -aEq -- "$regex" <<<"$out"; then
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s\n      did not want /%s/, got: %s\n' "$desc" "$regex" "$(head -c 400 <<<"$out" | tr '\n' '|')"
  else
    PASSED=$((PASSED + 1))
    printf 'ok    %s\n' "$desc"
  fi
}

on() { local host=$1; shift; ip netns exec "msc-$host" "$@"; }                 # run in a host's namespace
tcp() { on "$1" python3 "$LAB_DIR/tcpprobe.py" "$2" "$3" --timeout 2 --listen 1.5; } # FROM HOST PORT
tls() { on "$1" timeout 10 openssl s_client -connect "$2" "${@:3}"; }            # FROM HOST:PORT [s_client args]
dialog() { on "$1" timeout 5 nc -w 3 "$2" "$3" < <(printf '%b' "$4"); }          # FROM HOST PORT TEXT

echo "== DNS (dnsmasq in msc-dns01)"
expect "mgmt01.lab.test A"                   '^198\.18\.1\.2$'        on ih01 dig +short mgmt01.lab.test
expect "my.mailstore.com -> stand-in"        '^198\.18\.7\.2$'        on mgmt01 dig +short my.mailstore.com
expect "mail01-v6.lab.test AAAA"             '^fd00:18:4::2$'         on ih01 dig +short AAAA mail01-v6.lab.test
expect "nonexistent.lab.test NXDOMAIN"       'status: NXDOMAIN'       on ih01 dig nonexistent.lab.test
expect "cas01-rr.lab.test: dead address first" '^198\.18\.200\.1 198\.18\.3\.2 $' \
  bash -c "ip netns exec msc-client01 dig +short cas01-rr.lab.test | tr '\n' ' '"
expect "names outside the lab are not forwarded" 'status: REFUSED'    on ih01 dig www.example.com

echo "== firewall of msc-router (tcpprobe: one connect, errno by name)"
expect "ih02 -> mail01:993 dropped"          '^timeout$'              tcp ih02 mail01.lab.test 993
expect "ih02 -> mail01:995 reset"            '^refused$'              tcp ih02 mail01.lab.test 995
expect "ih02 -> ldap01:636 admin-prohibited" '^EHOSTUNREACH$'         tcp ih02 ldap01.lab.test 636
expect "ih02 -> ldap01:389 open"             '^open'                  tcp ih02 ldap01.lab.test 389
expect "ih01 -> mail01 [v6]:993 dropped"     '^timeout$'              tcp ih01 fd00:18:4::2 993
expect "ih01 -> mail01 [v6]:995 reset"       '^refused$'              tcp ih01 fd00:18:4::2 995
expect "ih01 -> ldap01 [v6]:636 admin-prohibited (EACCES)" '^EACCES$' tcp ih01 fd00:18:6::2 636
expect "ih01 -> mail01:993 open (v4 not blocked)" '^open'             tcp ih01 mail01.lab.test 993
expect "mgmt02 -> cas01:8473 dropped (rule scoped to mgmt01)" '^timeout$' tcp mgmt02 cas01.lab.test 8473
expect "mgmt01 -> cas01:8473 open"           '^open'                  tcp mgmt01 cas01.lab.test 8473
expect "client01 -> dead 198.18.200.1:443"   '^timeout$'              tcp client01 198.18.200.1 443
expect "mgmt01 -> ih02:8472 nothing listens" '^refused$'              tcp mgmt01 ih02.lab.test 8472
expect "ih01 -> mail02:993 nothing listens"  '^refused$'              tcp ih01 mail02.lab.test 993

echo "== accept-all silent host, wrong service"
expect "silent01:8473 accepts, says nothing" '^open:silent$'          tcp mgmt01 silent01.lab.test 8473
expect "silent01:389 accepts, says nothing"  '^open:silent$'          tcp ih01 silent01.lab.test 389
expect "silent01:636 TLS: no ServerHello in 3 s" '^exit=124$' \
  bash -c 'ip netns exec msc-ih01 timeout 3 openssl s_client -connect silent01.lab.test:636 </dev/null >/dev/null 2>&1; echo "exit=$?"'
expect "silent01:993 accepts, closes without a byte" '^open:closed$' tcp ih01 silent01.lab.test 993
expect "silent01:995 accepts, resets"        '^open:reset$'           tcp ih01 silent01.lab.test 995
expect "mail02:143 greets with SMTP"         '^open:banner:220 '      tcp ih01 mail02.lab.test 143
expect "mail02:110 greets with SMTP"         '^open:banner:220 '      tcp ih01 mail02.lab.test 110

echo "== internal 847x ports: self-signed, like SPE's own"
for hp in mgmt01.lab.test:8470 mgmt01.lab.test:8471 mgmt01.lab.test:8474 mgmt01-v6.lab.test:8471; do
  expect "ih01 -> $hp self-signed CN=mgmt01" 'issuer=CN = mgmt01\.lab\.test' tls ih01 "$hp"
done
expect "mgmt01 -> ih01:8472 self-signed"     'issuer=CN = ih01\.lab\.test'  tls mgmt01 ih01.lab.test:8472
expect "mgmt01 -> cas01:8473 self-signed"    'issuer=CN = cas01\.lab\.test' tls mgmt01 cas01.lab.test:8473
expect "adm01 -> mgmt01:8470 answers HTTP"   '^200$' on adm01 curl -sk -o /dev/null -w '%{http_code}' https://mgmt01.lab.test:8470/

echo "== public endpoints: chains to the lab's public root"
expect "mgmt01 -> my.mailstore.com verifies" '^200 0$' \
  on mgmt01 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{ssl_verify_result}' https://my.mailstore.com/
expect "EWS answers 401 with Negotiate"      '^WWW-Authenticate: Negotiate' \
  on ih01 curl -sS --cacert "$CA" -D - -o /dev/null https://ews01.lab.test/EWS/Exchange.asmx
expect "EWS answers 401 with NTLM"           '^WWW-Authenticate: NTLM' \
  on ih01 curl -sS --cacert "$CA" -D - -o /dev/null https://ews01.lab.test/EWS/Exchange.asmx
expect "EWS over IPv6"                       '^401 fd00:18:5::2$' \
  on ih01 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}' https://ews01-v6.lab.test/EWS/Exchange.asmx
expect "ews-badname.lab.test: name mismatch" 'no alternative certificate subject name matches' \
  on ih01 curl -sS --cacert "$CA" -o /dev/null https://ews-badname.lab.test/EWS/Exchange.asmx
expect "client01 -> cas01:443 verifies"      '^200 0$' \
  on client01 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{ssl_verify_result}' https://cas01.lab.test/
verified() { tls "$@" -CAfile "$CA" -verify_return_error; }
expect "IMAP STARTTLS mail01:143"            'Verify return code: 0 \(ok\)' verified ih01 mail01.lab.test:143 -starttls imap -verify_hostname mail01.lab.test
expect "IMAPS mail01:993"                    'Verify return code: 0 \(ok\)' verified ih01 mail01.lab.test:993 -verify_hostname mail01.lab.test
expect "POP3 STLS mail01:110"                'Verify return code: 0 \(ok\)' verified ih01 mail01.lab.test:110 -starttls pop3 -verify_hostname mail01.lab.test
expect "POP3S mail01:995"                    'Verify return code: 0 \(ok\)' verified ih01 mail01.lab.test:995 -verify_hostname mail01.lab.test
expect "POP3 STLS mail01 [v6]:110"           'Verify return code: 0 \(ok\)' verified ih01 '[fd00:18:4::2]:110' -starttls pop3 -verify_ip fd00:18:4::2
expect "IMAP STARTTLS cas01:143"             'Verify return code: 0 \(ok\)' verified client01 cas01.lab.test:143 -starttls imap -verify_hostname cas01.lab.test
expect "IMAPS cas01:993"                     'Verify return code: 0 \(ok\)' verified client01 cas01.lab.test:993 -verify_hostname cas01.lab.test
expect "LDAP StartTLS ldap01:389 (ldapsearch -ZZ)" '^namingContexts: dc=lab,dc=test' \
  env LDAPTLS_CACERT="$CA" ip netns exec msc-ih01 ldapsearch -LLL -ZZ -x -H ldap://ldap01.lab.test -b "" -s base namingContexts
expect "LDAPS ldap01:636 (ldapsearch)"       '^namingContexts: dc=lab,dc=test' \
  env LDAPTLS_CACERT="$CA" ip netns exec msc-ih01 ldapsearch -LLL -x -H ldaps://ldap01.lab.test -b "" -s base namingContexts
expect "LDAP StartTLS ldap01 over IPv6"      '^namingContexts: dc=lab,dc=test' \
  env LDAPTLS_CACERT="$CA" ip netns exec msc-ih01 ldapsearch -LLL -ZZ -x -H ldap://ldap01-v6.lab.test -b "" -s base namingContexts

echo "== interception (msc-mitm)"
expect "mgmt02 -> my.mailstore.com re-signed by FortiGate CA" 'issuer=.*CN = FortiGate CA' \
  tls mgmt02 my.mailstore.com:443 -servername my.mailstore.com
expect "mgmt02 -> my.mailstore.com fails public verification" '^000 60$|SSL certificate problem' \
  on mgmt02 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{exitcode}' https://my.mailstore.com/
expect "ih02 -> mgmt01:8471 re-signed by FortiGate CA" 'issuer=.*CN = FortiGate CA' tls ih02 mgmt01.lab.test:8471
expect "ih01 -> mgmt01:8471 not intercepted" 'issuer=CN = mgmt01\.lab\.test' tls ih01 mgmt01.lab.test:8471
expect "ih02 -> mail01:110 greeting rewritten (perdition)" '^\+OK POP3 perditon ready' \
  dialog ih02 mail01.lab.test 110 'CAPA\r\nQUIT\r\n'
expect "ih02 -> mail01:110 STLS cert by FortiGate CA" 'issuer=.*CN = FortiGate CA' \
  tls ih02 mail01.lab.test:110 -starttls pop3
expect "ih01 -> mail01:110 greeting is Dovecot's" '^\+OK Dovecot' dialog ih01 mail01.lab.test 110 'QUIT\r\n'
expect "client01 -> cas01:143 offers STARTTLS" '^\* CAPABILITY .*STARTTLS' \
  dialog client01 cas01.lab.test 143 'a CAPABILITY\r\nb LOGOUT\r\n'
expect_not "client02 -> cas01:143 STARTTLS stripped from CAPABILITY" 'STARTTLS' \
  dialog client02 cas01.lab.test 143 'a CAPABILITY\r\nb LOGOUT\r\n'
expect "client02 -> cas01:143 STARTTLS command refused" '^b BAD' \
  dialog client02 cas01.lab.test 143 'a CAPABILITY\r\nb STARTTLS\r\nc LOGOUT\r\n'
expect "proxy01:3128 (squid ssl-bump) re-signs my.mailstore.com" 'issuer=.*CN = Example Corp Web Gateway CA' \
  tls mgmt01 my.mailstore.com:443 -proxy proxy01.lab.test:3128 -servername my.mailstore.com
expect "proxy01:3129 (squid CONNECT) passes my.mailstore.com through" 'issuer=.*CN = MSC Lab Public Root CA' \
  tls mgmt01 my.mailstore.com:443 -proxy proxy01.lab.test:3129 -servername my.mailstore.com
expect "legacy01:993 speaks TLS 1.0 only" 'Protocol *: TLSv1$' \
  tls ih01 legacy01.lab.test:993 -cipher 'ALL:@SECLEVEL=0'
expect "legacy01:995 speaks TLS 1.2 with RSA key exchange only" 'Cipher is AES128-SHA' \
  tls ih01 legacy01.lab.test:995
expect_not "client03 -> cas01:143 STARTTLS hidden from CAPABILITY" 'STARTTLS' \
  dialog client03 cas01.lab.test 143 'a CAPABILITY\r\nb LOGOUT\r\n'
expect "client03 -> cas01:143 STARTTLS still works, end to end" 'issuer=.*CN = MSC Lab Public Root CA' \
  tls client03 cas01.lab.test:143 -starttls imap

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
