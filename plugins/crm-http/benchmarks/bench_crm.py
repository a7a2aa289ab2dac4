"""What supportkit-crm-http costs a desk: ingest and outbox delivery with and without it.

Baseline: a desk without a CRM. With ``HttpCrm`` on a loopback HubSpot-shaped server: new
tickets from 50 customers (after the first message of each, lookups are cache hits), then
``deliver()`` running the re-lookup notifier for every customer message (cache hits too, but
one outbox row per event for the notifier). Figures are the best of three runs; the machine's
load is printed beside them.

    python plugins/crm-http/benchmarks/bench_crm.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
from supportkit_crm_http import HttpCrm

from supportkit import FrozenClock, InboundMessage, InMemoryStore, SupportDesk, Tier
from supportkit.testing.http import send, serve

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
MAPPING = {
    "customer": {"url": "/contacts/{email}", "tier": "properties.plan"},
    "tiers": {"enterprise": "gold"},
    "default_tier": "standard",
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"id": "1", "properties": {"plan": "enterprise"}}).encode()
        send(self, 200, body, {"Content-Type": "application/json"})


def run(n: int, plugins: Callable[[], list[Any]]) -> tuple[float, float]:
    """Seconds to ingest *n* messages and to deliver the outbox afterwards."""
    clock = FrozenClock(AT)
    made = plugins()
    desk = SupportDesk(
        store=InMemoryStore(),
        plugins=made,
        clock=clock,
        tiers=[Tier("gold", weight=10), Tier("standard", weight=0)],
        ladder=None,
    )
    messages = [
        InboundMessage(f"m-{i}", "email", f"c{i % 50}@big.example", AT + timedelta(seconds=i))
        for i in range(n)
    ]
    start = time.perf_counter()
    for message in messages:
        desk.ingest(message)
    ingested = time.perf_counter() - start
    start = time.perf_counter()
    while desk.deliver(limit=1000).delivered:
        pass
    return ingested, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 500 if parser.parse_args().quick else 3000
    with serve(Handler) as url, httpx.Client(base_url=url) as client:
        cases: dict[str, Callable[[], list[Any]]] = {
            "no CRM (baseline)": list,
            "crm-http": lambda: [HttpCrm(client, MAPPING, clock=FrozenClock(AT))],
        }
        results = {
            name: min((run(n, plugins) for _ in range(3)), key=sum)
            for name, plugins in cases.items()
        }
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared); {n} messages, 50 customers")
    base_ingest, _ = results["no CRM (baseline)"]
    for name, (ingest, deliver) in results.items():
        print(
            f"{name:20} ingest {n / ingest:8.0f} msg/s ({ingest / base_ingest:4.2f}x the "
            f"baseline's time)   deliver {deliver * 1e6 / n:7.1f} µs per message"
        )


if __name__ == "__main__":
    main()
