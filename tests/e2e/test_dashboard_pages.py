"""Every page of the product in headless Chromium, as every role that may open it, with demo data.

For each (role, page): the page answers, every plotly figure on it rendered, there are no console
errors nor CSP violations, and at a 390 px wide phone screen nothing scrolls sideways
(`document.documentElement.scrollWidth <= 390`). Screenshots at desktop and phone width go to
test-results/screenshots/ (one role per page: the first that may open it).

To add a page: one `Page(...)` line in PAGES. `test_every_page_of_the_url_conf_is_listed` fails on a
GET route that is neither in PAGES nor in NOT_PAGES (with its reason). `E2E_PAGES=quotas:oa_detail,home`
limits a run to those routes (while working on them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse
from django.views.decorators.http import require_http_methods

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from zalo_admin.roles import declared_access, has_capability

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": PHONE_WIDTH, "height": 844}
# pytest-playwright empties test-results/ when a session starts: keep a copy with SCREENSHOT_DIR=/elsewhere
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "test-results/screenshots"))
ROLES = ("marketer", "quality_admin", "auditor")


@dataclass(frozen=True)
class Page:
    url_name: str
    kwargs: Callable[[SimpleNamespace], dict] = field(default=lambda objs: {})
    query: str = ""  # e.g. "?planned_daily_volume=10000&days=20"
    label: str = ""  # screenshot name when one route is listed twice

    @property
    def slug(self) -> str:
        return (self.label or self.url_name).replace(":", "-")


PAGES = [
    Page("home"),
    Page("oas:list"),
    Page("oas:create"),
    Page("oas:detail", lambda o: {"oa_id": o.oa.pk}),
    Page("oas:edit", lambda o: {"oa_id": o.oa.pk}),
    Page("oas:templates", lambda o: {"oa_id": o.oa.pk}),
    Page("oas:template_detail", lambda o: {"oa_id": o.oa.pk, "pk": o.template.pk}),
    Page("audiences:index"),
    Page("audiences:contact", lambda o: {"contact_id": o.contact.pk}),
    Page("audiences:suppress"),
    Page("audiences:lift_suppression"),
    Page("audiences:lists"),
    Page("audiences:list_create"),
    Page("audiences:list", lambda o: {"list_id": o.contact_list.pk}),
    Page("audiences:list_edit", lambda o: {"list_id": o.contact_list.pk}),
    Page("audiences:list_add", lambda o: {"list_id": o.contact_list.pk}),
    Page("audiences:segment_create"),
    Page("audiences:segment", lambda o: {"segment_id": o.segment.pk}),
    Page("audiences:segment_edit", lambda o: {"segment_id": o.segment.pk}),
    Page("audiences:imports"),
    Page("audiences:import_upload"),
    Page("audiences:data_requests"),
    Page("campaigns:index"),
    Page("campaigns:new"),
    Page("campaigns:detail", lambda o: {"campaign_id": o.finished.pk}),
    Page("campaigns:detail", lambda o: {"campaign_id": o.awaiting.pk}, label="campaigns-detail-awaiting"),
    Page("campaigns:edit", lambda o: {"campaign_id": o.awaiting.pk}),
    Page("campaigns:preflight", lambda o: {"campaign_id": o.awaiting.pk}),
    Page("campaigns:recipients", lambda o: {"campaign_id": o.finished.pk}),
    Page("campaigns:timeline", lambda o: {"campaign_id": o.finished.pk, "message_id": o.message.pk}),
    Page("campaigns:analytics", lambda o: {"campaign_id": o.finished.pk}),
    Page("campaigns:analytics", lambda o: {"campaign_id": o.awaiting.pk}, label="campaigns-analytics-empty"),
    Page("campaigns:oa_attribution", lambda o: {"oa_id": o.oa.pk}, query="?days=30"),
    Page("quotas:index"),
    Page("quotas:policies"),
    Page("quotas:oa_detail", lambda o: {"oa_id": o.oa.pk}),
    Page("quotas:oa_detail", lambda o: {"oa_id": o.zbs_oa.pk}, label="quotas-oa_detail-zbs"),
    Page(
        "quotas:oa_detail",
        lambda o: {"oa_id": o.oa.pk},
        query="?planned_daily_volume=10000&days=20",
        label="quotas-oa_detail-forecast",
    ),
    Page("compliance:index"),
    Page("compliance:messages", query="?q=%23"),  # "#" alone: the search's empty answer
    Page("compliance:story", lambda o: {"message_id": o.message.pk}),
    Page("compliance:evidence_packs"),
    Page("campaigns:logs"),
    Page("campaigns:logs", query="?state=failed", label="campaigns-logs-failed"),
    Page("alerts:index"),
    Page("alerts:settings"),
    Page("alerts:webhooks"),
]

# GET routes that are not pages of their own, with the reason. POST-only views are found by their
# method guard and need no entry.
NOT_PAGES = {
    "javascript-catalog": "JavaScript, not a page",
    "healthz": "JSON for the load balancer",
    "login": "opened by log_in() before every role's pages",
    "logout": "logs the browser out",
    "set_language": "POST only (Django's view, no guard to read)",
    "oas:oauth_callback": "Zalo's OAuth redirect target: needs Zalo's state and code",
    "oas:connect": "redirects to Zalo's OAuth page",
    "audiences:import_detail": "demo data has no import",
    "audiences:import_map": "demo data has no import",
    "audiences:import_progress": "JSON polled by the import page",
    "audiences:import_rejections": "CSV download",
    "audiences:data_request": "demo data has no data request",
    "campaigns:progress": "JSON polled by the campaign page",
    "campaigns:preflight_csv": "CSV download",
    "campaigns:autosave": "JSON endpoint of the composer",
    "quotas:oa_chart_csv": "CSV download",
    "campaigns:analytics_csv": "CSV download",
    "campaigns:oa_attribution_csv": "CSV download",
    "campaigns:logs_csv": "CSV download",
    "campaigns:log_export": "demo data has no prepared export",
    "campaigns:log_export_progress": "JSON polled by the export page",
    "campaigns:log_export_download": "CSV download",
    "compliance:evidence_pack": "demo data has no evidence pack (tests/e2e/test_auditor_story.py opens one)",
    "compliance:evidence_progress": "JSON polled by the pack page",
    "compliance:evidence_download": "ZIP download",
    "alerts:webhook_edit": "demo data has no webhook endpoint",
    "providers:zalo_webhook": "provider webhook",
    "providers:infobip_webhook": "provider webhook",
}
SKIPPED_NAMESPACES = {"admin", "django_rq", "twofactor"}

_METHOD_GUARD_CODE = require_http_methods(["POST"])(lambda request: None).__code__


def _post_only(view) -> bool:
    layer = view
    while layer is not None:
        code = getattr(layer, "__code__", None)
        if code is _METHOD_GUARD_CODE:
            closure = dict(zip(code.co_freevars, layer.__closure__, strict=True))
            return "GET" not in closure["request_method_list"].cell_contents
        layer = getattr(layer, "__wrapped__", None)
    return False


def _routes(resolver=None, namespaces=()):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _routes(entry, inner)
        elif entry.name:
            yield ":".join((*namespaces, entry.name)), entry.callback


def test_every_page_of_the_url_conf_is_listed():
    listed = {page.url_name for page in PAGES}
    missing = [
        name
        for name, view in _routes()
        if name not in listed and name not in NOT_PAGES and not _post_only(view)
    ]
    assert missing == [], "add these GET routes to PAGES (or to NOT_PAGES with a reason)"


def _seeded_objects() -> SimpleNamespace:
    from audiences.models import Contact, ContactList, Segment
    from campaigns.models import Campaign, CampaignMessage
    from oas.models import MessageTemplate, OfficialAccount
    from zalo_admin import demo

    finished = Campaign.objects.get(name=demo.DEMO_FINISHED)
    oas = OfficialAccount.objects.filter(quota__isnull=False).select_related("quota__policy").order_by("pk")
    return SimpleNamespace(
        oa=finished.oa,
        zbs_oa=next((oa for oa in oas if oa.quota.policy.code.startswith("zbs")), finished.oa),
        template=MessageTemplate.objects.filter(oa=finished.oa).order_by("pk").first(),
        contact=Contact.objects.order_by("pk").first(),
        contact_list=ContactList.objects.order_by("pk").first(),
        segment=Segment.objects.order_by("pk").first(),
        finished=finished,
        awaiting=Campaign.objects.get(name=demo.DEMO_AWAITING),
        message=CampaignMessage.objects.filter(campaign=finished).order_by("pk").first(),
    )


def _join_every_team(user) -> None:
    """The demo's OAs belong to two teams: the test's role users join both, as an operator of both
    would, so every page of every OA is theirs to open (tests/teams covers the other-team 404s)."""
    from teams import services
    from teams.models import Team

    with transaction.atomic():
        for team in Team.objects.all():
            services.add_member(actor="system:test", user=user, team=team)


def _may_open(user, page: Page) -> bool:
    from django.urls import resolve

    view = resolve(reverse(page.url_name, kwargs=page.kwargs(SimpleNamespace(**_DUMMY)))).func
    return all(has_capability(user, capability) for capability in declared_access(view).capabilities)


class _Any:
    pk = 1


_DUMMY = {
    name: _Any()
    for name in (
        "oa",
        "zbs_oa",
        "template",
        "contact",
        "contact_list",
        "segment",
        "finished",
        "awaiting",
        "message",
    )
}


# The widest elements sticking out of a `width` px viewport, outside any box that scrolls or clips.
_OVERFLOW_JS = """(width) => {
  const outside = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const clips = ['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX);
      if (clips && p.getBoundingClientRect().right <= width + 1) { return false; }
    }
    return true;
  };
  const name = (el) => el.tagName.toLowerCase()
    + (typeof el.className === 'string' && el.className
       ? '.' + el.className.trim().split(/ +/).join('.') : '')
    + (el.dataset.testid ? '[' + el.dataset.testid + ']' : '');
  const offenders = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && outside(el)) {
      offenders.push(name(el) + ' right=' + Math.round(box.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, offenders: offenders.slice(0, 8)};
}"""


def _sideways_overflow(page) -> dict:
    """The page's scroll width and what sticks out (to name the culprit in the failure)."""
    return page.evaluate(_OVERFLOW_JS, PHONE_WIDTH)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_its_charts_and_fits_a_phone(watched_page, live_server, role_users, role):
    call_command("seed_demo")
    objs = _seeded_objects()
    user = role_users[role]
    _join_every_team(user)
    only = {name for name in os.environ.get("E2E_PAGES", "").split(",") if name}  # to debug a few pages
    pages = [page for page in PAGES if _may_open(user, page) and (not only or page.url_name in only)]
    assert pages, role
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser = watched_page
    browser.context.set_extra_http_headers({"Accept-Language": "en"})
    log_in(browser, live_server, user.username, PASSWORD)
    failures = []
    for page in pages:
        url = live_server.url + reverse(page.url_name, kwargs=page.kwargs(objs)) + page.query
        first_role = next(r for r in ROLES if _may_open(role_users[r], page)) == role
        for size in (DESKTOP, PHONE):
            browser.problems.clear()
            browser.set_viewport_size(size)
            response = browser.goto(url)
            if response.status != 200:
                failures.append(f"{page.slug} {size['width']}px: HTTP {response.status}")
                continue
            charts = browser.locator("[data-chart]")
            for index in range(charts.count()):
                chart = charts.nth(index)
                try:
                    chart.locator(".main-svg").first.wait_for(timeout=10_000)
                    browser.wait_for_function(
                        "el => el.dataset.rendered === 'true'", arg=chart.element_handle(), timeout=10_000
                    )
                except Exception:  # noqa: BLE001 (reported with the page's name below)
                    failures.append(f"{page.slug}: chart {chart.get_attribute('data-chart')} did not render")
            if size is PHONE:
                overflow = _sideways_overflow(browser)
                if overflow["scrollWidth"] > PHONE_WIDTH:
                    failures.append(f"{page.slug}: scrolls sideways at 390 px: {overflow}")
            if first_role:
                browser.screenshot(path=str(SCREENSHOTS / f"{page.slug}-{size['width']}.png"), full_page=True)
            if browser.problems:
                failures.append(f"{page.slug} {size['width']}px: {browser.problems}")
    assert failures == []
