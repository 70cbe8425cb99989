"""Plumbing with no domain knowledge: the error hierarchy, counters and leases, the one Redis
client with its back-off, one-statement inserts, the database-outage breaker, refusal counting
and the serializer fields that name what is allowed.

Imported by every app; imports none of ours (import-linter keeps it so, see pyproject.toml).
"""
