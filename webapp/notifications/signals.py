"""What happens to deliveries, for the features that react to it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

deliveries_failed = _signals.signal("deliveries-failed", doc="""
One or more notifications failed for good in a dispatch round (no details: the
administrators' page lists them). The sender is ``None``. Administration tells
every administrator. Sent after the round's results are stored.
""")
