"""One damaged content file is a problem on that file, never a crash of the site.

Every test builds a small content tree in tmp_path (a copy of the good fixture
plus a second, independent programme and questionnaire), damages one file, and
checks that the damage is reported on that file while everything else loads.
The shipped content and the fixtures are never edited.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import yaml

from webapp.content import services
from webapp.content.parser import split_front_matter
from webapp.content.services import load_catalogue

GOOD = Path(__file__).parent / "fixtures" / "good"

OTHER_PROGRAMME = {
    "id": "other", "default_language": "sv", "languages": ["sv"], "recommended_days": 30,
    "pace": "all-open", "title": {"sv": "Annat program"}, "modules": ["hello"],
}
HELLO = "---\ntitle: Hej\nkind: normal\nversion: 1\n---\n\n## Första sidan\n\nEn vanlig sida utan media.\n"

# One value of each kind YAML can give; a key gets every kind it must not have.
WRONG_VALUES = {int: 7, float: 2.5, str: "seven", bool: True, list: [1, 2], dict: {"a": 1}}


def _fits(value, kinds) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return type(value) in kinds or (float in kinds and type(value) is int)


def case(path: tuple, value):
    """One (key path, value) test case, named like 'scoring.range=list'."""
    return pytest.param(path, value, id=f"{'.'.join(map(str, path))}={type(value).__name__}:{value!r}"[:60])


def wrong_kinds(expected: dict) -> list:
    """(key path, wrong value) for every key and every kind of value it must not have."""
    return [case(path, value) for path, kinds in expected.items() for value in WRONG_VALUES.values()
            if not _fits(value, kinds)]


def make_tree(base: Path) -> Path:
    """The good fixture, a second programme ('other', no media or forms) and a second questionnaire."""
    root = base / "tree"
    shutil.copytree(GOOD, root)
    other = root / "modules" / "other"
    (other / "hello").mkdir(parents=True)
    (other / "programme.yaml").write_text(yaml.safe_dump(OTHER_PROGRAMME, allow_unicode=True), encoding="utf-8")
    (other / "hello" / "sv.md").write_text(HELLO, encoding="utf-8")
    form = (root / "forms" / "phq-demo.yaml").read_text(encoding="utf-8").replace("id: phq-demo", "id: extra")
    (root / "forms" / "extra.yaml").write_text(form, encoding="utf-8")
    return root


def load(root: Path):
    return load_catalogue(root / "modules", root / "media", root / "forms")


def roots(root: Path) -> dict:
    return {"CONTENT_ROOT": str(root / "modules"), "MEDIA_ROOT": str(root / "media"), "FORMS_ROOT": str(root / "forms")}


def set_in(data, path: tuple, value):
    """data with the value at path (keys and list indexes) replaced."""
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def rewrite_yaml(file: Path, path: tuple, value) -> None:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump(set_in(data, path, value), allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_on(catalogue, rel: str) -> list:
    """The errors on the file whose path ends with ``rel`` (paths are absolute outside the project)."""
    return [p for p in catalogue.errors if p.path.endswith(rel)]


def assert_reported_and_rest_loads(catalogue, rel: str) -> None:
    """The file is named in an error with a fix; the other programme and questionnaire are untouched."""
    found = problems_on(catalogue, rel)
    assert found, [str(p) for p in catalogue.errors]
    assert all(" — " in str(p) and p.line >= 1 for p in found), [str(p) for p in found]
    other = catalogue.programmes["other"]
    assert [m.id for m in other.published_modules] == ["hello"]
    if not rel.endswith("forms/extra.yaml"):
        assert "extra" in catalogue.forms


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path)


def test_the_undamaged_tree_loads_without_errors(tree):
    catalogue = load(tree)
    assert catalogue.errors == []
    assert [m.id for m in catalogue.programmes["demo"].published_modules] == ["intro", "closing"]
    assert {"phq-demo", "extra"} <= set(catalogue.forms) and "demo-video" in catalogue.media


# --- files that are not UTF-8, not YAML, or not files ----------------------------------


@pytest.mark.parametrize("rel", [
    "modules/demo/intro/sv.md", "modules/demo/intro/en.md", "modules/demo/programme.yaml",
    "media/demo-video/media.yaml", "media/demo-audio/sv.transcript.md", "forms/extra.yaml",
])
def test_a_file_that_is_not_utf8_is_reported_on_its_line(tree, rel):
    file = tree / rel
    lines = file.read_bytes().split(b"\n")
    lines[2] = b"\xff\xfe" + lines[2]  # Latin-1 or UTF-16 damage on the third line
    file.write_bytes(b"\n".join(lines))
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, rel)
    assert any("not UTF-8" in p.message and p.line == 3 for p in problems_on(catalogue, rel))


def test_a_module_that_is_not_utf8_is_hidden_but_kept_for_editors(tree):
    (tree / "modules/demo/intro/sv.md").write_bytes(b"---\ntitle: Intro\n---\n\xe5\xe4\xf6\n")
    programme = load(tree).programmes["demo"]
    assert [m.id for m in programme.published_modules] == ["closing"]
    intro = programme.module("intro")
    assert intro.coverage("sv") == "error" and len(intro.versions["sv"].pages) == 1  # the preview shows the problem


def test_a_translation_that_is_not_utf8_falls_back_to_the_default_language(tree):
    (tree / "modules/demo/intro/en.md").write_bytes(b"\xff")
    catalogue = load(tree)
    intro = catalogue.programmes["demo"].module("intro")
    assert intro.is_publishable
    version, is_fallback = intro.version("en")
    assert (version.lang, is_fallback) == ("sv", True)
    # The unreadable file has one problem, not a second one about missing questions.
    assert len(problems_on(catalogue, "intro/en.md")) == 1


@pytest.mark.parametrize("rel, text", [
    ("modules/demo/programme.yaml", "id: demo\ntitle: [unclosed\n"),
    ("modules/demo/programme.yaml", "id: demo\x01\n"),
    ("modules/demo/programme.yaml", "- just\n- a list\n"),
    ("modules/demo/programme.yaml", "id: !!python/object:os.system demo\n"),
    ("modules/demo/intro/sv.md", "---\ntitle: [unclosed\n---\n\nText.\n"),
    ("modules/demo/intro/sv.md", "---\n- a\n- list\n---\n\nText.\n"),
    ("media/demo-video/media.yaml", "id: demo-video\nfiles: {sv: {src: sv.mp4\n"),
    ("forms/extra.yaml", "id: extra\nitems: [\n"),
    ("forms/extra.yaml", "[1, 2, 3]\n"),
])
def test_a_file_that_is_not_valid_yaml_is_reported(tree, rel, text):
    (tree / rel).write_text(text, encoding="utf-8")
    assert_reported_and_rest_loads(load(tree), rel)


def test_a_folder_where_a_file_belongs_is_reported(tree):
    (tree / "modules/demo/intro/en.md").unlink()
    (tree / "modules/demo/intro/en.md").mkdir()
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "intro/en.md")
    assert "could not be read" in problems_on(catalogue, "intro/en.md")[0].message


# --- values of the wrong kind -----------------------------------------------------------

PROGRAMME_KEYS = {
    ("id",): str, ("default_language",): str, ("languages",): list, ("recommended_days",): int,
    ("pace",): str, ("title",): dict, ("description",): dict, ("modules",): list, ("measures",): list,
    ("welcome",): dict, ("languages", 0): str, ("modules", 0): (str, int), ("title", "sv"): (str, float),
}
PROGRAMME_NESTED = [
    (("measures",), ["start"]), (("measures",), [{"form": ["phq-demo"], "at": "start"}]),
    (("measures",), [{"form": "phq-demo", "at": [1]}]), (("welcome",), {"sv": {"a": 1}}),
    (("modules",), ["../other/hello"]),
]


@pytest.mark.parametrize("path, value", wrong_kinds(PROGRAMME_KEYS) + [case(*c) for c in PROGRAMME_NESTED])
def test_a_wrong_kind_of_value_in_programme_yaml_leaves_out_that_programme(tree, path, value):
    rewrite_yaml(tree / "modules/demo/programme.yaml", path, value)
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "modules/demo/programme.yaml")
    if path != ("modules",):  # a bad module id only drops that entry
        assert "demo" not in catalogue.programmes


def test_the_problem_points_at_the_line_of_the_setting(tree):
    rewrite_yaml(tree / "modules/demo/programme.yaml", ("languages",), 5)
    problem = problems_on(load(tree), "modules/demo/programme.yaml")[0]
    assert str(problem).endswith(":3: languages must be a list, not a whole number — write e.g. 'languages: [sv, en]'")


FRONT_MATTER_KEYS = {"title": (str, float), "description": (str, float), "minutes": int, "kind": str,
                     "version": int, "translates": int}


def _rewrite_front_matter(file: Path, key: str, value) -> int:
    """Set one front matter setting; return the file line it is written on."""
    front, body, _offset = split_front_matter(file.read_text(encoding="utf-8"))
    meta = yaml.safe_load(front)
    meta[key] = value
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    file.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return 2 + next(n for n, line in enumerate(front.split("\n")) if line.startswith(f"{key}:"))


@pytest.mark.parametrize("path, value", wrong_kinds({(key,): kinds for key, kinds in FRONT_MATTER_KEYS.items()}))
def test_a_wrong_kind_of_value_in_front_matter_hides_the_module(tree, path, value):
    key = path[0]
    line = _rewrite_front_matter(tree / "modules/demo/intro/sv.md", key, value)
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "intro/sv.md")
    assert any(p.line == line and p.message.startswith(key) for p in problems_on(catalogue, "intro/sv.md"))
    programme = catalogue.programmes["demo"]
    assert [m.id for m in programme.published_modules] == ["closing"]
    assert programme.module("intro").coverage("sv") == "error"  # still in the editor's table


def test_a_wrong_kind_in_a_translation_falls_back_to_the_default_language(tree):
    _rewrite_front_matter(tree / "modules/demo/intro/en.md", "translates", [1])
    intro = load(tree).programmes["demo"].module("intro")
    assert intro.is_publishable and intro.version("en")[1] is True


FORM_KEYS = {
    ("licence",): str, ("title",): dict, ("recall",): dict, ("items",): list, ("option_sets",): dict,
    ("scoring",): dict, ("safety",): list, ("show_results",): bool,
    ("scoring", "method"): str, ("scoring", "items"): list, ("scoring", "missing"): dict,
    ("scoring", "range"): list, ("scoring", "bands"): list, ("scoring", "subscales"): dict,
    ("scoring", "better"): str, ("scoring", "meaningful_change"): float,
    ("items", 0, "type"): str, ("items", 0, "text"): dict, ("items", 0, "required"): bool,
    ("items", 0, "reverse"): bool, ("items", 0, "min"): int, ("items", 0, "max"): int,
    ("items", 0, "options"): (str, list), ("items", 0, "min_label"): dict, ("title", "sv"): (str, float),
}
FORM_NESTED = [
    (("scoring", "range"), [0]), (("scoring", "range"), ["a", "b"]), (("scoring", "items"), [["q1"]]),
    (("scoring", "missing"), {"max_missing": "1"}), (("scoring", "subscales"), {"a": [1]}),
    (("scoring", "bands"), [{"min": "0", "max": 10}]), (("safety",), [{"item": ["q1"], "min": 1}]),
    (("safety",), [{"item": "q1", "min": True}]), (("option_sets",), {"a": 5}),
]


@pytest.mark.parametrize("path, value", wrong_kinds(FORM_KEYS) + [case(*c) for c in FORM_NESTED])
def test_a_wrong_kind_of_value_in_a_questionnaire_leaves_out_that_questionnaire(tree, path, value):
    rewrite_yaml(tree / "forms/extra.yaml", path, value)
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "forms/extra.yaml")
    assert "extra" not in catalogue.forms and "phq-demo" in catalogue.forms
    assert [m.id for m in catalogue.programmes["demo"].published_modules] == ["intro", "closing"]


MEDIA_KEYS = {
    ("id",): str, ("kind",): str, ("files",): dict, ("poster",): str, ("files", "sv"): dict,
    ("files", "sv", "src"): str, ("files", "sv", "captions"): str, ("files", "sv", "transcript"): str,
}


@pytest.mark.parametrize("path, value", wrong_kinds(MEDIA_KEYS))
def test_a_wrong_kind_of_value_in_media_yaml_leaves_out_that_media(tree, path, value):
    rewrite_yaml(tree / "media/demo-video/media.yaml", path, value)
    catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "media/demo-video/media.yaml")
    assert "demo-video" not in catalogue.media and "demo-audio" in catalogue.media
    # The module that shows the film is hidden (it would show a gap); the rest is published.
    assert [m.id for m in catalogue.programmes["demo"].published_modules] == ["closing"]


# --- the last-resort net ----------------------------------------------------------------


def test_an_unexpected_error_in_one_file_is_a_problem_and_logged_without_content(tree, monkeypatch, caplog):
    real = services.parse_module_file

    def fails_on_intro(text, path):
        if path.endswith("intro/sv.md"):
            raise RuntimeError("secret words from the file")
        return real(text, path)

    monkeypatch.setattr(services, "parse_module_file", fails_on_intro)
    with caplog.at_level(logging.ERROR, logger="webapp.content"):
        catalogue = load(tree)
    assert_reported_and_rest_loads(catalogue, "intro/sv.md")
    assert "could not be loaded" in problems_on(catalogue, "intro/sv.md")[0].message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "intro/sv.md" in logged and "RuntimeError" in logged
    assert "secret" not in logged


# --- the running site and the command line ----------------------------------------------

APP_DAMAGE = {
    "module-not-utf8": ("modules/demo/intro/sv.md", lambda root: (root / "modules/demo/intro/sv.md").write_bytes(b"\xff\xfe")),
    "programme-not-yaml": ("modules/demo/programme.yaml",
                           lambda root: (root / "modules/demo/programme.yaml").write_text("title: [\n", encoding="utf-8")),
    "programme-wrong-kind": ("modules/demo/programme.yaml",
                             lambda root: rewrite_yaml(root / "modules/demo/programme.yaml", ("modules",), 5)),
    "front-matter-wrong-kind": ("modules/demo/intro/sv.md",
                                lambda root: _rewrite_front_matter(root / "modules/demo/intro/sv.md", "kind", ["normal"])),
    "questionnaire-wrong-kind": ("forms/extra.yaml", lambda root: rewrite_yaml(root / "forms/extra.yaml", ("scoring",), 5)),
    "media-wrong-kind": ("media/demo-video/media.yaml",
                         lambda root: rewrite_yaml(root / "media/demo-video/media.yaml", ("files",), ["sv.mp4"])),
}


@pytest.fixture(params=sorted(APP_DAMAGE))
def damaged(request, tmp_path):
    """(the damaged file, relative to the tree, and the tree) for each kind of damage."""
    rel, damage = APP_DAMAGE[request.param]
    root = make_tree(tmp_path)
    damage(root)
    return rel, root


@pytest.fixture
def app_config(damaged):
    return roots(damaged[1])


def test_the_site_and_content_check_survive_a_damaged_file(app, client, auth, make, runner, damaged):
    rel, _root = damaged
    assert client.get("/auth/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    unit = make.unit()
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, programme="other")
    auth.login(patient)
    assert client.get(f"/e/{enrolment.id}/hello/1").status_code == 200
    auth.logout()
    auth.login(make.user("editor"))
    content_page = client.get("/content/")
    assert content_page.status_code == 200 and rel in content_page.get_data(as_text=True)
    if rel.endswith(".md"):  # the hidden module keeps a preview that shows its problem
        preview = client.get("/content/preview/demo/sv/intro/1")
        assert preview.status_code == 200 and rel in preview.get_data(as_text=True)

    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert any(rel in line and " — " in line for line in result.output.splitlines()), result.output


def _dispose(app) -> None:
    """Close an extra app's database connections (on PostgreSQL, left to the garbage collector they warn)."""
    from webapp.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _after_change(app, file: Path) -> None:
    """Make a change visible to the next request's check (a newer mtime, and past the once-a-second limit)."""
    later = os.stat(file).st_mtime + 10
    os.utime(file, (later, later))
    app.extensions["lotsa_content_checked"][0] = 0.0


def test_a_reload_that_finds_damage_keeps_serving_what_loads(tmp_path, monkeypatch, database_url, request):
    from tests.fixtures.plugin import base_config
    from webapp import create_app

    monkeypatch.setenv("LOTSA_INSTANCE_PATH", str(tmp_path / "instance"))
    root = make_tree(tmp_path / "live")
    app = create_app(base_config(database_url, CONTENT_AUTO_RELOAD=True, **roots(root)))
    request.addfinalizer(lambda: _dispose(app))
    client = app.test_client()
    assert client.get("/auth/login").status_code == 200
    assert app.extensions["lotsa_catalogue"].errors == []

    (root / "modules/demo/intro/sv.md").write_bytes(b"\xff")
    _after_change(app, root / "modules/demo/intro/sv.md")
    assert client.get("/auth/login").status_code == 200
    catalogue = app.extensions["lotsa_catalogue"]
    assert_reported_and_rest_loads(catalogue, "intro/sv.md")

    # Should a reload fail outside any one file, the content already loaded keeps serving.
    monkeypatch.setattr(services, "load_catalogue", lambda *roots: 1 / 0)
    (root / "modules/other/hello/sv.md").write_text(HELLO + "\nMer.\n", encoding="utf-8")
    _after_change(app, root / "modules/other/hello/sv.md")
    assert client.get("/auth/login").status_code == 200
    assert app.extensions["lotsa_catalogue"] is catalogue


def test_a_load_that_fails_outside_any_file_still_starts_the_site(tmp_path, monkeypatch, database_url, request):
    from tests.fixtures.plugin import base_config
    from webapp import create_app

    monkeypatch.setenv("LOTSA_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr(services, "load_catalogue", lambda *roots: 1 / 0)
    app = create_app(base_config(database_url, **roots(make_tree(tmp_path))))
    request.addfinalizer(lambda: _dispose(app))
    client = app.test_client()
    assert client.get("/auth/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert app.extensions["lotsa_catalogue"].programmes == {}
    assert app.extensions["lotsa_catalogue"].errors
