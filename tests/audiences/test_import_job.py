"""The import job's reader and merge (audiences.imports.run_import) beyond the basic cases: chunked
progress, resuming after a failure at a chunk boundary, ragged and messy rows, unmapped name or
attributes, and one consent grant per contact however often its phone appears."""

import pytest

from audiences import imports
from audiences.models import ConsentEvent, Contact, ContactImport, ImportRejection, Purpose

ACTOR = "user:importer"


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    return settings.CONTACT_IMPORT_DIR


def _upload(tmp_path, text: str, **mapping) -> ContactImport:
    path = tmp_path / "contacts.csv"
    path.write_bytes(text.encode())
    item = imports.create_import(actor=ACTOR, uploaded_file=path)
    mapping.setdefault("phone", "phone")
    return imports.map_columns(item, actor=ACTOR, **mapping)


MESSY = (
    "phone,name,city,tier\n"  # line 1
    "0912345678,  Lan  , Hà Nội ,gold\n"  # 2: cells stripped
    "0987654321,Minh\n"  # 3: a short row: missing cells are empty
    "abc,Bad,x,y\n"  # 4: rejected
    ",,,\n"  # 5: blank (only delimiters)
    '0901234567,"Tên\nhai dòng",Huế,\n'  # 6-7: a quoted newline (one record, ending on line 7)
    "0331234567," + "x" * 201 + ",a,b\n"  # 8: the name is too long
    "0352345678,,  ,   \n"  # 9: empty attributes are no value
    "0912 345 678,Lan again,,silver\n"  # 10: the same phone: this later row wins
    "0862345678,Extra,a,b,unexpected,cells\n"  # 11: extra cells are ignored
)


def _messy_outcome(item):
    item.refresh_from_db()
    contacts = {
        phone: (name, attributes)
        for phone, name, attributes in Contact.objects.values_list("phone", "name", "attributes")
    }
    rejections = list(
        ImportRejection.objects.filter(contact_import=item).order_by("line").values_list("line", "code")
    )
    counts = (item.rows_total, item.rows_rejected, item.rows_blank, item.rows_merged)
    return contacts, rejections, counts


EXPECTED_CONTACTS = {
    "84912345678": ("Lan again", {"tier": "silver"}),
    "84987654321": ("Minh", {}),
    "84901234567": ("Tên\nhai dòng", {"city": "Huế"}),
    "84352345678": ("", {}),
    "84862345678": ("Extra", {"city": "a", "tier": "b"}),
}


@pytest.mark.django_db
@pytest.mark.parametrize("chunk_rows", [1, 3, 10_000])
def test_messy_rows_give_the_same_result_whatever_the_chunk_size(tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(imports, "CHUNK_ROWS", chunk_rows)
    progress = []
    monkeypatch.setattr(imports, "_on_chunk", lambda item: progress.append(item.rows_done))
    item = _upload(tmp_path, MESSY, name="name", attributes=["city", "tier"])
    assert imports.run_import(item.pk).startswith("done")
    contacts, rejections, counts = _messy_outcome(item)
    assert contacts == EXPECTED_CONTACTS
    assert rejections == [(4, "letters"), (8, "name_too_long")]
    assert counts == (9, 2, 1, 5)  # 9 records (the quoted newline is one), 2 rejected, 1 blank
    # Progress is committed after every chunk of `chunk_rows` records, then once at the end.
    assert progress == [chunk_rows * n for n in range(1, 9 // chunk_rows + 1)] + [9]


@pytest.mark.django_db
def test_a_job_that_fails_between_chunks_resumes_without_repeating_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    calls = []

    def crash_after_the_second_chunk(item):
        calls.append(item.rows_done)
        if len(calls) == 2:
            raise RuntimeError("worker lost")

    monkeypatch.setattr(imports, "_on_chunk", crash_after_the_second_chunk)
    item = _upload(tmp_path, MESSY, name="name", attributes=["city", "tier"])
    with pytest.raises(RuntimeError):
        imports.run_import(item.pk)
    item.refresh_from_db()
    assert item.status == ContactImport.Status.FAILED and item.rows_done == 6
    assert Contact.objects.count() == 0  # nothing merged yet
    assert imports.run_import(item.pk).startswith("done")
    contacts, rejections, counts = _messy_outcome(item)
    assert contacts == EXPECTED_CONTACTS
    assert rejections == [(4, "letters"), (8, "name_too_long")]  # not recorded twice
    assert counts == (9, 2, 1, 5)
    assert calls == [3, 6, 9, 9]  # the second attempt starts after the committed rows
    assert item.attempts == 2


@pytest.mark.django_db
def test_phone_only_mapping(tmp_path):
    item = _upload(tmp_path, "name,phone,city\nLan,0912345678,Huế\nMinh,+84 98 765 4321,x\n")
    assert imports.run_import(item.pk).startswith("done")
    assert sorted(Contact.objects.values_list("phone", "name", "attributes")) == [
        ("84912345678", "", {}),
        ("84987654321", "", {}),
    ]


@pytest.mark.django_db
def test_one_grant_per_contact_however_often_the_phone_appears(tmp_path):
    rows = "".join(f"0912345678,Lan {n}\n0987654321,Minh {n}\n" for n in range(5))
    item = _upload(
        tmp_path,
        "phone,name\n" + rows,
        name="name",
        consent_purpose=Purpose.MARKETING,
        consent_collector="Shop staff",
        consent_wording="Nhận tin khuyến mãi?",
    )
    assert imports.run_import(item.pk).startswith("done")
    item.refresh_from_db()
    assert (item.rows_merged, item.consents_granted) == (2, 2)
    assert ConsentEvent.objects.filter(kind="granted", purpose=Purpose.MARKETING).count() == 2
    assert Contact.objects.get(phone="84912345678").name == "Lan 4"
