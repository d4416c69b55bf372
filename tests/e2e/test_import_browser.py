"""A marketer imports a CSV in the browser: upload (a bad file first), map the columns, watch the
progress bar reach 100 % while a real RQ worker runs the job, download the rejection report."""

import csv
import io
import os
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from rq import SimpleWorker

from audiences.models import ConsentEvent, Contact, ContactImport, ImportRejection
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# pytest-playwright empties test-results/ when a session starts: SCREENSHOT_DIR keeps them elsewhere.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "test-results" / "screenshots"
)
ROWS = 25_000  # three chunks of the job: the bar moves before it reaches 100 %

# Every JavaScript update of the bar is kept in sessionStorage, across the reload at the end.
RECORD_PERCENT = """
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("[data-job-progress]");
  if (!panel) return;
  new MutationObserver(() => {
    const seen = JSON.parse(sessionStorage.getItem("percentSeen") || "[]");
    seen.push(panel.dataset.percent);
    sessionStorage.setItem("percentSeen", JSON.stringify(seen));
  }).observe(panel, { attributes: true, attributeFilter: ["data-percent"] });
});
"""


def snap(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _contacts_file(path: Path) -> tuple[Path, list[int]]:
    """ROWS data rows: a bad phone every 50th row (letters or a landline), a blank line every
    1000th; returns the file and the line numbers of the bad rows."""
    lines, bad = ["Số điện thoại,Họ tên,Thành phố,Hạng"], []
    for n in range(ROWS):
        line_number = len(lines) + 1
        if n % 1000 == 999:
            lines.append("")
        elif n % 50 == 7:
            lines.append(f"{'abc' if n % 100 == 7 else '024 3826 1234'},Người {n},Huế,")
            bad.append(line_number)
        else:
            lines.append(f"09{n:08d},Nguyễn Văn {n},Hà Nội,{'gold' if n % 2 else 'silver'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path, bad


def test_upload_map_watch_progress_and_download_the_report(watched_page, live_server, marketer, tmp_path):
    page = watched_page
    page.context.set_extra_http_headers({"Accept-Language": "en"})
    page.add_init_script(RECORD_PERCENT)
    log_in(page, live_server, marketer.username, PASSWORD)

    page.goto(f"{live_server.url}/audiences/")
    page.click("[data-testid=imports-link]")
    page.click("[data-testid=new-import]")

    # A file without phone numbers: a clear error on the field, nothing stored.
    wrong = tmp_path / "cities.csv"
    wrong.write_text("city,population\nHuế,650000\nĐà Nẵng,1200000\n", encoding="utf-8")
    page.set_input_files("#id_file", str(wrong))
    page.click("[data-testid=upload]")
    assert "No column holds Vietnamese mobile numbers" in page.locator(".has-error .errorlist").inner_text()
    assert ContactImport.objects.count() == 0

    good, bad_lines = _contacts_file(tmp_path / "khach-hang.csv")
    page.set_input_files("#id_file", str(good))
    page.click("[data-testid=upload]")
    page.wait_for_selector("[data-testid=preview]")
    item = ContactImport.objects.get()
    assert page.url.endswith(f"/audiences/imports/{item.pk}/map/")
    assert page.locator("[data-testid=encoding]").inner_text() == "utf-8-sig"
    assert page.locator("[data-testid=delimiter]").inner_text() == "comma"
    preview = page.locator("[data-testid=preview]").inner_text()
    assert "0900***000" in preview and "0900000000" not in preview and "Nguyễn Văn 0" in preview
    assert page.locator("[data-testid=preview] tbody tr").count() == 10
    assert "get no consent" in page.locator("[data-testid=consent-warning]").inner_text()
    # The phone and name columns are preselected from their Vietnamese headers.
    assert page.locator("#id_phone").input_value() == "Số điện thoại"
    assert page.locator("#id_name").input_value() == "Họ tên"

    # A consent basis without its wording: a field error, nothing started.
    page.check("input[name=attributes][value='Thành phố']")
    page.check("input[name=attributes][value='Hạng']")
    page.select_option("#id_consent_purpose", "marketing")
    page.fill("#id_consent_collector", "Cửa hàng Huế")
    page.click("[data-testid=start-import]")
    assert "Required when" in page.locator(".has-error .errorlist").inner_text()
    item.refresh_from_db()
    assert item.status == "uploaded"
    page.fill("#id_consent_wording", "Tôi đồng ý nhận tin khuyến mãi qua Zalo.")
    page.fill("#id_consent_evidence_text", "Phiếu đăng ký giấy, hộp số 12")
    snap(page, "import-mapping")
    page.click("[data-testid=start-import]")
    page.wait_for_url(f"{live_server.url}/audiences/imports/{item.pk}/")
    assert page.locator("progress").get_attribute("value") == "0"

    # A real RQ worker runs the queued job here while the page polls the live server.
    queue = django_rq.get_queue("default", commit_mode="auto")
    assert queue.count == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    page.wait_for_selector("[data-testid=summary]", timeout=30_000)
    assert page.locator("progress").get_attribute("value") == "100"
    assert page.locator("[data-testid=percent]").inner_text() == "100"
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('percentSeen') || '[]')")
    assert seen and seen[-1] == "100", seen  # the script moved the bar (reload shows the rest)
    assert [int(value) for value in seen] == sorted(int(value) for value in seen)
    item.refresh_from_db()
    good_rows = ROWS - len(bad_lines) - ROWS // 1000
    assert (item.status, item.rows_rejected, item.rows_blank) == ("done", len(bad_lines), ROWS // 1000)
    assert item.rows_merged == good_rows == Contact.objects.count()
    assert ConsentEvent.objects.filter(purpose="marketing").count() == good_rows
    assert page.locator("[data-testid=merged]").inner_text() == f"{good_rows:,}"
    assert page.locator("[data-testid=rejected]").inner_text() == f"{len(bad_lines):,}"
    assert page.locator("[data-testid=cancel-import]").count() == 0
    snap(page, "import-done")

    with page.expect_download() as download_info:
        page.click("[data-testid=rejection-report]")
    download = download_info.value
    assert download.suggested_filename == f"import-{item.pk}-rejections.csv"
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason code", "reason", "row"]
    assert [int(row[0]) for row in rows[1:]] == bad_lines
    codes = dict(ImportRejection.objects.filter(contact_import=item).values_list("line", "code"))
    assert all(row[1] == codes[int(row[0])] and row[2] for row in rows[1:])
    assert rows[1][3] == "abc,Người 7,Huế,"
    assert page.problems == []
