"""Every Infobip OA gets its delivery-report URL token (oas.services.report_urls); new ones get it
when saved, this gives one to the Infobip OAs that existed before."""

import secrets

from django.db import migrations

from providers.signatures import infobip_token_hash


def issue_missing_tokens(apps, schema_editor):
    OACredentials = apps.get_model("oas", "OACredentials")
    missing = OACredentials.objects.filter(oa__provider="infobip", infobip_webhook_token_hash="")
    for creds in missing.iterator():
        token = secrets.token_urlsafe(32)
        creds.infobip_webhook_token = token  # encrypted by the field, like every other secret
        creds.infobip_webhook_token_hash = infobip_token_hash(token)
        creds.save(update_fields=["infobip_webhook_token", "infobip_webhook_token_hash"])


class Migration(migrations.Migration):
    dependencies = [("oas", "0005_provider_reading")]

    operations = [migrations.RunPython(issue_missing_tokens, migrations.RunPython.noop)]
