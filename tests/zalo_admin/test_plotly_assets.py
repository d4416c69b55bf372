from pathlib import Path

from django.conf import settings

from zalo_admin.plotly_css import maplibre_style_id, plotly_css, plotly_source


def test_the_static_plotly_css_matches_the_installed_plotly():
    committed = (Path(settings.BASE_DIR) / "static/css/plotly.css").read_text()
    assert committed == plotly_css(plotly_source()), (
        "run: python -m zalo_admin.plotly_css > static/css/plotly.css"
    )


def test_the_base_layout_carries_the_maplibre_marker_the_installed_plotly_looks_for():
    base = (Path(settings.BASE_DIR) / "templates/base.html").read_text()
    assert f'id="{maplibre_style_id(plotly_source())}"' in base


def test_plotly_js_is_served_from_the_installed_package(client):
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    head = b"".join(response.streaming_content)[:200]
    assert b"plotly.js v" in head
