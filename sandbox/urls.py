"""Sandbox URLs only (ROOT_URLCONF of the sandbox process). See sandbox/README.md for the full list."""

from django.urls import path, re_path

from sandbox import admin_views as admin
from sandbox import infobip_views as infobip
from sandbox import oauth_views as oauth
from sandbox import sms_views as sms
from sandbox import zalo_views as zalo
from sandbox.http import json_response

zalo_urls = [
    # business.openapi.zalo.me
    path("zalo/message/template", zalo.send_template),
    path("zalo/message/template/dev", zalo.send_template_dev),
    path("zalo/message/template/hashphone", zalo.send_hashphone),
    path("zalo/message/template/hash_phone", zalo.send_hashphone),
    path("zalo/message/template/rsa", zalo.send_rsa),
    path("zalo/rsa/message/template", zalo.send_rsa),
    path("zalo/rsa/key/gen", zalo.rsa_gen),
    path("zalo/rsa/key/get", zalo.rsa_get),
    path("zalo/message/status", zalo.message_status),
    path("zalo/message/quota", zalo.message_quota),
    path("zalo/message/template-tag", zalo.template_tags),
    path("zalo/quality", zalo.quality),
    path("zalo/template/all", zalo.template_all),
    path("zalo/template/info/v2", zalo.template_info_v2),
    path("zalo/template/info", zalo.template_info),
    path("zalo/template/sample-data", zalo.template_sample),
    path("zalo/rating/get", zalo.rating_get),
    # openapi.zalo.me (UID channel)
    path("zalo/v3.0/oa/message/template", zalo.send_uid),
]

oauth_urls = [
    path("oauth/v4/oa/permission", oauth.permission),
    path("oauth/v4/oa/access_token", oauth.access_token),
]

infobip_urls = [
    path("infobip/zalo/2/messages", infobip.send_messages),
    path("infobip/zalo/1/logs", infobip.logs),
    path("infobip/zalo/1/reports", infobip.reports),
    path("infobip/zalo/1/sender/<str:sender>/templates", infobip.templates),
    path("infobip/zalo/1/sender/<str:sender>/templates/<str:template_name>", infobip.template),
    path("infobip/zalo/1/sender/<str:sender>/quota", infobip.quota_view),
    path("infobip/zalo/1/sender/<str:sender>/public-key", infobip.public_key),
    # Infobip SMS API v3 (SMS failover of Zalo-direct OAs)
    path("infobip/sms/3/messages", sms.send_sms),
    path("infobip/sms/3/reports", sms.reports),
    path("infobip/sms/3/logs", sms.logs),
]

admin_urls = [
    path("sandbox/health", admin.health),
    path("sandbox/admin/reset", admin.reset),
    path("sandbox/admin/seed", admin.seed_view),
    path("sandbox/admin/config", admin.config_view),
    path("sandbox/admin/faults", admin.faults_view),
    path("sandbox/admin/clock", admin.clock_view),
    path("sandbox/admin/tokens", admin.mint_tokens),
    path("sandbox/admin/tokens/expire", admin.expire_tokens),
    path("sandbox/admin/ledger", admin.ledger),
    path("sandbox/admin/ledger/summary", admin.ledger_summary),
    path("sandbox/admin/webhooks", admin.webhooks_view),
    path("sandbox/admin/drain", admin.drain),
    path("sandbox/admin/recipients", admin.recipient),
    re_path(r"^sandbox/admin/recipients/(?P<key>[^/]+)$", admin.recipient),
    path("sandbox/admin/oas", admin.create_oa),
    path("sandbox/admin/oas/<str:oa_id>", admin.oa_view),
    path("sandbox/admin/oas/<str:oa_id>/history", admin.oa_history),
    path("sandbox/admin/apps/<str:app_id>", admin.app_view),
    path("sandbox/admin/templates", admin.template_view),
    path("sandbox/admin/templates/<str:template_id>", admin.template_view),
    path("sandbox/admin/infobip-accounts", admin.infobip_account),
]

urlpatterns = zalo_urls + oauth_urls + infobip_urls + admin_urls


def not_found(request, exception=None):
    return json_response({"error": "not found", "path": request.path}, status=404)


def server_error(request):
    return json_response({"error": -100, "message": "Unknown error"}, status=500)


handler404 = not_found
handler500 = server_error
