"""JSON-lines logging with the request id (or the RQ job id) on every line."""
import logging
import logging.config
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from casting.requestid import request_id

current_job_id = ContextVar("current_job_id", default=None)


class ContextFilter(logging.Filter):
    """Stamp each record with the current request id and RQ job id."""

    def filter(self, record):
        record.request_id = getattr(record, "request_id", None) or request_id()
        record.job_id = current_job_id.get()
        return True


def configure_logging(level):
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {
            "()": JsonFormatter,
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        }},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "filters": ["context"]}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {"pgserver": {"level": "WARNING"}},
    })
