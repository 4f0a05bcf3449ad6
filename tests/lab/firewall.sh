#!/usr/bin/env bash
# The firewall rules of every role, generated with the lab's own names (resolved by the
# lab's DNS from inside the role's namespace), must load with `nft -c -f`; the netsh and
# PowerShell forms must name every peer address. Last line: "N passed, N failed".
# The lab must be up. Needs root.
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"
MSSP_CHECK=${MSSP_CHECK:-$LAB_DIR/../../target/debug/mssp-check}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0

admin_net="$(lab_v4 adm01)/32"
declare -A peers=(
  [server]=""
  [mgmt]="--ih ih01.lab.test --cas cas01.lab.test"
  [ih]="--mgmt mgmt01.lab.test --cas cas01.lab.test"
  [cas]="--mgmt mgmt01.lab.test"
)
declare -A ns=([server]=msc-mgmt01 [mgmt]=msc-mgmt01 [ih]=msc-ih01 [cas]=msc-cas01)
for role in server mgmt ih cas; do
  for format in nftables netsh powershell; do
    file="$out/$role.$format"
    # shellcheck disable=SC2086 # the peer flags are words
    if ! ip netns exec "${ns[$role]}" "$MSSP_CHECK" firewall --role "$role" --format "$format" \
        --admin-net "$admin_net" ${peers[$role]} > "$file" 2> "$file.err"; then
      echo "FAIL       firewall $role $format: $(head -c 300 "$file.err")"
      failed=$((failed + 1))
      continue
    fi
    case $format in
      nftables)
        if nft -c -f "$file" 2> "$file.nft"; then
          echo "PASS       firewall $role nftables: nft -c -f accepts it"; passed=$((passed + 1))
        else
          echo "FAIL       firewall $role nftables: $(head -c 300 "$file.nft")"; failed=$((failed + 1))
        fi ;;
      *)
        want=()
        case $role in
          mgmt) want=("$(lab_v4 ih01)" "$(lab_v4 cas01)" "$admin_net") ;;
          ih) want=("$(lab_v4 mgmt01)" "$(lab_v4 cas01)") ;;
          cas) want=("$(lab_v4 mgmt01)") ;;
          server) want=("$admin_net") ;;
        esac
        missing=""
        for w in "${want[@]}"; do grep -qF "${w%/32}" "$file" || missing="$missing $w"; done
        if [ -z "$missing" ]; then
          echo "PASS       firewall $role $format: names every peer"; passed=$((passed + 1))
        else
          echo "FAIL       firewall $role $format: missing$missing"; failed=$((failed + 1))
        fi ;;
    esac
  done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
