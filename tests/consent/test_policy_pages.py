"""The privacy policy pages: the version in force, the history, one version with its changes."""

from __future__ import annotations

import datetime

import pytest

from consent.models import PolicyVersion
from consent.policy_diff import policy_diff
from consent.services import current_policy_version, publish_policy_version

pytestmark = pytest.mark.django_db

ChangeType = PolicyVersion.ChangeType


def publish_second_version(**overrides) -> PolicyVersion:
    """Version 2: the parcel carrier changes from Parcelforce to Royal Mail."""
    first = current_policy_version()
    fields = {
        "text": first.text.replace("to Parcelforce, or", "to Royal Mail, or"),
        "summary": "Royal Mail now delivers our parcels.",
        "change_type": ChangeType.PRACTICE_CHANGE,
        "effective_date": datetime.date(2031, 3, 4),
    }
    return publish_policy_version(**(fields | overrides))


# --- /privacy/ -----------------------------------------------------------------------------------


def test_the_privacy_page_shows_the_current_version_with_its_number_date_and_history_link(client):
    # given
    publish_second_version()
    # when
    response = client.get("/privacy/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Version 2, in force since" in html
    assert '<time datetime="2031-03-04">4 March 2031</time>' in html
    assert 'href="/privacy/history/"' in html
    assert "Royal Mail" in html
    assert "Parcelforce" not in html


def test_the_privacy_page_renders_the_text_as_paragraphs(client):
    html = client.get("/privacy/").content.decode()
    # The migration's version 1: headings are short lines, paragraphs are separated by blank ones.
    assert "<p>Service Announcements<br>On rare occasions" in html
    assert "<p>Sharing</p>" in html


def test_policy_text_is_escaped_never_rendered_as_html(client):
    # given a version whose text contains markup
    publish_policy_version(
        text='Heading\n<script>alert("x")</script> & <b onclick="x()">bold</b>',
        summary="<i>summary</i>",
        change_type=ChangeType.EDITORIAL,
    )
    # when
    pages = [client.get(url).content.decode() for url in ("/privacy/", "/privacy/2/")]
    history = client.get("/privacy/history/").content.decode()
    # then
    for html in pages:
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert "&lt;b onclick" in html
        assert "<b onclick" not in html
    assert "<i>summary</i>" not in history
    assert "&lt;i&gt;summary&lt;/i&gt;" in history


def test_the_privacy_page_refuses_post(client):
    assert client.post("/privacy/").status_code == 405


# --- /privacy/history/ ---------------------------------------------------------------------------


def test_the_history_lists_every_version_newest_first_with_date_type_summary_and_link(client):
    # given
    publish_second_version()
    publish_policy_version(
        text="Version three.", summary="Typo fixed.", change_type=ChangeType.EDITORIAL
    )
    # when
    response = client.get("/privacy/history/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'href="/privacy/{n}/">Version {n}</a>') for n in (3, 2, 1)]
    assert positions == sorted(positions), "newest first"
    assert "Royal Mail now delivers our parcels." in html
    assert "Typo fixed." in html
    assert "4 March 2031" in html
    assert "Change in privacy practices" in html
    assert "Editorial (wording only)" in html


# --- /privacy/<number>/ --------------------------------------------------------------------------


def test_a_version_page_marks_what_changed_since_the_version_before(client):
    # given
    publish_second_version()
    # when
    response = client.get("/privacy/2/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<del>Parcelforce</del><ins>Royal Mail</ins>" in html
    assert 'href="/privacy/1/">version 1</a>' in html
    assert "Royal Mail now delivers our parcels." in html
    # and the full text follows
    assert "Full text of version 2" in html
    assert "This is the version in force." in html


def test_an_added_and_a_removed_paragraph_are_marked_whole(client):
    publish_policy_version(
        text="Intro\n\nKept paragraph.\n\nRemoved paragraph.",
        summary="first",
        change_type=ChangeType.EDITORIAL,
    )
    publish_policy_version(
        text="Intro\n\nKept paragraph.\n\nA new paragraph.\n\nAnother one.",
        summary="second",
        change_type=ChangeType.USE_CHANGE,
    )
    html = client.get("/privacy/3/").content.decode()
    assert "<del>Removed</del>" in html or "<del>Removed paragraph.</del>" in html
    assert "<ins>" in html.split("What changed")[1]
    assert "Another one" in html


def test_the_first_version_says_it_is_the_first(client):
    # given a later version exists
    publish_second_version()
    # when
    html = client.get("/privacy/1/").content.decode()
    # then
    assert "This is the first version of the policy" in html
    assert "no longer in force" in html
    assert "<del>" not in html and "<ins>Royal" not in html


def test_an_unknown_version_is_a_404_page(client):
    response = client.get("/privacy/99/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no version 99 of our privacy policy." in html
    assert 'href="/privacy/history/"' in html


def test_a_version_that_is_not_a_number_is_not_found(client):
    assert client.get("/privacy/latest/").status_code == 404


# --- policy_diff ---------------------------------------------------------------------------------


def test_the_diff_escapes_text_before_wrapping_it():
    [hunk] = policy_diff("a <b>\nsame", "a <i>\nsame")
    assert "<del>b</del><ins>i</ins>" in hunk.html
    assert "&lt;" in hunk.html
    assert "<b>" not in hunk.html and "<i>" not in hunk.html


def test_the_diff_of_equal_texts_is_empty():
    assert policy_diff("same\ntext", "same\ntext") == []


def test_the_diff_keeps_only_context_around_distant_changes():
    old = "\n".join(f"line {n}" for n in range(1, 41))
    new = old.replace("line 3\n", "line three\n").replace("line 37\n", "line thirty-seven\n")
    hunks = policy_diff(old, new)
    assert len(hunks) == 2
    assert hunks[0].first_line == 1
    assert "line 20" not in "".join(hunks[0].html + hunks[1].html)
