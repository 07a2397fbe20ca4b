"""The `html_list` source kind: official list pages without a feed (MOFCOM in GBK and UTF-8, a
JSON-wrapped list, a CBP-style table with selectors), followed articles, charsets, a changed layout."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Route
from tests.test_pipeline import config, mailto
from watcher.commands import poll_once
from watcher.db.engine import make_engine, sessions
from watcher.errors import ConfigError, ParseError, Reason
from watcher.models import FetchResult
from watcher.settings import HtmlListSource, load
from watcher.sources import html_list

DATA = Path(__file__).parent / "data" / "sources"
LIST = "/article/zwgk/gkzcfb/"
ARTICLES = {
    "/article/zwgk/gkzcfb/202511/20251103685621.shtml": (DATA / "mofcom_article_70.html").read_bytes(),
    "/article/zwgk/gkzcfb/202511/20251103685455.shtml": "<html><head><meta charset=utf-8><title>商务部公告2025年第72号</title></head>"
    "<body><div id=zoom><p>　　暂停实施商务部公告2025年第57号、58号，至2026年11月10日。</p></div></body></html>".encode(),
    "/article/zwgk/gkzcfb/202510/20251003402369.shtml": "<html><body><h1>商务部公告2025年第61号</h1><div id=zoom>"
    "<p>　　对境外相关稀土物项实施出口管制，自2025年12月1日起施行。</p></div></body></html>".encode(),
    "/article/zwgk/gkzcfb/202510/20251003402311.shtml": "<html><body><h1>商务部公告2025年第62号</h1><div id=zoom>"
    "<p>　　对稀土相关技术实施出口管制，自公布之日起施行。</p></div></body></html>".encode(),
}


def answer(body: bytes, content_type: str = "text/html", url: str = "http://127.0.0.1:9/list/") -> FetchResult:
    return FetchResult(url=url, status=200, body=body, headers={"Content-Type": content_type}, etag=None,
                       last_modified=None, body_hash="")  # fmt: skip


def source(**kw: Any) -> HtmlListSource:
    return HtmlListSource(**{"name": "mofcom-zh", "kind": "html_list", "url": "http://127.0.0.1:9/list/", **kw})


def test_a_gbk_list_page_without_selectors_yields_its_notices_with_chinese_titles_and_dates():
    # GBK bytes, declared only in a <meta> as gb2312; the header names no charset.
    items = html_list.parse(answer((DATA / "mofcom_list_gbk.html").read_bytes()), source(tz="Asia/Shanghai"))
    assert [(i.title, i.published) for i in items] == [
        ("商务部公告2025年第70号 关于暂停实施2025年第61号公告的公告", dt.datetime(2025, 11, 6, 16, tzinfo=dt.UTC)),
        ("商务部公告2025年第72号 关于暂停实施2025年第57号、58号公告的公告", dt.datetime(2025, 11, 6, 16, tzinfo=dt.UTC)),
        ("商务部公告2025年第61号 公布对境外相关稀土物项实施出口管制的决定", dt.datetime(2025, 10, 8, 16, tzinfo=dt.UTC)),
        ("商务部公告2025年第62号 公布对稀土相关技术实施出口管制的决定", dt.datetime(2025, 10, 8, 16, tzinfo=dt.UTC)),
    ]  # the cut title of No. 70 is taken whole from its title attribute; navigation, sidebar, pager left out
    assert items[0].key == items[0].link == "http://127.0.0.1:9/article/zwgk/gkzcfb/202511/20251103685621.shtml"


def test_the_header_charset_wins_and_gb2312_is_read_as_its_superset_gb18030():
    page = '<ul><li><a href="/a/1.shtml">朱镕基同志关于出口管制工作的讲话全文</a> 2025年10月9日</li></ul>'
    items = html_list.parse(answer(page.encode("gb18030"), "text/html; charset=GB2312"), source())
    assert items[0].title == "朱镕基同志关于出口管制工作的讲话全文"  # 镕 is in GBK, not in GB2312
    assert items[0].published == dt.datetime(2025, 10, 9, tzinfo=dt.UTC)


def test_a_utf8_table_list_is_read_with_selectors():
    page = """<html><body><table class="csms">
      <tr><th>Date</th><th>Message</th></tr>
      <tr><td class="d">11/14/2025</td><td><a href="/csms/66812345">CSMS # 66812345 - Update: Reciprocal Tariff Exemptions</a></td></tr>
      <tr><td class="d">11/10/2025</td><td><a href="https://content.govdelivery.com/bulletins/x">Fentanyl IEEPA duty reduced to 10%</a></td></tr>
    </table></body></html>"""
    src = source(name="cbp-csms", selectors={"item": "table.csms tr", "link": "a", "date": "td.d"})
    items = html_list.parse(answer(page.encode("utf-8"), "text/html; charset=utf-8"), src)
    assert [(i.title, i.link, i.published.date()) for i in items] == [
        ("CSMS # 66812345 - Update: Reciprocal Tariff Exemptions", "http://127.0.0.1:9/csms/66812345", dt.date(2025, 11, 14)),
        ("Fentanyl IEEPA duty reduced to 10%", "https://content.govdelivery.com/bulletins/x", dt.date(2025, 11, 10)),
    ]


def test_a_json_wrapped_list_is_read_at_its_json_path():
    items = html_list.parse(answer((DATA / "mofcom_unit.json").read_bytes(), "application/json"), source(json_path="data.html"))
    assert [i.title[:20] for i in items] == ["商务部公告2025年第70号 关于暂停实", "商务部公告2025年第61号 公布对境外"]


@pytest.mark.parametrize(
    ("body", "kw", "why"),
    [
        ((DATA / "mofcom_list_redesigned.html").read_bytes(), {}, "no notice links found at http://127.0.0.1:9/list/"),
        (b'{"success": true, "data": {"html": ""}}', {"json_path": "data.html"}, "no notice links found"),
        (b'{"success": false, "message": "error"}', {"json_path": "data.html"}, "no HTML string at 'data.html'"),
        (b"<ul><li>nothing</li></ul>", {"selectors": {"item": "ul.txtList_01 li"}}, "selector 'ul.txtList_01 li' matched no links"),
    ],
    ids=["page-filled-by-script", "empty-json-list", "json-without-the-path", "selector-matches-nothing"],
)
def test_a_list_that_yields_nothing_is_a_structure_error_never_no_news(body, kw, why):
    with pytest.raises(ParseError) as err:
        html_list.parse(answer(body), source(**kw))
    assert err.value.reason is Reason.structure
    assert err.value.message.startswith("structure changed: ") and why in err.value.message


def test_a_mofcom_article_gives_its_title_body_and_the_time_only_its_meta_carries():
    page = html_list.article((DATA / "mofcom_article_70.html").read_text(encoding="utf-8"), html_list.ZoneInfo("Asia/Shanghai"))
    assert page.title == "商务部公告2025年第70号 关于暂停实施2025年第61号公告的公告"
    assert page.published == dt.datetime(2025, 11, 7, 10, 20, tzinfo=dt.UTC)  # 18:20 in Beijing
    assert page.text.startswith("根据《中华人民共和国出口管制法》") and "至2026年11月10日" in page.text
    assert "版权所有" not in page.text and "首页" not in page.text  # only the #zoom body


def test_an_invalid_css_selector_is_a_config_error_with_its_key_path(write_config):
    path = write_config({"sources": [{"name": "x", "kind": "html_list", "url": "https://x.example/",
                                      "selectors": {"item": "li[["}}]})  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert "sources[0].selectors.item: invalid CSS selector 'li[['" in str(err.value)


# -- end to end: local server → pipeline → items → alerts --------------------------------------


def serve_mofcom(server: Any, list_body: bytes | None = None) -> None:
    server.set(LIST, list_body or (DATA / "mofcom_list_gbk.html").read_bytes(), content_type="text/html", etag='"l1"')
    for path, body in ARTICLES.items():
        server.set(path, body, content_type="text/html")


def list_config(db_url: str, server: Any, mail: str, backfill: str = "0s", **src: Any) -> dict[str, Any]:
    sources = [{"name": "mofcom-zh", "kind": "html_list", "url": server.url(LIST), "min_delay": 0, "tz": "Asia/Shanghai", **src}]
    data = config(db_url, sources, mail)
    data["defaults"]["backfill"] = backfill
    return data


def poll(path: Path) -> Any:
    return asyncio.run(poll_once(load(path, env={}), []))


def item_texts(path: Path) -> dict[str, str]:
    from sqlalchemy import select

    from watcher.db.tables import ItemRow

    engine = make_engine(load(path, env={}).database)
    with sessions(engine)() as session:
        rows = {r.title: r.text for r in session.scalars(select(ItemRow))}
    engine.dispose()
    return rows


def test_new_notices_are_followed_once_for_their_text_and_alerted_once(db_url, feed_server, smtp_sink, write_config):
    serve_mofcom(feed_server)
    path = write_config(list_config(db_url, feed_server, mailto(smtp_sink)))

    [first], report = poll(path)
    assert (first.status, first.items, first.new) == ("fetched", 4, 4)
    # 稀土 is in the titles of Nos. 61 and 62 and in the text of No. 70 (read from its article)
    assert first.alerts == 3 and report.sent == 3
    assert all(feed_server.hits(p) == 1 for p in ARTICLES)
    texts = item_texts(path)
    assert "暂停实施商务部公告2025年第61号" in texts["商务部公告2025年第70号 关于暂停实施2025年第61号公告的公告"]

    [second], _ = poll(path)
    assert second.status == "not_modified" and all(feed_server.hits(p) == 1 for p in ARTICLES)

    newer = (DATA / "mofcom_list_gbk.html").read_bytes().replace(
        b'<ul class="txtList_01">',
        '<ul class="txtList_01">\n<li><a href="/article/zwgk/gkzcfb/202511/20251103699999.shtml" title="商务部公告2025年第80号 关于稀土出口许可的公告">'
        "商务部公告2025年第80号 关于稀土出口许可的公告</a><span>[2025-11-20]</span></li>".encode("gbk"),
    )
    feed_server.set(LIST, newer, content_type="text/html", etag='"l2"')
    feed_server.set("/article/zwgk/gkzcfb/202511/20251103699999.shtml", ARTICLES["/article/zwgk/gkzcfb/202510/20251003402311.shtml"])
    [third], _ = poll(path)
    assert (third.new, third.updated, third.alerts) == (1, 0, 1)
    assert all(feed_server.hits(p) == 1 for p in ARTICLES)  # the known ones were not read again
    assert feed_server.hits("/article/zwgk/gkzcfb/202511/20251103699999.shtml") == 1
    assert len(smtp_sink.wait_for(4)) == 4


def test_on_a_first_poll_old_notices_are_history_and_their_articles_are_not_read(db_url, feed_server, smtp_sink, write_config):
    serve_mofcom(feed_server)
    path = write_config(list_config(db_url, feed_server, mailto(smtp_sink), backfill="7d"))
    [outcome], _ = poll(path)
    assert (outcome.new, outcome.alerts) == (4, 0)
    assert all(feed_server.hits(p) == 0 for p in ARTICLES)


def test_a_json_wrapped_list_is_polled_end_to_end(db_url, feed_server, smtp_sink, write_config):
    serve_mofcom(feed_server)
    unit = "/api-gateway/jpaas-publish-server/front/page/build/unit"
    feed_server.set(unit, (DATA / "mofcom_unit.json").read_bytes(), content_type="application/json;charset=UTF-8")
    path = write_config(list_config(db_url, feed_server, mailto(smtp_sink), url=feed_server.url(unit), json_path="data.html"))
    [outcome], report = poll(path)
    assert (outcome.status, outcome.new, outcome.alerts, report.sent) == ("fetched", 2, 2, 2)


def test_an_unreadable_article_keeps_the_notice_as_the_list_shows_it(db_url, feed_server, smtp_sink, write_config):
    serve_mofcom(feed_server)
    feed_server.set("/article/zwgk/gkzcfb/202510/20251003402369.shtml", Route(status=404))
    path = write_config(list_config(db_url, feed_server, mailto(smtp_sink)))
    [outcome], _ = poll(path)
    assert (outcome.status, outcome.new) == ("fetched", 4)
    assert item_texts(path)["商务部公告2025年第61号 公布对境外相关稀土物项实施出口管制的决定"].startswith("商务部公告2025年第61号")


def test_articles_of_one_host_are_read_one_at_a_time(db_url, feed_server, smtp_sink, write_config):
    serve_mofcom(feed_server)
    for p, body in ARTICLES.items():
        feed_server.set(p, body, content_type="text/html", delay=0.05)
    path = write_config(list_config(db_url, feed_server, mailto(smtp_sink)))
    poll(path)
    assert feed_server.max_concurrent() == 1



def test_rules_are_matched_on_the_articles_text_when_a_worker_process_parsed_the_list(feed_server, smtp_sink, write_config, tmp_path):
    # The worker that parses the list matches the rules on what the list shows; a followed
    # article's text must be matched again (稀土 is only in No. 70's article).
    serve_mofcom(feed_server)
    data = list_config(f"sqlite:///{tmp_path / 'w.db'}", feed_server, mailto(smtp_sink))
    data["fetch"] = {"parse_workers": 1}
    [outcome], report = poll(write_config(data))
    assert (outcome.new, outcome.alerts, report.sent) == (4, 3, 3)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_feed_with_full_text_reads_each_new_entrys_page_once(workers, db_url, feed_server, smtp_sink, write_config):
    from tests.servers import feed_xml

    page = "/article/zwgk/gkzcfb/202511/20251103685621.shtml"
    feed_server.set(page, ARTICLES[page], content_type="text/html")
    entry = {"guid": "urn:mofcom:70", "title": "商务部公告2025年第70号", "link": feed_server.url(page),
             "pubDate": dt.datetime(2025, 11, 7, 10, 20, tzinfo=dt.UTC)}  # fmt: skip
    feed_server.set("/feed", feed_xml([entry]))  # a title only: 稀土 is in the page, not in the feed
    sources = [{"name": "mofcom-feed", "kind": "feed", "url": feed_server.url("/feed"), "full_text": True, "min_delay": 0}]
    data = config(db_url, sources, mailto(smtp_sink), fetch={"parse_workers": workers})
    data["defaults"]["backfill"] = "0s"
    path = write_config(data)
    for _ in range(2):
        poll(path)
    assert feed_server.hits(page) == 1
    [(title, text)] = item_texts(path).items()
    assert title == "商务部公告2025年第70号 关于暂停实施2025年第61号公告的公告"  # the page's whole title
    assert "暂停实施商务部公告2025年第61号" in text
    assert len(smtp_sink.wait_for(1)) == 1


# -- bounded: a list page is read in linear time, off the event loop, refused when absurd ------


def flat_list(n: int) -> bytes:
    """`n` notice links side by side in one container, each followed by its date (no rows)."""
    rows = "".join(f'<a href="/n/{i}.html">Notice number {i} on the export control of items</a> 2025-10-{i % 28 + 1:02d}<br>'
                   for i in range(n))  # fmt: skip
    return f"<html><body><div>{rows}</div></body></html>".encode()


def row_list(n: int) -> bytes:
    rows = "".join(f'<li><a href="/n/{i}.html">Notice number {i} on the export control of items</a> 2025-10-{i % 28 + 1:02d}</li>'
                   for i in range(n))  # fmt: skip
    return f"<html><body><ul>{rows}</ul></body></html>".encode()


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    import time

    started = time.perf_counter()
    try:
        out = fn(*args)
    except ParseError as exc:
        out = exc
    return out, time.perf_counter() - started


def test_a_flat_list_of_5000_links_is_read_in_linear_time():
    # Each link used to search its whole container for other links: 1,000 links took 15 s.
    flat, elapsed = timed(html_list.parse, answer(flat_list(5000)), source())
    assert isinstance(flat, ParseError) and flat.reason is Reason.structure  # no link has a row of its own
    assert elapsed < 3
    rows, elapsed = timed(html_list.parse, answer(row_list(5000)), source())
    assert len(rows) == 5000 and rows[1].published == dt.datetime(2025, 10, 2, tzinfo=dt.UTC)
    assert elapsed < 3


def test_a_page_with_more_links_than_any_list_has_is_refused_as_too_large():
    refused, elapsed = timed(html_list.parse, answer(row_list(html_list.MAX_NOTICES + 1)), source())
    assert isinstance(refused, ParseError) and refused.reason is Reason.too_large
    assert "20,001 nodes match 'a[href]' (at most 20,000)" in refused.message
    selected = source(selectors={"item": "li"})
    refused, _ = timed(html_list.parse, answer(row_list(html_list.MAX_NOTICES + 1)), selected)
    assert isinstance(refused, ParseError) and refused.reason is Reason.too_large and "'li'" in refused.message


@pytest.mark.parametrize("body", [flat_list, row_list], ids=["flat", "rows"])
def test_the_service_answers_healthz_throughout_the_poll_of_a_5000_link_list(body, tmp_path, feed_server, write_config):
    import subprocess
    import time

    import httpx

    from tests.processes import log_events, start_service, wait_until

    feed_server.set("/big", body(5000), content_type="text/html", delay=1.0)  # /healthz is asked meanwhile
    data = {
        "database": f"sqlite:///{tmp_path / 'w.db'}", "allow_private_networks": True,
        "http": {"host": "127.0.0.1", "port": 0}, "defaults": {"interval": "1h", "timeout": "10s", "backfill": "0s"},
        "sources": [{"name": "big", "kind": "html_list", "url": feed_server.url("/big"), "follow": False}],
        "rules": [{"name": "controls", "any": ["export control"]}],
    }  # fmt: skip
    log = tmp_path / "service.log"
    proc = start_service(write_config(data), log)
    try:
        port = wait_until(lambda: next((e["port"] for e in log_events(log) if e["event"] == "http.listening"), None),
                          timeout=30, what="the service to listen")  # fmt: skip
        done = ("source.polled", "source.failed")
        gaps, last = [], time.monotonic()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while not any(e["event"] in done for e in log_events(log)):
                assert client.get("/healthz").status_code == 200
                now = time.monotonic()
                gaps.append(now - last)
                last = now
        assert feed_server.hits("/big") == 1
        print(f"{len(gaps)} answers to /healthz, the longest wait {max(gaps):.3f} s")
        assert len(gaps) > 10 and max(gaps) < 1.0, f"/healthz waited {max(gaps):.2f} s"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # a blocked loop does not see SIGTERM
            proc.kill()
            proc.wait()
    [event] = [e for e in log_events(log) if e["event"] in done]
    if body is row_list:
        assert (event["event"], event["items"]) == ("source.polled", 5000)
    else:
        assert (event["event"], event["reason"]) == ("source.failed", "structure")
