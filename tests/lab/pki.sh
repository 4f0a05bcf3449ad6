# shellcheck shell=bash
# Certificates of the lab, made fresh by up.sh with openssl (no private key is
# ever committed). Sourced by up.sh after lib.sh; writes into $LAB_PKI:
#
#   public-root.pem         "public" root; tests pass it with --public-ca
#   mailstore / ews01 / mail01 / ldap01 / cas01   leaves signed by public-root
#   mgmt01 / ih01 / cas01-internal                self-signed, like SPE's own 847x certificates
#   fortigate-ca.pem        the interceptor's CA (sslsplit, perdition); lab only, not Fortinet's
#   mitm-mail01             leaf for mail01's names signed by fortigate-ca (perdition's STLS)
#
# Each NAME has NAME.pem (certificate) and NAME.key. RSA 2048 everywhere: every
# daemon here (sslsplit, perdition, slapd/GnuTLS) takes it.

# Beyond mssp-check's default --expiry-warning (30 days), so that the lab's certificates
# do not all carry the cert-expiring warning.
LAB_CERT_DAYS=90

# SANs of a lab host: its names plus both of its addresses.
lab_host_san() { # HOST [EXTRA_DNS...]
  local host=$1 san extra
  shift
  san="DNS:$host.lab.test,DNS:$host-v6.lab.test,IP:$(lab_v4 "$host"),IP:$(lab_v6 "$host")"
  for extra in "$@"; do san+=",DNS:$extra"; done
  echo "$san"
}

pki_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; chmod 600 "$1"; }
pki_serial() { echo "0x$(openssl rand -hex 12)"; }

pki_ca() { # NAME SUBJECT
  local name=$1 subj=$2
  pki_key "$LAB_PKI/$name.key"
  openssl req -x509 -new -key "$LAB_PKI/$name.key" -out "$LAB_PKI/$name.pem" \
    -subj "$subj" -days $((LAB_CERT_DAYS + 1)) -set_serial "$(pki_serial)" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

pki_leaf() { # CA NAME SUBJECT SAN
  local ca=$1 name=$2 subj=$3 san=$4 ext=$LAB_PKI/$2.ext
  pki_key "$LAB_PKI/$name.key"
  cat >"$ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -key "$LAB_PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$LAB_PKI/$ca.pem" -CAkey "$LAB_PKI/$ca.key" \
      -set_serial "$(pki_serial)" -days "$LAB_CERT_DAYS" -sha256 \
      -extfile "$ext" -out "$LAB_PKI/$name.pem" 2>/dev/null
  rm -f "$ext"
}

# Self-signed end-entity certificate, as MailStore SPE generates for its
# internal ports: not a CA (CA:FALSE), so it is only trusted by pinning.
pki_selfsigned() { # NAME SUBJECT SAN
  local name=$1 subj=$2 san=$3
  pki_key "$LAB_PKI/$name.key"
  openssl req -x509 -new -key "$LAB_PKI/$name.key" -out "$LAB_PKI/$name.pem" \
    -subj "$subj" -days "$LAB_CERT_DAYS" -set_serial "$(pki_serial)" -sha256 \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
    -addext "extendedKeyUsage=serverAuth" \
    -addext "subjectAltName=$san" 2>/dev/null
}

pki_make_all() {
  # Keys are 0600: every lab daemon reads them as root before it drops privileges.
  mkdir -p "$LAB_PKI"
  chmod 755 "$LAB_PKI"

  pki_ca public-root "/C=DE/O=MSC Lab Public Trust (lab only)/CN=MSC Lab Public Root CA"
  # Named like the product whose signatures mssp-check knows (issuer CN
  # "FortiGate CA", O "Fortinet"). A lab key, made at up time; not Fortinet's.
  pki_ca fortigate-ca "/C=US/ST=California/L=Sunnyvale/O=Fortinet/OU=Certificate Authority (msc lab only)/CN=FortiGate CA"
  # A company's own web-gateway CA: no product name, trusted nowhere (squid ssl-bump).
  pki_ca squid-ca "/O=Example Corp (msc lab only)/CN=Example Corp Web Gateway CA"

  pki_leaf public-root mailstore "/O=MailStore Software GmbH (lab stand-in)/CN=my.mailstore.com" \
    "DNS:my.mailstore.com,IP:$(lab_v4 mailstore),IP:$(lab_v6 mailstore)"
  pki_leaf public-root ews01 "/O=Customer Ltd (lab)/CN=ews01.lab.test" "$(lab_host_san ews01)"
  pki_leaf public-root mail01 "/O=Customer Ltd (lab)/CN=mail01.lab.test" "$(lab_host_san mail01)"
  pki_leaf public-root ldap01 "/O=Customer Ltd (lab)/CN=ldap01.lab.test" "$(lab_host_san ldap01)"
  pki_leaf public-root legacy01 "/O=Customer Ltd (lab)/CN=legacy01.lab.test" "$(lab_host_san legacy01)"
  pki_leaf public-root cas01 "/O=Service Provider (lab)/CN=cas01.lab.test" "$(lab_host_san cas01 cas01-rr.lab.test)"

  pki_selfsigned mgmt01 "/CN=mgmt01.lab.test" "$(lab_host_san mgmt01)"
  pki_selfsigned ih01 "/CN=ih01.lab.test" "$(lab_host_san ih01)"
  pki_selfsigned cas01-internal "/CN=cas01.lab.test" "$(lab_host_san cas01)"

  # What an AV mail proxy presents after STLS: mail01's names, the proxy's CA.
  pki_leaf fortigate-ca mitm-mail01 "/O=Customer Ltd (lab)/CN=mail01.lab.test" "$(lab_host_san mail01)"
}
