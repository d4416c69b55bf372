"""A campaign's notifyUrl hears its delivery reports: applied from the provider's signed webhook,
relayed in Infobip's shape, signed with the registered endpoint's secret; never to an unregistered URL."""

import json
import time

from alerts import services, signing
from alerts.models import Delivery, ReportRelay
from campaigns.models import CampaignMessage
from tests.campaigns.test_reports import delivered_event, make_campaign, make_message, post

S = CampaignMessage.State


def test_a_delivery_report_from_the_zalo_webhook_is_relayed_signed_to_the_campaigns_notify_url(
    receiver, oa, client, django_capture_on_commit_callbacks
):
    endpoint, secret = services.create_endpoint(
        name="Shop relay", url=receiver.url, kinds=[], relay_reports=True, actor="system:test"
    )
    campaign = make_campaign(oa, notify_url=receiver.url, callback_data="order-batch-7")
    message = make_message(campaign)
    post(client, django_capture_on_commit_callbacks, delivered_event(message))
    message.refresh_from_db()
    assert message.state == S.DELIVERED
    [request] = receiver.requests
    assert signing.verify(secret, request["headers"]["X-Signature"], request["body"], now=int(time.time()))
    [entry] = json.loads(request["body"])["results"]
    assert entry["messageId"] == message.tracking_id and entry["to"] == message.phone
    assert entry["status"]["groupName"] == "DELIVERED" and entry["result"] == "delivered"
    assert entry["callbackData"] == "order-batch-7" and entry["campaignId"] == campaign.pk
    relayed = Delivery.objects.get(campaign=campaign)
    assert (relayed.status, relayed.reports, relayed.endpoint) == (Delivery.Status.SENT, 1, endpoint)
    assert ReportRelay.objects.count() == 0
    # The same report again changes nothing, so nothing more is relayed.
    post(client, django_capture_on_commit_callbacks, delivered_event(message))
    assert len(receiver.requests) == 1


def test_reports_of_a_notify_url_nobody_registered_are_not_posted_and_the_url_is_listed(
    receiver, oa, client, django_capture_on_commit_callbacks
):
    campaign = make_campaign(oa, notify_url=receiver.url)
    message = make_message(campaign)
    post(client, django_capture_on_commit_callbacks, delivered_event(message))
    assert receiver.requests == [] and not Delivery.objects.exists()
    assert services.unregistered_notify_urls() == [receiver.url]
