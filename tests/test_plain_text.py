"""Free text is stored as typed with the markup removed (issue 14, item 7): nothing HTML-escaped, nothing
that a parser would read as a tag left behind, and the OpenAPI document tells clients to escape."""
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from casting.kernel.text import plain
from tests.test_talents import profile


@pytest.mark.parametrize("typed, stored", [
    ("a<b", "a<b"),
    ("a < b", "a < b"),
    ("1<2 and 3>2", "1<2 and 3>2"),
    ("ok <3", "ok <3"),
    ("<", "<"),
    ("</", "</"),
    ("Tom & Jerry", "Tom & Jerry"),
    ("R&D <i>team</i>", "R&D team"),
    ("&amp;", "&amp;"),
    ("x &nbsp; y", "x &nbsp; y"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("&#60;script&#62;", "&#60;script&#62;"),
    ("\"quoted\" and 'single'", "\"quoted\" and 'single'"),
    ("  Trained in <b>Kathak</b>  ", "Trained in Kathak"),
    ("<script>alert(1)</script>hi", "hi"),
    ("<style>p {}</style>Hi", "Hi"),
    ("<img src=x onerror=alert(1)>", ""),
    ("<a href=\"javascript:alert(1)\">link</a>", "link"),
    ("a<!-- note -->b", "ab"),
    ("<<b>script>alert(1)<</b>/script>", ""),
    ("<scr<script>ipt>alert(1)</script>", "<scr"),
    ("<a<>", ""),
    ("a<!-- not closed", "a<!-- not closed"),
    ("<xmp><script>alert(1)</script></xmp>", ""),
    ("<<<<b>b>b>b>", ""),
    ("line one\nline two", "line one\nline two"),
    ("नमस्ते <b>दुनिया</b> & more", "नमस्ते दुनिया & more"),
])
def test_markup_is_removed_and_everything_else_is_kept_as_typed(typed, stored):
    assert plain(typed) == stored


class _Markup(HTMLParser):
    """Python's own HTML parser, as an independent witness: does it see any markup at all?"""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.found = []

    def handle_starttag(self, tag, attrs=None):
        self.found.append(tag)

    handle_startendtag = handle_endtag = handle_comment = handle_decl = handle_pi = unknown_decl = handle_starttag


def markup_in(text):
    parser = _Markup()
    parser.feed(text)
    parser.close()
    return parser.found


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="<>/!?-&;#ab script=\"'lt3x\n", max_size=40))
def test_what_is_stored_holds_no_markup_and_is_stable(typed):
    stored = plain(typed)
    assert not markup_in(stored), (typed, stored)
    assert plain(stored) == stored
    if "<" not in typed:
        assert stored == typed.strip()  # without a `<` there is no markup: every character is kept


def test_the_api_stores_text_as_typed_and_the_openapi_document_says_to_escape_it(client, login):
    me = login("talent")
    bio = "Loves a<b puzzles & R&D; types &lt;script&gt; literally. <b>Kathak</b><script>x()</script>"
    created = client.post("/api/talents/", json=profile(bio=bio, stage_name="Tom & Jerry"), headers=me)
    assert created.status_code == 201, created.json
    seen = client.get(f"/api/talents/{created.json['id']}", headers=me).json
    assert seen["bio"] == "Loves a<b puzzles & R&D; types &lt;script&gt; literally. Kathak"
    assert seen["stage_name"] == "Tom & Jerry"
    spec = client.get("/api/openapi.json").json
    assert "Escape every text value when you render it" in spec["info"]["description"]
    fields = spec["components"]["schemas"]["TalentInput"]["properties"]
    assert "escape it when you render it" in fields["bio"]["description"]


def test_a_length_limit_holds_for_what_was_sent_not_only_for_what_is_kept(client):
    """The OpenAPI document's `maxLength` is of the value sent: a name one character too long is refused even when
    cleaning (here of a control character) would bring it under the limit (the fuzzer found it accepted)."""
    body = {"role": "talent", "email": "long.name@example.in", "password": "Str0ng!Passw0rd"}
    refused = client.post("/api/auth/register", json={**body, "full_name": "\x1f" + "A" * 120})
    assert refused.status_code == 422 and "full_name" in refused.json["details"]["fields"], refused.json
    assert client.post("/api/auth/register", json={**body, "full_name": "\x1f" + "A" * 119}).status_code == 201
