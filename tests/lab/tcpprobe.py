#!/usr/bin/env python3
"""Connect once to HOST PORT and print what the network did, in one word.

Used by check-lab.sh to prove the lab's ground truth without mssp-check:

  open:silent      connected; nothing arrived within --listen seconds
  open:banner:...  connected; the first line the server sent
  open:closed      connected; the server closed without a word
  refused          ECONNREFUSED (a TCP RST: nothing listens, or REJECT tcp-reset)
  timeout          no answer at all (a DROP)
  EHOSTUNREACH     ICMP(v4) host unreachable / admin-prohibited (Linux maps
                   ICMP type 3 code 13 to EHOSTUNREACH)
  EACCES           ICMPv6 administratively prohibited (Linux maps it to EACCES)
  ENETUNREACH ...  any other errno, by name
"""

import argparse
import errno
import socket
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--timeout", type=float, default=2.0, help="connect timeout, seconds")
    ap.add_argument("--listen", type=float, default=1.0, help="seconds to wait for a greeting")
    args = ap.parse_args()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except ConnectionRefusedError:
        print("refused")
        return 0
    except (TimeoutError, socket.timeout):
        print("timeout")
        return 0
    except OSError as e:
        print(errno.errorcode.get(e.errno, f"errno{e.errno}") if e.errno else f"error:{e}")
        return 0

    with sock:
        sock.settimeout(args.listen)
        try:
            data = sock.recv(512)
        except (TimeoutError, socket.timeout):
            print("open:silent")
            return 0
        except ConnectionResetError:
            print("open:reset")
            return 0
    if not data:
        print("open:closed")
    else:
        line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace")
        print(f"open:banner:{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
