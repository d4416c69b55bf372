"""Campaign fixtures: an OA with a sendable template, an audience list of contacts, users."""

import pytest
from django.contrib.auth.models import Group

from audiences.models import Contact, ContactList, ContactListMember, ContactSource
from oas.models import MessageTemplate, OfficialAccount
from tests.conftest import PASSWORD
from zalo_admin.roles import QUALITY_ADMIN

PARAMS = [
    {"name": "customer_name", "type": "CUSTOMER_NAME", "require": True, "maxLength": 30},
    {"name": "order_code", "type": "CODE", "require": True, "maxLength": 10},
    {"name": "amount", "type": "CURRENCY_VND", "require": True, "maxLength": 20},
    {"name": "due_date", "type": "TIME", "require": False, "maxLength": 20},
]


@pytest.fixture
def oa(db):
    return OfficialAccount.objects.create(name="Shop OA", zalo_oa_id="oa-campaigns-1")


@pytest.fixture
def template(oa):
    return MessageTemplate.objects.create(
        oa=oa,
        template_id="300001",
        name="Order confirmation",
        tag=MessageTemplate.Tag.TRANSACTION,
        params=PARAMS,
        sample_data={"customer_name": "Nguyễn Văn A", "order_code": "DH001", "amount": "150000"},
    )


@pytest.fixture
def source(db):
    return ContactSource.objects.create(
        kind=ContactSource.Kind.MANUAL, label="tests", created_by="system:test"
    )


@pytest.fixture
def contacts(source):
    rows = [
        ("84912345678", "Trần Thị Bình", {"order": "DH100", "total": 1500000, "due": "2026-12-20"}),
        ("84987654321", "Lê Văn Cường", {"order": "DH101", "total": "250000", "due": "2026-12-21"}),
        ("84901234567", "Phạm Minh Đức", {"order": "DH102", "total": 99000, "due": "2026-12-22"}),
    ]
    return [Contact.objects.create(phone=p, name=n, attributes=a, source=source) for p, n, a in rows]


@pytest.fixture
def contact_list(contacts):
    contact_list = ContactList.objects.create(name="Customers", created_by="system:test")
    for contact in contacts:
        ContactListMember.objects.create(contact_list=contact_list, contact=contact, added_by="system:test")
    return contact_list


@pytest.fixture
def second_quality_admin(db, django_user_model):
    user = django_user_model.objects.create_user(username="quality2", password=PASSWORD)
    user.groups.add(Group.objects.get(name=QUALITY_ADMIN))
    return user


GOOD_MAPPING = {
    "map-customer_name-source": "field",
    "map-customer_name-key": "name",
    "map-order_code-source": "attribute",
    "map-order_code-key": "order",
    "map-amount-source": "attribute",
    "map-amount-key": "total",
    "map-amount-format": "currency",
    "map-due_date-source": "attribute",
    "map-due_date-key": "due",
    "map-due_date-format": "date",
}


@pytest.fixture
def form_data(oa, template, contact_list):
    """A complete, valid compose form."""
    return {
        "name": "December orders",
        "oa": str(oa.pk),
        "template": str(template.pk),
        "audience_lists": [str(contact_list.pk)],
        "time_zone": "Asia/Ho_Chi_Minh",
        "sending_speed_limit_amount": "30",
        "sending_speed_limit_time_unit": "HOUR",
        "delivery_days": ["MONDAY", "TUESDAY"],
        "delivery_from": "07:00",
        "delivery_to": "21:30",
        "validity_period_amount": "30",
        "validity_period_time_unit": "MINUTES",
        **GOOD_MAPPING,
    }
