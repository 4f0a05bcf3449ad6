#!/usr/bin/env python3
"""Small userspace middleboxes for the mssp-check lab (Python 3 stdlib only).

Debian has no tool that does either of these, so the lab carries them:

  silent          accept every connection and never send a byte (an accept-all
                  box: with the nftables REDIRECT that up.sh puts in front of
                  it, every TCP port of the host "answers" this way)
  drop            accept every connection, read what the client sends for a
                  moment, and close without a byte (FIN)
  reset           accept every connection and reset it at once (SO_LINGER 0):
                  with drop, the accept-and-close boxes that a TLS port must
                  not blame on the service
  strip-starttls  an IMAP relay that hides STARTTLS, the way SMTP/IMAP
                  inspection of some firewalls does: the token is removed from
                  every CAPABILITY the server sends, and a client's STARTTLS
                  command is overwritten with XXXXXXXX so that the server
                  answers BAD (cf. Cisco ASA ESMTP inspection, which masks the
                  command the same way)
  hide-starttls   an IMAP relay that only edits the server's capability lists
                  (STARTTLS removed) and lets the command through: once the
                  client sends STARTTLS it copies raw bytes both ways, so the
                  TLS session that follows is end to end (a list-editing
                  middlebox, caught because the upgrade works unlisted)

Both are bounded: at most --max-conns connections at once (more are closed at
accept), every connection ends after --lifetime seconds, lines longer than
MAX_LINE are cut off, and the silent box reads at most MAX_DISCARD bytes.
"""

import argparse
import asyncio
import re
import signal
import socket
import struct
import sys

MAX_LINE = 8192
MAX_DISCARD = 65536

# "STARTTLS" as a word inside a CAPABILITY list; also eats the space before it.
STARTTLS_TOKEN = re.compile(rb" STARTTLS(?=[ \]\r\n])", re.IGNORECASE)
# Server lines that carry a capability list: "* CAPABILITY ..." and the
# "[CAPABILITY ...]" response code of a greeting or a tagged OK.
CAPABILITY_LINE = re.compile(rb"^(\* CAPABILITY |\S+ OK \[CAPABILITY |\* OK \[CAPABILITY )", re.IGNORECASE)
# A client command "TAG STARTTLS".
STARTTLS_COMMAND = re.compile(rb"^(\S+ )STARTTLS(\r?\n)$", re.IGNORECASE)


class Limits:
    def __init__(self, max_conns: int, lifetime: float):
        self.slots = max_conns
        self.lifetime = lifetime


async def serve_silent(reader, writer, limits):
    """Keep the connection open, read (and drop) what arrives, answer nothing."""
    try:
        async with asyncio.timeout(limits.lifetime):
            seen = 0
            while seen < MAX_DISCARD:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                seen += len(chunk)
            else:
                # Enough read: stay silent without reading until the lifetime ends.
                await asyncio.sleep(limits.lifetime)
    except (TimeoutError, ConnectionError):
        pass


async def serve_drop(reader, writer, limits):
    """Read what the client sends for a moment (its ClientHello), then close without a byte."""
    try:
        async with asyncio.timeout(0.2):
            await reader.read(MAX_DISCARD)
    except (TimeoutError, ConnectionError):
        pass


async def serve_reset(reader, writer, limits):
    """Reset the connection at once: SO_LINGER 0, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def pump_lines(reader, writer, rewrite):
    """Copy lines from reader to writer, passing each through rewrite()."""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            line = e.partial
            if line:
                writer.write(rewrite(line))
            break
        except asyncio.LimitOverrunError:
            line = await reader.read(MAX_LINE)
        writer.write(rewrite(line))
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


def strip_server_line(line: bytes) -> bytes:
    if CAPABILITY_LINE.match(line):
        return STARTTLS_TOKEN.sub(b"", line)
    return line


def mask_client_line(line: bytes) -> bytes:
    m = STARTTLS_COMMAND.match(line)
    if m:
        return m.group(1) + b"XXXXXXXX" + m.group(2)
    return line


async def serve_strip(reader, writer, limits, upstream):
    host, port = upstream
    try:
        async with asyncio.timeout(limits.lifetime):
            up_reader, up_writer = await asyncio.open_connection(host, port, limit=MAX_LINE)
            try:
                await asyncio.gather(
                    pump_lines(up_reader, writer, strip_server_line),
                    pump_lines(reader, up_writer, mask_client_line),
                )
            finally:
                up_writer.close()
    except (TimeoutError, ConnectionError, OSError):
        pass


async def copy_raw(reader, writer):
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def serve_hide(reader, writer, limits, upstream):
    host, port = upstream
    upgrading = asyncio.Event()

    async def down(up_reader):
        # Server lines, edited, until the client has asked for STARTTLS and the
        # answer to it has passed; then raw bytes.
        while not upgrading.is_set():
            try:
                line = await up_reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            writer.write(strip_server_line(line))
            await writer.drain()
        await copy_raw(up_reader, writer)

    async def up(up_writer):
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            if STARTTLS_COMMAND.match(line):
                upgrading.set()
            up_writer.write(line)
            await up_writer.drain()
            if upgrading.is_set():
                return await copy_raw(reader, up_writer)

    try:
        async with asyncio.timeout(limits.lifetime):
            up_reader, up_writer = await asyncio.open_connection(host, port, limit=MAX_LINE)
            try:
                await asyncio.gather(down(up_reader), up(up_writer))
            finally:
                up_writer.close()
    except (TimeoutError, ConnectionError, OSError):
        pass


def make_handler(limits, serve, *extra):
    async def handler(reader, writer):
        if limits.slots <= 0:
            writer.close()
            return
        limits.slots -= 1
        try:
            await serve(reader, writer, limits, *extra)
        finally:
            limits.slots += 1
            writer.close()
    return handler


def parse_hostport(text: str):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["silent", "drop", "reset", "strip-starttls", "hide-starttls"])
    ap.add_argument("--listen", type=int, required=True, help="port, on every address of the namespace")
    ap.add_argument("--upstream", help="HOST:PORT of the real server (strip-/hide-starttls)")
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--lifetime", type=float, default=60.0, help="seconds a connection may live")
    args = ap.parse_args()

    limits = Limits(args.max_conns, args.lifetime)
    if args.mode in ("silent", "drop", "reset"):
        serve = {"silent": serve_silent, "drop": serve_drop, "reset": serve_reset}[args.mode]
        handler = make_handler(limits, serve)
    else:
        if not args.upstream:
            ap.error(f"{args.mode} needs --upstream HOST:PORT")
        serve = serve_strip if args.mode == "strip-starttls" else serve_hide
        handler = make_handler(limits, serve, parse_hostport(args.upstream))

    # One dual-stack socket on [::]:PORT (IPv4-mapped addresses included).
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", args.listen))
    server = await asyncio.start_server(handler, sock=sock, limit=MAX_LINE)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"relay: {args.mode} listening on [::]:{args.listen}", flush=True)
    async with server:
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
