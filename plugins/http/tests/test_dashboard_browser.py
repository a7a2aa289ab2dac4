"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright for Python.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it). Without it
the test is skipped locally and fails under ``CI=true``. Playwright never downloads a browser
here: it is pointed at that executable.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from http_support import POLICY, SECRET, Server, message, signed
from supportkit_http import create_app, hash_token

from supportkit import InboundMessage, SqliteStore, SupportDesk, SystemClock
from supportkit.testing import service_missing

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parent.parent / "build" / "artefacts"
TOKEN = "dashboard-reader"


def test_dashboard_is_live_in_chromium(tmp_path: Path) -> None:
    """The page loads without console errors, shows the seeded tickets with SLA clocks
    counting down and a breach highlighted, and shows a ticket ingested through the API
    afterwards without reloading. A screenshot is saved to build/artefacts/dashboard.png."""
    if not os.access(CHROMIUM, os.X_OK):
        service_missing(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with SupportDesk(
        store=SqliteStore(tmp_path / "dash.sqlite3"), clock=SystemClock(), policies=[POLICY]
    ) as desk:
        now = desk.clock.now()
        seeded = []
        for n, (priority, age) in enumerate([("urgent", 20), ("normal", 5)]):
            result = desk.ingest(
                InboundMessage(
                    message_id=f"seed-{n}",
                    channel="email",
                    sender=f"c{n}@example.com",
                    at=now - timedelta(minutes=age),
                    subject=f"Seeded question {n}",
                    priority=priority,
                )
            )
            seeded.append(result.ticket_id)
        app = create_app(
            desk, secrets={"json": SECRET}, tokens={hash_token(TOKEN): ["read"]}, refresh=0.5
        )
        errors: list[str] = []
        with Server(app) as server, playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                page.goto(f"{server.url}/?access_token={TOKEN}")
                for ticket_id in seeded:
                    page.wait_for_selector(f'tr[data-ticket="{ticket_id}"]', timeout=10_000)
                urgent = page.locator(f'tr[data-ticket="{seeded[0]}"]')
                assert urgent.get_attribute("class") == "breached"  # 20 min > the 15 min target
                normal = page.locator(f'tr[data-ticket="{seeded[1]}"] td.clock')
                first = normal.inner_text()
                time.sleep(1.5)
                assert normal.inner_text() != first  # the SLA clock counts down
                assert page.locator('[data-kpi="incoming"] b').inner_text() == "2"

                body = message("Ingested while the page is open", at=desk.clock.now().isoformat())
                answer = httpx.post(
                    f"{server.url}/inbound/json",
                    content=body,
                    headers=signed(body, at=int(time.time())),
                )
                new_id = answer.json()["ticket_id"]
                page.wait_for_selector(f'tr[data-ticket="{new_id}"]', timeout=10_000)
                page.wait_for_function(
                    "document.querySelector('[data-kpi=incoming] b').textContent === '3'"
                )
                ARTEFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTEFACTS / "dashboard.png"), full_page=True)
            finally:
                browser.close()
    assert errors == []
    assert all(url.startswith(server.url) for url in requests)  # nothing from elsewhere
