"""Duplicate-problem suggestions: what they add to each ingest, by the number of open problems.

A desk on a fresh SQLite file (and one in memory) gets N open problems (N = 0, 5, 20, 100,
500), each a ticket with one incident linked; its subject and first message are 6 and 25 words
drawn from a 2,000-word vocabulary with a Zipf-like skew (so common words are shared by many
problems, as "the" and "error" are in real tickets). Then the same 400 new-ticket messages,
drawn alike, are ingested into each desk (knowledge-base suggestions off), and the wall and CPU
time per ingest are reported. The desk with N = 0 is the baseline in the same run:
``suggest_cost_<store>_<N>_cpu_us`` is the CPU time per ingest at N minus the time at 0 (the
suggestion's share; CPU time, as wall time on a loaded machine is too noisy to subtract).

    python benchmarks/bench_problems.py [--quick]      # --quick: N up to 100, 200 messages

The script uses the public API only, so it measures an older checkout too
(``PYTHONPATH=OLD/src python benchmarks/bench_problems.py``): that is how the figures before
the suggestion index were taken.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures import add_options, finish, load_line

from supportkit import FrozenClock, InboundMessage, InMemoryStore, SqliteStore, SupportDesk

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def vocabulary(rng: random.Random, size: int = 2000) -> list[str]:
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(3)))
    return sorted(words)


def zipf_pool(words: list[str]) -> list[str]:
    """Word i appears about 1/(i+1) as often as word 0."""
    return [w for rank, w in enumerate(words) for _ in range(max(1, int(300 / (rank + 1))))]


def message(rng: random.Random, pool: list[str], ident: str, at: datetime) -> InboundMessage:
    subject = " ".join(rng.choice(pool) for _ in range(6))
    body = " ".join(rng.choice(pool) for _ in range(25))
    return InboundMessage(ident, "email", f"{ident}@x.example", at, subject=subject, body=body)


def run(kind: str, problems: int, messages: list[InboundMessage], tmp: Path) -> tuple[float, float]:
    """Seconds of wall and CPU time per ingest of *messages* with *problems* open problems."""
    rng = random.Random(problems)
    pool = zipf_pool(vocabulary(random.Random(22)))
    store = InMemoryStore() if kind == "memory" else SqliteStore(tmp / f"p{problems}.sqlite3")
    desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0), ladder=None)
    desk.suggestions = 0  # knowledge-base suggestions are measured by bench_knowledge
    for n in range(problems):
        at = T0 - timedelta(days=1)
        problem = desk.ingest(message(rng, pool, f"p{n}", at)).ticket_id
        incident = desk.ingest(message(rng, pool, f"i{n}", at)).ticket_id
        assert problem is not None and incident is not None  # noqa: PT018
        desk.link_problem(incident, problem)
    wall, cpu = time.perf_counter(), time.process_time()
    for item in messages:
        desk.ingest(item)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    desk.close()
    return wall / len(messages), cpu / len(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "N up to 100 and 200 messages")
    args = parser.parse_args()
    sizes = [0, 5, 20, 100] if args.quick else [0, 5, 20, 100, 500]
    count = 200 if args.quick else 400
    rng = random.Random(7)
    pool = zipf_pool(vocabulary(random.Random(22)))
    messages = [message(rng, pool, f"m{n}", T0 + timedelta(seconds=n)) for n in range(count)]
    tmp = Path(tempfile.mkdtemp())
    figures: dict[str, float] = {}
    print(load_line())
    print(f"{'store':<8} {'problems':>8} {'wall us':>10} {'cpu us':>10} {'suggest cpu us':>15}")
    for kind in ("memory", "sqlite"):
        base = None
        for size in sizes:
            wall, cpu = run(kind, size, messages, tmp)
            base = cpu if base is None else base
            cost = (cpu - base) * 1e6
            figures[f"ingest_{kind}_{size}_problems_us"] = round(wall * 1e6, 1)
            figures[f"ingest_{kind}_{size}_problems_cpu_us"] = round(cpu * 1e6, 1)
            if size:
                figures[f"suggest_cost_{kind}_{size}_cpu_us"] = round(cost, 1)
            print(f"{kind:<8} {size:>8} {wall * 1e6:>10.0f} {cpu * 1e6:>10.0f} {cost:>15.0f}")
    print(load_line())
    finish(args, figures)


if __name__ == "__main__":
    main()
