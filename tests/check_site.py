"""Check the built documentation site works opened from disk: ``python tests/check_site.py SITE``.

Run by ``nox -s docs`` after ``mkdocs build``. Fails (exit 1, one line per problem) when a page
loads anything from another host (fonts, scripts, styles: the site must work offline and leak
no reader to a third party), or links to a page or file that does not exist in the site (a
link to a directory opens a directory listing from disk, so page links must name the file).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Resources a browser loads by itself: stylesheets, scripts, images, fonts, CSS imports.
LOADED = re.compile(
    r"<(?:link|script|img|source|iframe)\b[^>]*?\b(?:href|src)=[\"']([^\"']+)[\"']"
    r"|@import\s+url\([\"']?([^\"')]+)|url\([\"']?(https?:[^\"')]+)",
    re.I,
)
LINK = re.compile(r"<a\b[^>]*?\bhref=[\"']([^\"']+)[\"']", re.I)


def problems(site: Path) -> list[str]:
    """Every external resource and broken local link of the site under *site*."""
    found = []
    for page in sorted(site.rglob("*.html")):
        if page == site / "404.html":
            continue  # only a web server shows it, and resolves its root-relative links
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(site)
        for match in LOADED.finditer(text):
            url = next(group for group in match.groups() if group)
            if urlsplit(url).scheme in ("http", "https") or url.startswith("//"):
                found.append(f"{name}: loads {url} from another host")
        for url in LINK.findall(text):
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("#", "//")):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                found.append(f"{name}: link {url} names no file of the site")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python tests/check_site.py SITE_DIRECTORY", file=sys.stderr)
        return 2
    found = problems(Path(argv[0]))
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"site at {argv[0]}: no external resources, every local link names a file")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
