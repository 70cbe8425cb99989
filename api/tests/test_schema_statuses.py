"""Every status code the API can answer with, and every one docs/api.md documents, is in the
OpenAPI schema (schemathesis reports an undocumented status as a failure, and so do clients).
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

from api.schema import REQUEST_LINE_LIMIT, REQUEST_LINE_TOO_LONG

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"

# What each operation can answer, from its code paths (the DB-outage 503 applies to all).
MUST_DECLARE = {
    "dispatch": {"200", "400", "409", "413", "415", "422", "500", "503"},  # 500: audit_row_tampered (replay)
    "providers_list": {"200", "400", "503"},
    "policies_validate": {"200", "400", "503"},
    "dispatch_outcome": {"200", "201", "400", "404", "409", "413", "415", "503"},
}


def schema_statuses() -> dict[str, set[str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        operation["operationId"]: set(operation["responses"])
        for item in schema["paths"].values()
        for operation in item.values()
    }


def test_each_operation_declares_every_status_it_can_return():
    declared = schema_statuses()
    for operation, statuses in MUST_DECLARE.items():
        assert statuses <= declared[operation], f"{operation} lacks {sorted(statuses - declared[operation])}"


def test_every_status_code_the_api_doc_documents_is_in_the_schema():
    documented = set(re.findall(r"`([1-5]\d\d)\b", API_DOC.read_text()))
    declared = set().union(*schema_statuses().values())
    assert documented, "docs/api.md names no status codes"
    assert documented <= declared, f"documented but not in the schema: {sorted(documented - declared)}"


def test_every_operation_declares_the_http_servers_414_as_its_html_page():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        assert operation["responses"]["414"] == REQUEST_LINE_TOO_LONG, operation["operationId"]


def test_the_declared_request_line_limit_is_gunicorns():
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert config["limit_request_line"] == REQUEST_LINE_LIMIT
    assert f"{REQUEST_LINE_LIMIT:,} bytes" in REQUEST_LINE_TOO_LONG["description"]
