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

MAX_PASSES = 4
_NOT_A_TAG = re.compile(r"<(?![^<>]*>)")  # a `<` with no `>` before the next `<`: text, even before a letter


def _strip_once(text):
    """One pass of nh3 (html5ever) over `text` with every character that is not markup made literal first."""
    literal = _NOT_A_TAG.sub("&lt;", text.replace("&", "&amp;"))
    return html.unescape(nh3.clean(literal, tags=set(), clean_content_tags={"script", "style"}))


def plain(value):
    """`value` with every HTML tag, comment and script removed (the text between tags kept), trimmed."""
    if not value:
        return value
    text = value
    for _ in range(MAX_PASSES):
        if "<" not in text:
            break
        stripped = _strip_once(text)
        if stripped == text:
            break
        text = stripped
    else:
        text = text.replace("<", "")  # nested deeper than any honest text: drop what could still open a tag
    return text.strip()
