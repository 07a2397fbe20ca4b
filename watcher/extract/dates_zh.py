"""Chinese date mentions, simplified and traditional: "2025年11月8日", "11月8日起", "二〇二五年
十一月八日", "今年12月1日", times ("13时01分", "北京时间"), and "自公布之日起" (relative).

Full-width digits are folded to ASCII before this module sees the text (see sentences.normalize).
"""

from __future__ import annotations

import re

from .mentions import REL_NEWS_DAY, REL_PUBLICATION, Mention, valid_day

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_CN_DIGITS["零"] = 0
_CN_NUM = r"[〇零一二三四五六七八九十]"

_DATE_RX = re.compile(
    r"(?:(?:(?P<y>(?:19|20)\d\d|[〇零一二][〇零一二三四五六七八九]{3})\s*年|(?P<yw>[今明去])年"
    # the Republic of China's era in Taiwanese notices: 中華民國115年 = 2026
    r"|(?:中華民國|中华民国|民國|民国)\s*(?P<roc>1[01]\d|[89]\d)\s*年)\s*)?"
    r"(?P<m>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月\s*"
    r"(?P<d>3[01]|[12]\d|0?[1-9]|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])\s*[日号號]"
    r"|本月(?P<d2>3[01]|[12]\d|0?[1-9]|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])\s*[日号號]"
)
# "13时01分", "零时", "12:01" right after a date.
_TIME_RX = re.compile(
    r"\s*(?P<ap>上午|下午|凌晨|中午|晚上|早上)?\s*"
    r"(?:(?P<h>[01]?\d|2[0-4]|" + _CN_NUM + r"{1,3})\s*[时時点點]"
    r"(?:\s*(?P<mi>[0-5]?\d|" + _CN_NUM + r"{1,3})\s*分)?|(?P<hh>[01]?\d|2[0-3]):(?P<mm>[0-5]\d))"
)
_BEIJING = re.compile(r"北京[时時]间|北京[时時]間|\(北京[时時][间間]\)")
# "自公布之日起", "发布之日起30日后" (+30), "公布之日的次日起" (+1), "发布之日起20天内" (deadline)
_REL_RX = re.compile(
    r"(?:(?:公布|公佈|发布|發布|發佈|印发|印發|签署|簽署|颁布|頒布|頒佈|发文|發文|公告)(?:之|的)?"
    r"(?:日(?P<next>的?次日)?|(?P<next2>次日))|即日)"
    r"(?:起\s*(?P<n>\d{1,3}|"
    + _CN_NUM
    + r"{1,3})\s*(?:个工作日|個工作日|日|天)\s*(?P<dir>[后後内內])"
    r"|(?=起|开始|開始))"
    r"|(?P<imm>(?:立即|即时|即時|即日)(?:生效|施行|实施|實施|执行|執行))"
)
# A day of the month alone ("24日生效", "自周五(15日)起", "美东时间24日0时01分"): news reports give
# the days of the current weeks so. Not a count of days ("30日内", "5个工作日"), a monthly day
# (每月15日), nor the day of a full date already read.
_DAY_RX = re.compile(
    r"(?<![\d月年第个個每.:/-])(?P<d>3[01]|[12]\d|0?[1-9])\s*日(?![内內后後间間均期])"
)
_FULL_NEXT = re.compile(r"\s*\(\s*(?:\d{4}\s*年\s*)?\d{1,2}\s*月")  # "周二(8月12日)"
# "周四", "星期五", "下周一", "周五(15日)": a weekday, with the day of the month when given.
_WEEKDAY_RX = re.compile(
    r"(?P<w>上|下|本|这|這|今)?(?:周|週|星期|禮拜|礼拜)(?P<d>[一二三四五六日天])(?![年刊末边邊])"
    r"(?:\s*\(\s*(?P<day>3[01]|[12]\d|0?[1-9])\s*[日号號]\s*\))?"
)
_WEEKDAYS = {c: i for i, c in enumerate("一二三四五六")} | {"日": 6, "天": 6}
_WEEK_WORD = {"上": -1, "下": 1}
_YEAR_WORD = {"今": 0, "明": 1, "去": -1}
_EVERY_YEAR = frozenset({"次年", "每年", "当年", "當年", "翌年", "上年"})


def cn_int(text: str) -> int:
    """A small number written in ASCII digits or Chinese numerals ("十一", "二十五", "〇")."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return int("".join(str(_CN_DIGITS.get(c, 0)) for c in text) or 0)
    tens, _, units = text.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (
        _CN_DIGITS.get(units, 0) if units else 0
    )


def _attach_time(sentence: str, men: Mention) -> None:
    t = _TIME_RX.match(sentence, men.end)
    if t is not None:
        if t.group("hh") is not None:
            hour, minute = int(t.group("hh")), int(t.group("mm"))
        else:
            hour, minute = cn_int(t.group("h")), cn_int(t.group("mi") or "0")
        if t.group("ap") in ("下午", "晚上") and hour < 12:
            hour += 12
        if hour <= 24 and minute <= 59:
            men.time = f"{hour:02d}:{minute:02d}"
            men.end = t.end()
    if _BEIJING.search(sentence, max(0, men.start - 8), min(len(sentence), men.end + 8)):
        men.tz = "Asia/Shanghai"


def _absolute(m: re.Match[str]) -> Mention | None:
    if m.group("d2"):
        men = Mention(m.start(), m.end(), month=0, day=cn_int(m.group("d2")), year_offset=0)
        return men  # month filled from the publication date by the pipeline
    month, day = cn_int(m.group("m")), cn_int(m.group("d"))
    year = cn_int(m.group("y")) if m.group("y") else None
    if m.group("roc"):
        year = int(m.group("roc")) + 1911
    if not valid_day(year or 2024, month, day):
        return None
    men = Mention(m.start(), m.end(), month=month, day=day, year=year)
    if m.group("yw"):
        men.year_offset = _YEAR_WORD[m.group("yw")]
    return men


def find_zh(sentence: str) -> list[Mention]:
    """All Chinese date mentions of `sentence` (with attached times), in text order."""
    found: list[Mention] = []
    for m in _DATE_RX.finditer(sentence):
        if sentence[max(0, m.start() - 2) : m.start()] in _EVERY_YEAR:
            continue  # "于次年3月31日前报送": a yearly deadline, no fixed day
        men = _absolute(m)
        if men is not None:
            _attach_time(sentence, men)
            found.append(men)
    if "日" in sentence:
        for m in _DAY_RX.finditer(sentence):
            if not any(f.start <= m.start() < f.end for f in found):
                men = Mention(m.start(), m.end(), day=int(m.group("d")), bare=True)
                _attach_time(sentence, men)
                found.append(men)
    if "周" in sentence or "週" in sentence or "星期" in sentence or "拜" in sentence:
        for m in _WEEKDAY_RX.finditer(sentence):
            if _FULL_NEXT.match(sentence, m.end()):
                continue  # the full date that follows is the mention
            found = [f for f in found if not m.start() <= f.start < m.end()]
            if m.group("day"):
                men = Mention(m.start(), m.end(), day=int(m.group("day")), bare=True)
            else:
                men = Mention(m.start(), m.end(), rel=REL_NEWS_DAY, bare=True)
                men.weekday = _WEEKDAYS[m.group("d")]
                men.week = _WEEK_WORD.get(m.group("w") or "", 0)
            _attach_time(sentence, men)
            found.append(men)
    for m in _REL_RX.finditer(sentence) if "日" in sentence or "即" in sentence else ():
        men = Mention(m.start(), m.end(), rel=REL_PUBLICATION)
        if m.group("imm"):
            men.implied_cue = "EFF"
        elif m.group("n"):
            men.rel_days = cn_int(m.group("n"))
            if m.group("dir") in "内內":
                men.implied_cue = "BY"  # "之日起20天内": a deadline
        if m.group("next") or m.group("next2"):
            men.rel_days += 1
        found.append(men)
    return found
