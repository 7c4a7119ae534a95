"""JSON-lines logging with the request id (or the RQ job id) on every line."""
import logging
import logging.config

from pythonjsonlogger.json import JsonFormatter

from casting.requestid import request_id


class ContextFilter(logging.Filter):
    """Stamp each record with the current request id and RQ job id."""

    def filter(self, record):
        from rq import get_current_job

        record.request_id = getattr(record, "request_id", None) or request_id()
        job = get_current_job()
        record.job_id = job.id if job else None
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
