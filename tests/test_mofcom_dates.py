"""Chinese notices read as their sentences are: a MOFCOM page's article text yields the dates each of
its sentences yields alone, its publication day (in Beijing, not the UTC day before) resolving the
dates written without a year; and its publication time is shown with its zone."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.test_pipeline import config, mailto, poll
from watcher.db import outbox as outbox_db
from watcher.db.engine import make_engine, sessions
from watcher.extract import extract_deadlines
from watcher.models import FetchResult, Item
from watcher.registry.events import item_events
from watcher.settings import HtmlListSource, load
from watcher.sources import html_list
from watcher.text import split

BEIJING = ZoneInfo("Asia/Shanghai")
LIST = "/article/b/c/"
PAGE = "/article/b/c/201809/20180902787001.shtml"
# Our own text in the style of a MOFCOM announcement of 2018 (not a real one). The page prints its
# date only in its info line, as older MOFCOM pages do: no <meta PubDate>, no signature date line.
ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>商务部公告2018年第88号</title></head>
<body><div class="nav"><a href="/">首页</a></div>
<h1>商务部公告2018年第88号 关于对部分稀土产品实施出口许可管理的公告</h1>
<div class="art-info">发布时间：2018-09-18 10:13　来源：对外贸易司</div>
<div id="zoom">
<p>　　根据《中华人民共和国对外贸易法》和《中华人民共和国货物进出口管理条例》有关规定，现就有关事项公告如下：</p>
<p>　　一、自9月24日起，对附件所列稀土产品实行出口许可证管理。</p>
<p>　　二、出口经营者应于10月15日前向所在地省级商务主管部门报送申请材料。</p>
<p>　　三、本公告发布前已签订的出口合同，可在12月31日前按原规定履行完毕。</p>
<p>　　特此公告。</p>
<p style="text-align:right">商务部</p>
</div></body></html>"""
LIST_PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>政策发布</title></head><body>
<ul class="txtList"><li><a href="{PAGE}" title="商务部公告2018年第88号 关于对部分稀土产品实施出口许可管理的公告">
商务部公告2018年第88号 关于对部分稀土产品实施出口许可管理的公告</a><span>[2018-09-18]</span></li></ul></body></html>"""


def page_item(markup: str = ARTICLE) -> Item:
    found = html_list.article(markup, BEIJING)
    return Item(source="mofcom-zh", key=PAGE, title=found.title, link=PAGE, published=found.published,
                summary=found.text[:300], text=found.text, content_hash="h")  # fmt: skip


def keys(events: list[Any]) -> set[tuple[dt.date, str]]:
    return {(e.date, e.kind) for e in events}


def test_a_page_dated_only_in_its_info_line_resolves_its_yearless_dates_as_its_sentences_do():
    item = page_item()
    assert item.published == dt.datetime(2018, 9, 18, 10, 13, tzinfo=BEIJING)
    found = keys(item_events(item))
    assert (dt.date(2018, 9, 24), "effective") in found and (dt.date(2018, 10, 15), "other_deadline") in found
    day = item.published.date() if item.published else None
    for start, end in split(item.text):  # every sentence's own dates are the article's
        assert keys(extract_deadlines(item.text[start:end], day)) <= found, item.text[start:end]


def test_a_list_date_is_the_notices_own_day_in_beijing_not_the_utc_day_before():
    result = FetchResult(url="http://127.0.0.1:9/list/", status=200, body=LIST_PAGE.encode(),
                         headers={"Content-Type": "text/html"}, etag=None, last_modified=None, body_hash="")  # fmt: skip
    src = HtmlListSource(name="mofcom-zh", kind="html_list", url="http://127.0.0.1:9/list/", tz="Asia/Shanghai")
    [listed] = html_list.parse(result, src)
    assert listed.published == dt.datetime(2018, 9, 17, 16, tzinfo=dt.UTC)  # the same instant as ever
    assert listed.published is not None and listed.published.date() == dt.date(2018, 9, 18)
    effective_now = Item(**{**{f: getattr(listed, f) for f in ("source", "key", "title", "link", "published")},
                            "summary": "", "text": "二、本公告自发布之日起施行。", "content_hash": "h"})  # fmt: skip
    assert keys(item_events(effective_now)) == {(dt.date(2018, 9, 18), "effective")}


def test_pasted_article_text_with_its_date_stamp_resolves_dates_without_a_year():
    text = "发布时间：2018-09-18 10:13\n一、自9月24日起，对附件所列稀土产品实行出口许可证管理。"
    assert (dt.date(2018, 9, 24), "effective") in keys(extract_deadlines(text, None))
    assert extract_deadlines("一、自9月24日起，对附件所列稀土产品实行出口许可证管理。", None) == []  # no year to go by


def setup(db_url: str, server: Any, smtp_sink: Any, write_config: Any) -> Path:
    server.set(LIST, LIST_PAGE.encode(), content_type="text/html")
    server.set(PAGE, ARTICLE.encode(), content_type="text/html")
    sources = [{"name": "mofcom-zh", "kind": "html_list", "url": server.url(LIST), "min_delay": 0, "tz": "Asia/Shanghai"}]
    data = config(db_url, sources, mailto(smtp_sink))
    data["defaults"]["backfill"] = "0s"
    return write_config(data)


def test_a_mofcom_notice_is_alerted_with_its_dates_and_its_beijing_publication_time(
    db_url, feed_server, smtp_sink, write_config
):
    path = setup(db_url, feed_server, smtp_sink, write_config)
    [outcome], report = poll(path)
    assert (outcome.new, outcome.alerts, report.sent) == (1, 1, 1)
    [message] = smtp_sink.wait_for(1)
    body = message.get_body(("plain",)).get_content()
    assert "2018-09-18 10:13 Asia/Shanghai" in body and "T02:13" not in body
    assert "effective 2018-09-24" in body  # the deadline the article's sentence gives

    engine = make_engine(load(path, env={}).database)  # the outbox keeps the zone's name
    with sessions(engine)() as session:
        [stored] = outbox_db.list_alerts(session)
    engine.dispose()
    assert stored.alert.published == dt.datetime(2018, 9, 18, 2, 13, tzinfo=dt.UTC)
    assert str(stored.alert.published.tzinfo) == "Asia/Shanghai"


def test_sources_test_shows_the_publication_time_with_its_zone_and_json_keeps_utc(
    db_url, feed_server, smtp_sink, write_config
):
    path = setup(db_url, feed_server, smtp_sink, write_config)
    run = lambda *a: subprocess.run([sys.executable, "-m", "watcher", "sources", "test", "mofcom-zh", *a, "--config",  # noqa: E731
                                     str(path)], capture_output=True, text=True, timeout=120)  # fmt: skip
    table = run()
    assert table.returncode == 0, table.stderr
    assert "published 2018-09-18 10:13 Asia/Shanghai" in table.stdout
    assert "deadline 2018-09-24 effective" in table.stdout
    [report] = json.loads(run("--json").stdout)
    assert (report["published"], report["published_tz"]) == ("2018-09-18T02:13:00Z", "Asia/Shanghai")
