"""Log formats: one JSON object per line (production default) or readable text (dev).

Invariants (tests: tests/unit/observability/test_logs.py):

1. One record is one line: JSON lines are ASCII-only (``ensure_ascii``), so a
   newline, a U+2028 or a control character inside a value is escaped and can
   never start a forged line; text-format field values with spaces, quotes or
   control characters are JSON-quoted for the same reason.
2. Structured fields come only from ``extra={"fields": {...}}`` with str, int,
   float, bool or None values (``signer.observability.events`` builds them from
   a whitelist); anything else is written as its type name.
3. Exceptions: a JSON line carries the exception type only, never its message
   or traceback. SECURITY: library exception messages can quote their input.
4. ``configure_logging`` adds a handler only when the root logger has none
   (like ``logging.basicConfig``) and otherwise re-formats only its own. The
   handler never blocks the caller on stderr (``signer.observability.writer``).

Decision lines are INFO records of the ``signer.decisions`` logger; the
observer checks ``isEnabledFor`` before building one, so a level above INFO
costs no formatting work per request.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping

from signer.observability.writer import QueuedStreamHandler

DECISIONS = logging.getLogger("signer.decisions")
FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset({str, int, bool, type(None)})


def record_fields(record: logging.LogRecord) -> Mapping[str, object]:
    """The structured fields attached with ``extra={"fields": ...}``, if any."""
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _scalar(value: object) -> object:
    if type(value) in _PLAIN:  # the common case, checked first
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or Infinity
    return value if isinstance(value, _SCALARS) else f"<{type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", **fields}`` as one ASCII line."""

    def __init__(self) -> None:
        super().__init__()
        self._second, self._stamp = -1, ""

    def _ts(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # one strftime per second, not per record
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": self._ts(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            if key not in line:  # the envelope keys cannot be overwritten
                line[str(key)] = _scalar(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__  # invariant 3: never the message
        return json.dumps(line, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


class TextFormatter(logging.Formatter):
    """The classic ``time LEVEL logger: message`` line, fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record_fields(record)
        if not fields:
            return text
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
        return f"{text} {pairs}"


def _text_value(value: object) -> str:
    value = _scalar(value)
    if value is None:
        return "-"
    text = str(value)
    if text and text.isprintable() and text.isascii() and not any(c in text for c in ' "='):
        return text
    return json.dumps(text, ensure_ascii=True)


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(
    fmt: str = "text", level: str = "INFO", root: logging.Logger | None = None
) -> None:
    """Send the daemon's logs to stderr in ``fmt`` at ``level`` (invariant 4).
    ``root``: the logger to configure (default: the root logger)."""
    chosen = formatter(fmt)
    root = root if root is not None else logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, QueuedStreamHandler)]
    if not ours and root.handlers:
        return  # someone else (a test harness, an embedding program) owns logging
    if not ours:
        ours = [QueuedStreamHandler()]
        root.addHandler(ours[0])
    for handler in ours:
        handler.setFormatter(chosen)
    root.setLevel(level)
