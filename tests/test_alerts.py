"""Rendering of alerts: subjects, the text, chat (Slack) and e-mail bodies, the structured body.

Slack is on the internet, so what it would show is checked with apprise's own Slack plugin
converting our body (`dialect_convert`), never by posting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json

import apprise
from apprise import NotifyFormat

from watcher.alerts import render, structured, subject
from watcher.models import Alert, AlertKind, Change, RuleHit

SENTENCE = "MOFCOM suspends the rare earth export control measures announced on 9 October."
LINK = "https://www.mofcom.gov.cn/article/zcfb/2025/61.html"

ALERT = Alert(
    dedup_key="item|mofcom|61|v1",
    channel="ops",
    kind=AlertKind.new,
    source="mofcom",
    title="China suspends rare earth export controls",
    link=LINK,
    rules=(RuleHit("rare-earths", ("rare earth", "export control"), SENTENCE),),
    sentence=SENTENCE,
    published=dt.datetime(2025, 11, 7, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
)

SUSPENSION = Change(
    finding_id=12,
    kind="suspended",
    measure_id="cn-mofcom-2025-61",
    measure="MOFCOM rare-earth export controls (No. 61)",
    new_kind="expiry",
    new_date=dt.date(2026, 11, 10),
    old_kind="effective",
    old_date=dt.date(2025, 12, 1),
    evidence=SENTENCE,
)

FINDING = dataclasses.replace(
    ALERT,
    kind=AlertKind.finding,
    changes=(SUSPENSION,),
    extra={"deadlines": "comments due 2025-12-20"},
)

THREE_RULES = dataclasses.replace(
    ALERT,
    rules=(
        RuleHit("rare-earths", ("rare earth",), SENTENCE),
        # a regex rule: `(?i)\bexport\s+controls?\b` matched this text in the notice
        RuleHit("export-controls", ("export control",), SENTENCE),
        RuleHit("mofcom", ("MOFCOM", "Ministry of Commerce"), "The Ministry of Commerce said so."),
    ),
)


def slack_view(alert: Alert) -> tuple[str, str]:
    """(header, body) as apprise's Slack plugin would post them: its own conversion of our body."""
    plugin = apprise.Apprise.instantiate("slack://T000AAAAA/B000BBBBB/XXXXXXXXXXXXXXXXXXXXXXXX")
    assert plugin.resolve_format(None) == NotifyFormat.MARKDOWN
    title, body = render(alert, "markdown")
    return title, plugin.dialect_convert(body, NotifyFormat.MARKDOWN)


# --- subjects ---------------------------------------------------------------------------------


def test_a_finding_subject_says_the_change_first_then_the_measure():
    assert subject(FINDING) == (
        "Suspended until 2026-11-10: MOFCOM rare-earth export controls (No. 61)"
    )
    moved = dataclasses.replace(SUSPENSION, kind="date_changed", new_kind="effective",
                                new_date=dt.date(2026, 1, 5))  # fmt: skip
    three = dataclasses.replace(FINDING, changes=(SUSPENSION, moved, moved))
    assert subject(three) == (
        "Suspended until 2026-11-10: MOFCOM rare-earth export controls (No. 61) (+2 more)"
    )


def test_the_subject_stays_whole_under_150_characters_with_a_long_measure_title():
    long = dataclasses.replace(SUSPENSION, measure="Export\ncontrols on rare earths " * 12)
    text = subject(dataclasses.replace(FINDING, changes=(long, SUSPENSION, SUSPENSION)))
    assert len(text) < 150 and "\n" not in text
    assert text.startswith("Suspended until 2026-11-10: Export controls on rare earths")
    assert text.endswith("… (+2 more)")

    title = subject(dataclasses.replace(ALERT, title="Tariff " * 60))
    assert title.startswith("New notice: Tariff") and title.endswith("…") and len(title) < 150
    # Slack gets the subject entity-escaped as its header (at most 150): `&` counts as `&amp;`
    ampersands = subject(dataclasses.replace(ALERT, title="R&D " * 60))
    assert len(html.escape(ampersands, quote=False)) < 150 and ampersands.endswith("…")


def test_each_kind_of_message_says_what_it_is_first_without_a_watcher_prefix():
    firsts = {
        AlertKind.new: "New notice: ",
        AlertKind.update: "Updated notice: ",
        AlertKind.reminder: "Reminder: ",
        AlertKind.health: "Source health: ",
        AlertKind.test: "Test: ",
    }
    for kind, first in firsts.items():
        text = subject(dataclasses.replace(ALERT, kind=kind, rules=()))
        assert text == first + "China suspends rare earth export controls"
    assert subject(dataclasses.replace(ALERT, title="  ")) == "New notice: (untitled notice)"


# --- bodies -----------------------------------------------------------------------------------


def test_three_rules_in_one_alert_are_listed_by_name_with_the_text_each_matched():
    _, text = render(THREE_RULES, "text")
    assert '- rare-earths: "rare earth"\n' in text
    assert '- export-controls: "export control"\n' in text
    assert (
        '- mofcom: "MOFCOM", "Ministry of Commerce"\n  > The Ministry of Commerce said so.' in text
    )
    _, mrkdwn = slack_view(THREE_RULES)
    for line in ('• *rare-earths*: "rare earth"', '• *export-controls*: "export control"',
                 '• *mofcom*: "MOFCOM", "Ministry of Commerce"'):  # fmt: skip
        assert line in mrkdwn
    _, html = render(THREE_RULES, "html")
    for name in ("rare-earths", "export-controls", "mofcom"):
        assert f"<strong>{name}</strong>" in html


def test_a_regex_rule_shows_the_text_it_matched_never_the_regex():
    regex_hit = RuleHit("mofcom-announcements", ("MOFCOM Announcement No. 61",), SENTENCE)
    alert = dataclasses.replace(ALERT, rules=(regex_hit,))
    for fmt in ("text", "markdown", "html"):
        _, body = render(alert, fmt)
        assert "MOFCOM Announcement No. 61" in body
        assert "(?i" not in body and "\\b" not in body and "\\s" not in body
    assert structured(alert, "d-1")["rules"][0]["matched"] == ["MOFCOM Announcement No. 61"]


def test_every_body_lists_the_changes_with_the_finding_and_how_to_accept_it():
    applied = dataclasses.replace(SUSPENSION, finding_id=13, applied=True, evidence="Other words.")
    alert = dataclasses.replace(FINDING, changes=(SUSPENSION, applied))
    _, text = render(alert, "text")
    assert text.startswith("Notice: China suspends rare earth export controls\n\nChanges:\n")
    assert (
        "- MOFCOM rare-earth export controls (No. 61): effective 2025-12-01 → suspended until 2026-11-10\n"
        "  finding #12 proposed: watcher findings accept 12\n"
    ) in text
    assert "  finding #13 applied to the registry\n  > Other words." in text
    assert text.index("Changes:") < text.index("> MOFCOM suspends") < text.index("Rules:")
    for body in (slack_view(alert)[1], render(alert, "html")[1]):
        assert "effective 2025-12-01 → suspended until 2026-11-10" in body
        assert "watcher findings accept 12" in body and "finding #13 applied" in body


def test_an_update_says_what_changed_and_quotes_the_new_sentence():
    update = dataclasses.replace(ALERT, kind=AlertKind.update,
                                 sentence="The suspension now runs until 10 November 2026.")  # fmt: skip
    title, text = render(update, "text")
    assert title == "Updated notice: China suspends rare earth export controls"
    assert text.startswith("What changed:\n> The suspension now runs until 10 November 2026.")
    _, mrkdwn = slack_view(update)
    assert mrkdwn.startswith("*What changed:*\n> The suspension now runs until 10 November 2026.")
    _, html = render(update, "html")
    assert "Updated notice" in html and "What changed:" in html


def test_the_text_body_carries_every_field_with_the_date_in_utc_and_no_repeated_title():
    title, body = render(FINDING, "text")
    assert title not in body
    for expected in (
        "> MOFCOM suspends the rare earth export control measures announced on 9 October.",
        '- rare-earths: "rare earth", "export control"',
        "Deadlines: comments due 2025-12-20",
        f"Link:      {LINK}",
        "Source:    mofcom",
        "Published: 2025-11-07T01:30:00Z",
    ):
        assert expected in body
    _, new = render(ALERT, "text")
    assert "China suspends rare earth export controls" not in new  # the subject says it


def test_a_time_held_in_the_sources_zone_is_shown_in_it_and_stays_utc_in_json():
    from zoneinfo import ZoneInfo

    beijing = dataclasses.replace(FINDING, published=dt.datetime(2025, 11, 7, tzinfo=ZoneInfo("Asia/Shanghai")))
    _, text = render(beijing, "text")
    assert "Published: 2025-11-07 00:00 Asia/Shanghai" in text and "2025-11-06" not in text
    for body in (slack_view(beijing)[1], render(beijing, "html")[1]):
        assert "2025-11-07 00:00 Asia/Shanghai" in body
    data = structured(beijing, "w-1")
    assert (data["published"], data["published_tz"]) == ("2025-11-06T16:00:00Z", "Asia/Shanghai")
    assert structured(FINDING, "w-1")["published_tz"] is None  # an offset alone names no zone


def test_slack_gets_clean_text_no_backslash_no_repeated_title_and_clickable_links():
    hostile = dataclasses.replace(
        FINDING,
        title=r"Tariffs <25%> & *more* on `x` [a](b) \ #1 <!channel>",
        rules=(RuleHit("rare_earths", ("rare *earth*",), "Say _hi_ <@U123> ~ok~"),),
    )
    header, mrkdwn = slack_view(hostile)
    assert header == "Suspended until 2026-11-10: MOFCOM rare-earth export controls (No. 61)"
    assert "\\" not in mrkdwn and "**" not in mrkdwn
    assert header not in mrkdwn and "Suspended until" not in mrkdwn
    assert mrkdwn.startswith(f"*Notice:* <{LINK}|Tariffs &lt;25%&gt; &amp; ")
    assert "<!channel>" not in mrkdwn and "<@U123>" not in mrkdwn and "&lt;!channel&gt;" in mrkdwn
    assert "∗more∗" in mrkdwn and "ˋxˋ" in mrkdwn  # look-alikes: no bold, no code, no backslash
    assert "*Changes*" in mrkdwn and "`watcher findings accept 12`" in mrkdwn
    assert "\n> Say _hi_ &lt;@U123&gt; ~ok~" in mrkdwn

    _, plain = slack_view(ALERT)  # the title is in the header: the body links it bare
    assert "China suspends" not in plain and "\\" not in plain
    assert f"*Link:* <{LINK}>" in plain and plain.startswith("> MOFCOM suspends")


def test_html_escapes_every_field_and_links_only_http_urls():
    hostile = dataclasses.replace(
        FINDING,
        title='<script>alert(1)</script> & "quotes"',
        source="<b>src</b>",
        rules=(RuleHit("r<1>", ("<img>",), "x"),),
        sentence="a <img src=x onerror=alert(1)> b",
        changes=(dataclasses.replace(SUSPENSION, measure="<i>m</i>", evidence="<u>e</u>"),),
        extra={"deadlines": "<i>soon</i>"},
    )
    _, body = render(hostile, "html")
    assert "<script>" not in body and "<img" not in body and "<b>src" not in body
    assert "<i>" not in body and "<u>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in body
    assert "&lt;i&gt;soon&lt;/i&gt;" in body and "r&lt;1&gt;" in body

    for link in ("javascript:alert(1)", "data:text/html,hi", "ftp://example.com/x"):
        _, body = render(dataclasses.replace(ALERT, link=link), "html")
        assert link not in body and "href" not in body
    _, body = render(dataclasses.replace(ALERT, link='https://x.test/?a=1&b="2"'), "html")
    assert 'href="https://x.test/?a=1&amp;b=&quot;2&quot;"' in body


def test_html_is_a_self_contained_email_with_inline_styles_and_the_matched_text_in_bold():
    _, body = render(FINDING, "html")
    assert body.startswith("<!DOCTYPE html>")
    assert "<style" not in body and "<link" not in body and "<img" not in body
    assert "<blockquote" in body and "<strong>rare earth</strong>" in body
    assert f'<a href="{LINK}"' in body and "China suspends rare earth export controls</a>" in body


# --- structured -------------------------------------------------------------------------------


def test_the_structured_body_has_every_field_as_json():
    data = structured(FINDING, "w-123-456")
    assert json.loads(json.dumps(data)) == data
    assert data["delivery_id"] == "w-123-456" and data["dedup_key"] == FINDING.dedup_key
    assert data["kind"] == "finding" and data["channel"] == "ops" and data["source"] == "mofcom"
    assert data["title"] == FINDING.title and data["link"] == LINK
    assert data["published"] == "2025-11-07T01:30:00Z" and data["sentence"] == SENTENCE
    assert data["subject"] == subject(FINDING)
    assert data["rules"] == [
        {"rule": "rare-earths", "matched": ["rare earth", "export control"], "sentence": SENTENCE}
    ]
    [change] = data["changes"]
    assert change == {
        "finding_id": 12, "kind": "suspended", "measure_id": "cn-mofcom-2025-61",
        "measure": "MOFCOM rare-earth export controls (No. 61)", "old_kind": "effective",
        "old_date": "2025-12-01", "new_kind": "expiry", "new_date": "2026-11-10", "applied": False,
        "evidence": SENTENCE, "text": "effective 2025-12-01 → suspended until 2026-11-10",
    }  # fmt: skip
    assert data["extra"] == {"deadlines": "comments due 2025-12-20"}
    assert structured(dataclasses.replace(ALERT, link="javascript:x"), "d")["link"] is None


def test_a_health_message_says_its_own_words_unquoted_and_names_the_source_once():
    health = Alert(
        dedup_key="health|mofcom|silent|2025-11-01",
        channel="ops",
        kind=AlertKind.health,
        source="mofcom",
        title="Source mofcom has found nothing new since 2025-11-01",
        link="https://www.mofcom.gov.cn/",
        sentence="No new notice for longer than expected (48 h).",
        extra={"source": "mofcom", "reason": "silent", "since": "2025-11-01"},
        origin="health",
    )
    title, text = render(health, "text")
    assert title == "Source health: Source mofcom has found nothing new since 2025-11-01"
    assert text.startswith("No new notice for longer than expected (48 h).\n\nReason:")
    assert ">" not in text and text.count("Source:") == 1
    _, mrkdwn = slack_view(health)
    assert mrkdwn.startswith("No new notice for longer than expected (48 h).")
