"""Media uploads: the bytes must be what the name says, each kind has a size limit, nothing is replaced."""

from __future__ import annotations

import io

import pytest

from tests.fixtures.plugin import csrf_token_from
from webapp.editor import services

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\nHej och välkommen.\n".encode()
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200


@pytest.fixture
def app_config(tmp_path):
    (tmp_path / "media").mkdir()
    return {"MEDIA_ROOT": str(tmp_path / "media")}


def _upload(client, name, data, media_id="breathing"):
    token = csrf_token_from(client.get("/content/media/upload").get_data(as_text=True))
    return client.post("/content/media/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "media_id": media_id, "name": name, "file": (io.BytesIO(data), "whatever.bin")})


@pytest.mark.parametrize("name,data", [("sv.mp3", PNG), ("poster.png", MP3), ("sv.vtt", PNG), ("sv.mp4", VTT),
                                       ("sv.vtt", b"WEBVTT\n\xff\xfe not utf-8"), ("en.jpg", b"<svg></svg>")])
def test_a_file_that_is_not_what_its_name_says_is_refused(app, client, auth, make, tmp_path, name, data):
    auth.login(make.user("editor"))
    response = _upload(client, name, data)
    assert response.status_code == 200
    assert "inte det som namnet säger" in response.get_data(as_text=True)
    assert not (tmp_path / "media" / "breathing" / name).exists()


@pytest.mark.parametrize("name,data", [("sv.mp3", MP3), ("poster.png", PNG), ("sv.vtt", VTT), ("en.mp4", MP4)])
def test_a_file_that_is_what_its_name_says_is_kept_and_never_replaced(app, client, auth, make, tmp_path, name, data):
    auth.login(make.user("editor"))
    assert _upload(client, name, data).status_code == 302
    assert (tmp_path / "media" / "breathing" / name).read_bytes() == data
    again = _upload(client, name, data + b"more")
    assert "finns redan" in again.get_data(as_text=True)
    assert (tmp_path / "media" / "breathing" / name).read_bytes() == data


def test_too_large_files_and_bad_names_are_refused(app, client, auth, make, tmp_path, monkeypatch):
    monkeypatch.setitem(services.MEDIA_LIMITS, "image", 100)
    auth.login(make.user("editor"))
    assert "för stor" in _upload(client, "poster.png", PNG).get_data(as_text=True)
    for media_id, name in (("../etc", "sv.mp3"), ("breathing", "../sv.mp3"), ("breathing", "sv.exe")):
        assert _upload(client, name, MP3, media_id=media_id).status_code == 200
    assert list((tmp_path / "media").iterdir()) == []
