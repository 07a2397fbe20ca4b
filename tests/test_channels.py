"""Rendering and delivery of alerts through apprise, against real local receivers (tests/sinks.py).

Nothing here mocks apprise. Slack is the one service on the internet: its messages are checked by
rendering and by apprise's own Slack conversion, never sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from apprise.plugins.slack import NotifySlack

from tests.sinks import HOST, SmtpSink, WebhookSink, free_port
from watcher import channels
from watcher.alerts import render
from watcher.errors import DeliveryError, Reason
from watcher.models import Alert
from watcher.settings import Channel

# The sink offers AUTH without TLS on purpose (a local test server); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ALERT = Alert(
    dedup_key="rare-earths|mofcom|61|new",
    channel="ops",
    kind="new",
    rule="rare-earths",
    source="mofcom",
    title="China suspends rare earth export controls",
    link="https://www.mofcom.gov.cn/article/zcfb/2025/61.html",
    phrases=("rare earth", "export control"),
    sentence="MOFCOM suspends the rare earth export control measures announced on 9 October.",
    published=dt.datetime(2025, 11, 7, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
)

DEADLINE_ALERT = dataclasses.replace(
    ALERT,
    kind="update",
    extra={
        "change": "effective 2025-12-01 → suspended until 2026-11-10",
        "measure": "MOFCOM Announcement 2025 No. 61",
    },
)


def mailto(port: int, userinfo: str = "") -> str:
    auth = f"{userinfo}@" if userinfo else ""
    return f"mailto://{auth}{HOST}:{port}?from=bot@example.com&to=ops@example.com&mode=insecure"


def channel(*urls: str, name: str = "ops") -> Channel:
    return Channel(name=name, url=list(urls))


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


# --- rendering --------------------------------------------------------------------------------


def test_the_subject_names_the_rule_and_the_notice_and_stays_under_150_characters():
    title, _ = render(ALERT, "text")
    assert title == "[watcher] rare-earths: China suspends rare earth export controls"

    long = dataclasses.replace(ALERT, title="Export\ncontrols " * 40)
    title, _ = render(long, "html")
    assert len(title) <= 150 and "\n" not in title and title.endswith("…")


def test_an_update_says_updated_notice_and_shows_the_change_and_measure_first():
    for fmt in ("text", "markdown", "html"):
        title, body = render(DEADLINE_ALERT, fmt)
        assert "Updated notice" in title and "Updated notice" in body
        assert "suspended until 2026-11-10" in body
        assert "MOFCOM Announcement 2025 No. 61" in body
        assert body.index("suspended until 2026-11-10") < body.index("Source")


def test_the_text_body_carries_every_field_with_the_date_in_utc():
    _, body = render(DEADLINE_ALERT, "text")
    assert body.splitlines()[0] == "Updated notice: China suspends rare earth export controls"
    for expected in (
        "Change: effective 2025-12-01 → suspended until 2026-11-10",
        "> MOFCOM suspends the rare earth export control measures announced on 9 October.",
        "Source:    mofcom",
        "Link:      https://www.mofcom.gov.cn/article/zcfb/2025/61.html",
        "Matched:   rare earth, export control",
        "Rule:      rare-earths",
        "Published: 2025-11-07T01:30:00Z",
    ):
        assert expected in body


def test_html_escapes_every_field_and_links_only_http_urls():
    hostile = dataclasses.replace(
        ALERT,
        title='<script>alert(1)</script> & "quotes"',
        source="<b>src</b>",
        rule="r<1>",
        phrases=("<img>",),
        sentence="a <img src=x onerror=alert(1)> b",
        extra={"change": "<i>soon</i>"},
    )
    _, body = render(hostile, "html")
    assert "<script>" not in body and "<img" not in body and "<b>src" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in body
    assert "&lt;i&gt;soon&lt;/i&gt;" in body

    for link in ("javascript:alert(1)", "data:text/html,hi", "ftp://example.com/x"):
        _, body = render(dataclasses.replace(ALERT, link=link), "html")
        assert link not in body and "href" not in body
    _, body = render(dataclasses.replace(ALERT, link='https://x.test/?a=1&b="2"'), "html")
    assert 'href="https://x.test/?a=1&amp;b=&quot;2&quot;"' in body


def test_html_is_a_self_contained_email_with_inline_styles_and_a_blockquote():
    _, body = render(ALERT, "html")
    assert body.startswith("<!DOCTYPE html>")
    assert "<style" not in body and "<link" not in body and "<img" not in body
    assert "<blockquote" in body and "<strong>rare earth</strong>" in body


def test_slack_gets_commonmark_that_apprise_turns_into_slack_mrkdwn():
    # Slack is on the internet, so this checks what would be posted, without posting it:
    # render() in the URL's format, then apprise's own CommonMark → mrkdwn conversion.
    assert channels.target_format("slack://T000/B000/XXXX") == "markdown"
    hostile = dataclasses.replace(DEADLINE_ALERT, title="Tariffs <25%> & *more*")
    _, body = render(hostile, "markdown")
    assert "**Updated notice:**" in body
    assert "[Tariffs \\<25%\\> & \\*more\\*](<https://www.mofcom.gov.cn/" in body
    assert "> MOFCOM suspends the rare earth export control measures" in body

    mrkdwn = NotifySlack._commonmark_to_slack(body)
    assert mrkdwn.startswith(
        "*Updated notice:* <https://www.mofcom.gov.cn/article/zcfb/2025/61.html|"
    )
    assert "Tariffs &lt;25%&gt; &amp; " in mrkdwn  # Slack's control characters stay literal
    assert "*Change:* effective 2025-12-01 → suspended until 2026-11-10" in mrkdwn
    assert "\n> MOFCOM suspends" in mrkdwn
    assert "**" not in mrkdwn


def test_each_url_gets_the_format_its_apprise_plugin_wants():
    assert channels.target_format("slack://T000/B000/XXXX") == "markdown"
    assert channels.target_format(mailto(2525)) == "html"
    assert channels.target_format("json://127.0.0.1:8080/hook") == "text"
    assert channels.target_format("json://127.0.0.1:8080/hook?format=markdown") == "markdown"


# --- delivery ---------------------------------------------------------------------------------


def test_an_alert_sent_to_mailto_arrives_as_an_html_email_with_title_link_phrases_and_quote(smtp):
    channels.send(channel(mailto(smtp.port)), DEADLINE_ALERT, allow_private=True, timeout=5)

    [message] = smtp.wait_for(1)
    assert message["Subject"] == (
        "[watcher] rare-earths: Updated notice: China suspends rare earth export controls"
    )
    assert message["From"] == "bot@example.com" and message["To"] == "ops@example.com"
    html = message.get_body(("html",)).get_content()
    assert '<a href="https://www.mofcom.gov.cn/article/zcfb/2025/61.html"' in html
    assert "China suspends rare earth export controls</a>" in html
    assert "rare earth, export control" in html
    assert "<blockquote" in html and "measures announced on 9 October.</blockquote>" in html
    assert "suspended until 2026-11-10" in html
    text = message.get_body(("plain",)).get_content()  # apprise's own alternative part
    assert "Matched: rare earth, export control" in text


def test_an_alert_sent_to_a_json_webhook_arrives_as_plain_text_with_title_and_body(webhook):
    channels.send(channel(webhook.url("/hook")), ALERT, allow_private=True, timeout=5)

    [request] = webhook.wait_for(1)
    assert request.path == "/hook"
    assert (
        request.body["title"] == "[watcher] rare-earths: China suspends rare earth export controls"
    )
    assert request.body["message"] == render(ALERT, "text")[1]
    assert "<" not in request.body["message"] and "**" not in request.body["message"]


def test_every_url_of_a_channel_is_rendered_in_its_own_format(smtp, webhook):
    both = channel(mailto(smtp.port), webhook.url())
    channels.send(both, ALERT, allow_private=True, timeout=5)

    assert smtp.wait_for(1)[0].get_body(("html",)).get_content().startswith("<!DOCTYPE html>")
    assert not webhook.wait_for(1)[0].body["message"].startswith("<")


def test_a_mail_server_that_is_down_fails_the_send_and_a_restart_on_the_same_port_works(smtp):
    url = mailto(smtp.port, userinfo="bob:Pa55word-Secret")
    smtp.stop()

    with pytest.raises(DeliveryError) as failed:
        channels.send(channel(url), ALERT, allow_private=True, timeout=5)
    assert not failed.value.permanent and failed.value.reason is Reason.connect
    assert "Connection error" in str(failed.value)
    assert f"mailto://{HOST}:{smtp.port}/…" in str(failed.value)
    assert "Pa55word-Secret" not in str(failed.value)

    smtp.start()  # same port
    channels.send(channel(mailto(smtp.port)), ALERT, allow_private=True, timeout=5)
    assert len(smtp.wait_for(1)) == 1


def test_a_webhook_answering_500_fails_with_the_status_and_the_next_try_goes_through(webhook):
    webhook.fail_next(1)
    with pytest.raises(DeliveryError) as failed:
        channels.send(channel(webhook.url()), ALERT, allow_private=True, timeout=5)
    assert "500" in str(failed.value) and failed.value.reason is Reason.http_5xx
    assert not failed.value.permanent

    channels.send(channel(webhook.url()), ALERT, allow_private=True, timeout=5)
    assert len(webhook.wait_for(2)) == 2


def test_one_failing_url_fails_the_channel_and_names_only_that_url(smtp, webhook):
    webhook.fail_next(1)
    with pytest.raises(DeliveryError) as failed:
        channels.send(channel(mailto(smtp.port), webhook.url()), ALERT, allow_private=True)
    assert f"json://{HOST}:{webhook.port}/… failed" in str(failed.value)
    assert "mailto://" not in str(failed.value)
    assert len(smtp.wait_for(1)) == 1  # the other URL still got the alert


def test_a_webhook_that_never_answers_fails_within_the_timeout():
    with socket.socket() as silent:  # listens, never accepts nor answers
        silent.bind((HOST, 0))
        silent.listen()
        url = f"json://{HOST}:{silent.getsockname()[1]}/hook"
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failed:
            channels.send(channel(url), ALERT, allow_private=True, timeout=0.5)
    assert time.monotonic() - started < 5
    assert not failed.value.permanent


@pytest.mark.parametrize("scheme", ["json", "mailto"])
def test_a_private_host_is_refused_permanently_and_nothing_is_sent(scheme, smtp, webhook):
    url = webhook.url() if scheme == "json" else mailto(smtp.port)
    with pytest.raises(DeliveryError) as failed:
        channels.send(channel(url), ALERT, allow_private=False)
    assert failed.value.permanent and failed.value.reason is Reason.blocked_address
    assert "127.0.0.1" in str(failed.value) and "allow_private_networks" in str(failed.value)
    with pytest.raises(DeliveryError):
        channels.check_channel_url(url, allow_private=False)
    channels.check_channel_url(url, allow_private=True)
    assert webhook.requests == [] and smtp.messages == []


def test_a_blocked_url_stops_the_whole_channel_before_anything_is_sent(smtp):
    with pytest.raises(DeliveryError) as failed:
        channels.send(
            channel("json://10.1.2.3/hook", mailto(smtp.port)), ALERT, allow_private=False
        )
    assert failed.value.permanent and "10.1.2.3" in str(failed.value)
    assert smtp.messages == []


def test_the_smtp_host_of_a_mailto_url_is_the_one_checked():
    with pytest.raises(DeliveryError) as failed:
        channels.check_channel_url(
            "mailto://user:pw@example.com?smtp=192.168.1.5&to=ops@example.com", allow_private=False
        )
    assert "192.168.1.5" in str(failed.value) and failed.value.permanent


def test_a_url_apprise_cannot_use_fails_permanently():
    for url in ("nosuchscheme://host/x", "slack://only-one-token", "json://"):
        with pytest.raises(DeliveryError) as failed:
            channels.send(channel(url), ALERT, allow_private=True)
        assert failed.value.permanent and failed.value.reason is Reason.bad_url
        with pytest.raises(DeliveryError):
            channels.target_format(url)


def test_a_channel_without_urls_prints_the_alert_to_stdout(capsys):
    console = Channel(name="console", url="")
    assert console.urls() == []
    channels.send(console, DEADLINE_ALERT, allow_private=False)

    out = capsys.readouterr().out
    assert out.startswith(
        "[watcher] rare-earths: Updated notice: China suspends rare earth export controls\n"
    )
    assert "Change: effective 2025-12-01 → suspended until 2026-11-10" in out
    assert "Link:      https://www.mofcom.gov.cn/article/zcfb/2025/61.html" in out


def test_a_mail_server_with_auth_accepts_the_right_password_only():
    with SmtpSink(credentials=("bob", "right-Pa55word")) as smtp:
        channels.send(
            channel(mailto(smtp.port, "bob:right-Pa55word")), ALERT, allow_private=True, timeout=5
        )
        assert len(smtp.wait_for(1)) == 1
        with pytest.raises(DeliveryError):
            channels.send(
                channel(mailto(smtp.port, "bob:wrong-Pa55word")), ALERT, allow_private=True
            )
        assert len(smtp.messages) == 1


# --- secrets ----------------------------------------------------------------------------------


def test_redact_keeps_scheme_and_host_only():
    assert channels.redact(mailto(2525, "bob:Secret123")) == f"mailto://{HOST}:2525/…"
    assert channels.redact("json://alice:Secret123@hooks.example.com/x/TOKEN9?a=QUERYVAL") == (
        "json://hooks.example.com/…"
    )
    slack = channels.redact("slack://T000SECRETA/B000SECRETB/XXXXSECRETC")
    assert slack.startswith("slack://") and "SECRET" not in slack
    assert channels.redact("nosuchscheme://user:pw@TOKENHOST/p") == "nosuchscheme://***/…"


# apprise json://: `-name=` adds a GET parameter, `+Name=` a header.
JSON_SECRET_PATH = "/hook?-apikey=QuerySecret9&+X-Token=HeaderSecret7"


def _failing_send(kind: str, smtp: SmtpSink, webhook: WebhookSink) -> tuple[str, list[str]]:
    """Make one send with a secret-bearing URL fail; return the error text and the secrets."""
    if kind == "slack-unusable":  # never sent: apprise rejects it, and logs the URL it rejects
        url, secrets = "slack://T000SECRETA/B000SECRETB", ["T000SECRETA", "B000SECRETB"]
    elif kind == "slack-blocked-channel":  # never sent: another URL of the channel is blocked
        url = "slack://T000SECRETA/B000SECRETB/XXXXSECRETC"
        secrets = ["T000SECRETA", "B000SECRETB", "XXXXSECRETC"]
    elif kind == "mailto-down":
        url, secrets = mailto(smtp.port, "bob:Sm7pSecretPW"), ["Sm7pSecretPW"]
        smtp.stop()
    elif kind == "mailto-wrong-password":
        url, secrets = mailto(smtp.port, "bob:Sm7pSecretPW"), ["Sm7pSecretPW"]
    else:  # json with user:pass and a query parameter, answering 500
        url = webhook.url(JSON_SECRET_PATH, userinfo="alice:JsonSecretPW")
        secrets = ["JsonSecretPW", "QuerySecret9", "HeaderSecret7"]
        webhook.fail_next(1)
    urls = [url, "json://10.9.8.7/x"] if kind == "slack-blocked-channel" else [url]
    with pytest.raises(DeliveryError) as failed:
        channels.send(channel(*urls), ALERT, allow_private=kind != "slack-blocked-channel")
    return f"{failed.value} {failed.value!r} {failed.value.args}", secrets


@pytest.mark.parametrize(
    "kind",
    ["slack-unusable", "slack-blocked-channel", "mailto-down", "mailto-wrong-password", "json-500"],
)
def test_no_secret_leaks_into_errors_or_logs(kind, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # apprise and urllib3 included: the most they ever log
    smtp = SmtpSink(credentials=("bob", "another-password")).start()
    webhook = WebhookSink().start()
    try:
        error_text, secrets = _failing_send(kind, smtp, webhook)
    finally:
        smtp.stop()
        webhook.stop()
    captured = capsys.readouterr()
    everything = "\n".join([error_text, caplog.text, captured.out, captured.err])
    assert caplog.records, "apprise logged nothing; the check would be vacuous"
    for secret in secrets:
        assert secret not in everything
    if kind == "json-500":
        assert "500" in error_text and webhook.requests[0].headers["Authorization"]


def test_the_webhook_really_received_the_credentials_that_were_scrubbed(webhook):
    # The json-500 case above is meaningful only if the secrets were really in use.
    url = webhook.url(JSON_SECRET_PATH, userinfo="alice:JsonSecretPW")
    channels.send(channel(url), ALERT, allow_private=True, timeout=5)
    [request] = webhook.wait_for(1)
    assert request.path == "/hook?apikey=QuerySecret9"
    assert request.headers["X-Token"] == "HeaderSecret7"
    assert request.headers["Authorization"].startswith("Basic ")


def test_free_port_and_a_restarted_sink_share_the_port():
    port = free_port()
    sink = SmtpSink(port=port).start()
    sink.stop()
    sink.start()
    try:
        assert sink.port == port
    finally:
        sink.stop()
