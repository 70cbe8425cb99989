"""JSON log lines (`LOG_FORMAT=json`): one object per line, for log shippers.

Every record becomes `{"time", "level", "logger", "message", ...}` plus the fields a caller put in
`extra={"fields": {...}}` (the request line of `dispatch_site.request_log` does). Exceptions are
one `exception` string, so a traceback stays on one line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
