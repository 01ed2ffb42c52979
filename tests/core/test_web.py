"""Web basics: headers, health check, error pages, configuration validation."""

from __future__ import annotations

import pytest

from webapp.config import ConfigError, load_config, validate_config


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_behind_https(client):
    response = client.get("/auth/login", base_url="https://lotsa.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_inline_script_in_pages(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html


def test_livez_answers_without_touching_the_database(client, count_queries):
    with count_queries() as counter:
        response = client.get("/livez")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
    assert counter.count == 0, counter.statements


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("lang, text", [("sv", "Sidan finns inte"), ("en", "The page could not be found")])
def test_404_page_in_the_users_language(client, lang, text):
    response = client.get("/no/such/page", headers={"Accept-Language": lang})
    assert response.status_code == 404
    assert text in response.get_data(as_text=True)


def test_500_page_is_friendly(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Något gick fel hos oss" in response.get_data(as_text=True)


def test_production_requires_a_secret_key(tmp_path):
    config = load_config({"LOTSA_ENV": "production", "BASE_URL": "https://lotsa.example"}, environ={})
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        validate_config(config, str(tmp_path))


def test_production_requires_https_base_url(tmp_path):
    config = load_config({"LOTSA_ENV": "production", "SECRET_KEY": "k" * 40}, environ={})
    with pytest.raises(ConfigError, match="https"):
        validate_config(config, str(tmp_path))


def test_environment_overrides_and_bad_values(tmp_path):
    config = load_config(environ={"SESSION_IDLE_MINUTES": "30", "DATABASE_URL": "postgres://u@h/db"})
    validate_config(config, str(tmp_path))
    assert config["SESSION_IDLE_MINUTES"] == 30
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError, match="SESSION_IDLE_MINUTES"):
        load_config(environ={"SESSION_IDLE_MINUTES": "fifteen"})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        validate_config(load_config({"DATABASE_URL": "mysql://x/y"}, environ={}), str(tmp_path))


def test_development_key_is_generated_once(tmp_path):
    first = load_config(environ={})
    validate_config(first, str(tmp_path))
    second = load_config(environ={})
    validate_config(second, str(tmp_path))
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) == 64


def test_static_urls_carry_a_content_hash_and_are_cached_for_a_year(client, app):
    import hashlib
    import re
    from pathlib import Path

    html = client.get("/auth/login").get_data(as_text=True)
    url = re.search(r'href="(/static/lotsa\.css\?v=([0-9a-f]+))"', html)
    assert url, "the stylesheet link has no fingerprint"
    expected = hashlib.sha256(Path(app.static_folder, "lotsa.css").read_bytes()).hexdigest()[:12]
    assert url.group(2) == expected
    with client.get(url.group(1)) as response:
        assert response.status_code == 200
        assert response.cache_control.max_age == 365 * 24 * 3600 and response.cache_control.immutable
    # Without the current hash (an old page, a hand-typed URL) the cache is short.
    with client.get("/static/lotsa.css?v=000000000000") as stale:
        assert stale.cache_control.max_age == 300 and not stale.cache_control.immutable
    assert client.get("/static/no-such-file.css").status_code == 404


def test_every_stylesheet_closes_what_it_opens():
    """An unclosed block (a merge that lost a brace) silently swallows every rule after it."""
    import re
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "webapp" / "static").glob("*.css")):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        depth = 0
        for number, line in enumerate(text.splitlines(), 1):
            depth += line.count("{") - line.count("}")
            assert depth >= 0, f"{path.name}:{number}: a '}}' closes nothing"
        assert depth == 0, f"{path.name}: {depth} block(s) never closed"
