"""Accessibility checks with axe-core in the test browser.

axe-core comes from npm (``node_modules/``, installed by ``make install``) and is evaluated
into the page by the test through the DevTools protocol: the site never serves it, nothing is
fetched from a CDN, and the page's Content-Security-Policy is not loosened for it.

Every browser context a test opens is watched (``AxeWatch``): each page is checked when it is
about to be left (the moment the browser asks for the next document, while the old one is
still on screen) and when its context is closed, so every state a browser test goes through is
checked, forms with errors and pages after saving included. A violation of serious or critical
impact fails the test that led the browser there.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.join(' '), html: n.html, summary: n.failureSummary,
    })),
  }));
}"""


# What axe finds in Django's own admin widgets, which no template or stylesheet of ours can
# mend; each is documented in docs/TESTING.md. (rule, a piece of the CSS selector axe names)
DJANGO_ADMIN_OWN = (
    # The "available" list of a filter_horizontal field (Django's SelectFilter2.js) is named
    # only by its title attribute; the chosen list and the filter box are labelled.
    ("select-name", "_from"),
    ("label-title-only", "_from"),
    # The same widget's search-box icons carry an aria-label on a span with no role.
    ("aria-prohibited-attr", ".help-tooltip"),
)


def _djangos_own(url: str, rule: str, target: str) -> bool:
    return urlsplit(url).path.startswith("/admin/") and any(
        rule == own_rule and fragment in target for own_rule, fragment in DJANGO_ADMIN_OWN
    )


def axe_problem() -> str | None:
    if not AXE_JS.is_file():
        return f"axe-core is not installed at {AXE_JS} (run `make install`, which runs npm ci)"
    return None


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    url: str
    rule: str
    impact: str
    help: str
    help_url: str
    nodes: tuple[tuple[str, str, str], ...]  # (CSS target, HTML, what fails)

    def __str__(self) -> str:
        lines = [f"{self.url}: [{self.impact}] {self.rule}: {self.help} ({self.help_url})"]
        for target, html, summary in self.nodes[:5]:
            lines.append(f"    {target}  {html[:160]}")
            lines.extend(f"      {line}" for line in summary.splitlines()[:4])
        if len(self.nodes) > 5:
            lines.append(f"    ... and {len(self.nodes) - 5} more")
        return "\n".join(lines)


def axe_violations(
    page, *, url: str | None = None, impacts: frozenset[str] = FAILING_IMPACTS
) -> list[Violation]:
    """Run axe-core on the document in ``page`` now; its violations of the given impacts,
    reported as at ``url`` (the page's own address unless given)."""
    url = url or page.url
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    violations = []
    for item in page.evaluate(_RUN):
        nodes = tuple(
            (node["target"], node["html"], node["summary"] or "")
            for node in item["nodes"]
            if not _djangos_own(url, item["id"], node["target"])
        )
        if item["impact"] in impacts and nodes:
            violations.append(
                Violation(
                    url=url,
                    rule=item["id"],
                    impact=item["impact"],
                    help=item["help"],
                    help_url=item["helpUrl"],
                    nodes=nodes,
                )
            )
    return violations


class _Fetches:
    """The requests a page's scripts made (fetch, XMLHttpRequest) that have not finished."""

    def __init__(self, page) -> None:
        self.pending: set = set()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request) -> None:
        if request.resource_type in {"fetch", "xhr"}:
            self.pending.add(request)

    def _ended(self, request) -> None:
        self.pending.discard(request)


def _settle(page, fetches: _Fetches, *, timeout: float = 15.0) -> None:
    """Wait for what the page's scripts fetch after it loaded (Swagger UI fetches the schema,
    then draws the operations), then for two frames to be drawn; a page that fetches
    nothing waits only for the frames."""
    deadline = time.monotonic() + timeout
    while fetches.pending and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def report(violations: list[Violation]) -> str:
    return "accessibility violations (axe-core):\n" + "\n".join(str(v) for v in violations)


# Fingerprints of the states checked and found clean in this session (a digest each).
_clean: set[str] = set()

# Each document a watched page loads tells the test what it was, as it was once loaded: its
# address, the window's width and its markup (a binding, installed by the test through the
# DevTools protocol; nothing is added to the page's markup or loosened in its policy).
_SNAPSHOT_BINDING = "__axeSnapshot"
_SNAPSHOT_ON_LOAD = f"""
if (window.top === window) {{
  window.addEventListener('load', () => {{
    if (document.contentType === 'text/html' && /^https?:/.test(location.href)) {{
      const html = document.documentElement.outerHTML;
      window.{_SNAPSHOT_BINDING}(location.href, window.innerWidth, html);
    }}
  }});
}}
"""
_CSRF_VALUE = re.compile(r'value="[A-Za-z0-9]{32,}"')


def _digest(width: int, html: str) -> str:
    """The same state: the same window width and markup, less the CSRF tokens."""
    markup = _CSRF_VALUE.sub('value=""', html)
    return hashlib.sha256(f"{width}|{markup}".encode()).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    url: str
    width: int
    html: str


class MarkupChecker:
    """Shows documents, one after another, in one tab and has axe check each.

    Each document is written into the tab (``set_content``) under a page of the site it came
    from, so its stylesheets and scripts load from that site (from the browser's cache after
    the first) and it is laid out as it was; axe stays loaded between documents.
    """

    def __init__(self, page) -> None:
        self.page = page
        self.fetches = _Fetches(page)
        self.origin: str | None = None

    def check(self, *, url: str, html: str, width: int) -> list[Violation]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin != self.origin:
            # Any page of the site will do as the frame: the 404 page is the cheapest.
            self.page.goto(f"{origin}/accessibility-check/", wait_until="domcontentloaded")
            self.origin = origin
        if self.page.viewport_size["width"] != width:
            self.page.set_viewport_size({"width": width, "height": 800})
        if not html.lstrip().lower().startswith("<!doctype"):
            html = "<!doctype html>" + html  # outerHTML leaves the doctype out
        self.page.set_content(html, wait_until="load")
        _settle(self.page, self.fetches)
        return axe_violations(self.page, url=url)


@dataclass
class AxeWatch:
    """Checks every document the pages of its contexts load; ``violations`` collects what it
    found.

    A check needs the page to stay put while axe runs, and a test moves on as soon as it
    likes; so each document is kept as it was loaded, and shown again in the same context
    (same cookies, same window width) by a ``MarkupChecker``, before the context closes (or
    when the test ends).
    """

    violations: list[Violation] = field(default_factory=list)
    checked: int = 0
    _contexts: list = field(default_factory=list)
    _snapshots: dict = field(default_factory=dict)  # context -> [Snapshot]
    _seen: set[str] = field(default_factory=set)
    _replaying: bool = False

    def watch(self, context) -> None:
        self._contexts.append(context)
        snapshots: list[Snapshot] = []
        self._snapshots[id(context)] = snapshots

        def keep(source, url: str, width: int, html: str) -> None:
            if not self._replaying:
                snapshots.append(Snapshot(url=url, width=int(width), html=html))

        context.expose_binding(_SNAPSHOT_BINDING, keep)
        context.add_init_script(_SNAPSHOT_ON_LOAD)
        close = context.close

        def close_after_checking(*args, **kwargs):
            self._check_snapshots(context)
            return close(*args, **kwargs)

        context.close = close_after_checking

    def finish(self) -> None:
        """Check what the contexts still open (not closed by the test) loaded."""
        for context in self._contexts:
            self._check_snapshots(context)
        self._contexts.clear()

    def take_violations(self) -> list[Violation]:
        """What was found so far, for a test that reports it itself."""
        found, self.violations = self.violations, []
        return found

    def _check_snapshots(self, context) -> None:
        snapshots = self._snapshots.get(id(context), [])
        pending = []
        for snapshot in snapshots:
            digest = _digest(snapshot.width, snapshot.html)
            if digest not in _clean and digest not in self._seen:
                self._seen.add(digest)
                pending.append((digest, snapshot))
        snapshots.clear()
        if not pending:
            return
        self._replaying = True
        try:
            page = context.new_page()
        except Exception:  # the context is already closed
            self._replaying = False
            return
        try:
            checker = MarkupChecker(page)
            for digest, snapshot in pending:
                found = checker.check(url=snapshot.url, html=snapshot.html, width=snapshot.width)
                self._record(digest, found)
        finally:
            page.close()
            self._replaying = False

    def _record(self, digest: str, found: list[Violation]) -> None:
        self.checked += 1
        self._seen.add(digest)
        if found:
            self.violations.extend(found)
        else:
            _clean.add(digest)

    def check(self, page) -> None:
        """Check the document in ``page`` now, unless it is not one of our HTML pages or the
        same state was already checked (found clean in this session, or by this watch)."""
        if not page.url.startswith(("http://", "https://")):
            return
        if page.evaluate("() => document.contentType") != "text/html":
            return
        width, html = page.evaluate("() => [window.innerWidth, document.documentElement.outerHTML]")
        digest = _digest(width, html)
        if digest in _clean or digest in self._seen:
            return
        self._record(digest, axe_violations(page))


# The watch of the test running now; every context the session's browser opens joins it.
_current: AxeWatch | None = None


def watch_new_contexts(browser) -> None:
    """Make every ``browser.new_context()`` of the session watched by the running test's
    ``AxeWatch`` (see ``start_watch``)."""
    from tests.harness.services import require

    new_context = browser.new_context
    browser.new_unwatched_context = new_context  # for a test that runs axe itself

    def new_watched_context(*args, **kwargs):
        require(axe_problem())
        context = new_context(*args, **kwargs)
        if _current is not None:
            _current.watch(context)
        return context

    browser.new_context = new_watched_context


def start_watch() -> AxeWatch:
    global _current
    _current = AxeWatch()
    return _current


def stop_watch(watch: AxeWatch) -> list[Violation]:
    """Check what is still open, stop watching; the violations found during the test."""
    global _current
    watch.finish()
    if _current is watch:
        _current = None
    return watch.violations
