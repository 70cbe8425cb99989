"""Signals other apps may listen to (alerts). Sent inside the writer's transaction, so a receiver's
writes (an alert's deliveries) commit or roll back with what it reports."""

from django.dispatch import Signal

# Sent once per client and period when a reported outcome takes the client's spend to 80 % or to
# 100 % of its budget, with keyword arguments: client_ref (str), threshold (80 | 100), period
# ("day" | "month"), period_start (date), limit and spent (Decimal), at (datetime).
client_budget_crossed = Signal()
