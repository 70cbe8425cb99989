"""OpenTelemetry tracing: off by default, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

`tracer()` is None when tracing is off (a caller then does nothing at all: the dispatch path
pays one call). When on, each process (each gunicorn worker, lazily, after the fork) builds one
`TracerProvider` with a batch processor and the OTLP/HTTP exporter, which reads the standard
`OTEL_EXPORTER_OTLP_*` variables itself (endpoint, headers, timeout); the resource's
`service.name` is `OTEL_SERVICE_NAME` (`model-dispatch-service`). No global provider is
installed: the service's spans go to its own provider only. Tests and the bench hand in a
provider of their own (`tracing_use`, e.g. with an in-memory exporter).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

logger = logging.getLogger("dispatch.tracing")
INSTRUMENTATION = "model_dispatch_service"
_state: dict[str, Any] = {"configured": False, "tracer": None, "provider": None}


def tracer() -> Tracer | None:
    """This process's tracer, or None when tracing is off."""
    if not _state["configured"]:
        _configure()
    tracer_: Tracer | None = _state["tracer"]
    return tracer_


def _configure() -> None:
    _state["configured"] = True
    if not getattr(settings, "OTEL_EXPORTER_OTLP_ENDPOINT", ""):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _use(provider)
    logger.info("tracing on: OTLP/HTTP to %s", settings.OTEL_EXPORTER_OTLP_ENDPOINT)


def _use(provider: TracerProvider | None) -> None:
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer(INSTRUMENTATION) if provider is not None else None


def tracing_use(provider: TracerProvider | None) -> None:
    """Trace into `provider` from now on (None: off), whatever the settings say (tests, bench)."""
    _state["configured"] = True
    _use(provider)


def tracing_reset() -> None:
    """Forget the tracer: the next `tracer()` reads the settings again."""
    provider = _state["provider"]
    _state.update(configured=False, tracer=None, provider=None)
    if provider is not None:
        provider.shutdown()
