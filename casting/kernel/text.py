"""Free text from users, stored as they typed it with the markup removed.

Escaping is the client's job when it renders the text (the API is not HTML), so nothing here escapes:
`a<b`, `Tom & Jerry` and `5 > 3` are kept as typed. What an HTML parser would read as markup (tags,
comments, and the content of `script` and `style`) is removed, and removed again until nothing is
left that a parser would read as a tag: `<<b>script>` cannot turn into `<script>`, and entities the
user typed stay as typed (`&lt;script&gt;` is kept as those characters, never decoded into a tag).
"""
import html
import re

import nh3
from marshmallow import ValidationError, fields

MAX_PASSES = 4
# A `<` that no `>` follows before the next `<` is text (`a<b`, `x <3 y`): the user's reading, kept.
_LENIENT = re.compile(r"<(?![^<>]*>)")
# A `<` that no `>` follows at all can open no tag, as an HTML parser reads it (`<a<>` is a tag named `a<`).
_STRICT = re.compile(r"<(?![^>]*>)")
# What RFC 3986 lets a URI's path, query and fragment hold: unreserved characters, the delimiters
# (not `[` and `]`, which only bracket an IPv6 host) and `%` only before two hex digits.
URI_CHARACTER = r"([A-Za-z0-9\-._~:/?#@!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
_URI = re.compile(f"{URI_CHARACTER}+")


def _strip_once(text, literal_lt):
    """One pass of nh3 (html5ever) over `text`, with `&` and the `<` that `literal_lt` finds made literal first."""
    literal = literal_lt.sub("&lt;", text.replace("&", "&amp;"))
    return html.unescape(nh3.clean(literal, tags=set(), clean_content_tags={"script", "style"}))


def _stable(text, literal_lt):
    """Strip until nothing changes; text nested deeper than honest text ever is loses its `<` altogether."""
    for _ in range(MAX_PASSES):
        if "<" not in text:
            return text
        stripped = _strip_once(text, literal_lt)
        if stripped == text:
            return text
        text = stripped
    return text.replace("<", "")


def plain(value):
    """`value` with every HTML tag, comment and script removed (the text between tags kept), trimmed.

    The lenient passes keep what the user meant as text; the strict ones then remove anything an HTML
    parser would still read as a tag, so what is stored holds none.
    """
    if not value:
        return value
    value = value.replace("\x00", "")  # a NUL is no text anyone typed, and PostgreSQL's text cannot hold one
    return _stable(_stable(value, _LENIENT), _STRICT).strip()


class Url(fields.Url):
    """A URL as RFC 3986 writes it (other characters percent-encoded), as `format: uri` says."""

    def _deserialize(self, value, attr, data, **kwargs):
        url = super()._deserialize(value, attr, data, **kwargs)
        if url is not None and not _URI.fullmatch(url):
            raise ValidationError("Must be a URL as RFC 3986 writes it; percent-encode other characters.")
        return url
