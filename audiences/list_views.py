"""Pages of contact lists and segments: an index with counts, a list's members (masked phones),
adding members by pasted phones, and the segment builder with its count and preview.

Viewing needs `view_audiences` (the index with counts only: `view_audience_counts`); every change
`manage_audiences`. The builder is a plain form: its rows are `rule-N-*` fields, "Add a filter row"
re-renders it with one more row and a row's "remove" box drops it, so it works without JavaScript;
`static/js/segment-builder.js` only does the same in place. "Count" (a POST that saves nothing)
shows how many contacts match and a masked preview. A GET never calls a provider.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audiences import lists, segments, selectors
from audiences.models import ContactList, Purpose, Segment
from audiences.views import masked_phone
from oas.models import OfficialAccount
from teams.forms import chosen_team, team_choice_field
from teams.scoping import creation_teams, get_visible_or_404, visible
from zalo_admin.roles import has_capability, require_capability

PAGE_SIZE = 50
PREVIEW_SIZE = 20
ROW_FIELDS = ("condition", "key", "value", "purpose", "oa", "list")


class ListForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:  # a new list: in one of the creator's teams (an existing one stays put)
            self.fields["team"] = team_choice_field(user)


class PasteForm(forms.Form):
    phones = forms.CharField(
        label=gettext_lazy("Phone numbers"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=gettext_lazy("One Vietnamese mobile number per line, for example 0912 345 678."),
    )
    skip_refused = forms.BooleanField(
        label=gettext_lazy("Add the accepted numbers and skip the refused lines"), required=False
    )


def _field_errors(form, error: lists.InvalidInput) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


# Index ---------------------------------------------------------------------------------------------


def _preview(matching) -> list:
    """The first matching contacts by phone, each with its masked number."""
    return [(contact, masked_phone(contact.phone)) for contact in matching.order_by("phone")[:PREVIEW_SIZE]]


@require_capability("view_audience_counts")
def lists_index(request):
    segment_rows = [
        (segment, selectors.audience_count(segment_ids=[segment.pk]))
        for segment in visible(request.user, Segment).select_related("team")
    ]
    return render(
        request,
        "audiences/lists/index.html",
        {
            "contact_lists": visible(request.user, selectors.lists_with_counts()).select_related("team"),
            "segments": segment_rows,
            "can_view": has_capability(request.user, "view_audiences"),
            "can_manage": has_capability(request.user, "manage_audiences"),
        },
    )


# Lists ---------------------------------------------------------------------------------------------


@require_capability("manage_audiences")
def list_create(request):
    form = ListForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            contact_list = lists.create_list(actor=request.user, **form.cleaned_data)
        except lists.InvalidInput as error:
            _field_errors(form, error)
        else:
            messages.success(request, _("List “%(name)s” created.") % {"name": contact_list.name})
            return redirect("audiences:list", contact_list.pk)
    return render(request, "audiences/lists/list_form.html", {"form": form, "contact_list": None})


@require_capability("manage_audiences")
def list_edit(request, list_id):
    contact_list = get_visible_or_404(request.user, ContactList, pk=list_id)
    initial = {"name": contact_list.name, "description": contact_list.description}
    form = ListForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lists.update_list(actor=request.user, contact_list=contact_list, **form.cleaned_data)
        except lists.InvalidInput as error:
            _field_errors(form, error)
        else:
            messages.success(request, _("List saved."))
            return redirect("audiences:list", contact_list.pk)
    return render(request, "audiences/lists/list_form.html", {"form": form, "contact_list": contact_list})


@require_capability("view_audiences")
def list_detail(request, list_id):
    contact_list = get_visible_or_404(request.user, ContactList, pk=list_id)
    members = selectors.list_members(contact_list)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [(member, masked_phone(member.contact.phone)) for member in page.object_list]
    return render(
        request,
        "audiences/lists/list_detail.html",
        {
            "contact_list": contact_list,
            "page": page,
            "member_count": page.paginator.count,
            "can_manage": has_capability(request.user, "manage_audiences"),
            "used_by": lists.segments_using_list(contact_list.pk),
        },
    )


@require_capability("manage_audiences")
@require_POST
def list_delete(request, list_id):
    contact_list = get_visible_or_404(request.user, ContactList, pk=list_id)
    try:
        lists.delete_list(actor=request.user, contact_list=contact_list)
    except lists.InvalidInput as error:
        messages.error(request, error.message)
        return redirect("audiences:list", contact_list.pk)
    messages.success(request, _("List “%(name)s” deleted; its contacts stay.") % {"name": contact_list.name})
    return redirect("audiences:lists")


@require_capability("manage_audiences")
def list_add(request, list_id):
    contact_list = get_visible_or_404(request.user, ContactList, pk=list_id)
    form = PasteForm(request.POST or None)
    refused = []
    if request.method == "POST" and form.is_valid():
        try:
            result = lists.add_pasted_phones(
                actor=request.user,
                contact_list=contact_list,
                text=form.cleaned_data["phones"],
                skip_refused=form.cleaned_data["skip_refused"],
            )
        except lists.InvalidInput as error:
            _field_errors(form, error)
        else:
            refused = result.refused
            if refused and not form.cleaned_data["skip_refused"]:
                form.add_error(
                    "phones",
                    _(
                        "%(count)s line(s) refused, nothing was added. "
                        "Correct them or tick the box to skip them."
                    )
                    % {"count": len(refused)},
                )
            else:
                messages.success(
                    request,
                    _(
                        "%(added)s contact(s) added, %(already)s already in the list, "
                        "%(refused)s line(s) skipped."
                    )
                    % {"added": result.added, "already": result.already, "refused": len(refused)},
                )
                if not refused:
                    return redirect("audiences:list", contact_list.pk)
    return render(
        request,
        "audiences/lists/add_members.html",
        {"contact_list": contact_list, "form": form, "refused": refused},
    )


@require_capability("manage_audiences")
@require_POST
def list_remove(request, list_id):
    contact_list = get_visible_or_404(request.user, ContactList, pk=list_id)
    ids = [value for value in request.POST.getlist("contact") if value.isdigit()]
    try:
        removed = lists.remove_members(actor=request.user, contact_list=contact_list, contact_ids=ids)
    except lists.InvalidInput as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(removed)s contact(s) removed from the list.") % {"removed": removed})
    return redirect("audiences:list", contact_list.pk)


# Segments ------------------------------------------------------------------------------------------


def _rows_from_post(post) -> list[dict]:
    """The builder's rows as typed, without removed rows; blank rows are kept for re-display."""
    try:
        count = min(max(int(post.get("rows", "0")), 0), segments.MAX_RULES + 5)
    except ValueError:
        count = 0
    rows = []
    for index in range(count):
        if post.get(f"rule-{index}-remove") or f"rule-{index}-condition" not in post:
            continue  # removed by its box, or by the script (which drops the row's fields)
        rows.append({name: post.get(f"rule-{index}-{name}", "").strip() for name in ROW_FIELDS})
    return rows


def _row_from_rule(rule: dict) -> dict:
    row = dict.fromkeys(ROW_FIELDS, "")
    row["condition"] = segments.condition_value(rule["field"], rule["op"])
    for name in segments.OPERATIONS[(rule["field"], rule["op"])]:
        value = rule[name]
        if name == "values":
            row["value"] = ", ".join(value)
        elif name in ("value", "date", "days"):
            row["value"] = str(value)
        else:
            row[name] = str(value)
    return row


def _rule_from_row(row: dict) -> dict:
    field, _dot, op = row["condition"].partition(".")
    rule = {"field": field, "op": op}
    for name in segments.OPERATIONS.get((field, op), ()):
        rule[name] = row["value"] if name in ("value", "values", "date", "days") else row[name]
    return rule


def _definition_from_rows(match: str, rows: list[dict]) -> tuple[dict, list[int]]:
    """The definition of the filled rows, and for each of its rules the row it came from."""
    filled = [index for index, row in enumerate(rows) if row["condition"]]
    return {"match": match, "rules": [_rule_from_row(rows[index]) for index in filled]}, filled


def _foreign_references(definition: dict, team_id) -> list[str]:
    """The OAs and lists a segment's rules name that are not its team's: refused like unknown ones
    (another team's ids are not for this team to learn)."""
    oa_ids = {rule["oa"] for rule in definition["rules"] if rule.get("oa")}
    list_ids = {rule["list"] for rule in definition["rules"] if rule.get("list")}
    foreign = []
    if oa_ids - set(
        OfficialAccount.objects.filter(pk__in=oa_ids, team_id=team_id).values_list("pk", flat=True)
    ):
        foreign.append(_("oa: no such OA in this team"))
    if list_ids - set(
        ContactList.objects.filter(pk__in=list_ids, team_id=team_id).values_list("pk", flat=True)
    ):
        foreign.append(_("list: no such list in this team"))
    return foreign


def _builder(request, segment):
    teams = [] if segment is not None else list(creation_teams(request.user).order_by("name", "id"))
    team = segment.team if segment is not None else chosen_team(request.user, request.POST.get("team"))
    if request.method == "POST":
        action = request.POST.get("action", "count")
        name = request.POST.get("name", "").strip()
        description = request.POST.get("description", "").strip()
        match = request.POST.get("match", "all")
        rows = _rows_from_post(request.POST)
    else:
        action = ""
        name = segment.name if segment else ""
        description = segment.description if segment else ""
        definition = segment.definition if segment else {"match": "all", "rules": []}
        match = definition.get("match", "all")
        rows = [_row_from_rule(rule) for rule in definition.get("rules", [])]
    if action == "add_row" or not rows:
        rows.append(dict.fromkeys(ROW_FIELDS, ""))
    row_errors: dict[int, list[str]] = {}
    errors: list[str] = []
    name_error = ""
    count = preview = None
    if action in ("count", "save"):
        definition, origin = _definition_from_rows(match, rows)
        try:
            cleaned = segments.validate(definition)
        except segments.SegmentError as error:
            for item in error.errors:
                if item.rule:
                    row_errors.setdefault(origin[item.rule - 1], []).append(f"{item.part}: {item.message}")
                errors.append(str(item))
            cleaned = None
        if cleaned is not None and team is None:
            errors.append(_("team: you are in no team, so you cannot make a segment"))
            cleaned = None
        if cleaned is not None and (foreign := _foreign_references(cleaned, team.pk if team else None)):
            errors.extend(foreign)
            cleaned = None
        if cleaned is not None:
            if action == "save":
                try:
                    if segment is None:
                        segment = lists.create_segment(
                            actor=request.user,
                            name=name,
                            description=description,
                            definition=cleaned,
                            team=team,
                        )
                    else:
                        lists.update_segment(
                            actor=request.user,
                            segment=segment,
                            name=name,
                            description=description,
                            definition=cleaned,
                        )
                except lists.InvalidInput as error:
                    name_error = error.message
                else:
                    messages.success(request, _("Segment “%(name)s” saved.") % {"name": name})
                    return redirect("audiences:segment", segment.pk)
            matching = visible(request.user, selectors.segment_contacts(cleaned))
            count = selectors.segment_count(cleaned)
            preview = _preview(matching)
    return render(
        request,
        "audiences/lists/segment_form.html",
        {
            "segment": segment,
            "name": name,
            "name_error": name_error,
            "description": description,
            "match": match,
            "matches": [(key, str(label)) for key, label in segments.MATCHES.items()],
            "rows": [(index, row, row_errors.get(index, [])) for index, row in enumerate(rows)],
            "row_count": len(rows),
            "errors": errors,
            "conditions": segments.condition_choices(),
            "purposes": Purpose.choices,
            "oas": visible(request.user, OfficialAccount).order_by("name", "id"),
            "contact_lists": visible(request.user, ContactList).order_by("name", "id"),
            "count": count,
            "preview": preview,
            "teams": teams,
            "team_id": team.pk if team else None,
        },
    )


@require_capability("manage_audiences")
def segment_create(request):
    return _builder(request, None)


@require_capability("manage_audiences")
def segment_edit(request, segment_id):
    return _builder(request, get_visible_or_404(request.user, Segment, pk=segment_id))


@require_capability("view_audiences")
def segment_detail(request, segment_id):
    segment = get_visible_or_404(request.user, Segment, pk=segment_id)
    oa_names = dict(visible(request.user, OfficialAccount).values_list("pk", "name"))
    list_names = dict(visible(request.user, ContactList).values_list("pk", "name"))
    matching = visible(request.user, selectors.audience_contacts(segment_ids=[segment.pk]))
    return render(
        request,
        "audiences/lists/segment_detail.html",
        {
            "segment": segment,
            "match_label": segments.MATCHES.get(segment.definition.get("match"), ""),
            "rules": [
                segments.describe_rule(rule, oa_names=oa_names, list_names=list_names)
                for rule in segment.definition.get("rules", [])
            ],
            "count": selectors.audience_count(segment_ids=[segment.pk]),
            "preview": _preview(matching),
            "can_manage": has_capability(request.user, "manage_audiences"),
        },
    )


@require_capability("manage_audiences")
@require_POST
def segment_delete(request, segment_id):
    segment = get_visible_or_404(request.user, Segment, pk=segment_id)
    lists.delete_segment(actor=request.user, segment=segment)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("audiences:lists")
