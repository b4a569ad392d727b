"""loguru set-up: human-readable or JSON lines, a request id on every line, tokens redacted.

Log lines carry ids (user, token id, event id), never a token, a title, a message or a raw payload.
Redaction here is the safety net, not the plan.
"""

from __future__ import annotations

import json
import re
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

request_id: ContextVar[str] = ContextVar("request_id", default="-")
trace_id: ContextVar[str] = ContextVar("trace_id", default="-")
_TOKEN = re.compile(r"l2n_(?:sess|hook|tkt)_[A-Za-z0-9_.\-]+")


def redact(text: str) -> str:
    return _TOKEN.sub("l2n_[redacted]", text) if "l2n_" in text else text


def _patch(record: Record) -> None:
    extra = record["extra"]
    extra.setdefault("request_id", request_id.get())
    extra.setdefault("trace_id", trace_id.get())
    record["message"] = redact(record["message"])


def _json_sink(message: Any) -> None:
    record = message.record
    line = {
        "ts": record["time"].isoformat(),
        "level": record["level"].name,
        "msg": record["message"],
        **record["extra"],
    }
    if record["exception"] is not None:
        line["exception"] = redact("".join(__import__("traceback").format_exception(*record["exception"])))
    sys.stderr.write(json.dumps(line, default=str) + "\n")


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    logger.remove()
    logger.configure(patcher=_patch)
    if fmt == "json":
        logger.add(_json_sink, level=level, backtrace=False, diagnose=False)
    else:
        logger.add(
            sys.stderr,
            level=level,
            backtrace=False,
            diagnose=False,  # diagnose would print local variables: tokens, payloads
            format="<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> {level: <7} [{extra[request_id]} {extra[trace_id]}] {message}",
            colorize=None,
        )
