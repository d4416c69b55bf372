"""Auditor pages of a message: find it, then its whole story (campaigns.story)."""

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from audiences.views import masked_phone
from campaigns.models import CampaignMessage
from campaigns.story import find_messages, message_story
from teams.scoping import visible
from zalo_admin.roles import require_capability


@require_capability("view_audit")
def messages(request):
    """Find messages by tracking id, provider message id, phone or campaign (#id)."""
    query = request.GET.get("q", "").strip()[:120]
    found = find_messages(query)
    # Only the messages of campaigns the auditor's teams see (all of them with "all teams").
    shown = set(
        visible(request.user, CampaignMessage.objects.filter(pk__in=[m.pk for m in found])).values_list(
            "pk", flat=True
        )
    )
    found = [message for message in found if message.pk in shown]
    labels = dict(CampaignMessage.State.choices)
    rows = [
        {
            "message": message,
            "masked": masked_phone(message.phone),
            "state": labels.get(message.state, message.state),
        }
        for message in found
    ]
    return render(
        request, "compliance/messages.html", {"query": query, "rows": rows, "searched": bool(query)}
    )


@require_capability("view_audit")
def story(request, message_id: int):
    if not visible(request.user, CampaignMessage.objects.filter(pk=message_id)).exists():
        raise Http404(_("No such message."))  # another team's message is no message (teams.scoping)
    found = message_story(message_id)
    if found is None:
        raise Http404(_("No such message."))
    labels = dict(CampaignMessage.State.choices)
    return render(
        request,
        "compliance/story.html",
        {
            "story": found,
            "message": found.message,
            "campaign": found.campaign,
            "masked": masked_phone(found.message.phone),
            "state_label": labels.get(found.message.state, found.message.state),
            "labels": labels,
        },
    )
