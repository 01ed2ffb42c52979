"""A minimal Flask + SQLAlchemy + Jinja app: the honest lower bound for "this stack".

Each of its pages does what a Lotsa page of the same name does, and nothing of
Lotsa's own: the same number of SQL statements (indexed reads by primary key
and a write when the Lotsa page writes), the same server-side session cookie
check, and a Jinja template that renders to the same number of bytes. No
access checks, no audit, no translations, no content: what remains is the cost
of Flask's request cycle, SQLAlchemy's ORM and Jinja at this page size, on the
same database in the same process as Lotsa's measurements (bench/inprocess.py).

The load benchmark (bench/load.py) serves it with gunicorn exactly as it
serves Lotsa (``peer:app_from_environment()``, PEER_DATABASE_URL) and drives
each Lotsa endpoint's peer page with wrk in the same run. On SQLite it uses
Lotsa's connection settings (WAL, busy timeout), so writers wait as Lotsa's do.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, render_template, request, session
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy import ForeignKey, String, Text, event, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# One row of the page's repeated markup, about the size of a Lotsa content paragraph.
TEMPLATE = """<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/app.css"></head><body><header><a href="/">Peer</a>
<nav>{% for link in links %}<a href="{{ link.href }}">{{ link.label }}</a>{% endfor %}</nav></header>
<main><h1>{{ title }}</h1>{% for row in rows %}<section id="s{{ row.id }}"><h2>{{ row.title }}</h2>
<p>{{ row.body }}</p><form method="post"><input type="hidden" name="csrf" value="{{ token }}">
<textarea name="t{{ row.id }}">{{ row.answer }}</textarea><button>Spara</button></form></section>{% endfor %}
{{ padding }}</main><footer>{{ user.name if user else "" }}</footer></body></html>"""


class Base(DeclarativeBase):
    pass


class PeerUser(Base):
    __tablename__ = "peer_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    seen_at: Mapped[datetime | None]


class PeerItem(Base):
    __tablename__ = "peer_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("peer_user.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")


def create_peer(database_url: str, *, fill: bool = True) -> Flask:
    """The peer app on ``database_url``; with ``fill``, its two tables created and filled first."""
    app = Flask("peer")
    app.config.update(SECRET_KEY="peer-" + "k" * 40, SQLALCHEMY_DATABASE_URI=database_url)
    app.jinja_loader = DictLoader({"page.html": TEMPLATE})
    unpadded: dict[tuple[int, int], int] = {}
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)

    with app.app_context():
        if database_url.startswith("sqlite"):
            @event.listens_for(db.engine, "connect")
            def _as_lotsa_does(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA busy_timeout = 5000")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.close()
        if not fill:
            return _routes(app, db, unpadded)
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        db.session.add_all(PeerUser(id=n, name=f"Person {n}") for n in range(1, 101))
        db.session.commit()
        db.session.add_all(PeerItem(owner_id=1 + n % 100, title=f"Rubrik {n}", body="Text om smärta. " * 20)
                           for n in range(1000))
        db.session.commit()
        db.session.remove()
    return _routes(app, db, unpadded)


def app_from_environment() -> Flask:
    """gunicorn's entry point: the peer on PEER_DATABASE_URL, filled beforehand by the benchmark."""
    return create_peer(os.environ["PEER_DATABASE_URL"], fill=False)


def _routes(app: Flask, db: SQLAlchemy, unpadded: dict[tuple[int, int], int]) -> Flask:

    def read(statements: int) -> tuple[PeerUser | None, list[PeerItem]]:
        """Exactly ``statements`` indexed reads, as a page of that many queries does (none: no user)."""
        if statements <= 0:
            return None, []
        user = db.session.get(PeerUser, session.get("uid", 1))
        rows: list[PeerItem] = []
        for _ in range(statements - 2):
            rows.append(db.session.scalars(select(PeerItem).where(PeerItem.owner_id == user.id).limit(1)).first())
        if statements >= 2:
            db.session.scalar(select(func.count(PeerItem.id)).where(PeerItem.owner_id == user.id))
        return user, [row for row in rows if row is not None]

    @app.get("/login")
    def login():
        session["uid"] = 1
        return "ok"

    @app.get("/page")
    def page():
        """A page of ``q`` statements (one of them a write when ``w=1``) rendered to ``b`` bytes."""
        statements = request.args.get("q", 8, type=int)
        size = request.args.get("b", 20_000, type=int)
        writes = request.args.get("w", 0, type=int)
        user, rows = read(statements - writes)
        for _ in range(writes):
            db.session.execute(update(PeerUser).where(PeerUser.id == session.get("uid", 1))
                               .values(seen_at=datetime.now(timezone.utc)))
        if writes:
            db.session.commit()
        context = {"title": "Sida", "links": [{"href": f"/l{n}", "label": f"Länk {n}"} for n in range(6)],
                   "rows": rows, "token": "t" * 40, "user": user, "padding": ""}
        # Padded with escaped text to the Lotsa page's size, so rendering and sending cost the same.
        key = (statements, size)
        if key not in unpadded:
            unpadded[key] = len(render_template("page.html", **context))
        context["padding"] = "x" * max(0, size - unpadded[key])
        return render_template("page.html", **context)

    return app
