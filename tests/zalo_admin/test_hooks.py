import pytest

from zalo_admin import hooks


def test_receivers_get_the_payload_and_their_results_come_back(monkeypatch):
    monkeypatch.setattr(hooks, "_receivers", hooks.defaultdict(list))
    calls = []

    def first(**payload):
        calls.append(("first", payload))
        return 2

    hooks.connect(hooks.OA_SENDS_STOPPED, first)
    hooks.connect(hooks.OA_SENDS_STOPPED, first)  # once only
    hooks.connect(hooks.OA_SENDS_STOPPED, lambda **payload: 3)
    assert hooks.emit(hooks.OA_SENDS_STOPPED, oa_id=7, reason="r", actor="system:test") == [2, 3]
    assert calls == [("first", {"oa_id": 7, "reason": "r", "actor": "system:test"})]
    assert hooks.emit(hooks.TEMPLATE_UNSENDABLE, template_id=1, reason="r", actor="x") == []


def test_unknown_events_are_refused():
    with pytest.raises(ValueError, match="unknown hook event"):
        hooks.emit("oa.typo")
    with pytest.raises(ValueError, match="unknown hook event"):
        hooks.connect("oa.typo", print)
