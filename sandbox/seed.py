"""Demo data: apps, OAs, templates of each tag (one disabled), an Infobip account and a token pair."""

import os
from datetime import timedelta

from sandbox import runtime
from sandbox.models import (
    SandboxApp,
    SandboxInfobipAccount,
    SandboxOA,
    SandboxTemplate,
    SandboxToken,
)
from zalo_admin.lib import dates

DEMO = {
    "app": {"app_id": "demo-app-1", "secret_key": "demo-app-1-secret-key", "name": "Demo Zalo app"},
    "infobip": {"api_key": "demo-infobip-api-key", "name": "Demo Infobip account"},
    "oas": [
        # demo-oa-1: direct Zalo, ZNS 2024 rules, at 20,000/day so it may send marketing (tag 3).
        {
            "oa_id": "demo-oa-1",
            "name": "Demo Fashion",
            "policy_code": "zns-2024",
            "initial_limit": 20000,
            "access_token": "demo-oa-1-access-token",
            "refresh_token": "demo-oa-1-refresh-token",
        },
        # demo-oa-2: an Infobip sender (also reachable directly), ZBS 2026 rules.
        {
            "oa_id": "demo-oa-2",
            "name": "Demo Bank (Infobip)",
            "policy_code": "zbs-2026",
            "infobip": True,
            "access_token": "demo-oa-2-access-token",
            "refresh_token": "demo-oa-2-refresh-token",
        },
        # demo-oa-3: a new ZNS 2024 OA at the starting level 5,000 (tag 3 answers -145).
        {
            "oa_id": "demo-oa-3",
            "name": "Demo Startup",
            "policy_code": "zns-2024",
            "access_token": "demo-oa-3-access-token",
            "refresh_token": "demo-oa-3-refresh-token",
        },
    ],
    "admin_phones": ["84900000001", "84900000002"],
}

P_NAME = {
    "name": "customer_name",
    "type": "STRING",
    "require": True,
    "maxLength": 30,
    "minLength": 1,
    "acceptNull": False,
    "sample": "Nguyễn Văn A",
}
P_CODE = {
    "name": "order_code",
    "type": "STRING",
    "require": True,
    "maxLength": 30,
    "minLength": 1,
    "acceptNull": False,
    "sample": "DH001",
}
P_AMOUNT = {
    "name": "amount",
    "type": "NUMBER",
    "require": True,
    "maxLength": 12,
    "minLength": 1,
    "acceptNull": False,
    "sample": "150000",
}
P_DATE = {
    "name": "date",
    "type": "DATE",
    "require": False,
    "maxLength": 20,
    "minLength": 0,
    "acceptNull": True,
    "sample": "20/11/2026",
}
P_OTP = {
    "name": "otp",
    "type": "STRING",
    "require": True,
    "maxLength": 10,
    "minLength": 4,
    "acceptNull": False,
    "sample": "123456",
}
P_VOUCHER = {
    "name": "voucher_code",
    "type": "STRING",
    "require": True,
    "maxLength": 25,
    "minLength": 1,
    "acceptNull": False,
    "sample": "SALE50",
}
BUTTON = [{"type": 1, "title": "Xem chi tiết", "content": "https://example.com/order"}]

TEMPLATES = {
    "demo-oa-1": [
        ("100001", "Order confirmation", 1, "ENABLE", [P_NAME, P_CODE, P_AMOUNT, P_DATE]),
        ("100002", "Delivery follow-up", 2, "ENABLE", [P_NAME, P_CODE]),
        ("100003", "[QC] Year-end sale", 3, "ENABLE", [P_NAME, P_VOUCHER]),
        ("100004", "OTP login", 1, "ENABLE", [P_OTP]),
        ("100005", "Account update", 2, "ENABLE", [P_NAME]),
        ("100006", "Member offer", 3, "ENABLE", [P_NAME, P_VOUCHER]),
        ("100007", "Old order template", 1, "DISABLE", [P_NAME, P_CODE]),
        ("100008", "New template in review", 2, "PENDING_REVIEW", [P_NAME]),
        ("100009", "Rejected template", 3, "REJECT", [P_NAME]),
    ],
    "demo-oa-2": [
        ("200001", "OTP", 1, "ENABLE", [P_OTP]),
        ("200002", "Card statement", 2, "ENABLE", [P_NAME, P_AMOUNT]),
        ("200003", "Loan offer", 3, "ENABLE", [P_NAME, P_VOUCHER]),
        ("200009", "Disabled notice", 1, "DISABLE", [P_NAME]),
    ],
    "demo-oa-3": [
        ("300001", "Welcome", 1, "ENABLE", [P_NAME]),
        ("300003", "Launch promotion", 3, "ENABLE", [P_NAME, P_VOUCHER]),
    ],
}


def seed_demo() -> dict:
    """Create the demo data if missing (idempotent); returns the credentials."""
    now = runtime.now()
    today = dates.vietnam_day(now)
    app, _ = SandboxApp.objects.get_or_create(
        app_id=DEMO["app"]["app_id"],
        defaults={"secret_key": DEMO["app"]["secret_key"], "name": DEMO["app"]["name"]},
    )
    if os.environ.get("SANDBOX_ZALO_WEBHOOK_URL") is not None:  # set by `zalo_sandbox --zalo-webhook-url`
        app.webhook_url = os.environ["SANDBOX_ZALO_WEBHOOK_URL"]
        app.save(update_fields=["webhook_url"])
    account, _ = SandboxInfobipAccount.objects.get_or_create(
        api_key=DEMO["infobip"]["api_key"], defaults={"name": DEMO["infobip"]["name"]}
    )
    for spec in DEMO["oas"]:
        oa, created = SandboxOA.objects.get_or_create(
            oa_id=spec["oa_id"],
            defaults={
                "name": spec["name"],
                "app": app,
                "infobip_account": account if spec.get("infobip") else None,
                "policy_code": spec["policy_code"],
                "initial_limit": {"value": spec["initial_limit"]} if "initial_limit" in spec else {},
                "first_day": today,
                "admin_phones": DEMO["admin_phones"],
                "created_at": now,
            },
        )
        for template_id, name, tag, status, params in TEMPLATES[spec["oa_id"]]:
            SandboxTemplate.objects.get_or_create(
                template_id=template_id,
                defaults={
                    "oa": oa,
                    "name": name,
                    "tag": tag,
                    "status": status,
                    "params": params,
                    "buttons": BUTTON,
                    "created_at": now,
                },
            )
        for kind, token, lifetime in (
            (SandboxToken.ACCESS, spec["access_token"], runtime.config()["access_token_lifetime"]),
            (SandboxToken.REFRESH, spec["refresh_token"], runtime.config()["refresh_token_lifetime"]),
        ):
            SandboxToken.objects.get_or_create(
                token=token,
                defaults={
                    "kind": kind,
                    "oa": oa,
                    "app": app,
                    "created_at": now,
                    "expires_at": now + timedelta(seconds=int(lifetime)),
                },
            )
    return credentials()


def credentials() -> dict:
    return {
        "zalo_app": {"app_id": DEMO["app"]["app_id"], "secret_key": DEMO["app"]["secret_key"]},
        "infobip": {
            "api_key": DEMO["infobip"]["api_key"],
            "authorization": f"App {DEMO['infobip']['api_key']}",
        },
        "oas": [
            {
                "oa_id": spec["oa_id"],
                "name": spec["name"],
                "policy": spec["policy_code"],
                "infobip_sender": spec["oa_id"] if spec.get("infobip") else None,
                "access_token": spec["access_token"],
                "refresh_token": spec["refresh_token"],
                "templates": {t[0]: f"{t[1]} (tag {t[2]}, {t[3]})" for t in TEMPLATES[spec["oa_id"]]},
            }
            for spec in DEMO["oas"]
        ],
        "admin_phones": DEMO["admin_phones"],
    }
