"""Content releases, editors' drafts and the history of every file edited in the browser.

The content tree on disk stays the source of truth: these rows say which
version of it is live (a release names a content hash) and who changed which
file, when and why. No row here refers to a patient.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.auth.models import User
from webapp.core.db import UTCDateTime, utcnow
from webapp.extensions import db


class ContentRelease(db.Model):
    """One attempt to make a version of the content live; the newest 'released' row is live."""

    __tablename__ = "content_release"
    __table_args__ = (CheckConstraint("status IN ('released', 'refused')", name="status"),
                      Index("ix_content_release_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The repository's commit when the content folder is a git checkout ("" otherwise).
    git_commit: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    # For a refused release: how many errors, and the first few (file:line: message).
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """What answers and summaries name: the release number and the start of its hash."""
        return f"R{self.id}-{self.content_hash[:10]}"


class ContentDraft(db.Model):
    """A proposed new text of one content file, waiting for a second editor."""

    __tablename__ = "content_draft"
    __table_args__ = (CheckConstraint("status IN ('open', 'approved', 'withdrawn')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Relative to the content root: "<programme>/<module>/<lang>.md".
    path: Mapped[str] = mapped_column(String(300), index=True)
    text: Mapped[str] = mapped_column(Text)
    # sha256 of the live text the draft was written against ("" for a new file): approval
    # refuses a draft whose file changed since, instead of silently undoing that change.
    base_hash: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])


class ContentRevision(db.Model):
    """One approved change of one file: the history an editor reads and reverts from."""

    __tablename__ = "content_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(300), index=True)
    # None: the file did not exist before this change.
    old_text: Mapped[str | None] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("content_release.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    release: Mapped[ContentRelease | None] = relationship()
