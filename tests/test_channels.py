"""Rendering and delivery of alerts through apprise, against real local receivers (tests/sinks.py).

Nothing here mocks apprise. Slack is the one service on the internet: its messages are checked by
rendering and by apprise's own Slack conversion, never sent.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from tests.sinks import HOST, SmtpSink, WebhookSink, free_port
from tests.test_alerts import ALERT, FINDING, LINK
from watcher import channels
from watcher.alerts import render, structured
from watcher.errors import DeliveryError, Reason
from watcher.settings import Channel

# The sink offers AUTH without TLS on purpose (a local test server); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

FINDING_SUBJECT = "Suspended until 2026-11-10: MOFCOM rare-earth export controls (No. 61)"


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


# --- formats and targets ---------------------------------------------------------------------


def test_each_url_gets_the_format_its_apprise_plugin_wants():
    assert channels.target_format("slack://T000/B000/XXXX") == "markdown"
    assert channels.target_format(mailto(2525)) == "html"
    assert channels.target_format("json://127.0.0.1:8080/hook") == "text"
    assert channels.target_format("json://127.0.0.1:8080/hook?format=markdown") == "markdown"


# --- delivery ---------------------------------------------------------------------------------


def test_targets_have_stable_keys_and_redacted_labels_and_never_show_their_url():
    url = mailto(2525, "bob:Pa55word-Secret")
    ops = channel(url, "json://127.0.0.1:8080/hook", url)  # the same URL twice is one target
    first, second = channels.targets(ops)
    assert first.key == channels.target_key(url) == channels.targets(channel(url))[0].key
    assert len(first.key) == 16 and first.key != second.key
    assert first.label == f"mailto://{HOST}:2525/…" and first.url == url
    assert "Pa55word-Secret" not in repr(first) and "Pa55word-Secret" not in first.key
    console = Channel(name="console", url="")
    assert channels.targets(console) == [channels.Target("console", "console", "")]


def test_an_email_carries_our_message_id_exactly_once_and_the_text_body_as_its_text_part(smtp):
    ops = channel(mailto(smtp.port))
    [target] = channels.targets(ops)
    channels.send_to(ops, target.key, FINDING, "w-123-456", allow_private=True, timeout=5)

    [message] = smtp.wait_for(1)
    ours = channels.message_id("w-123-456", FINDING, "example.com")
    assert ours.startswith("<w-123-456.") and ours.endswith("@example.com>")
    assert message.get_all("Message-ID") == [ours]
    assert message.get_all("X-Watcher-Delivery-Id") == ["w-123-456"]
    assert message["Subject"] == FINDING_SUBJECT
    assert message["From"] == "bot@example.com" and message["To"] == "ops@example.com"
    text = message.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n").rstrip("\n") == render(FINDING, "text")[1]
    assert "finding #12 proposed: watcher findings accept 12" in text
    html = message.get_body(("html",)).get_content()
    assert f'<a href="{LINK}"' in html and "<blockquote" in html
    assert "effective 2025-12-01 → suspended until 2026-11-10" in html

    channels.send_to(ops, target.key, FINDING, "w-123-456", allow_private=True, timeout=5)
    assert smtp.wait_for(2)[1].get_all("Message-ID") == [ours]  # a retry: the same id


def test_an_email_sent_without_a_delivery_context_keeps_apprises_own_message_id(smtp):
    import apprise

    sender = apprise.Apprise()
    sender.add(mailto(smtp.port))
    assert sender.notify(body="<p>hi</p>", title="plain apprise", body_format="html")
    [message] = smtp.wait_for(1)
    assert len(message.get_all("Message-ID")) == 1 and "w-" not in message["Message-ID"]
    assert message.get_body(("plain",)).get_content().strip() == "hi"


def test_a_json_webhook_gets_title_message_and_the_structured_alert_with_the_delivery_id(webhook):
    hook = channel(webhook.url("/hook"))
    [target] = channels.targets(hook)
    channels.send_to(hook, target.key, FINDING, "w-7-8", allow_private=True, timeout=5)

    [request] = webhook.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["X-Watcher-Delivery-Id"] == "w-7-8"
    assert request.body["title"] == FINDING_SUBJECT
    assert request.body["message"] == render(FINDING, "text")[1]
    assert request.body["type"] == "info"
    assert request.body["watcher"] == structured(FINDING, "w-7-8")
    assert request.body["watcher"]["changes"][0]["new_date"] == "2026-11-10"
    assert request.body["watcher"]["rules"][0]["matched"] == ["rare earth", "export control"]


@pytest.mark.parametrize("scheme", ["form", "xml"])
def test_other_webhooks_get_the_delivery_id_header(scheme, webhook):
    hook = channel(webhook.url("/hook", scheme=scheme))
    channels.send_to(hook, channels.targets(hook)[0].key, ALERT, "w-9", allow_private=True)
    [request] = webhook.wait_for(1)
    assert request.headers["X-Watcher-Delivery-Id"] == "w-9"


def test_send_to_with_two_targets_one_down_sends_only_to_the_one_asked_for(smtp, webhook):
    both = channel(webhook.url("/up"), mailto(smtp.port))
    hook, mail = channels.targets(both)
    smtp.stop()  # the mail target is down

    with pytest.raises(DeliveryError) as failed:
        channels.send_to(both, mail.key, ALERT, "w-1-2", allow_private=True, timeout=5)
    assert not failed.value.permanent and failed.value.reason is Reason.connect
    assert f"mailto://{HOST}:{smtp.port}/… failed" in str(failed.value)
    assert webhook.requests == []  # the healthy target was not sent to again

    channels.send_to(both, hook.key, ALERT, "w-1-1", allow_private=True, timeout=5)
    [request] = webhook.wait_for(1)
    assert request.headers["X-Watcher-Delivery-Id"] == "w-1-1"
    smtp.start()
    channels.send_to(both, mail.key, ALERT, "w-1-2", allow_private=True, timeout=5)
    assert len(smtp.wait_for(1)) == 1 and len(webhook.requests) == 1


def test_send_to_a_target_no_longer_configured_fails_permanently(webhook):
    old = channels.targets(channel(webhook.url("/old")))[0]
    with pytest.raises(DeliveryError) as failed:
        channels.send_to(channel(webhook.url("/new")), old.key, ALERT, "w-1", allow_private=True)
    assert failed.value.permanent and failed.value.reason is Reason.config
    assert f"target {old.key} is no longer configured" in str(failed.value)
    with pytest.raises(DeliveryError):
        channels.send_to(channel(webhook.url()), "console", ALERT, "w-1", allow_private=True)
    assert webhook.requests == []


def test_send_reaches_every_url_of_a_channel_each_in_its_own_format(smtp, webhook):
    both = channel(mailto(smtp.port), webhook.url())
    channels.send(both, ALERT, allow_private=True, timeout=5)

    assert smtp.wait_for(1)[0].get_body(("html",)).get_content().startswith("<!DOCTYPE html>")
    [request] = webhook.wait_for(1)
    assert not request.body["message"].startswith("<")
    assert request.body["title"] == "New notice: China suspends rare earth export controls"
    assert request.headers["X-Watcher-Delivery-Id"].startswith("send-")


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
    channels.send(console, FINDING, allow_private=False)
    channels.send_to(console, "console", FINDING, "w-1", allow_private=False)

    out = capsys.readouterr().out
    assert out.startswith(FINDING_SUBJECT + "\n")
    assert out.count(FINDING_SUBJECT + "\n") == 2
    assert "effective 2025-12-01 → suspended until 2026-11-10" in out
    assert f"Link:      {LINK}" in out


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


def _failing_send(
    kind: str, via: str, smtp: SmtpSink, webhook: WebhookSink
) -> tuple[str, list[str]]:
    """Make one send (`send` to the channel, or `send_to` one target) with a secret-bearing URL
    fail; return the error text, the targets' reprs and labels, and the secrets."""
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
    ops = channel(*urls)
    found = channels.targets(ops)
    allow_private = kind != "slack-blocked-channel"
    with pytest.raises(DeliveryError) as failed:
        if via == "send":
            channels.send(ops, ALERT, allow_private=allow_private)
        else:  # the last target: the blocked one of slack-blocked-channel, never Slack itself
            channels.send_to(ops, found[-1].key, ALERT, "w-1", allow_private=allow_private)
    with pytest.raises(DeliveryError) as gone:
        channels.send_to(ops, "0123456789abcdef", ALERT, "w-1", allow_private=allow_private)
    shown = [repr(found), *(t.label for t in found), str(gone.value), repr(gone.value)]
    return " ".join(
        [str(failed.value), repr(failed.value), str(failed.value.args), *shown]
    ), secrets


@pytest.mark.parametrize("via", ["send", "send_to"])
@pytest.mark.parametrize(
    "kind",
    ["slack-unusable", "slack-blocked-channel", "mailto-down", "mailto-wrong-password", "json-500"],
)
def test_no_secret_leaks_into_errors_or_logs(kind, via, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # apprise and urllib3 included: the most they ever log
    smtp = SmtpSink(credentials=("bob", "another-password")).start()
    webhook = WebhookSink().start()
    try:
        error_text, secrets = _failing_send(kind, via, smtp, webhook)
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


def test_a_short_user_name_is_masked_where_it_stands_alone_without_mangling_other_words():
    from watcher.channels.secrets import scrub

    url = "json://u:longpassword@example.com/hook"
    assert scrub("A Connection error occurred for u at example.com (longpassword)", url) == (
        "A Connection error occurred for *** at example.com (***)"
    )
