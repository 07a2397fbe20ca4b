"""Tables whose columns lost their separators: a header line naming the date columns, then rows
of bare dates ("Publication date  Effective date  End of comment period" over
"10/03/2026 11/02/2026 12/02/2026", as web tables read once their cells are flattened to text).

A date that nothing around it qualifies takes the role of the column it falls in: the k-th such
date after the header is read under the k-th date column, row after row. A date whose own words
qualify it ("except ..., which is effective 01/01/2027") is read by them and takes no column.
Tables that keep a separator ("a | b | c") are read cell by cell instead (pipeline._table).
"""

from __future__ import annotations

import re

# Column labels in order of precedence (the first listed wins where two overlap); the value is the
# kind a date in the column gets, None for a column of dates that are not milestones.
_LABELS: list[tuple[str, str | None]] = [
    (
        r"end\s+of\s+(?:the\s+)?comment\s+period|comment\s+period\s+(?:ends?|closes?|end\s+date)"
        r"|comments?\s+(?:due|deadline|close|closing)(?:\s+date)?|comment\s+date",
        "comment_deadline",
    ),
    (r"compliance\s+date|date\s+of\s+compliance", "compliance"),
    (
        r"expir(?:y|ation|es)(?:\s+date)?|date\s+of\s+expir(?:y|ation)|end\s+date|sunset\s+date"
        r"|valid\s+(?:until|through)",
        "expiry",
    ),
    (
        r"effective(?:\s+date)?|date\s+of\s+(?:entry\s+into\s+force|application)|entry\s+into\s+force"
        r"|in\s+force\s+from|start\s+date|applicable\s+from|application\s+date",
        "effective",
    ),
    (r"(?:filing\s+)?deadline|due\s+date", "other_deadline"),
    (
        r"(?:date\s+of\s+)?publication(?:\s+date)?|published|issue\s+date|date\s+of\s+issue"
        r"|signature\s+date|signed|adopted|(?:fr|federal\s+register)\s+(?:date|citation)",
        None,
    ),
    (r"(?:征求)?意[见見](?:反[馈饋])?截止(?:日期|[时時][间間])", "comment_deadline"),
    (r"(?:生效|[实實]施|施行|[执執]行|起[征徵])(?:日期|[时時][间間])", "effective"),
    (r"(?:失效|到期|[届屆]满|[届屆]滿|[终終]止)(?:日期|[时時][间間]|日)", "expiry"),
    (r"截止(?:日期|[时時][间間])", "other_deadline"),
    (r"(?:[发發][布佈]|公[布佈]|印[发發]|[签簽]署|[颁頒][布佈])(?:日期|[时時][间間])", None),
]
_LABEL_RX = re.compile("|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_LABELS)), re.I)
_WORD = re.compile(r"[A-Za-z]+|[\u4e00-\u9fff]")
_HINTS = ("date", "effective", "deadline", "comment", "expir", "日期", "时间", "時間")
_MAX_OTHER_WORDS = 6  # a header names its columns; a sentence that mentions two dates does more


class Columns:
    """The date columns of a header, handed out in turn to the bare dates of the rows below."""

    def __init__(self, kinds: list[str | None]) -> None:
        self.kinds = kinds
        self.next_column = 0

    def take(self) -> str | None:
        """The kind of the next bare date's column (None: a column of non-milestone dates)."""
        kind = self.kinds[self.next_column]
        self.next_column = (self.next_column + 1) % len(self.kinds)
        return kind


def header(line: str) -> Columns | None:
    """The date columns named by `line` when it reads as a table header (at least two date
    columns, few other words, no sentence end), else None. `line` must hold no date itself."""
    if len(line) > 200 or line.rstrip().endswith((".", "。", ";", "；", ":", "：")):
        return None
    low = line.lower()
    if not any(word in low for word in _HINTS):
        return None  # the common case, without the label pattern
    found = list(_LABEL_RX.finditer(line))
    if len(found) < 2:
        return None
    rest = _LABEL_RX.sub(" ", line)
    if len(_WORD.findall(rest)) > _MAX_OTHER_WORDS + len(found):
        return None
    return Columns([_LABELS[int(m.lastgroup[1:])][1] for m in found])
