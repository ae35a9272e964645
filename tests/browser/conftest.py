"""Browser tests: Debian's Chromium driven by playwright's sync API against pytest-django's live server.

The tests of this folder are marked `browser` (skipped with the reason when Chromium is absent,
failing with CI=true, see tests/conftest.py) and `django_db(transaction=True,
serialized_rollback=True)`: the live server answers from another thread, so rows are committed,
and the data of the migrations (groups, régions, legal categories) is restored first, as the flush
after an earlier transactional test removes it.

Chromium is launched here, never by pytest-playwright's fixtures, so that no `playwright install`
is ever needed. Each step of a journey goes through `Journey.step`: a screenshot under
tests/browser/screenshots/<test>/ and an axe-core audit of the page; the serious and critical
violations are collected and asserted at the end of the test by `Journey.assert_accessible`.
"""

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# Long enough for a PDF rendered in process (WeasyPrint) on a slow CI machine.
TIMEOUT_MS = 20_000
# `expect(...)` waits 5 s by default: the same allowance as the actions on a loaded machine.
expect.set_options(timeout=TIMEOUT_MS)
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One Chromium per module, launched by hand (never `playwright install`).

    Between two calls, playwright's sync API leaves its event loop marked as running in this
    thread. Django then (1) refuses ORM calls unless DJANGO_ALLOW_ASYNC_UNSAFE is set: allowed
    here, for as long as playwright runs (factories, services, the flush after each test); and
    (2) keeps its database connections in another storage (asgiref's thread-critical Local
    switches to a context variable while a loop runs), where a new connection object would lack
    the test database's serialized data (`serialized_rollback`) and would not be the one the
    live server shares: the thread's own connection objects are put there too.
    """
    if not shutil.which(CHROMIUM):  # the `browser` marker has already skipped (or failed) the test
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    thread_connections = {alias: connections[alias] for alias in connections}
    manager = sync_playwright().start()
    try:
        for alias, connection in thread_connections.items():
            connections[alias] = connection
        browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(live_server, settings) -> str:  # type: ignore[no-untyped-def]
    """The live server's address; e-mailed links point at it."""
    settings.SITE_URL = live_server.url
    return live_server.url


@dataclass(frozen=True)
class Finding:
    url: str
    rule: str
    impact: str
    target: str
    help: str

    def __str__(self) -> str:
        return f"{self.url} — {self.rule} ({self.impact}) on {self.target}: {self.help}"


@dataclass
class Journey:
    """The screenshots and the accessibility findings of one test, across its browser pages."""

    folder: Path
    base_url: str
    findings: list[Finding] = field(default_factory=list)
    # Moderate and minor violations: not asserted, written to axe.json with the screenshots.
    others: list[Finding] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    count: int = 0

    def step(self, page, name: str, *, audit: bool = True) -> None:  # type: ignore[no-untyped-def]
        """Screenshot the page (numbered, readable name) and audit it with axe-core."""
        page.wait_for_load_state("load")
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{slug}.png"), full_page=True)
        if audit:
            self.audit(page)

    def audit(self, page) -> None:  # type: ignore[no-untyped-def]
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(page)
        url = page.url.removeprefix(self.base_url)
        passed = len(results.response.get("passes", []))
        assert passed, f"axe-core checked no rule on {url}: was it injected?"
        self.audited.append(f"{url} ({passed} rules passed)")
        for violation in results.response.get("violations", []):
            bucket = self.findings if violation.get("impact") in BLOCKING_IMPACTS else self.others
            for node in violation.get("nodes", []):
                finding = Finding(
                    url=url,
                    rule=violation["id"],
                    impact=str(violation.get("impact")),
                    target=" ".join(str(part) for part in node.get("target", [])),
                    help=violation.get("help", ""),
                )
                if finding not in bucket:
                    bucket.append(finding)
        self._write_report()

    def _write_report(self) -> None:
        report = {
            "audited": self.audited,
            "serious_or_critical": [asdict(finding) for finding in self.findings],
            "moderate_or_minor": [asdict(finding) for finding in self.others],
            "console_errors": self.console_errors,
        }
        (self.folder / "axe.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
        )

    def console(self, page, message) -> None:  # type: ignore[no-untyped-def]
        """Keep the browser's console errors (a CSP refusal, a failed load), once each, for axe.json."""
        if message.type != "error":
            return
        where = message.location or {}
        source = f"{where.get('url', '')}:{where.get('lineNumber', '')}"
        line = f"{page.url.removeprefix(self.base_url)}: {message.text} [{source}]"
        if line not in self.console_errors:
            self.console_errors.append(line)
            self._write_report()

    def assert_accessible(self) -> None:
        """Fail with every serious or critical violation found: page, rule, element, help."""
        assert self.audited, "no page was audited"
        if self.findings:
            pytest.fail(
                f"{len(self.findings)} serious or critical axe-core violation(s) on "
                f"{len({f.url for f in self.findings})} page(s), {len(self.audited)} audits:\n"
                + "\n".join(str(finding) for finding in self.findings),
                pytrace=False,
            )


@pytest.fixture
def journey(request, site) -> Journey:  # type: ignore[no-untyped-def]
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return Journey(folder=folder, base_url=site)


@pytest.fixture
def new_page(chromium, site, journey) -> Iterator[Callable[[], object]]:  # type: ignore[no-untyped-def]
    """Open a page in a browser context of its own (its own cookies: one per person)."""
    contexts = []

    def open_page():  # type: ignore[no-untyped-def]
        context = chromium.new_context(  # type: ignore[attr-defined]
            base_url=site,
            accept_downloads=True,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: journey.console(page, message))
        return page

    yield open_page
    for context in contexts:
        context.close()
