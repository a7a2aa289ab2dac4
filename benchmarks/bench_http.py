"""Inbound webhooks per second through the HTTP front door vs ``desk.receive`` in process.

The same signed JSON webhooks (each a new message, so a new ticket) go:

* over HTTP: ``POST /inbound/json`` to supportkit-http's app under uvicorn (one worker, its own
  process, 127.0.0.1), with signature checking, replay protection and a SQLite store (WAL,
  ``synchronous=NORMAL``). The load generator is this process: asyncio writing pre-signed raw
  HTTP/1.1 requests on *concurrency* keep-alive connections (each waits for its answer before
  sending the next), so it costs the server little CPU. It shares the machine's 2 cores with
  the server (and with whatever else runs: the load is printed).
* in process: ``desk.receive("json", body, headers)`` on a fresh SQLite file, one call after
  the other (no signature check: that is what the HTTP path adds).

Both report webhooks/s and p50/p99 latency per webhook; the ratio HTTP / in-process is the
figure the issue targets (at least 0.6x).

    python benchmarks/bench_http.py [--quick] [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import add_options, finish
from supportkit_webhook import sign

from supportkit import SqliteStore, SupportDesk

SECRET = "bench-secret"


def payloads(n: int, tag: str) -> list[bytes]:
    """*n* distinct JSON-channel messages from 50 senders."""
    at = datetime.now(UTC).isoformat()
    return [
        json.dumps(
            {"id": f"{tag}-{i}", "from": f"c{i % 50}@example.com", "at": at, "text": f"hi {i}"}
        ).encode()
        for i in range(n)
    ]


def headers(body: bytes) -> dict[str, str]:
    ts = int(time.time())
    return {
        "Content-Type": "application/json",
        "X-Supportkit-Timestamp": str(ts),
        "X-Supportkit-Signature": sign(SECRET, ts, body),
    }


def serve(path: str, port: int) -> None:
    """The server process: a desk on *path* and the app under uvicorn."""
    import uvicorn
    from supportkit_http import create_app

    desk = SupportDesk(store=SqliteStore(path))
    app = create_app(desk, secrets={"json": SECRET})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request(port: int, body: bytes) -> bytes:
    """One signed keep-alive POST, as raw HTTP/1.1 bytes."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers(body).items())
    return (
        f"POST /inbound/json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def connection(port: int, requests: list[bytes], latencies: list[float]) -> None:
    """Send *requests* one after the other on one keep-alive connection; time each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            started = time.perf_counter()
            writer.write(raw)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(f"answer {status!r}")
    finally:
        writer.close()


def over_http(bodies: list[bytes], concurrency: int, db: Path) -> tuple[float, list[float]]:
    """(webhooks/s, latencies) through uvicorn, *concurrency* keep-alive connections."""
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(str(db), port))
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        warm: list[float] = []  # the first requests: imports, SQLite warm-up
        asyncio.run(connection(port, [request(port, b) for b in payloads(20, "warm")], warm))
        raws = [request(port, body) for body in bodies]  # signed now: fresh for 5 minutes
        latencies: list[float] = []

        async def load() -> None:
            shares = [raws[i::concurrency] for i in range(concurrency)]
            await asyncio.gather(*(connection(port, share, latencies) for share in shares))

        started = time.perf_counter()
        asyncio.run(load())
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.join(10)
    return len(bodies) / elapsed, latencies


def in_process(bodies: list[bytes], db: Path) -> tuple[float, list[float]]:
    """(webhooks/s, latencies) calling desk.receive directly."""
    with SupportDesk(store=SqliteStore(db)) as desk:
        warm = payloads(1, "warm")[0]
        desk.receive("json", warm, headers(warm))
        latencies = []
        started = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            desk.receive("json", body, headers(body))
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    return len(bodies) / elapsed, latencies


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "a short run (500 webhooks)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    n = 500 if args.quick else args.requests
    load = os.getloadavg()
    print(f"bench_http: {n} webhooks each way, load before {load[0]:.2f} {load[1]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        local_rate, local = in_process(payloads(n, "local"), Path(tmp) / "local.sqlite3")
        http_rate, remote = over_http(
            payloads(n, "http"), args.concurrency, Path(tmp) / "http.sqlite3"
        )
    rows = [
        ("desk.receive in process", local_rate, local),
        (f"HTTP, uvicorn ({args.concurrency} connections)", http_rate, remote),
    ]
    print(f"{'path':<40} {'webhooks/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for name, rate, latencies in rows:
        p50, p99 = quantile(latencies, 0.5) * 1000, quantile(latencies, 0.99) * 1000
        print(f"{name:<40} {rate:>11.0f} {p50:>8.2f} {p99:>8.2f}")
    ratio = http_rate / local_rate
    verdict = "met" if ratio >= 0.6 else "MISSED"
    print(f"HTTP / in process: {ratio:.2f}x (target >= 0.6x: {verdict})")
    print(f"load after {os.getloadavg()[0]:.2f} (2 cores shared by server, client and others)")
    finish(
        args,
        {
            "http_local_webhooks_per_s": local_rate,
            "http_webhooks_per_s": http_rate,
            "http_p99_ms": quantile(remote, 0.99) * 1000,
        },
    )


if __name__ == "__main__":
    main()
