from audiences import services
from audiences.models import ConsentEvent, Contact, Suppression
from zalo_admin import demo


def test_the_demo_audience_has_consent_evidence_and_one_suppression_and_is_idempotent(db):
    demo.ensure_demo_data()
    demo.ensure_demo_data()
    assert Contact.objects.count() == len(demo.DEMO_CONTACTS)
    assert ConsentEvent.objects.filter(kind="granted").exclude(evidence_sha256="").count() == 2
    assert Suppression.objects.count() == 1
    assert services.current_suppression(demo.DEMO_SUPPRESSED) is not None
