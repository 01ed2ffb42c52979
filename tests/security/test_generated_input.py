"""Hostile numbers, ids and redirect targets for every route and every form,
generated from the URL map and from the forms the pages really show.

Nothing here lists today's routes: a new route or a new form field is covered
the day it is added. The classes come from an outside probe: ids beyond the
database's range, digits that ``str.isdigit()`` accepts but ``int()`` refuses
(or the reverse), 40-digit numbers, line breaks, and ``next`` values that a
browser turns into another site once it drops a tab or a newline.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

import pytest

from tests.fixtures.plugin import PASSWORD, Auth, csrf_token_from
from tests.security.test_access_matrix import _url, world  # noqa: F401 (the fixture)

BAD_IDS = ["2147483648", "9223372036854775808", "99999999999999999999", "²", "٣", "１２", "-1", "1e3"]
BAD_NUMBERS = ["²", "٣٤", "１２", "9" * 40, "-9" + "9" * 40, "1\r\nX-Injected: 1", " ", "1.5"]
# After a browser drops tabs and newlines and reads "\" as "/", each of these leaves the site.
BAD_NEXT = ["//evil.example/", "/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example", "/\\evil.example",
            "\\\\evil.example", "https://evil.example/", "javascript:alert(1)", " //evil.example", "/%09/evil.example",
            "/\x00/evil.example", "\t//evil.example", "/\u2028/evil.example", "http:evil.example"]
# Forms whose submission would end the session or the data the rest of the test needs.
DESTRUCTIVE = ("/auth/logout", "/privacy/", "/remove", "/close", "/logout", "/delete")
ROLES = ["patient_a", "clinician", "admin", "editor"]


def _int_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        ints = [name for name, conv in rule._converters.items() if type(conv).__name__ == "IdConverter"]
        if ints:
            yield rule, ints


def test_every_int_route_uses_the_bounded_converter(app):
    """``<int:...>`` is core.numbers.IdConverter everywhere (no route keeps Werkzeug's own)."""
    plain = [rule.rule for rule in app.url_map.iter_rules()
             for conv in rule._converters.values() if type(conv).__name__ == "IntegerConverter"]
    assert plain == []
    assert len(list(_int_rules(app))) > 20


@pytest.mark.parametrize("role", ["clinician", "patient_a", "admin"])
def test_ids_out_of_range_or_in_other_digits_are_not_found(app, db, world, role):  # noqa: F811
    client = app.test_client()
    Auth(client, db).login(world["users"][role])
    token = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
    wrong = []
    for rule, ints in _int_rules(app):
        for name in ints:
            for bad in BAD_IDS:
                values = dict(world["values"], **{name: quote(bad)})
                url = _url(rule, values)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    response = (client.get(url) if method == "GET"
                                else client.post(url, data={"csrf_token": token}))
                    if response.status_code != 404:
                        wrong.append(f"{method} {url}: {response.status_code}")
                    response.close()
    assert wrong == []


class _Forms(HTMLParser):
    """The forms of a page: method, action and the names and values of their fields."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {"method": (attrs.get("method") or "get").lower(), "action": attrs.get("action") or "",
                             "fields": {}}
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "textarea", "select") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs and attrs["name"] in self._current["fields"]:
                return
            self._current["fields"][attrs["name"]] = attrs.get("value", "")
            if tag == "select":
                self._select = attrs["name"]
        elif tag == "option" and self._select and self._current is not None:
            if not self._current["fields"].get(self._select):
                self._current["fields"][self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def _pages(app, values):
    """Every GET page reachable with the world's ids (no static files or downloads)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in rule.methods and rule.endpoint not in ("static", "content.media_file") \
                and not rule.rule.endswith((".csv", ".json", ".svg")) and "logout" not in rule.rule:
            yield _url(rule, values)


def _forms_of(client, values, app):
    seen, found = set(), []
    for page in _pages(app, values):
        response = client.get(page)
        if response.status_code != 200 or "text/html" not in response.content_type:
            response.close()
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            action = form["action"] or page
            key = (form["method"], action.split("?")[0], tuple(sorted(form["fields"])))
            if key not in seen and not any(word in action for word in DESTRUCTIVE):
                seen.add(key)
                found.append((page, form["method"], action, form["fields"]))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_form_field_refuses_hostile_numbers_without_a_server_error(app, db, world, role):  # noqa: F811
    """Each field of each form a role is shown, given each hostile number in turn: never a 5xx."""
    client = app.test_client()
    Auth(client, db).login(world["users"][role])
    forms = _forms_of(client, world["values"], app)
    assert forms, f"{role} sees no forms"
    errors = []
    for page, method, action, fields in forms:
        for name in fields:
            if name == "csrf_token":
                continue
            for bad in BAD_NUMBERS:
                data = dict(fields, **{name: bad})
                where = f"{method.upper()} {action} {name}={bad!r} (form on {page})"
                try:
                    if method == "post":
                        data["csrf_token"] = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
                        response = client.post(action, data=data)
                    else:
                        response = client.get(f"{action.split('?')[0]}?{urlencode(data)}")
                except Exception as exc:  # the test app propagates a view's exception: a 500 in production
                    db.session.rollback()
                    errors.append(f"{where}: {type(exc).__name__}: {exc}")
                    continue
                if response.status_code >= 500:
                    errors.append(f"{where}: {response.status_code}")
                response.close()
    assert errors == [], "\n".join(errors[:40])


def _leaves_the_site(location: str) -> bool:
    """Whether a browser following this Location header would land on another host."""
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").replace("\\", "/").strip()
    parts = urlsplit(cleaned)
    return bool(parts.netloc) and parts.netloc != "localhost" or parts.scheme not in ("", "http", "https")


def test_no_route_redirects_to_another_site_whatever_next_says(app, db, world):  # noqa: F811
    """``next`` in the query and in the form, on every route, as a logged-in clinician and anonymously."""
    logged_in = app.test_client()
    Auth(logged_in, db).login(world["users"]["clinician"])
    escaped = []
    for client in (app.test_client(), logged_in):
        token = csrf_token_from(client.get("/accessibility").get_data(as_text=True))
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint == "static" or "logout" in rule.rule:
                continue
            url = _url(rule, world["values"])
            for bad in BAD_NEXT:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    if method == "GET":
                        response = client.get(url, query_string={"next": bad})
                    else:
                        response = client.post(url, query_string={"next": bad},
                                               data={"csrf_token": token, "next": bad, "locale": "en"})
                    location = response.headers.get("Location", "")
                    if location and _leaves_the_site(location):
                        escaped.append(f"{method} {url} next={bad!r} -> {location!r}")
                    response.close()
    assert escaped == []


@pytest.mark.parametrize("bad", BAD_NEXT)
def test_login_and_two_factor_keep_next_on_the_site(app, db, world, bad):  # noqa: F811
    """The redirect after a patient's login, and after a clinician's two-factor step."""
    for role in ("patient_a", "clinician"):
        client = app.test_client()
        auth = Auth(client, db)
        user = world["users"][role]
        token = csrf_token_from(client.get("/auth/login", query_string={"next": bad}).get_data(as_text=True))
        response = client.post("/auth/login", data={"csrf_token": token, "email": user.email,
                                                    "password": PASSWORD, "next": bad})
        if user.is_staff and "/auth/two-factor" in response.headers.get("Location", ""):
            response = auth.post("/auth/two-factor", {"code": auth.next_code(user)}, "/auth/two-factor")
        assert response.status_code == 302
        assert not _leaves_the_site(response.headers["Location"]), response.headers["Location"]


def test_names_with_direction_overrides_cannot_reorder_the_caseload(app, db, make):
    """An RLO typed into a name is dropped on the way in; names are isolated on the way out."""
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    staff = app.test_client()
    Auth(staff, db).login(clinician)
    token = csrf_token_from(staff.get("/clinician/open").get_data(as_text=True))
    staff.post("/clinician/open", data={"csrf_token": token, "step": "2", "programme": "pain-school",
                                        "personal_number": "198112189876", "full_name": "Kim \u202eosnolla\u202c",
                                        "email": "kim@invanare.example", "locale": "sv",
                                        "responsible": str(clinician.id), "recommended_days": "365"})
    page = staff.get("/clinician/").get_data(as_text=True)
    assert "\u202e" not in page and "<bdi>Kim osnolla</bdi>" in page


def test_an_identity_number_in_other_digits_finds_the_same_person(app, db, make):
    """Arabic-Indic, Persian and full-width digits are the same number: no second person."""
    from webapp.auth.models import User

    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    make.user("patient", personal_number="191212121212", name="Tolvan Tolvansson")
    staff = app.test_client()
    Auth(staff, db).login(clinician)
    for typed in ("١٩١٢١٢١٢-١٢١٢", "۱۹۱۲۱۲۱۲–۱۲۱۲", "１９１２１２１２－１２１２"):
        token = csrf_token_from(staff.get("/clinician/open").get_data(as_text=True))
        page = staff.post("/clinician/open", data={"csrf_token": token, "step": "1", "programme": "pain-school",
                                                   "personal_number": typed}).get_data(as_text=True)
        assert "Tolvan Tolvansson" in page, typed  # the existing patient, found
    assert db.session.query(User).filter(User.personal_number == "191212121212").count() == 1
