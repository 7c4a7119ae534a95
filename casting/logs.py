"""JSON-lines logging with the request id (or the RQ job id) on every record."""
import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from casting.requestid import request_id

current_job_id = ContextVar("current_job_id", default=None)
_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args, **kwargs):
    """Every record, whoever logs it, carries the current request id and job id."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id()
    record.job_id = current_job_id.get()
    return record


def configure_logging(level):
    """Add one JSON handler to the root logger (once per process) and set the level."""
    logging.setLogRecordFactory(_record_with_context)
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
            rename_fields={"levelname": "level", "name": "logger"}, timestamp=True))
        root.addHandler(handler)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
