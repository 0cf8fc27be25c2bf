"""Every relative link between README.md and docs/ resolves: the file exists and, when the link
names an ``#anchor``, the target page has a heading with that GitHub slug.

Reference material moved out of the README into docs/; a renamed heading or page would otherwise
leave a dead link nobody notices until a newcomer clicks it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
README_MAX_LINES = 250

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (links and headings in code are not links)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in _prose(page.read_text()):
        match = re.match(r"^#{1,6} (.+)$", line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(page: Path) -> list[str]:
    return [
        target
        for line in _prose(page.read_text())
        for target in _LINK.findall(line)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: ...
    ]


def test_the_docs_exist() -> None:
    assert len(PAGES) > 5, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    dead = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            dead.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            dead.append(f"{target}: no heading with anchor #{anchor}")
    assert not dead, f"{page.relative_to(ROOT)}: " + "; ".join(dead)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    """A page nobody links to is a page nobody reads."""
    linked = {ROOT / "README.md"}
    frontier = [ROOT / "README.md"]
    while frontier:
        page = frontier.pop()
        for target in relative_links(page):
            path_part = target.partition("#")[0]
            resolved = (page.parent / path_part).resolve() if path_part else page
            if resolved.suffix == ".md" and resolved.exists() and resolved not in linked:
                linked.add(resolved)
                frontier.append(resolved)
    assert sorted(set(PAGES) - linked) == []


def test_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; reference goes to docs/"


def test_the_slug_rule_matches_github() -> None:
    assert github_slug("Kubernetes: Helm chart, image, kind / minikube") == (
        "kubernetes-helm-chart-image-kind--minikube"
    )
    assert github_slug("Shared contracts (`dags/order_contracts/`)") == (
        "shared-contracts-dagsorder_contracts"
    )
