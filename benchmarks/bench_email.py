"""Email parsing: supportkit-email against the standard library's bare parse, in one run.

The corpus is plugins/email/tests/corpus (77 raw messages: replies from Gmail, Outlook, Apple
Mail and Thunderbird in several languages, HTML-only mail, eight charsets, attachments and
inline images, auto-replies, bounces, list mail, malformed MIME). Three ways through it:

* bare: ``email.message_from_bytes(raw, policy=email.policy.default)`` (the baseline: it
  only builds the message tree; headers are parsed when read);
* parse_email: the tree plus sender, subject, ids and references, body text (charset
  decoding, HTML to text), quote and signature stripping, attachments and noise detection;
* channel: ``EmailChannel.parse``, which adds the thread keys (references, subject token)
  and builds the validated ``InboundMessage`` (noise raises ``Ignored``, counted as done).

Target (issue 17): parsing and threading at >= 0.5x the bare parse's speed. Every figure is
the best of several repeats, the three taking turns; the machine's load is printed beside
them.

    python benchmarks/bench_email.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from figures import add_options, finish, load_line
from supportkit_email import EmailChannel, parse_email

from supportkit import FrozenClock, SupportkitError

CORPUS = Path(__file__).resolve().parent.parent / "plugins" / "email" / "tests" / "corpus"


def best(runs: list[Callable[[], None]], repeats: int) -> list[float]:
    """The fastest of *repeats* runs of each, in seconds; the runs take turns, so a change in
    the machine's load falls on all of them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, seen in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            seen.append(time.perf_counter() - start)
    return [min(seen) for seen in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "fewer repeats")
    args = parser.parse_args()
    raws = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    loops, repeats = (5, 3) if args.quick else (20, 15)
    channel = EmailChannel(clock=FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC)))

    def bare() -> None:
        for _ in range(loops):
            for raw in raws:
                email.message_from_bytes(raw, policy=email.policy.default)

    def ours() -> None:
        for _ in range(loops):
            for raw in raws:
                parse_email(raw)

    def through_channel() -> None:
        for _ in range(loops):
            for raw in raws:
                with contextlib.suppress(SupportkitError):  # Ignored (noise) counts as done
                    channel.parse(raw, {})

    count = loops * len(raws)
    size = sum(len(r) for r in raws)
    print(f"corpus: {len(raws)} messages, {size:,} bytes; {count:,} parses per run")
    print(load_line())
    baseline, parsed, channelled = best([bare, ours, through_channel], repeats)
    rows = [
        ("bare email.message_from_bytes", baseline),
        ("parse_email", parsed),
        ("EmailChannel.parse (+ threading keys)", channelled),
    ]
    for name, seconds in rows:
        print(
            f"{name:40s} {seconds / count * 1e6:8.1f} µs/message "
            f"{count / seconds:9,.0f} messages/s  speed {baseline / seconds:5.2f}x bare"
        )
    ratio = baseline / rows[2][1]
    print(
        f"target >= 0.5x bare for parsing and threading: {ratio:.2f}x "
        f"{'met' if ratio >= 0.5 else 'MISSED'}"
    )
    finish(
        args,
        {
            "email_bare_parse_us": baseline / count * 1e6,
            "email_parse_us": parsed / count * 1e6,
            "email_channel_parse_us": channelled / count * 1e6,
        },
    )


if __name__ == "__main__":
    main()
