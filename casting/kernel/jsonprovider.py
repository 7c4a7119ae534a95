"""Flask's JSON provider on orjson: the same JSON as Flask's default (sorted keys, HTTP dates for raw
dates, str for Decimal and UUID), several times faster to encode. Parsing stays with the standard
library, which takes integers of any size (so an oversized number is a 422, not a parse error)."""
import json

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider, _default

OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_DATACLASS)


def dumps_bytes(obj):
    """`obj` as compact JSON bytes, as Flask would write it."""
    try:
        return orjson.dumps(obj, default=_default, option=OPTIONS)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: the standard library takes it
        return json.dumps(obj, default=_default, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def iso(value):
    """A date or time as marshmallow's `DateTime`/`Date` write it (`isoformat`); None stays None."""
    return None if value is None else value.isoformat()


def json_response(body):
    """A 200 response of JSON bytes serialised earlier (flask-smorest passes a Response through as it is)."""
    return current_app.response_class(body + b"\n", mimetype="application/json")


class OrjsonProvider(DefaultJSONProvider):
    ensure_ascii = False

    def dumps(self, obj, **kwargs):
        if kwargs:
            return super().dumps(obj, **kwargs)
        return dumps_bytes(obj).decode()

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(obj)
        return self._app.response_class(dumps_bytes(obj) + b"\n", mimetype=self.mimetype)
