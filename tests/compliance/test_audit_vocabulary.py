"""One audit vocabulary: action codes, `user:`/`system:` actors, entries stored without prose."""

import json
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from compliance import actions
from compliance.models import AuditEvent
from compliance.services import actor_name, record_audit_event
from oas.models import OfficialAccount

VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]", re.I
)


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop", zalo_oa_id="oa-1")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"actor": "user:quality", "action": "oa.frobnicate", "details": {}}, "unknown audit action"),
        ({"actor": "user:quality", "action": actions.OA_KILL_SWITCH, "details": {"name": "Shop"}}, "reason"),
        ({"actor": "quality", "action": actions.OA_ENABLE, "details": {"name": "Shop"}}, "must be"),
        ({"actor": "anonymous", "action": actions.OA_ENABLE, "details": {"name": "Shop"}}, "must be"),
        ({"actor": "user:", "action": actions.OA_ENABLE, "details": {"name": "Shop"}}, "must be"),
        ({"actor": "robot:x", "action": actions.OA_ENABLE, "details": {"name": "Shop"}}, "must be"),
    ],
)
def test_unknown_actions_missing_parameters_and_bad_actors_are_refused(db, kwargs, match):
    with pytest.raises(ValueError, match=match):
        record_audit_event(**kwargs)
    assert not AuditEvent.objects.exists()


def test_every_action_has_a_message_whose_parameters_can_be_given(db):
    assert set(actions.MESSAGES) == actions.ACTIONS
    for action in sorted(actions.ACTIONS):
        params = actions.required_parameters(action)
        details = {name: f"<{name}>" for name in params}
        text = actions.describe(action, details)
        for name in params:
            assert f"<{name}>" in text, (action, name)
        assert "%(" not in text, action
        record_audit_event(actor="system:test", action=action, details=details)
    assert AuditEvent.objects.count() == len(actions.ACTIONS)


def test_actor_names(django_user_model):
    user = django_user_model(username="quality")
    assert actor_name(user) == "user:quality"
    assert actor_name(AnonymousUser()) == actor_name(None) == "system:anonymous"
    assert actor_name("system:template-sync") == "system:template-sync"
    with pytest.raises(ValueError):
        actor_name("system")


def test_an_entry_recorded_in_vietnamese_stores_no_prose_and_renders_in_the_readers_language(oa):
    with translation.override("vi"):
        event = record_audit_event(
            actor="user:quality",
            action=actions.OA_KILL_SWITCH,
            target=oa,
            details={"name": oa.name, "reason": "spam reports", "campaigns_paused": 2},
        )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.summary == ""
    assert stored.details == {"name": "Shop", "reason": "spam reports", "campaigns_paused": 2}
    assert not VIETNAMESE_LETTERS.search(json.dumps(stored.details, ensure_ascii=False))
    with translation.override("en"):
        assert stored.description == "Stopped all sends of OA Shop: spam reports"
    with translation.override("vi"):
        assert stored.description == "Đã dừng mọi lượt gửi của OA Shop: spam reports"


def test_a_level_change_recorded_in_vietnamese_stores_no_vietnamese(oa, django_user_model):
    from quotas.services import levels

    admin = django_user_model.objects.create_user("quality")
    with translation.override("vi"):
        levels._record_level_change(oa.pk, "2026-01-02", 10000, None, "manual", note="ticket 42", actor=admin)
    event = AuditEvent.objects.get(action=actions.OA_LEVEL_CHANGE)
    assert event.summary == "" and event.actor == "user:quality"
    assert not VIETNAMESE_LETTERS.search(json.dumps(event.details, ensure_ascii=False))
    with translation.override("en"):
        assert "daily limit 10,000 → ∞ from 2026-01-02 (manual) ticket 42" in event.description
    with translation.override("vi"):
        assert event.description.startswith(f"Hạn mức ngày của OA #{oa.pk}: 10,000 → ∞")


def test_a_legacy_entry_keeps_its_summary(db):
    legacy = AuditEvent(
        action=actions.OA_KILL_SWITCH, summary="Dừng gửi OA Shop: spam", details={"reason": "spam"}
    )
    with translation.override("en"):
        assert legacy.description == "Dừng gửi OA Shop: spam"
    older = AuditEvent(action="campaign.edited", summary="edit 1", details={})
    assert older.description == "edit 1"
