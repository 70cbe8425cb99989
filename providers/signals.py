"""Signals other apps may listen to (alerts)."""

from django.dispatch import Signal

# Sent on every provider health transition, with keyword arguments: provider_id (UUID),
# provider_slug (str), state and previous ("healthy" | "cooling_down" | "probing"), at (datetime),
# details (dict).
provider_health_changed = Signal()
