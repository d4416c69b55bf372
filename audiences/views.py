"""Audience pages: counts and the contact list, a contact's evidence, "show number", do-not-contact.

Phones are shown masked (0912***678) to every role. A role that needs the number asks for it with
"Show number" (POST, audited): the full number is then shown once, on the page it redirects to, for
`REVEAL_SECONDS` at most (a flag in the session, consumed by that page view).
"""

import time
from dataclasses import dataclass

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audiences import selectors, services
from audiences.forms import SuppressionForm
from audiences.models import Contact, Purpose, Suppression
from oas.models import OfficialAccount
from teams.scoping import get_visible_or_404, visible
from zalo_admin.lib.keyset import keyset_page
from zalo_admin.lib.phones import PhoneRejected, mask_phone, national_format, parse_vietnamese_mobile
from zalo_admin.roles import has_capability, require_capability

REVEAL_SESSION_KEY = "audiences_revealed_phone"
REVEAL_SECONDS = 60
PAGE_SIZE = 50


@dataclass
class ContactPage:
    object_list: list
    next_url: str
    previous_url: str
    first_url: str


def masked_phone(phone: str) -> str:
    """0912***678; an erased contact's pseudonym is no phone and is shown as such."""
    try:
        return mask_phone(phone)
    except ValueError:
        return _("(erased)")


@require_capability("view_audience_counts")
def index(request):
    context = {
        "contact_count": selectors.contact_count(),
        "suppression_count": selectors.suppression_count(),
        "consent_counts": selectors.consent_counts(),
        "can_list": has_capability(request.user, "view_audiences"),
    }
    if context["can_list"]:
        query = request.GET.get("q", "").strip()
        phone, search_error = "", ""
        if query:
            try:
                phone = parse_vietnamese_mobile(query)
            except PhoneRejected as rejected:
                search_error = str(rejected)
        rows = Contact.objects.none() if search_error else visible(request.user, selectors.contacts(phone))
        # Keyset pages on (phone, id): no COUNT and no OFFSET over a million team-scoped contacts (the
        # paginator's count alone took 3 s there).
        found = keyset_page(
            rows, "phone", after=request.GET.get("after"), before=request.GET.get("before"), size=PAGE_SIZE
        )
        keep = {"q": query} if query else {}
        page = ContactPage(
            object_list=[(contact, masked_phone(contact.phone)) for contact in found.rows],
            next_url="?" + urlencode({**keep, "after": found.next_after}) if found.next_after else "",
            previous_url="?" + urlencode({**keep, "before": found.previous_before})
            if found.previous_before
            else "",
            first_url="?" + urlencode(keep) if found.previous_before else "",
        )
        context.update({"page": page, "q": query, "search_error": search_error})
    return render(request, "audiences/index.html", context)


def _revealed_phone(request, contact) -> str:
    """The full number when "Show number" was just used for this contact (once), else ""."""
    flag = request.session.pop(REVEAL_SESSION_KEY, None)
    if not isinstance(flag, dict) or flag.get("contact_id") != contact.pk:
        return ""
    if time.time() - float(flag.get("at", 0)) > REVEAL_SECONDS:
        return ""
    try:
        return national_format(contact.phone)
    except ValueError:  # erased since
        return ""


def _chosen_oa(request, oas):
    wanted = request.GET.get("oa", "")
    for oa in oas:
        if str(oa.pk) == wanted:
            return oa
    return oas[0] if oas else None


@require_capability("view_audiences")
def contact_detail(request, contact_id):
    contact = get_visible_or_404(request.user, Contact.objects.select_related("source"), pk=contact_id)
    oas = list(visible(request.user, OfficialAccount).order_by("name", "id"))
    oa = _chosen_oa(request, oas)
    decisions = (
        [(label, services.may_send(contact.phone, purpose, oa)) for purpose, label in Purpose.choices]
        if oa is not None
        else []
    )
    return render(
        request,
        "audiences/detail.html",
        {
            "contact": contact,
            "masked_phone": masked_phone(contact.phone),
            "revealed_phone": _revealed_phone(request, contact),
            "evidence": selectors.contact_evidence(contact),
            "attributes": sorted((contact.attributes or {}).items()),
            "oas": oas,
            "oa": oa,
            "decisions": decisions,
            "can_reveal": has_capability(request.user, "reveal_phones"),
            "can_suppress": has_capability(request.user, "add_suppressions"),
            "can_lift": has_capability(request.user, "lift_suppressions"),
        },
    )


@require_capability("reveal_phones")
@require_POST
def reveal_phone(request, contact_id):
    contact = get_visible_or_404(request.user, Contact, pk=contact_id)
    services.record_phone_reveal(actor=request.user, contact=contact)
    request.session[REVEAL_SESSION_KEY] = {"contact_id": contact.pk, "at": time.time()}
    return redirect("audiences:contact", contact.pk)


def _suppression_page(request, *, lift: bool):
    form = SuppressionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone, reason = form.cleaned_data["phone"], form.cleaned_data["reason"]
        masked = mask_phone(phone)
        if lift:
            try:
                services.lift_suppression(actor=request.user, phone=phone, reason=reason)
            except ValueError:
                form.add_error("phone", _("This number is not on the do-not-contact list."))
            else:
                messages.success(request, _("%(phone)s is off the do-not-contact list.") % {"phone": masked})
                return redirect("audiences:lift_suppression")
        else:
            already = services.current_suppression(phone) is not None
            services.suppress_phone(
                actor=request.user, phone=phone, reason=reason, source=Suppression.Source.MANUAL
            )
            text = (
                _("%(phone)s was already on the do-not-contact list; nothing changed.")
                if already
                else _("%(phone)s is on the do-not-contact list: it gets no more messages.")
            )
            messages.success(request, text % {"phone": masked})
            return redirect("audiences:suppress")
    return render(request, "audiences/suppression_form.html", {"form": form, "lift": lift})


@require_capability("add_suppressions")
def suppress(request):
    """Manual do-not-contact entry (a compliance act: marketers and auditors)."""
    return _suppression_page(request, lift=False)


@require_capability("lift_suppressions")
def lift_suppression(request):
    """Taking a phone off the list: auditors only."""
    return _suppression_page(request, lift=True)
