"""Message templates of an OA: list, sync from the provider, detail with preview and validation."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from oas import template_rules as rules
from oas.models import MessageTemplate, OfficialAccount
from oas.services.keys import active_public_key
from oas.services.template_sync import sync_templates
from providers.http import interactive_client
from teams.scoping import get_visible_or_404
from zalo_admin.lib import jsoninput
from zalo_admin.roles import has_capability, require_capability

Status = MessageTemplate.Status

# Bounds of the values typed for a preview (the request body itself is bounded by Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE, answered with 400): templates have a few parameters of at most a few
# hundred characters each, a contact record a few fields more.
MAX_DATA_CHARS = 20_000
MAX_DATA_DEPTH = 20
MAX_NUMBER_CHARS = 50


class TemplateDataForm(forms.Form):
    """Values to preview or validate: parameter values, or a contact's data (extra fields ignored)."""

    ACTIONS = ("sample", "preview", "validate")

    data = forms.CharField(
        label=gettext_lazy("Values or contact data (JSON object)"),
        required=False,
        max_length=MAX_DATA_CHARS,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "data-testid": "template-data"}),
        help_text=gettext_lazy(
            'For example {"customer_name": "Nguyễn Văn A", "order_code": "DH001"}. A contact\'s other '
            "fields are ignored in the preview."
        ),
    )
    encrypt = forms.BooleanField(
        label=gettext_lazy("Check against RSA encryption with the OA's active key"),
        required=False,
    )

    def __init__(self, *args, template: MessageTemplate, **kwargs):
        self.template = template
        super().__init__(*args, **kwargs)

    def clean_data(self):
        try:
            value = jsoninput.loads(
                self.cleaned_data["data"] or "{}", max_depth=MAX_DATA_DEPTH, max_digits=MAX_NUMBER_CHARS
            )
        except jsoninput.JSONInputError as exc:
            raise forms.ValidationError(_json_problem(exc)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_('Enter a JSON object such as {"customer_name": "Nguyễn Văn A"}.'))
        return value

    def clean_encrypt(self):
        encrypt = self.cleaned_data["encrypt"]
        if not encrypt:
            return None
        key = active_public_key(self.template.oa_id)
        if key is None:
            raise forms.ValidationError(
                _("This OA has no active RSA key. Add one on the OA's page before checking encryption.")
            )
        try:
            return rules.load_active_key(key)
        except rules.UnreadableKey as exc:
            raise forms.ValidationError(str(exc)) from None


def _json_problem(exc: jsoninput.JSONInputError) -> str:
    if exc.problem == jsoninput.TOO_DEEP:
        return _("The JSON is nested too deeply: at most %(limit)s levels.") % exc.params
    if exc.problem == jsoninput.NUMBER_TOO_LONG:
        return _("A number in the JSON is too long: at most %(limit)s characters.") % exc.params
    if exc.problem == jsoninput.NOT_UTF8:
        return (
            _(
                "The JSON holds an escape that is not a character (a lone surrogate such as \\ud800) "
                "at %(where)s. Type the character itself."
            )
            % exc.params
        )
    return _("This is not valid JSON (line %(line)s, column %(col)s).") % exc.params


@require_capability("view_oas")
def template_list(request, oa_id):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    # Sendable templates first, then those waiting for review, then the ones that cannot send.
    rank = {Status.ENABLED: 0, Status.PENDING_REVIEW: 1, Status.REJECTED: 2, Status.DISABLED: 3}
    rows = sorted(MessageTemplate.objects.filter(oa=oa), key=lambda t: (rank.get(t.status, 4), t.template_id))
    for template in rows:
        template.not_listed = bool(
            oa.templates_synced_at
            and (template.synced_at is None or template.synced_at < oa.templates_synced_at)
        )
    context = {
        "oa": oa,
        "templates": rows,
        "can_sync": has_capability(request.user, "manage_oas"),
    }
    return render(request, "oas/templates/list.html", context)


@require_capability("manage_oas")
@require_POST
def templates_sync(request, oa_id):
    oa = get_visible_or_404(request.user, OfficialAccount, pk=oa_id)
    result = sync_templates(oa.pk, actor=request.user, http=interactive_client())
    if result.ok:
        messages.success(
            request,
            _("Templates synced: %(created)s new, %(updated)s changed.")
            % {"created": len(result.created), "updated": len(result.updated)},
        )
        if result.paused_campaigns:
            messages.warning(
                request,
                ngettext(
                    "%(count)s campaign was paused because its template can no longer send.",
                    "%(count)s campaigns were paused because their template can no longer send.",
                    len(result.paused_campaigns),
                )
                % {"count": len(result.paused_campaigns)},
            )
    else:
        messages.error(
            request,
            _("The sync failed; the stored templates are unchanged. %(error)s") % {"error": result.error},
        )
    return redirect("oas:templates", oa.pk)


@require_capability("view_oas")
def template_detail(request, oa_id, pk):
    template = get_visible_or_404(
        request.user, MessageTemplate.objects.select_related("oa"), pk=pk, oa_id=oa_id
    )
    can_use = has_capability(request.user, "use_templates")
    preview = None
    action = ""
    if request.method == "POST":
        if not can_use:
            raise PermissionDenied("Missing capability use_templates")
        action = request.POST.get("action", "preview")
        if action not in TemplateDataForm.ACTIONS:
            action = "preview"
        post = request.POST
        if action == "sample":
            # The sample values replace what was typed, so the form shows what is previewed.
            post = post.copy()
            post["data"] = json.dumps(template.sample_data or {}, ensure_ascii=False, indent=2)
        form = TemplateDataForm(post, template=template)
        if form.is_valid():
            data = form.cleaned_data["data"]
            key = form.cleaned_data["encrypt"]
            if action == "validate":
                errors = rules.validate_template_data(template, data, public_key=key)
                preview = rules.build_preview(template, data, public_key=key)
                preview = rules.Preview(template=template, rows=preview.rows, errors=errors)
            else:
                values = rules.template_values_from(template, data)
                preview = rules.build_preview(template, values, public_key=key)
    else:
        initial = {"data": json.dumps(template.sample_data or {}, ensure_ascii=False, indent=2)}
        form = TemplateDataForm(initial=initial, template=template)
    context = {
        "oa": template.oa,
        "template": template,
        "params": rules.normalise_params(template.params),
        "form": form,
        "preview": preview,
        "action": action,
        "can_use": can_use,
        "has_key": active_public_key(template.oa_id) is not None,
    }
    return render(request, "oas/templates/detail.html", context)


urlpatterns = [
    path("<int:oa_id>/templates/", template_list, name="templates"),
    path("<int:oa_id>/templates/sync/", templates_sync, name="templates_sync"),
    path("<int:oa_id>/templates/<int:pk>/", template_detail, name="template_detail"),
]
