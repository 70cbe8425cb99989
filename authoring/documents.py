"""Policy as code: the authored world to and from one JSON/YAML document (providers by slug).

`document_import` is all or nothing: it checks the document's shape and references first, then
writes everything in ONE transaction through the authoring services (so the admin's rules
apply, with the same messages), and rolls all of it back when any entry is refused; the error
names every bad entry. Objects already equal to their entry are not saved, so importing the same
document twice changes nothing and writes no history. Objects absent from the document are left
as they are (listed in the report): an import never deletes. Policies are matched by name,
providers and templates by slug, routing rules by region, agreements by reference, API clients'
budgets by the client's name. Sections apply in the order providers, templates, regions,
agreements, policies, budgets (a policy is checked against the agreements of the same document).
Documents written before agreements existed still import: a missing `agreements` section or key
takes its default (0, false, empty). A missing `budgets` section changes no budget; a budget entry
names an existing API client (clients are access grants, created in admin or with
create_api_client, never by a document), and `amount: null` removes that client's budget. A provider's `health`
overrides (failures_to_trip, failure_rate_percent, min_outcomes, cooldown_seconds) are each a
number or null (= the PROVIDER_HEALTH_* default); like `rate_limits` and `cost`, a key left out
of a document leaves the provider's value as it is, so older documents still import unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from authoring import services, validators
from authoring.document_schema import ENTRY_KEYS, ENTRY_SERIALIZERS, HEALTH_OVERRIDES, SECTIONS
from clients.models import ApiClient, BudgetExhausted, BudgetPeriod, ClientBudget
from clients.services import InvalidClient, client_budget_set
from policies.engine import Snapshot
from policies.models import DispatchPolicy, RegionalRouting
from policies.snapshot import snapshot_build
from providers.models import Agreement, ModelProvider, PromptTemplate


class DocumentInvalid(validators.AuthoringError):
    code = "document_invalid"

    def __init__(self, errors: list[str]):
        super().__init__({"document": errors}, message="; ".join(errors))
        self.errors = errors


@dataclass
class ImportReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    not_in_document: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        head = "Would change" if self.dry_run else "Changed"
        out = [f"{head}: {line}" for line in self.changes] or ["Nothing to change."]
        out.append(f"Unchanged: {self.unchanged} entries.")
        out += [f"Not in the document (left as is): {name}" for name in self.not_in_document]
        return out


# --- export -------------------------------------------------------------------------------------


def provider_entry(p: ModelProvider) -> dict[str, Any]:
    return {
        "slug": p.slug,
        "name": p.name,
        "vendor": p.vendor,
        "model_name": p.model_name,
        "endpoint_url": p.endpoint_url,
        "hosting_regions": list(p.hosting_regions or []),
        "compliance_frameworks": list(p.compliance_frameworks or []),
        "encryption": p.encrypts_in_transit
        if p.encrypts_in_transit == p.encrypts_at_rest
        else {"in_transit": p.encrypts_in_transit, "at_rest": p.encrypts_at_rest},
        "active": p.is_active,
        "rate_limits": {"requests_per_minute": p.requests_per_minute, "tokens_per_minute": p.tokens_per_minute},
        "cost": {
            "per_1k_input_tokens": float(p.cost_per_1k_input_tokens),
            "per_1k_output_tokens": float(p.cost_per_1k_output_tokens),
        },
        "minimum_user_age": p.minimum_user_age,
        "health": {key: getattr(p, f"health_{key}") for key in HEALTH_OVERRIDES},
    }


def template_entry(t: PromptTemplate) -> dict[str, Any]:
    return {
        "slug": t.slug,
        "name": t.name,
        "subject": t.subject or None,
        "grade_band": t.grade_band or None,
        "body": t.body,
        "version": t.version,
        "active": t.is_active,
    }


def region_entry(r: RegionalRouting) -> dict[str, Any]:
    return {
        "region": r.region,
        "data_center": r.data_center,
        "data_residency_required": r.data_residency_required,
        "encryption_required": r.encryption_required,
        "audit_logging_required": r.audit_logging_required,
        "allowed_providers": sorted(p.slug for p in r.allowed_providers.all()),
        "blocked_providers": sorted(p.slug for p in r.blocked_providers.all()),
        "compliance_frameworks": list(r.compliance_frameworks or []),
        "agreement_required": r.agreement_required,
        "under_13_frameworks": list(r.under_13_frameworks or []),
    }


def agreement_entry(a: Agreement) -> dict[str, Any]:
    return {
        "reference": a.reference,
        "provider": a.provider.slug,
        "regions": list(a.regions or []),
        "signed_on": a.signed_on.isoformat(),
        "expires_on": a.expires_on.isoformat() if a.expires_on else None,
        "min_age_covered": a.min_age_covered,
        "document_url": a.document_url,
        "notes": a.notes,
    }


def policy_entry(p: DispatchPolicy) -> dict[str, Any]:
    return {
        "name": p.name,
        "subject": p.subject or None,
        "grade_band": p.grade_band or None,
        "region": p.region or None,
        "primary_provider_id": p.primary_provider.slug,
        "fallback_provider_ids": [f.provider.slug for f in p.fallbacks.all()],
        "template_ids": sorted(t.slug for t in p.templates.all()),
        "moderation_threshold": float(p.moderation_threshold),
        "allow_teacher_override": p.allow_teacher_override,
        "priority": p.priority,
        "active": p.is_active,
    }


def budget_entry(b: ClientBudget) -> dict[str, Any]:
    return {
        "client": b.client.name,
        "amount": float(b.amount),  # at most 14 digits: a float carries them exactly
        "period": b.period,
        "on_exhausted": b.on_exhausted,
    }


def document_export() -> dict[str, Any]:
    """The authored world as a document; `document_import` of it changes nothing."""
    return {
        "providers": [provider_entry(p) for p in ModelProvider.objects.order_by("slug")],
        "templates": [template_entry(t) for t in PromptTemplate.objects.order_by("slug")],
        "regions": [
            region_entry(r)
            for r in RegionalRouting.objects.order_by("region").prefetch_related(
                "allowed_providers", "blocked_providers"
            )
        ],
        "agreements": [agreement_entry(a) for a in Agreement.objects.order_by("reference").select_related("provider")],
        "policies": [
            policy_entry(p)
            for p in DispatchPolicy.objects.order_by("name", "id")
            .select_related("primary_provider")
            .prefetch_related("templates", "fallbacks__provider")
        ],
        "budgets": [budget_entry(b) for b in ClientBudget.objects.select_related("client").order_by("client__name")],
    }


def document_live_entries(document: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The live entry ("section/key" -> entry, or None when absent) of every entry a parsed document
    names: what a change request compares with, when it is reviewed and when it is published."""
    readers: dict[str, tuple[Any, str, Any]] = {  # section -> (rows, the lookup of their key, entry)
        "providers": (ModelProvider.objects.all(), "slug", provider_entry),
        "templates": (PromptTemplate.objects.all(), "slug", template_entry),
        "regions": (
            RegionalRouting.objects.prefetch_related("allowed_providers", "blocked_providers"),
            "region",
            region_entry,
        ),
        "agreements": (Agreement.objects.select_related("provider"), "reference", agreement_entry),
        "policies": (
            DispatchPolicy.objects.select_related("primary_provider").prefetch_related(
                "templates", "fallbacks__provider"
            ),
            "name",
            policy_entry,
        ),
        "budgets": (ClientBudget.objects.select_related("client"), "client__name", budget_entry),
    }
    live: dict[str, Any] = {}
    for section, entries in document.items():
        queryset, lookup, entry_of = readers[section]
        keys = [entry[ENTRY_KEYS[section]] for entry in entries]
        found = {
            entry[ENTRY_KEYS[section]]: entry for entry in map(entry_of, queryset.filter(**{f"{lookup}__in": keys}))
        }
        for value in keys:
            live[f"{section}/{value}"] = found.get(value)
    return live


# --- import -------------------------------------------------------------------------------------


def _label(section: str, index: int, entry: Any) -> str:
    key = entry.get(ENTRY_KEYS[section]) if isinstance(entry, dict) else None
    return f"{section}[{index}]" + (f" ({key})" if key else "")


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [line for k, v in detail.items() for line in _flatten(v, f"{prefix}{k}: ")]
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]


def document_parse(document: Any) -> dict[str, list[dict[str, Any]]]:
    """Check the document's shape; entries come back validated (or DocumentInvalid names each bad one)."""
    if not isinstance(document, dict):
        raise DocumentInvalid([f"The document must be a mapping with the keys {', '.join(SECTIONS)}."])
    errors = [
        f"{key}: unknown section; allowed: {', '.join(SECTIONS)}" for key in sorted(set(document) - set(SECTIONS))
    ]
    parsed: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        entries = document.get(section) or []
        if not isinstance(entries, list):
            errors.append(f"{section}: must be a list")
            continue
        parsed[section] = []
        seen: dict[Any, int] = {}
        for index, entry in enumerate(entries):
            label = _label(section, index, entry)
            serializer = ENTRY_SERIALIZERS[section](data=entry if isinstance(entry, dict) else {})
            if not isinstance(entry, dict):
                errors.append(f"{label}: must be a mapping")
            elif not serializer.is_valid():
                errors += [f"{label}: {line}" for line in _flatten(serializer.errors)]
            else:
                key = serializer.validated_data[ENTRY_KEYS[section]]
                if key in seen:
                    errors.append(f"{label}: {ENTRY_KEYS[section]} {key!r} already used by {section}[{seen[key]}]")
                seen[key] = index
                parsed[section].append(dict(serializer.validated_data))
    if errors:
        raise DocumentInvalid(errors)
    return parsed


def document_candidate(document: Any) -> tuple[Snapshot, ImportReport]:
    """The world as it would be with `document` applied (a what-if snapshot) and what would change:
    the import itself, with every rule and message, in a transaction that is rolled back.
    Raises DocumentInvalid like `document_import`."""
    parsed = document_parse(document)
    report = ImportReport(dry_run=True)
    try:
        with transaction.atomic():
            _apply(parsed, report, reason="what-if", user=None)
            candidate = snapshot_build()
            transaction.set_rollback(True)
    except IntegrityError as error:
        raise DocumentInvalid([f"the database refused the document: {error}"]) from error
    return candidate, report


def document_import(document: Any, *, dry_run: bool = False, reason: str = "", user: Any = None) -> ImportReport:
    """Apply a document, all or nothing (see the module docstring). Raises DocumentInvalid."""
    parsed = document_parse(document)
    reason = reason or "import_policies"
    report = ImportReport(dry_run=dry_run)
    try:
        with transaction.atomic():
            _apply(parsed, report, reason=reason, user=user)
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError as error:
        raise DocumentInvalid([f"the database refused the document: {error}"]) from error
    return report


class _Applier:
    def __init__(self, report: ImportReport, reason: str, user: Any):
        self.report, self.reason, self.user = report, reason, user
        self.errors: list[str] = []

    def changed(self, what: str) -> None:
        self.report.changes.append(what)

    def providers(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            provider = ModelProvider.objects.filter(slug=entry["slug"]).first() or ModelProvider(slug=entry["slug"])
            values: dict[str, Any] = {"name": entry["name"], "endpoint_url": entry["endpoint_url"]}
            for key in ("vendor", "model_name", "hosting_regions", "compliance_frameworks"):
                if key in entry:
                    values[key] = list(entry[key]) if isinstance(entry[key], list) else entry[key]
            if "encryption" in entry:
                values["encrypts_in_transit"] = entry["encryption"]["in_transit"]
                values["encrypts_at_rest"] = entry["encryption"]["at_rest"]
            if "active" in entry:
                values["is_active"] = entry["active"]
            if "minimum_user_age" in entry:
                values["minimum_user_age"] = entry["minimum_user_age"]
            limits = entry.get("rate_limits") or {}
            for doc_key, model_key in (
                ("requests_per_minute", "requests_per_minute"),
                ("tokens_per_minute", "tokens_per_minute"),
            ):
                if doc_key in limits:
                    values[model_key] = limits[doc_key]
            cost = entry.get("cost") or {}
            for doc_key, model_key in (
                ("per_1k_input_tokens", "cost_per_1k_input_tokens"),
                ("per_1k_output_tokens", "cost_per_1k_output_tokens"),
            ):
                if doc_key in cost:
                    values[model_key] = Decimal(str(cost[doc_key]))
            health = entry.get("health") or {}
            for doc_key in HEALTH_OVERRIDES:
                if doc_key in health:  # null = back to the PROVIDER_HEALTH_* default; absent = left as is
                    values[f"health_{doc_key}"] = health[doc_key]
            self._save_simple(provider, values, f"provider {entry['slug']}")

    def templates(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            template = PromptTemplate.objects.filter(slug=entry["slug"]).first() or PromptTemplate(slug=entry["slug"])
            values: dict[str, Any] = {
                "name": entry["name"],
                "body": entry["body"],
                "subject": entry.get("subject") or "",
                "grade_band": entry.get("grade_band") or "",
            }
            if "version" in entry:
                values["version"] = entry["version"]
            if "active" in entry:
                values["is_active"] = entry["active"]
            self._save_simple(template, values, f"template {entry['slug']}")

    def agreements(self, entries: list[dict[str, Any]]) -> None:
        for index, entry in enumerate(entries):
            label = f"agreements[{index}] ({entry['reference']})"
            provider = self._providers([entry["provider"]], label, "provider")
            if provider is None:
                continue
            agreement = Agreement.objects.filter(reference=entry["reference"]).first() or Agreement(
                reference=entry["reference"]
            )
            values: dict[str, Any] = {
                "provider_id": provider[0].pk,
                "regions": list(entry.get("regions") or []),
                "signed_on": entry["signed_on"],
                "expires_on": entry.get("expires_on"),
                "min_age_covered": entry.get("min_age_covered", 0),
                "document_url": entry.get("document_url", ""),
                "notes": entry.get("notes", ""),
            }
            self._save_simple(agreement, values, f"agreement {entry['reference']!r}")

    def _save_simple(self, obj: ModelProvider | PromptTemplate | Agreement, values: dict[str, Any], label: str) -> None:
        created = obj._state.adding
        diff = [key for key, value in values.items() if getattr(obj, key) != value]
        if not created and not diff:
            self.report.unchanged += 1
            return
        for key, value in values.items():
            setattr(obj, key, value)
        obj._change_reason = self.reason  # type: ignore[union-attr]
        if self.user is not None:
            obj._history_user = self.user  # type: ignore[union-attr]
        try:
            obj.full_clean()
            with transaction.atomic():
                obj.save()
        except (ValidationError, IntegrityError) as error:  # reported per entry; everything is rolled back
            self.errors.append(f"{label}: {_message(error)}")
            return
        finally:
            obj.__dict__.pop("_change_reason", None)
            obj.__dict__.pop("_history_user", None)
        self.changed(f"created {label}" if created else f"updated {label} ({', '.join(diff)})")

    def _providers(self, slugs: list[str], label: str, key: str) -> list[ModelProvider] | None:
        found = ModelProvider.objects.in_bulk(slugs, field_name="slug")
        missing = [s for s in slugs if s not in found]
        if missing:
            self.errors.append(
                f"{label}: {key}: unknown provider(s) {', '.join(missing)} (not in the document or the database)"
            )
            return None
        return [found[s] for s in slugs]

    def regions(self, entries: list[dict[str, Any]]) -> None:
        for index, entry in enumerate(entries):
            label = f"regions[{index}] ({entry['region']})"
            allowed = self._providers(list(entry.get("allowed_providers", [])), label, "allowed_providers")
            blocked = self._providers(list(entry.get("blocked_providers", [])), label, "blocked_providers")
            if allowed is None or blocked is None:
                continue
            rule = RegionalRouting.objects.filter(region=entry["region"]).first() or RegionalRouting(
                region=entry["region"]
            )
            values = {"data_center": entry["data_center"]}
            for key in ("data_residency_required", "encryption_required", "audit_logging_required"):
                if key in entry:
                    values[key] = entry[key]
            for key in ("compliance_frameworks", "under_13_frameworks"):
                if key in entry:
                    values[key] = list(entry[key])
            if "agreement_required" in entry:
                values["agreement_required"] = entry["agreement_required"]
            created = rule._state.adding
            diff = [key for key, value in values.items() if getattr(rule, key) != value]
            if not created:
                if {p.pk for p in rule.allowed_providers.all()} != {p.pk for p in allowed}:
                    diff.append("allowed_providers")
                if {p.pk for p in rule.blocked_providers.all()} != {p.pk for p in blocked}:
                    diff.append("blocked_providers")
                if not diff:
                    self.report.unchanged += 1
                    continue
            for key, value in values.items():
                setattr(rule, key, value)
            try:
                with transaction.atomic():
                    services.routing_rule_save(
                        rule=rule, allowed=allowed, blocked=blocked, reason=self.reason, user=self.user
                    )
            except validators.AuthoringError as error:
                self.errors += [f"{label}: {k}: {m}" for k, msgs in error.problems.items() for m in msgs]
                continue
            self.changed(
                f"created routing rule {entry['region']}"
                if created
                else f"updated routing rule {entry['region']} ({', '.join(diff)})"
            )

    def policies(self, entries: list[dict[str, Any]]) -> None:
        snapshot = snapshot_build()  # providers and rules as this document leaves them
        for index, entry in enumerate(entries):
            label = f"policies[{index}] ({entry['name']})"
            named = list(DispatchPolicy.objects.filter(name=entry["name"])[:2])
            if len(named) > 1:
                self.errors.append(f"{label}: several policies are named {entry['name']!r}; rename them in admin first")
                continue
            primary = self._providers([entry["primary_provider_id"]], label, "primary_provider_id")
            fallbacks = self._providers(list(entry.get("fallback_provider_ids", [])), label, "fallback_provider_ids")
            slugs = list(entry.get("template_ids", []))
            templates = PromptTemplate.objects.in_bulk(slugs, field_name="slug")
            missing = [s for s in slugs if s not in templates]
            if missing:
                self.errors.append(f"{label}: template_ids: unknown template(s) {', '.join(missing)}")
            if primary is None or fallbacks is None or missing:
                continue
            policy = named[0] if named else DispatchPolicy(name=entry["name"])
            created = not named
            policy.subject = entry.get("subject") or ""
            policy.grade_band = entry.get("grade_band") or ""
            policy.region = entry.get("region") or ""
            policy.primary_provider = primary[0]
            for doc_key, model_key in (
                ("moderation_threshold", "moderation_threshold"),
                ("allow_teacher_override", "allow_teacher_override"),
                ("priority", "priority"),
                ("active", "is_active"),
            ):
                if doc_key in entry:
                    setattr(policy, model_key, entry[doc_key])
            try:
                with transaction.atomic():
                    saved = services.policy_save(
                        policy=policy,
                        fallbacks=fallbacks,
                        templates=[templates[s] for s in slugs],
                        reason=self.reason,
                        user=self.user,
                        snapshot=snapshot,
                    )
            except validators.AuthoringError as error:
                fields = {"fallback_providers": "fallback_provider_ids", "primary_provider": "primary_provider_id"}
                self.errors += [f"{label}: {fields.get(k, k)}: {m}" for k, msgs in error.problems.items() for m in msgs]
                continue
            if saved:
                self.changed(f"{'created' if created else 'updated'} policy {entry['name']!r}")
            else:
                self.report.unchanged += 1

    def budgets(self, entries: list[dict[str, Any]]) -> None:
        clients = ApiClient.objects.in_bulk([entry["client"] for entry in entries], field_name="name")
        for index, entry in enumerate(entries):
            label = f"budgets[{index}] ({entry['client']})"
            client = clients.get(entry["client"])
            if client is None:
                self.errors.append(
                    f"{label}: client: unknown API client {entry['client']!r} (create it in admin or with "
                    "create_api_client first; a document never creates clients)"
                )
                continue
            budget = ClientBudget.objects.filter(client=client).first()
            amount, period = entry["amount"], entry.get("period")
            on_exhausted = entry.get("on_exhausted", BudgetExhausted.REFUSE)
            if amount is None:
                if budget is None:
                    self.report.unchanged += 1
                    continue
                client_budget_set(client=client, amount=None, reason=self.reason, user=self.user)
                self.changed(f"removed the budget of API client {client.name}")
                continue
            values = {"amount": amount, "period": period, "on_exhausted": on_exhausted}
            diff = [key for key, value in values.items() if budget is not None and getattr(budget, key) != value]
            if budget is not None and not diff:
                self.report.unchanged += 1
                continue
            try:
                client_budget_set(
                    client=client,
                    amount=amount,
                    period=period or BudgetPeriod.MONTH,
                    on_exhausted=on_exhausted,
                    reason=self.reason,
                    user=self.user,
                )
            except InvalidClient as error:
                fields = ", ".join(_BUDGET_FIELDS.get(k, k) for k in error.fields) or "amount"
                self.errors.append(f"{label}: {fields}: {error.message}")
                continue
            what = f"budget of API client {client.name}"
            self.changed(f"created {what}" if budget is None else f"updated {what} ({', '.join(diff)})")


# clients.services names the admin's form fields; a document names its own keys.
_BUDGET_FIELDS = {"budget_amount": "amount", "budget_period": "period", "on_budget_exhausted": "on_exhausted"}


def _message(error: Exception) -> str:
    messages = getattr(error, "message_dict", None)
    if messages:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items())
    return str(error)


def _apply(parsed: dict[str, list[dict[str, Any]]], report: ImportReport, *, reason: str, user: Any) -> None:
    applier = _Applier(report, reason, user)
    applier.providers(parsed["providers"])
    applier.templates(parsed["templates"])
    applier.regions(parsed["regions"])
    applier.agreements(parsed["agreements"])
    applier.policies(parsed["policies"])
    applier.budgets(parsed["budgets"])
    if applier.errors:
        raise DocumentInvalid(applier.errors)  # rolls the whole transaction back
    in_document = {
        "provider": {e["slug"] for e in parsed["providers"]},
        "template": {e["slug"] for e in parsed["templates"]},
        "routing rule": {e["region"] for e in parsed["regions"]},
        "agreement": {e["reference"] for e in parsed["agreements"]},
        "policy": {e["name"] for e in parsed["policies"]},
        "budget of API client": {e["client"] for e in parsed["budgets"]},
    }
    existing = {
        "provider": ModelProvider.objects.values_list("slug", flat=True),
        "template": PromptTemplate.objects.values_list("slug", flat=True),
        "routing rule": RegionalRouting.objects.values_list("region", flat=True),
        "agreement": Agreement.objects.values_list("reference", flat=True),
        "policy": DispatchPolicy.objects.values_list("name", flat=True),
        "budget of API client": ClientBudget.objects.values_list("client__name", flat=True),
    }
    for kind, names in existing.items():
        report.not_in_document += [f"{kind} {name}" for name in sorted(set(names) - in_document[kind])]
