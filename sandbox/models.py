"""The sandbox's own state, independent of the product's tables (its own database when it runs).

Every model is prefixed `Sandbox` so nothing here is mistaken for product data.
"""

from django.db import models


class SandboxSetting(models.Model):
    """The run-time configuration (clock, faults, people rates…) as one JSON document."""

    key = models.CharField(max_length=40, unique=True)
    data = models.JSONField(default=dict)

    def __str__(self):
        return self.key


class SandboxApp(models.Model):
    """A Zalo developer app: OAuth client (app id + secret) and the webhook target of its OAs' events."""

    app_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120, default="")
    secret_key = models.CharField(max_length=120)
    redirect_uri = models.CharField(max_length=500, blank=True, default="")  # blank: any redirect accepted
    webhook_url = models.CharField(max_length=500, blank=True, default="")
    webhook_secret = models.CharField(max_length=120, blank=True, default="")  # blank: the app secret

    def __str__(self):
        return self.app_id


class SandboxInfobipAccount(models.Model):
    name = models.CharField(max_length=120, default="")
    api_key = models.CharField(max_length=200, unique=True)
    inbound_url = models.CharField(max_length=500, blank=True, default="")  # incoming messages (§2.9)

    def __str__(self):
        return self.name or self.api_key[:8]


class SandboxOA(models.Model):
    """An Official Account with its quota policy, balance, RSA key and per-day history."""

    oa_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=120, default="")
    app = models.ForeignKey(SandboxApp, null=True, blank=True, on_delete=models.SET_NULL, related_name="oas")
    infobip_account = models.ForeignKey(
        SandboxInfobipAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="senders"
    )
    policy_code = models.CharField(max_length=40, default="zns-2024")
    policy_overrides = models.JSONField(default=dict, blank=True)
    # The limit on the OA's first day; {"value": null} = unrestricted, {} = the policy's starting level.
    initial_limit = models.JSONField(default=dict, blank=True)
    first_day = models.DateField()  # Vietnam day number 1 of the OA's quota history
    balance = models.BigIntegerField(default=10**12)
    admin_phones = models.JSONField(default=list, blank=True)  # development mode recipients
    quota_exhausted = models.BooleanField(default=False)  # fault injection: every send gets -144
    notified_limit = models.JSONField(default=dict, blank=True)  # last limit announced by webhook
    rsa_private_pem = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    def __str__(self):
        return self.oa_id


class SandboxDailyStat(models.Model):
    """Successful sends and bad reports of one OA on one Vietnam day."""

    oa = models.ForeignKey(SandboxOA, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    sent = models.IntegerField(default=0)
    sent_tag1 = models.IntegerField(default=0)
    sent_tag2 = models.IntegerField(default=0)
    sent_tag3 = models.IntegerField(default=0)
    bad_by_hour = models.JSONField(default=list)  # 24 ints, Vietnam hours

    class Meta:
        constraints = [models.UniqueConstraint(fields=["oa", "day"], name="sandbox_one_stat_per_oa_day")]

    def __str__(self):
        return f"{self.oa_id} {self.day}"


class SandboxTemplateStat(models.Model):
    """Messages of one template sent to people in one UTC hour, and how many of them were reported
    as bad: the template's quality reads its last 7 days from here (a few rows), not the ledger."""

    template_id = models.CharField(max_length=40)
    hour = models.DateTimeField()  # start of the hour the messages were sent in (UTC)
    sent = models.IntegerField(default=0)
    bad = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template_id", "hour"], name="sandbox_one_template_stat_per_hour")
        ]

    def __str__(self):
        return f"{self.template_id} {self.hour}"


class SandboxTemplate(models.Model):
    oa = models.ForeignKey(SandboxOA, on_delete=models.CASCADE, related_name="templates")
    template_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    tag = models.IntegerField(default=1)  # 1 transaction, 2 customer care, 3 marketing
    status = models.CharField(max_length=20, default="ENABLE")  # ENABLE PENDING_REVIEW REJECT DISABLE
    quality = models.CharField(max_length=12, default="UNDEFINED")
    reason = models.CharField(max_length=400, blank=True, default="")
    params = models.JSONField(
        default=list
    )  # [{name, type, require, maxLength, minLength, acceptNull, sample}]
    buttons = models.JSONField(default=list)
    price = models.IntegerField(default=300)
    created_at = models.DateTimeField()

    def __str__(self):
        return self.template_id


class SandboxToken(models.Model):
    ACCESS = "access"
    REFRESH = "refresh"

    kind = models.CharField(max_length=10)
    token = models.CharField(max_length=200, unique=True)
    oa = models.ForeignKey(SandboxOA, on_delete=models.CASCADE)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)  # refresh tokens are single use
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    def __str__(self):
        return f"{self.kind} {self.token[:8]}…"


class SandboxAuthCode(models.Model):
    code = models.CharField(max_length=200, unique=True)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE)
    oa = models.ForeignKey(SandboxOA, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=500)
    code_challenge = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"code {self.code[:8]}…"


class SandboxRecipient(models.Model):
    """A pinned simulated person; phones without a row get a profile derived from the seed."""

    key = models.CharField(max_length=128, unique=True)  # normalised phone, phone hash or user id
    profile = models.JSONField(default=dict)

    def __str__(self):
        return self.key


class SandboxMessage(models.Model):
    """The ledger: one row per message the sandbox received (accepted or not), with decrypted data."""

    provider = models.CharField(max_length=10)  # zalo | infobip
    channel = models.CharField(max_length=12, default="phone")  # phone | hashphone | rsa | uid
    oa = models.ForeignKey(SandboxOA, null=True, on_delete=models.SET_NULL)
    template_id = models.CharField(max_length=40, blank=True, default="")
    tag = models.IntegerField(null=True)
    recipient = models.CharField(max_length=128, blank=True, default="")
    tracking_id = models.CharField(max_length=200, blank=True, default="")
    msg_id = models.CharField(max_length=64, unique=True)  # Zalo msg_id
    message_id = models.CharField(max_length=200, blank=True, default="", db_index=True)  # Infobip messageId
    bulk_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    template_data = models.JSONField(default=dict)
    encrypted = models.BooleanField(default=False)
    mode = models.CharField(max_length=20, blank=True, default="")
    accepted = models.BooleanField(default=False)  # the provider API accepted it (HTTP answer)
    sent_to_user = models.BooleanField(default=False)  # Zalo accepted it for delivery (counts in quota)
    error = models.IntegerField(default=0)  # Zalo error code of the Zalo-side send (0 ok)
    state = models.CharField(
        max_length=20, default=""
    )  # scheduled sent delivered read rejected expired failover
    box = models.CharField(max_length=14, blank=True, default="")  # inbox | business_box
    accepted_at = models.DateTimeField(db_index=True)  # sandbox clock
    send_after = models.DateTimeField(null=True)  # Infobip scheduling (sandbox clock)
    expires_at = models.DateTimeField(null=True)
    sent_at = models.DateTimeField(null=True)
    delivered_at = models.DateTimeField(null=True)
    read_at = models.DateTimeField(null=True)
    bad_reported_at = models.DateTimeField(null=True)
    options = models.JSONField(default=dict)  # Infobip options, webhooks, callbackData, smsFailover…
    report = models.JSONField(null=True)  # the latest Infobip delivery report
    report_pulled = models.BooleanField(default=False)
    report_waiting = models.BooleanField(default=False)  # a report not yet fetched from /reports
    infobip_account = models.ForeignKey(SandboxInfobipAccount, null=True, on_delete=models.SET_NULL)

    class Meta:
        indexes = [
            models.Index(fields=["oa", "recipient", "tag", "sent_at"], name="sandbox_msg_caps"),
            models.Index(fields=["tracking_id"], name="sandbox_msg_tracking"),
            models.Index(fields=["template_id", "sent_at"], name="sandbox_msg_template_sent"),
            # Infobip messages waiting for their send time are picked up by the worker from here.
            models.Index(
                fields=["send_after", "id"],
                condition=models.Q(state="scheduled"),
                name="sandbox_msg_scheduled",
            ),
            models.Index(
                fields=["infobip_account", "id"],
                condition=models.Q(report_waiting=True),
                name="sandbox_msg_report_waiting",
            ),
        ]
        constraints = [
            # Infobip refuses a messageId it already has (REJECTED_DUPLICATE_MESSAGE_ID): one index
            # lookup per request instead of a scan of the account's ledger.
            models.UniqueConstraint(
                fields=["provider", "infobip_account", "message_id"],
                condition=~models.Q(message_id=""),
                name="sandbox_one_message_id",
            ),
        ]

    def __str__(self):
        return self.msg_id


class SandboxEvent(models.Model):
    """Scheduled simulation work, due on the sandbox clock (dispatch, deliver, read, bad report, expire)."""

    kind = models.CharField(max_length=16)
    message = models.ForeignKey(SandboxMessage, on_delete=models.CASCADE, related_name="events")
    due_at = models.DateTimeField()
    done = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["done", "due_at"], name="sandbox_event_due")]

    def __str__(self):
        return f"{self.kind} {self.due_at}"


class SandboxWebhook(models.Model):
    """One outgoing webhook (Zalo event or Infobip delivery report) and its delivery attempts."""

    kind = models.CharField(max_length=40)
    provider = models.CharField(max_length=10)
    url = models.CharField(max_length=500)
    body = models.TextField()
    headers = models.JSONField(default=dict)
    state = models.CharField(max_length=12, default="pending")  # pending delivered failed
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, db_index=True)  # real time (compressible)
    history = models.JSONField(default=list)
    duplicate_of = models.ForeignKey("self", null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The worker takes due webhooks oldest first among the pending ones: delivered rows
            # (nearly all of them) are never walked.
            models.Index(fields=["id"], condition=models.Q(state="pending"), name="sandbox_hook_pending"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["pending", "sending"]),
                name="sandbox_hook_open",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.state}"
