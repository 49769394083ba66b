"""Redaction: a secret in any escaped form, cut short, or as a URL's user info is hidden."""

from __future__ import annotations

import pytest

from jdcdn_action.batches import Batch
from jdcdn_action.redaction import Redactor, hide_userinfo
from jdcdn_action.results import BatchResult, RunResult, TaskState
from jdcdn_action.urls import UrlPlan
from tests.fake_jd import ECHO_FORMS

TOKEN = "sts/T0k+en=\"q'%<|&~\\-0123456789abcdefSTS"  # every character escaping changes
PLAIN = "0123456789abcdef0123456789abcdef"  # a signature: no escaping changes it
ODD = "k\u200by\u2019\U0001f600 \n0123456789"  # masked before the check refuses it
FORMS = {"as-is": lambda text: text, **ECHO_FORMS}


def redactor(*values: str) -> Redactor:
    secrets = Redactor()
    for value in values:
        secrets.add(value)
    return secrets


@pytest.mark.parametrize("value", [TOKEN, ODD], ids=["ascii", "odd"])
@pytest.mark.parametrize("inner", list(FORMS))
@pytest.mark.parametrize("outer", list(FORMS))
def test_a_secret_escaped_once_or_twice_is_hidden(value, inner, outer):
    """A server escapes what it echoes (inner), and its answer is escaped again (outer: a
    JSON envelope, a URL query, an HTML page)."""
    text = FORMS[outer](FORMS[inner](f"said {value} and {value}."))
    hidden = redactor(value).redact(text)
    assert "0123456789" not in hidden, hidden
    assert hidden.count("***") == 2, hidden


def test_nested_json_of_any_depth_is_hidden():
    text = TOKEN
    for _ in range(5):
        text = ECHO_FORMS["json"](f"[{text}]")
    assert "0123456789" not in redactor(TOKEN).redact(text)


def test_a_plain_secret_is_hidden_and_what_is_not_secret_stays():
    secrets = redactor(PLAIN, TOKEN)
    assert secrets.redact(f"sig {PLAIN}, task 0123456789abcdef.") == \
        "sig ***, task 0123456789abcdef."
    assert secrets.redact("https://www.example.com/a%2Fb?q=1&x=<y>") == \
        "https://www.example.com/a%2Fb?q=1&x=<y>"


def test_an_invalid_byte_from_the_environment_is_hidden_as_read_and_as_encoded():
    value = "key\udcff0123456789"  # how Python reads a byte that is not UTF-8
    secrets = redactor(value)
    for text in (value, repr(value)[1:-1], "key%FF0123456789", "key%ff0123456789"):
        assert secrets.redact(f"[{text}]") == "[***]", text


@pytest.mark.parametrize("value", [PLAIN, TOKEN], ids=["plain", "escaped"])
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("keep", [9, 10, 11, 20, 30])
def test_the_first_characters_of_a_secret_before_a_cut_are_hidden(value, form, keep):
    """A long message is cut with "...": what is left of a secret before the cut goes
    (an escape cut in half, ``%2``, with it). ``keep`` characters of the escaped form
    hold at least 4 of the secret."""
    text = "x" * 50 + FORMS[form](value)
    cut = text[:50 + keep] + "..."
    assert redactor(value).redact(cut) == "x" * 50 + "***..."


def test_three_characters_before_a_cut_are_left_and_no_cut_no_change():
    secrets = redactor(PLAIN)
    assert secrets.redact("id 012...") == "id 012..."
    assert secrets.redact("id 0123 more") == "id 0123 more"
    assert secrets.redact("id 0123...") == "id ***..."


@pytest.mark.parametrize("text, shown", [
    ("via https://jd:hunter2@api.example.com/x", "via https://***@api.example.com/x"),
    ("via http://jd:p@ss@127.0.0.1:9/", "via http://***@127.0.0.1:9/"),
    ('{"url": "https://u:p@h/a", "b": "c@d"}', '{"url": "https://***@h/a", "b": "c@d"}'),
    ("git+ssh://git@host/r and mail a@b.c", "git+ssh://***@host/r and mail a@b.c"),
    ("https://www.example.com/@user/a@b.png", "https://www.example.com/@user/a@b.png"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
])
def test_user_info_in_any_url_is_hidden(text, shown):
    assert Redactor().redact(text) == shown


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@www.example.com/a", "https://***@www.example.com/a"),
    ("https://user@www.example.com/a?b#c", "https://***@www.example.com/a?b#c"),
    ("http://jd:hunter2@pw@127.0.0.1:8080", "http://***@127.0.0.1:8080"),
    ("//user:pw@cdn.example.com/a.js", "//***@cdn.example.com/a.js"),
    ("https://www.example.com/a@b", "https://www.example.com/a@b"),
    ("https://www.example.com/?a=b@c", "https://www.example.com/?a=b@c"),
    ("not a url", "not a url"),
])
def test_hide_userinfo(url, shown):
    assert hide_userinfo(url) == shown


def test_scrub_copies_a_result_with_every_string_hidden():
    batch = Batch(1, "file", ("https://www.example.com/a.css",))
    result = RunResult(
        plan=UrlPlan(files=batch.instances, dirs=()),
        batches=[BatchResult(batch, "failed", error=f"HTTP 401 token {TOKEN}",
                             request_id=PLAIN)],
        tasks=[TaskState(PLAIN, "refresh", "unknown", ECHO_FORMS["percent"](TOKEN))],
        notes=[ECHO_FORMS["json"](TOKEN)[:20] + "..."])
    scrubbed = redactor(TOKEN, PLAIN).scrub(result)
    assert scrubbed.batches[0].error == "HTTP 401 token ***"
    assert scrubbed.batches[0].request_id == "***"
    assert scrubbed.tasks[0].task_id == "***" and scrubbed.tasks[0].detail == "***"
    assert scrubbed.notes == ["***..."]
    assert scrubbed.plan == result.plan and scrubbed.batches[0].batch == batch
    assert TOKEN in result.batches[0].error  # the original is left as it was


def test_scrub_without_a_secret_gives_the_same_object():
    data = {"urls": ["https://www.example.com/a"], "n": 1}
    assert redactor(PLAIN).scrub(data) is data


def test_a_secret_is_added_once_and_the_longest_goes_whole():
    secrets = Redactor()
    assert secrets.add("abcd") and not secrets.add("abcd") and not secrets.add("")
    secrets.add("abcd/ef")
    assert secrets.redact("x abcd/ef y abcd") == "x *** y ***"
