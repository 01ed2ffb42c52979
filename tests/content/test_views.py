"""Editor preview and media files: access, ranges, traversal."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = {
    "CONTENT_ROOT": str(FIXTURES / "good" / "modules"),
    "MEDIA_ROOT": str(FIXTURES / "good" / "media"),
    "FORMS_ROOT": str(FIXTURES / "good" / "forms"),
}
pytestmark = pytest.mark.parametrize("app_config", [GOOD])

VIDEO = "/media/demo-video/sv.mp4"


def test_editor_sees_coverage_and_previews_every_language(client, auth, make):
    auth.login(make.user("editor"))
    index = client.get("/content/").get_data(as_text=True)
    assert "Demoprogram" in index
    assert "Inaktuell" in index  # closing/en is stale
    page = client.get("/content/preview/demo/sv/intro/2")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Vad tänker du på <strong>just nu</strong>?" in html
    assert '<fieldset disabled' in html  # answers cannot be typed in a preview
    html = client.get("/content/preview/demo/sv/intro/3").get_data(as_text=True)
    assert 'src="/media/demo-audio/sv.mp3"' in html
    assert '<track kind="captions" src="/media/demo-video/sv.vtt" srclang="sv"' in html
    assert 'alt="En blå cirkel."' in html
    assert "<h3>Transkription</h3>" in html  # transcript headings sit below the page's
    en = client.get("/content/preview/demo/en/intro/3").get_data(as_text=True)
    assert "How well do you manage your pain?" in en
    assert client.get("/content/preview/demo/sv/intro/9").status_code == 404
    assert client.get("/content/preview/demo/sv/nope/1").status_code == 404


def test_patient_cannot_preview(client, auth, make):
    auth.login(make.user("patient"))
    assert client.get("/content/preview/demo/sv/intro/1").status_code == 403


def test_range_request_gets_206(client, auth, make):
    auth.login(make.user("editor"))
    with client.get(VIDEO) as whole:
        assert whole.status_code == 200 and whole.mimetype == "video/mp4"
        assert whole.headers["Accept-Ranges"] == "bytes"
        etag, body = whole.headers["ETag"], whole.data
    with client.get(VIDEO, headers={"Range": "bytes=0-1"}) as part:
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 0-1/{len(body)}"
        assert part.data == body[:2]
    with client.get(VIDEO, headers={"If-None-Match": etag}) as cached:
        assert cached.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/media/demo-video/..%2F..%2F..%2Fmodules%2Fdemo%2Fprogramme.yaml",
        "/media/demo-video/../demo-audio/sv.mp3",
        "/media/demo-video/media.yaml",
        "/media/..%2Fgood/sv.mp4",
        "/media/no-such/sv.mp4",
        "/media/demo-video/%2Fetc%2Fpasswd",
    ],
)
def test_traversal_and_unlisted_files_are_404(client, auth, make, path):
    auth.login(make.user("editor"))
    assert client.get(path).status_code == 404


def test_patient_needs_an_open_enrolment_in_the_programme(client, auth, make):
    unit = make.unit()
    patient = make.user("patient")
    auth.login(patient)
    assert client.get(VIDEO).status_code == 404
    enrolment = make.enrolment(patient, unit, programme="demo")
    with client.get(VIDEO) as response:
        assert response.status_code == 200
    enrolment.status = "closed"
    make.db.session.commit()
    assert client.get(VIDEO).status_code == 404


def test_anonymous_gets_no_media(client):
    assert client.get(VIDEO).status_code == 302


def test_x_accel_redirect_hands_the_file_to_nginx(app, client, auth, make):
    app.config["MEDIA_X_ACCEL_PREFIX"] = "/protected-media/"
    auth.login(make.user("editor"))
    response = client.get(VIDEO)
    assert response.headers["X-Accel-Redirect"] == "/protected-media/demo-video/sv.mp4"
    assert response.data == b""


def test_content_reloads_when_a_file_changes(app, client, auth, make, tmp_path):
    import shutil

    root = tmp_path / "content"
    shutil.copytree(FIXTURES / "good", root)
    app.config.update(CONTENT_ROOT=str(root / "modules"), MEDIA_ROOT=str(root / "media"),
                      FORMS_ROOT=str(root / "forms"), CONTENT_AUTO_RELOAD=True)
    from webapp.content.services import init_catalogue

    init_catalogue(app)
    app.extensions["lotsa_content_checked"][0] = 0.0
    auth.login(make.user("editor"))
    assert "Introduktion" in client.get("/content/preview/demo/sv/intro/1").get_data(as_text=True)
    source = root / "modules" / "demo" / "intro" / "sv.md"
    source.write_text(source.read_text(encoding="utf-8").replace("title: Introduktion", "title: Ny rubrik"),
                      encoding="utf-8")
    import os

    os.utime(source, (source.stat().st_atime, source.stat().st_mtime + 5))
    app.extensions["lotsa_content_checked"][0] = 0.0
    assert "Ny rubrik" in client.get("/content/preview/demo/sv/intro/1").get_data(as_text=True)
