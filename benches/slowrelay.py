#!/usr/bin/env python3
"""A slow peer: a TCP relay that holds back the first bytes of each direction.

Listens on the given ports of every address routed to its namespace (the local
route of matrix.sh), connects each accepted connection to the same last octet
of --upstream-net on the same port, and copies both ways. The first chunk in
each direction waits a random 50-300 ms (--min-ms/--max-ms) before it is sent,
like a far or busy peer; everything after it flows at once. Python 3 stdlib.

Bounded: at most --max-conns connections at once, each ends after --lifetime s.
"""

import argparse
import asyncio
import ipaddress
import random
import signal
import socket
import sys


async def pump(reader, writer, delay):
    """Copy reader to writer; the first chunk waits `delay` seconds."""
    first = True
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            if first:
                await asyncio.sleep(delay)
                first = False
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


def upstream_of(local_ip, net):
    """198.19.40.N -> the same N in the upstream network."""
    last = int(ipaddress.ip_address(local_ip)) & 0xFF
    return str(net.network_address + last)


async def handle(reader, writer, args, slots):
    if slots[0] <= 0:
        writer.close()
        return
    slots[0] -= 1
    up_writer = None
    try:
        local_ip, port = writer.get_extra_info("sockname")[:2]
        host = upstream_of(local_ip, args.upstream_net)
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), args.lifetime)
        lo, hi = args.min_ms / 1000, args.max_ms / 1000
        await asyncio.wait_for(
            asyncio.gather(
                pump(reader, up_writer, random.uniform(lo, hi)),
                pump(up_reader, writer, random.uniform(lo, hi)),
            ),
            args.lifetime,
        )
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
    finally:
        slots[0] += 1
        for w in (writer, up_writer):
            if w is not None:
                w.close()


async def serve(args):
    slots = [args.max_conns]
    servers = []
    for port in args.ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        servers.append(
            await asyncio.start_server(lambda r, w: handle(r, w, args, slots), sock=sock, backlog=1024)
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"slowrelay: ports {args.ports} -> {args.upstream_net}, first bytes +{args.min_ms}-{args.max_ms} ms", flush=True)
    await stop.wait()
    for s in servers:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ports", type=int, nargs="+", required=True)
    p.add_argument("--upstream-net", type=ipaddress.ip_network, required=True)
    p.add_argument("--min-ms", type=int, default=50)
    p.add_argument("--max-ms", type=int, default=300)
    p.add_argument("--max-conns", type=int, default=2048)
    p.add_argument("--lifetime", type=float, default=60.0)
    args = p.parse_args()
    try:
        asyncio.run(serve(args))
    except OSError as e:
        sys.exit(f"slowrelay: {e}")


if __name__ == "__main__":
    main()
