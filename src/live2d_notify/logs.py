"""loguru set-up: human-readable or JSON lines, a request id on every line, tokens redacted.

Log lines carry ids (user, token id, event id), never a token, a title, a message or a raw payload.
Redaction here is the safety net, not the plan.
"""

from __future__ import annotations

import atexit
import json
import re
import sys
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

request_id: ContextVar[str] = ContextVar("request_id", default="-")
trace_id: ContextVar[str] = ContextVar("trace_id", default="-")
_TOKEN = re.compile(r"l2n_(?:sess|hook|tkt)_[A-Za-z0-9_.\-]+")


# Control characters (a newline in a request path can forge a log line), escaped as \\xNN / \\n.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def redact(text: str) -> str:
    """Tokens out, control characters escaped: what every log line goes through."""
    if "l2n_" in text:
        text = _TOKEN.sub("l2n_[redacted]", text)
    return text if text.isprintable() else text.translate(_CONTROLS)


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
    stderr_sink.write(json.dumps(line, default=str) + "\n")


class BufferedStderr:
    """A sink that batches writes to stderr: one system call per batch, not per line.

    loguru flushes a stream after every message; at thousands of requests a second that write is
    a tenth of the request's cost. `drain()` runs every 100 ms (lifespan task), at shutdown and at exit.
    """

    def __init__(self, limit: int = 64 * 1024) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit

    def write(self, message: str) -> None:
        self._parts.append(message)
        self._size += len(message)
        if self._size >= self._limit:
            self.drain()

    def drain(self) -> None:
        if self._parts:
            text, self._parts, self._size = "".join(self._parts), [], 0
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


stderr_sink = BufferedStderr()
atexit.register(stderr_sink.drain)


class AccessLog:
    """The one-line-per-request log, formatted here and written straight into the sink.

    loguru builds a full record per call (frame lookup, aware time, process and thread ids): at
    thousands of requests a second that was a sixth of a publish. These lines match loguru's own
    (text or JSON) line for line; every other log line still goes through loguru.
    """

    def __init__(self) -> None:
        self.configure("text", "INFO")

    def configure(self, fmt: str, level: str) -> None:
        self.json = fmt == "json"
        self.enabled = logger.level(level).no <= logger.level("INFO").no
        self._second = -1
        self._stamp = ""

    def write(self, message: str) -> None:
        if not self.enabled:
            return
        if not message.isprintable():
            message = message.translate(_CONTROLS)
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        ms = int(now * 1000) % 1000
        if self.json:
            stderr_sink.write(
                json.dumps(
                    {
                        "ts": f"{self._stamp}.{ms:03d}",
                        "level": "INFO",
                        "msg": message,
                        "request_id": request_id.get(),
                        "trace_id": trace_id.get(),
                    }
                )
                + "\n"
            )
        else:
            stderr_sink.write(f"{self._stamp}.{ms:03d} INFO    [{request_id.get()} {trace_id.get()}] {message}\n")


access_log = AccessLog()


class LogLevel:
    """Whether DEBUG lines are written, set by `setup_logging`: the per-event debug lines are skipped
    before loguru's own per-call work (~1 µs each, twice per event) when they would be dropped anyway."""

    debug = False


log_level = LogLevel()


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    logger.remove()
    access_log.configure(fmt, level)
    log_level.debug = logger.level(level).no <= logger.level("DEBUG").no
    logger.configure(patcher=_patch)
    if fmt == "json":
        logger.add(_json_sink, level=level, backtrace=False, diagnose=False)
    else:
        logger.add(
            stderr_sink,
            level=level,
            backtrace=False,
            diagnose=False,  # diagnose would print local variables: tokens, payloads
            format=(
                "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> {level: <7} "
                "[{extra[request_id]} {extra[trace_id]}] {message}"
            ),
            colorize=None,
        )
