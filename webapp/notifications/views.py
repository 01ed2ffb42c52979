"""Notification pages. For now the blueprint only carries the message templates
(notifications/<kind>.<channel>.txt) that the scheduler renders."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, template_folder="templates")
