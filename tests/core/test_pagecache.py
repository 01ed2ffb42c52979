"""The login page is rendered once per language and served from memory, each visitor with a token of their own."""

from __future__ import annotations

from contextlib import contextmanager

from flask import template_rendered

from tests.fixtures.plugin import PASSWORD, csrf_token_from


@contextmanager
def renders(app):
    """The names of the templates rendered inside the block."""
    names: list[str] = []

    def seen(_sender, template, context, **_extra):
        names.append(template.name)

    template_rendered.connect(seen, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(seen, app)


def test_a_second_visitor_gets_the_kept_page_with_a_token_of_their_own(app, make, db):
    patient = make.user("patient", password=PASSWORD)
    first, second = app.test_client(), app.test_client()
    page_one = first.get("/auth/login").get_data(as_text=True)
    with renders(app) as rendered:
        response = second.get("/auth/login")
    page_two = response.get_data(as_text=True)
    assert rendered == []
    assert response.status_code == 200 and response.mimetype == "text/html"
    token_one, token_two = csrf_token_from(page_one), csrf_token_from(page_two)
    assert token_one != token_two
    assert page_two.replace(token_two, "") == page_one.replace(token_one, "")
    # The kept page's token is the second visitor's: their login goes on to the second step.
    answer = second.post("/auth/login", data={"email": patient.email, "password": PASSWORD,
                                              "csrf_token": token_two})
    assert answer.status_code == 302 and "/auth/two-factor" in answer.location
    # And it is not the first visitor's.
    refused = first.post("/auth/login", data={"email": patient.email, "password": PASSWORD,
                                              "csrf_token": token_two})
    assert refused.status_code == 400


def test_each_language_has_its_own_page(app):
    pages = {}
    for locale in ("sv", "ar", "sv", "ar"):
        client = app.test_client()
        client.post("/language", data={"locale": locale, "csrf_token": csrf_token_from(
            client.get("/auth/login").get_data(as_text=True))})
        pages.setdefault(locale, []).append(client.get("/auth/login").get_data(as_text=True))
    assert all('lang="sv" dir="ltr"' in page for page in pages["sv"])
    assert all('lang="ar" dir="rtl"' in page for page in pages["ar"])


def test_what_differs_per_visit_is_rendered_by_the_view(app, client):
    client.get("/auth/login")  # the kept page exists
    with renders(app) as rendered:
        page = client.get("/auth/login?next=/home").get_data(as_text=True)
    assert rendered and 'value="/home"' in page
    with client.session_transaction() as session:
        session["session_end_reason"] = "timeout"
    with renders(app) as rendered:
        page = client.get("/auth/login").get_data(as_text=True)
    assert rendered and 'class="flash' in page
    # The next plain visit is the kept page again, without the message.
    with renders(app) as rendered:
        page = client.get("/auth/login").get_data(as_text=True)
    assert rendered == [] and 'class="flash' not in page


def test_a_logged_in_user_is_not_served_the_visitors_page(app, auth, make):
    app.test_client().get("/auth/login")
    patient = make.user("patient", password=PASSWORD)
    auth.login(patient)
    response = auth.client.get("/auth/login")
    assert response.status_code == 302


# --- the site header, kept per language, role, page and unread count -------------------------


def _header(html: str) -> str:
    return html[html.index('<header class="site-header">'):html.index("</header>")]


def test_the_header_is_kept_per_role_and_page_with_each_users_own_token_and_address(app, make, db):
    from tests.fixtures.plugin import Auth

    unit = make.unit()
    clinicians = [make.user("clinician", units=[unit], password=PASSWORD) for _ in range(2)]
    patient = make.user("patient", password=PASSWORD)
    make.enrolment(patient, unit, clinicians[0])
    clients = [app.test_client() for _ in range(3)]
    for client, user in zip(clients, [*clinicians, patient], strict=True):
        assert Auth(client, db).login(user).status_code == 302
    hostile = '/clinician/?q="><script>alert(1)</script>'
    first = clients[0].get(hostile).get_data(as_text=True)
    with renders(app) as rendered:
        second = clients[1].get(hostile).get_data(as_text=True)
    assert "_site_header.html" not in rendered  # the second clinician got the kept header
    token_one, token_two = csrf_token_from(first), csrf_token_from(second)
    assert token_one != token_two and token_two in _header(second) and token_one not in second
    assert _header(second).replace(token_two, "") == _header(first).replace(token_one, "")
    # The page's own address goes back into the language form, escaped.
    assert 'name="next" value="/clinician/?q=&#34;&gt;&lt;script&gt;' in _header(second)
    assert "<script>alert" not in second
    # The kept token works: the second clinician can log out with it.
    assert clients[1].post("/auth/logout", data={"csrf_token": token_two}).status_code == 302
    # Another page marks another link as the current one; a patient gets a patient's menu.
    inbox = _header(clients[0].get("/clinician/inbox").get_data(as_text=True))
    assert inbox != _header(first).replace(token_one, csrf_token_from(inbox))
    assert 'href="/clinician/inbox" aria-current="page"' in inbox
    patient_header = _header(clients[2].get("/home").get_data(as_text=True))
    assert 'href="/home" aria-current="page"' in patient_header and "/clinician/" not in patient_header
