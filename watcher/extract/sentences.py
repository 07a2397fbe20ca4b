"""Sentence splitting for the extractor: the one splitter of `watcher.text`."""

from watcher.text import normalize, split

__all__ = ["normalize", "split"]
