"""Words for messages people read: plurals, lists and counts by reason, never Python reprs."""

from __future__ import annotations

from hiljade.wording import listed, plural, plural_with, tally


def test_plural_listed_and_tally_read_as_plain_words() -> None:
    assert [plural(n, "post") for n in (0, 1, 2)] == ["0 posts", "1 post", "2 posts"]
    assert plural(1, "batch", "batches") == "1 batch" and plural(3, "entry", "entries") == "3 entries"
    assert [plural(2, w) for w in ("address", "box", "batch", "street")] == [
        "2 addresses", "2 boxes", "2 batches", "2 streets"
    ]
    assert plural_with(1, "post", "waits", "wait") == "1 post waits"
    assert plural_with(2, "post", "waits", "wait") == "2 posts wait"
    assert listed([12]) == "12" and listed([12, 13, 14]) == "12, 13 and 14" and listed([]) == ""
    assert tally({"SourceUnavailable": 21, "too_large": 2, "gone": 0}) == "21 source unavailable, 2 too large"
