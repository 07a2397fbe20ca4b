"""Text helpers shared by the stages (a leaf: it imports nothing of watcher's).

The form rules and registry aliases compare text in (`normalise_text`: casefolded,
compatibility-decomposed, runs of spaces, hyphens and dashes made one space), CJK ranges, what a
word character is, and RE2 compilation of user-written regular expressions (linear time).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeAlias

import re2

Pattern: TypeAlias = re2._Regexp

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")  # soft hyphen, zero-width chars
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
ASCII_SPACES = str.maketrans(dict.fromkeys("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f-", " "))
_SPACES = re.compile("  +")
CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def re2_options(max_mem: int = 8 << 20) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # errors come back as ValueError, not as lines on stderr
    options.max_mem = max_mem
    return options


_OPTIONS = re2_options()



def compile_regex(pattern: str) -> Pattern:
    """Compile with google-re2, case-insensitive unless the pattern says `(?-i)`.

    Raises ValueError with re2's own message (`missing ): (a`) on an invalid pattern or one re2 does
    not support (backreferences, look-around).
    """
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(message or "invalid regular expression") from None


def fold(text: str) -> str:
    """Casefold and NFKD; lengths change only inside runs of non-ASCII characters."""
    if text.isascii():
        return text.lower()
    # NFKD rather than NFKC: composed and decomposed accents then fold alike, and each run of
    # non-ASCII characters folds on its own, which keeps the offset map exact.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _INVISIBLE.sub("", folded) if _INVISIBLE.search(folded) else folded


def unhyphen(folded: str) -> str:
    for dash in _DASHES:
        if dash in folded:
            folded = folded.replace(dash, " ")
    return folded


def normalise_text(text: str) -> str:
    """The form phrases and texts are compared in: `Rare-Earth　Ｍagnets` → `rare earth magnets`."""
    if text.isascii():  # the same result as below, a third faster
        spaced = text.lower().translate(ASCII_SPACES)
        return (_SPACES.sub(" ", spaced) if "  " in spaced else spaced).strip(" ")
    return " ".join(unhyphen(fold(text)).split())


class _WordChars(dict[str, bool]):
    """Letters, digits, `_` and combining marks, except CJK (which has no spaces between words)."""

    def __missing__(self, ch: str) -> bool:
        word = ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M"
        word = self[ch] = word and not CJK.match(ch)
        return word


IS_WORD = _WordChars()
