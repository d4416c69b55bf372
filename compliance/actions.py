"""The audit vocabulary: every action code the log may hold, and how it reads in each language.

An entry stores the action code and its parameters (`details`), never prose: the immutable log stays
language-neutral and `describe` renders it in the reader's language when shown. Each message names
the parameters it needs; `record_audit_event` refuses an unknown code or a missing parameter.
"""

import re
import string
from functools import cache

from django.utils import translation
from django.utils.translation import gettext_lazy as _

OA_CREATE = "oa.create"
OA_UPDATE = "oa.update"
OA_ENABLE = "oa.enable"
OA_DISABLE = "oa.disable"
OA_KILL_SWITCH = "oa.kill_switch"
OA_RESUME = "oa.resume"
OA_CONNECT = "oa.connect"
OA_RSA_KEY_ADD = "oa.rsa_key.add"
OA_RSA_KEY_ROTATE = "oa.rsa_key.rotate"
OA_RSA_KEY_RETIRE = "oa.rsa_key.retire"
OA_LEVEL_CHANGE = "oa.level_change"
OA_GUARDRAIL = "oa.guardrail"
TEMPLATE_STATUS = "template.status"
TEMPLATE_STATUS_REASON = "template.status_reason"
TEMPLATE_QUALITY = "template.quality"
TEMPLATES_SYNC = "templates.sync"
TEMPLATES_SYNC_FAILED = "templates.sync_failed"
POLICY_CREATE = "policy.create"
POLICY_NEW_VERSION = "policy.new_version"
QUALITY_ALERT_RESOLVE = "quality_alert.resolve"
CAMPAIGN_PAUSE = "campaign.pause"
CAMPAIGN_PREFLIGHT = "campaign.preflight"
CAMPAIGN_PREFLIGHT_EXPORT = "campaign.preflight_export"
CAMPAIGN_LOG_EXPORT = "campaign.log_export"
CAMPAIGN_LOG_EXPORT_DOWNLOAD = "campaign.log_export_download"
CAMPAIGN_CREATE = "campaign.create"
CAMPAIGN_UPDATE = "campaign.update"
CAMPAIGN_AUTOSAVE = "campaign.autosave"
CAMPAIGN_CLONE = "campaign.clone"
CAMPAIGN_SUBMIT = "campaign.submit"
CAMPAIGN_APPROVE = "campaign.approve"
CAMPAIGN_REJECT = "campaign.reject"
CAMPAIGN_APPROVAL_VOID = "campaign.approval_void"
CAMPAIGN_TEST_SEND = "campaign.test_send"
CAMPAIGN_START = "campaign.start"
CAMPAIGN_START_REFUSED = "campaign.start_refused"
CAMPAIGN_RESUME = "campaign.resume"
CAMPAIGN_CANCEL = "campaign.cancel"
CAMPAIGN_COMPLETE = "campaign.complete"
CAMPAIGN_STAGE_RELEASE = "campaign.stage_release"
CAMPAIGN_FAILOVER_CEILING = "campaign.failover_ceiling"
CAMPAIGN_SEAL = "campaign.seal"
AUTH_LOGIN_FAILED = "auth.login_failed"
AUTH_LOCKED_OUT = "auth.locked_out"
AUTH_TWO_FACTOR_FAILED = "auth.two_factor.failed"
AUTH_TWO_FACTOR_ENROL = "auth.two_factor.enrol"
AUTH_TWO_FACTOR_SIGN_IN = "auth.two_factor.sign_in"
AUTH_TWO_FACTOR_RECOVERY_USED = "auth.two_factor.recovery_used"
AUTH_TWO_FACTOR_RECOVERY_CODES = "auth.two_factor.recovery_codes"
AUTH_TWO_FACTOR_RESET = "auth.two_factor.reset"
CONTACT_CREATE = "contact.create"
CONTACT_FOLLOWER_STATUS = "contact.follower_status"
CONSENT_GRANT = "consent.grant"
CONSENT_WITHDRAW = "consent.withdraw"
SUPPRESSION_ADD = "suppression.add"
SUPPRESSION_LIFT = "suppression.lift"
DATA_REQUEST_RECEIVE = "data_request.receive"
DATA_REQUEST_EXPORT = "data_request.export"
DATA_REQUEST_ERASE = "data_request.erase"
EVIDENCE_PACK_REQUEST = "evidence_pack.request"
EVIDENCE_PACK_BUILD = "evidence_pack.build"
EVIDENCE_PACK_FAIL = "evidence_pack.fail"
EVIDENCE_PACK_DOWNLOAD = "evidence_pack.download"
RETENTION_RUN = "retention.run"
CONTACT_IMPORT_START = "contact_import.start"
CONTACT_IMPORT_FINISH = "contact_import.finish"
CONTACT_IMPORT_FAIL = "contact_import.fail"
CONTACT_IMPORT_CANCEL = "contact_import.cancel"
CONTACT_IMPORT_UPLOAD = "contact_import.upload"
CONTACT_IMPORT_MAP = "contact_import.map"
CONTACT_IMPORT_CANCEL_REQUEST = "contact_import.cancel_request"
CONTACT_IMPORT_REPORT = "contact_import.report_download"
CONTACT_PHONE_REVEAL = "contact.phone_reveal"
CONTACT_LIST_CREATE = "contact_list.create"
CONTACT_LIST_UPDATE = "contact_list.update"
CONTACT_LIST_DELETE = "contact_list.delete"
CONTACT_LIST_ADD_MEMBERS = "contact_list.add_members"
CONTACT_LIST_REMOVE_MEMBERS = "contact_list.remove_members"
SEGMENT_CREATE = "segment.create"
SEGMENT_UPDATE = "segment.update"
SEGMENT_DELETE = "segment.delete"
ALERT_ACKNOWLEDGE = "alert.acknowledge"
ALERT_PREFERENCES_UPDATE = "alert.preferences"
ALERT_WEBHOOK_CREATE = "alert.webhook.create"
ALERT_WEBHOOK_UPDATE = "alert.webhook.update"
ALERT_WEBHOOK_ROTATE = "alert.webhook.rotate_secret"
ALERT_WEBHOOK_TEST = "alert.webhook.test"
TEAM_CREATE = "team.create"
TEAM_MEMBER_ADD = "team.member.add"
TEAM_MEMBER_UPDATE = "team.member.update"
TEAM_MEMBER_REMOVE = "team.member.remove"

MESSAGES = {
    OA_CREATE: _("Created OA %(name)s (%(zalo_oa_id)s)"),
    OA_UPDATE: _("Updated OA %(name)s (%(zalo_oa_id)s)"),
    OA_ENABLE: _("Enabled OA %(name)s"),
    OA_DISABLE: _("Disabled OA %(name)s; %(campaigns_paused)s campaign(s) paused"),
    OA_KILL_SWITCH: _("Stopped all sends of OA %(name)s: %(reason)s"),
    OA_RESUME: _("Resumed sends of OA %(name)s: %(reason)s"),
    OA_CONNECT: _("Connected OA %(name)s with Zalo OAuth"),
    OA_RSA_KEY_ADD: _("RSA-%(bits)s key %(fingerprint)s is now active for OA %(name)s"),
    OA_RSA_KEY_ROTATE: _("RSA-%(bits)s key %(fingerprint)s replaces the active key of OA %(name)s"),
    OA_RSA_KEY_RETIRE: _("Retired RSA key %(fingerprint)s: %(reason)s"),
    OA_LEVEL_CHANGE: _(
        "OA #%(oa_id)s daily limit %(old_label)s → %(new_label)s from %(day)s (%(reason)s) %(note)s"
    ),
    OA_GUARDRAIL: _("OA #%(oa_id)s guardrail: %(action)s at %(share_percent)s of the violation threshold"),
    TEMPLATE_STATUS: _("Template %(template_id)s: %(from)s → %(to)s"),
    TEMPLATE_STATUS_REASON: _("Template %(template_id)s: new status reason %(to)s"),
    TEMPLATE_QUALITY: _("Template %(template_id)s quality: %(from)s → %(to)s"),
    TEMPLATES_SYNC: _("Templates synced: %(created_count)s new, %(updated_count)s changed, %(total)s listed"),
    TEMPLATES_SYNC_FAILED: _("Template sync failed: %(error)s"),
    POLICY_CREATE: _("Added quota policy %(code)s (for OAs registered from %(effective_from)s)"),
    POLICY_NEW_VERSION: _("New version %(code)s of quota policy %(previous)s (the old one stays unchanged)"),
    QUALITY_ALERT_RESOLVE: _("Quality alert #%(alert_id)s marked as handled"),
    CAMPAIGN_PAUSE: _("Campaign #%(campaign_id)s paused: %(reason)s"),
    CAMPAIGN_PREFLIGHT: _(
        "Pre-flight of campaign #%(campaign_id)s (run #%(run_id)s): "
        "%(eligible)s of %(total)s recipients eligible"
    ),
    CAMPAIGN_PREFLIGHT_EXPORT: _(
        "Downloaded the %(count)s excluded recipients of campaign #%(campaign_id)s (phones %(phones)s)"
    ),
    # The filter as given (its phone masked), the rows written, how (streamed / job file) and whether
    # the stream reached its end (a download can be interrupted).
    CAMPAIGN_LOG_EXPORT: _(
        "Exported %(rows)s message log row(s) (%(how)s, phones %(phones)s, complete: %(complete)s); "
        "filter: %(filter)s"
    ),
    CAMPAIGN_LOG_EXPORT_DOWNLOAD: _(
        "Downloaded message log export #%(export_id)s (%(rows)s row(s), phones %(phones)s)"
    ),
    CAMPAIGN_CREATE: _("Created campaign #%(campaign_id)s “%(name)s”"),
    CAMPAIGN_UPDATE: _("Edited campaign #%(campaign_id)s: %(fields)s"),
    CAMPAIGN_AUTOSAVE: _("Autosaved campaign #%(campaign_id)s: %(fields)s"),
    CAMPAIGN_CLONE: _("Cloned campaign #%(source_id)s as draft #%(campaign_id)s"),
    CAMPAIGN_SUBMIT: _("Submitted campaign #%(campaign_id)s for approval"),
    CAMPAIGN_APPROVE: _(
        "Approved campaign #%(campaign_id)s for %(recipients)s recipient(s), approval hash %(approval_hash)s"
    ),
    CAMPAIGN_REJECT: _("Rejected campaign #%(campaign_id)s: %(reason)s"),
    CAMPAIGN_APPROVAL_VOID: _("Approval of campaign #%(campaign_id)s voided, back to draft: %(reason)s"),
    CAMPAIGN_TEST_SEND: _(
        "Test send of campaign #%(campaign_id)s to %(phones)s (development mode): %(accepted)s accepted, "
        "%(failed)s failed"
    ),
    CAMPAIGN_START: _(
        "Campaign #%(campaign_id)s started sending: %(recipients)s message(s) queued, "
        "approval hash %(approval_hash)s"
    ),
    CAMPAIGN_START_REFUSED: _("Campaign #%(campaign_id)s did not start: %(reason)s"),
    CAMPAIGN_RESUME: _("Campaign #%(campaign_id)s resumed"),
    CAMPAIGN_CANCEL: _("Campaign #%(campaign_id)s cancelled: %(unsent)s message(s) will not be sent"),
    CAMPAIGN_COMPLETE: _(
        "Campaign #%(campaign_id)s finished: %(accepted)s accepted, %(failed)s failed, %(expired)s expired, "
        "%(unconfirmed)s unconfirmed"
    ),
    CAMPAIGN_STAGE_RELEASE: _(
        "Staged release of campaign #%(campaign_id)s: first slice of %(sent)s, %(bad)s bad report(s) "
        "(rate %(rate)s, threshold %(threshold)s): %(decision)s"
    ),
    CAMPAIGN_SEAL: _(
        "Sealed the message evidence of campaign #%(campaign_id)s: %(messages)s message(s), %(events)s "
        "timeline event(s), root %(root)s"
    ),
    CAMPAIGN_FAILOVER_CEILING: _(
        "Campaign #%(campaign_id)s reached its SMS failover ceiling (%(ceiling)s SMS): failover stops"
    ),
    AUTH_LOGIN_FAILED: _("Failed login for “%(username)s” from %(ip_address)s"),
    AUTH_LOCKED_OUT: _("Locked out “%(username)s” from %(ip_address)s for %(cool_off_minutes)s minutes"),
    AUTH_TWO_FACTOR_FAILED: _("Wrong two-factor code for “%(username)s” from %(ip_address)s"),
    AUTH_TWO_FACTOR_ENROL: _(
        "“%(username)s” turned on two-factor sign-in (authenticator app, %(recovery_codes)s recovery codes)"
    ),
    AUTH_TWO_FACTOR_SIGN_IN: _("“%(username)s” signed in with an authenticator code from %(ip_address)s"),
    AUTH_TWO_FACTOR_RECOVERY_USED: _(
        "“%(username)s” signed in with a recovery code from %(ip_address)s (%(remaining)s left)"
    ),
    AUTH_TWO_FACTOR_RECOVERY_CODES: _(
        "New recovery codes for “%(username)s” (%(recovery_codes)s); the previous ones no longer work"
    ),
    AUTH_TWO_FACTOR_RESET: _(
        "Two-factor sign-in of “%(username)s” reset (%(devices)s device(s) removed): %(reason)s"
    ),
    # Audience entries name phones masked (0912***678): the log is immutable, personal data is not.
    CONTACT_CREATE: _("Added contact #%(contact_id)s (%(phone)s) from %(source)s"),
    CONTACT_FOLLOWER_STATUS: _(
        "Contact #%(contact_id)s and OA #%(oa_id)s: follower status %(from)s → %(to)s"
    ),
    CONSENT_GRANT: _(
        "Contact #%(contact_id)s granted %(purpose)s consent (source: %(source)s, collected by %(collector)s)"
    ),
    CONSENT_WITHDRAW: _("Contact #%(contact_id)s withdrew %(purpose)s consent (%(channel)s)"),
    SUPPRESSION_ADD: _("Phone %(phone)s added to the do-not-contact list (%(source)s): %(reason)s"),
    SUPPRESSION_LIFT: _("Phone %(phone)s removed from the do-not-contact list (%(source)s): %(reason)s"),
    CONTACT_IMPORT_START: _("Started contact import #%(import_id)s of %(file_name)s (attempt %(attempt)s)"),
    CONTACT_IMPORT_FINISH: _(
        "Contact import #%(import_id)s done: %(rows_merged)s contact(s) merged, %(rows_rejected)s of "
        "%(rows_total)s row(s) rejected, %(consents_granted)s consent grant(s)"
    ),
    CONTACT_IMPORT_FAIL: _("Contact import #%(import_id)s failed: %(error)s"),
    CONTACT_IMPORT_CANCEL: _("Contact import #%(import_id)s cancelled; no contact was changed"),
    CONTACT_IMPORT_UPLOAD: _(
        "Uploaded %(file_name)s (%(size)s bytes, SHA-256 %(file_sha256)s) as contact import #%(import_id)s"
    ),
    CONTACT_IMPORT_MAP: _(
        "Contact import #%(import_id)s mapped: phones from column “%(phone_column)s”, consent basis: "
        "%(consent)s"
    ),
    CONTACT_IMPORT_CANCEL_REQUEST: _(
        "Asked to cancel contact import #%(import_id)s after %(rows_done)s row(s)"
    ),
    CONTACT_IMPORT_REPORT: _(
        "Downloaded the rejection report of contact import #%(import_id)s (%(rows_rejected)s row(s))"
    ),
    DATA_REQUEST_RECEIVE: _(
        "Data request #%(request_id)s (%(kind)s) received for %(phone)s, due %(deadline)s"
    ),
    DATA_REQUEST_EXPORT: _("Data request #%(request_id)s: exported the data held about %(phone)s"),
    DATA_REQUEST_ERASE: _(
        "Data request #%(request_id)s: erased contact #%(contact_id)s (%(phone)s); "
        "%(suppressions)s do-not-contact row(s) redacted"
    ),
    CONTACT_PHONE_REVEAL: _("Showed the full phone number of contact #%(contact_id)s (%(phone)s)"),
    CONTACT_LIST_CREATE: _("Created contact list #%(list_id)s “%(name)s”"),
    CONTACT_LIST_UPDATE: _("Edited contact list #%(list_id)s “%(name)s”: %(fields)s"),
    CONTACT_LIST_DELETE: _("Deleted contact list #%(list_id)s “%(name)s” (%(members)s member(s))"),
    CONTACT_LIST_ADD_MEMBERS: _("Added %(added)s contact(s) to list #%(list_id)s from %(source)s"),
    CONTACT_LIST_REMOVE_MEMBERS: _("Removed %(removed)s contact(s) from list #%(list_id)s"),
    SEGMENT_CREATE: _("Created segment #%(segment_id)s “%(name)s”: %(rules)s filter(s)"),
    SEGMENT_UPDATE: _("Edited segment #%(segment_id)s “%(name)s”: %(fields)s"),
    SEGMENT_DELETE: _("Deleted segment #%(segment_id)s “%(name)s”"),
    # Evidence packs and retention (compliance.evidence, compliance.retention): phones masked.
    EVIDENCE_PACK_REQUEST: _("Requested evidence pack #%(pack_id)s (%(scope)s %(subject)s): %(reason)s"),
    EVIDENCE_PACK_BUILD: _(
        "Built evidence pack #%(pack_id)s: %(files)s file(s), %(messages)s message(s), ZIP SHA-256 %(sha256)s"
    ),
    EVIDENCE_PACK_FAIL: _("Evidence pack #%(pack_id)s could not be built: %(error)s"),
    EVIDENCE_PACK_DOWNLOAD: _("Downloaded evidence pack #%(pack_id)s (%(scope)s %(subject)s)"),
    RETENTION_RUN: _(
        "Retention: template data of %(message_template_data)s message(s) cleared, "
        "%(message_phones)s message phone(s) pseudonymised, %(report_payloads)s report payload(s) "
        "trimmed, %(evidence_pack_files)s evidence pack file(s) deleted"
    ),
    ALERT_ACKNOWLEDGE: _("Alert #%(alert_id)s acknowledged"),
    ALERT_PREFERENCES_UPDATE: _("Alert choices of %(username)s: %(changes)s"),
    # Webhook entries never hold the endpoint's secret, only that it was made or replaced.
    ALERT_WEBHOOK_CREATE: _(
        "Added alert webhook #%(endpoint_id)s “%(name)s” (%(url)s): kinds %(kinds)s, relays reports: "
        "%(relay_reports)s, active: %(is_active)s"
    ),
    ALERT_WEBHOOK_UPDATE: _(
        "Edited alert webhook #%(endpoint_id)s “%(name)s” (%(fields)s): %(url)s, kinds %(kinds)s, "
        "relays reports: %(relay_reports)s, active: %(is_active)s"
    ),
    ALERT_WEBHOOK_ROTATE: _("Replaced the signing secret of alert webhook #%(endpoint_id)s “%(name)s”"),
    ALERT_WEBHOOK_TEST: _("Sent a test message to alert webhook #%(endpoint_id)s “%(name)s”"),
    # Teams (teams.services): who sees which team's OAs, audiences and campaigns.
    TEAM_CREATE: _("Created team #%(team_id)s “%(name)s”"),
    TEAM_MEMBER_ADD: _("Added %(username)s to team “%(team)s” (sees all teams: %(all_teams)s)"),
    TEAM_MEMBER_UPDATE: _("%(username)s in team “%(team)s” now sees all teams: %(all_teams)s"),
    TEAM_MEMBER_REMOVE: _("Removed %(username)s from team “%(team)s”"),
}
ACTIONS = frozenset(MESSAGES)
# Who acted: `user:<username>` for a signed-in user, `system:<job>` for jobs, webhooks and services.
ACTOR_PATTERN = re.compile(r"^(user|system):\S.*$")
ANONYMOUS_ACTOR = "system:anonymous"


@cache
def required_parameters(action: str) -> frozenset[str]:
    """The parameter names the action's message needs, read from its source text (a translation
    cannot change what an entry must record)."""
    with translation.override(None):
        source = str(MESSAGES[action])
    return frozenset(name for _, name, _, _ in string.Formatter().parse(_mapping_style(source)) if name)


def _mapping_style(message) -> str:
    # "%(name)s" → "{name}", so the standard parser can list the names.
    return re.sub(r"%\((\w+)\)s", r"{\1}", str(message).replace("{", "{{").replace("}", "}}"))


class _Shown(dict):
    def __missing__(self, key):
        return "—"


def describe(action: str, details: dict, stored_summary: str = "") -> str:
    """The entry in the current language; entries older than the vocabulary keep their own text."""
    message = MESSAGES.get(action)
    if message is None or (stored_summary and not required_parameters(action) <= set(details)):
        return stored_summary or action
    shown = _Shown({key: "—" if value in (None, "") else value for key, value in details.items()})
    return (str(message) % shown).strip()
