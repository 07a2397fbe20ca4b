"""What a kind's parser hands back besides its Items: the parts of a page it could not read.

One bad entry or document never fails its source: the parser skips it, says why in a `Skipped`,
and returns the rest as `Parsed`, a list of Items (so the worker pool still matches the rules on
it) that also carries what was skipped. The collector logs each skip (`source=`, `reason=`) and
counts them in `Collected.skipped`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watcher.errors import Reason
from watcher.models import Item


@dataclass(frozen=True, slots=True)
class Skipped:
    """One part of a fetched page left out: which (an entry's id, a document number, a URL) and why."""

    part: str
    reason: Reason
    error: str


class Parsed(list[Item]):
    """A parser's Items, with the parts it skipped (`skipped`); pickles with them."""

    def __init__(self, items: Iterable[Item] = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(items)
        self.skipped = tuple(skipped)


def skipped_of(parsed: object) -> tuple[Skipped, ...]:
    """What a parser's answer says it skipped (nothing, for a plain list)."""
    return tuple(getattr(parsed, "skipped", ()))
