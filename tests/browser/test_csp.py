"""htmx under the strict Content-Security-Policy: pages that use it, and its swaps, log no refusal.

The policy refuses inline styles (`style-src 'self'`): an element or attribute `style` written by a
script is refused and logged by the browser. htmx's indicator <style> is turned off in
`<meta name="htmx-config">`; so is its settling of the `style` attribute, which copies the old
element's style (the DSFR's scripts set some through the CSSOM) onto the new one with
setAttribute. Every console message and every `securitypolicyviolation` event is collected.
"""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import complete_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Runs before the page's own scripts, outside the page's policy (playwright injects it).
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _logged_in_page(chromium, site, user, messages):  # type: ignore[no-untyped-def]
    """A page whose context carries the session of `user` (logged in by the test client)."""
    client = Client()
    client.force_login(user)
    context = chromium.new_context(base_url=site, locale="fr-FR")
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site,
            }
        ]
    )
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    return context, page


def _csp_problems(page, messages: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    logged = [line for line in messages if "Content Security Policy" in line or "Refused to" in line]
    return logged + page.evaluate("window.__cspViolations")


def test_an_htmx_swap_logs_no_csp_violation(chromium, site):  # type: ignore[no-untyped-def]
    application = complete_application()
    messages: list[str] = []
    context, page = _logged_in_page(chromium, site, application.created_by, messages)
    try:
        page.goto(reverse("applications:dossier-consortium", args=[application.reference]))
        expect(page.locator("#consortium-membres")).to_be_visible()
        assert page.evaluate("typeof htmx") == "object", "htmx is not loaded"
        assert page.evaluate("htmx.config.includeIndicatorStyles") is False
        assert "style" not in page.evaluate("htmx.config.attributesToSettle")
        # The DSFR's scripts style elements through the CSSOM and leave a `style` attribute behind,
        # often empty once a property is removed (the journey's refusal was the hash of "").
        # htmx must not copy it onto the new elements with setAttribute.
        page.evaluate(
            """document.querySelectorAll('#consortium-membres, #consortium-membres [id]')
              .forEach((element, index) => {
                element.style.setProperty('--portal-probe', '1');
                if (index % 2) element.style.removeProperty('--portal-probe');
              })"""
        )
        page.evaluate("window.__sameDocument = true")
        form = page.locator("#consortium-membres form[hx-post*='/modifier/']").first
        with page.expect_response(lambda response: "/modifier/" in response.url) as swapped:
            form.locator("button[type=submit]").click()
        assert swapped.value.request.headers.get("hx-request") == "true"
        # Settled: htmx removes its settling class once the new content is in place.
        expect(page.locator("#consortium-membres")).to_be_visible()
        page.wait_for_function("!document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request')")
        page.wait_for_timeout(200)
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded, not swapped"
        problems = _csp_problems(page, messages)
        assert problems == [], problems
    finally:
        context.close()


def test_pages_that_load_htmx_log_no_csp_violation(chromium, site):  # type: ignore[no-untyped-def]
    application = complete_application()
    messages: list[str] = []
    context, page = _logged_in_page(chromium, site, application.created_by, messages)
    try:
        for url in [
            reverse("core:home"),
            reverse("applications:applicant-home"),
            reverse("applications:dossier-consortium", args=[application.reference]),
        ]:
            page.goto(url)
            page.wait_for_load_state("load")
            assert page.evaluate("typeof htmx") == "object", url
        assert _csp_problems(page, messages) == [], messages
    finally:
        context.close()
