"""The OA list: 50 a page by name (keyset links both ways), narrowed by a search."""

import re

import pytest
from django.urls import reverse

from oas.models import OfficialAccount

pytestmark = pytest.mark.django_db


def _names(page) -> list[str]:
    return re.findall(r'<a href="/oas/\d+/">([^<]+)</a>', page.text)


def _link(page, testid) -> str | None:
    found = re.search(rf'<a href="([^"]+)" data-testid="{testid}">', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_list_pages_through_every_oa_by_name_and_back(client, quality_admin):
    # 120 OAs, names with ties ("Shop 007" twice), created in no name order.
    names = [f"Shop {n % 110:03d}" for n in range(120)]
    for n, name in enumerate(reversed(names)):
        OfficialAccount.objects.create(name=name, zalo_oa_id=f"list-oa-{n}")
    expected = [
        oa.name for oa in OfficialAccount.objects.order_by("name", "pk")
    ]  # the fixtures may hold OAs of their own
    client.force_login(quality_admin)
    url, seen, pages = reverse("oas:list"), [], []
    while url:
        page = client.get(url if url.startswith("/") else reverse("oas:list") + url)
        assert page.status_code == 200
        pages.append(page)
        seen += _names(page)
        assert len(_names(page)) <= 50
        url = _link(page, "next-page")
    assert seen == expected and len(pages) == 3
    assert _link(pages[0], "previous-page") is None
    back = client.get(reverse("oas:list") + _link(pages[2], "previous-page"))
    assert _names(back) == _names(pages[1])
    first = client.get(reverse("oas:list") + _link(back, "previous-page"))
    assert _names(first) == _names(pages[0]) and _link(first, "previous-page") is None


def test_the_search_matches_name_oa_id_or_owner_team_and_keeps_it_in_the_links(client, quality_admin):
    for n in range(60):
        OfficialAccount.objects.create(name=f"Fashion {n:02d}", zalo_oa_id=f"fa-{n}", owner_team="Retail")
    OfficialAccount.objects.create(name="Bakery", zalo_oa_id="bk-1", owner_team="Food")
    client.force_login(quality_admin)
    page = client.get(reverse("oas:list"), {"q": "bakery"})
    assert _names(page) == ["Bakery"] and _link(page, "next-page") is None
    assert _names(client.get(reverse("oas:list"), {"q": "BK-1"})) == ["Bakery"]
    assert _names(client.get(reverse("oas:list"), {"q": "food"})) == ["Bakery"]
    page = client.get(reverse("oas:list"), {"q": "fashion"})
    assert len(_names(page)) == 50 and "q=fashion" in _link(page, "next-page")
    rest = client.get(reverse("oas:list") + _link(page, "next-page"))
    assert _names(rest) == [f"Fashion {n:02d}" for n in range(50, 60)]
    empty = client.get(reverse("oas:list"), {"q": "nothing like it"})
    assert "No Official Account matches this search." in empty.text
