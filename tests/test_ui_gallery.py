"""The gallery's rows (``registry.server.gallery``): any filter, any page, either order,
gives the slice of what a plain filter over every row gives; remembered results are
the same as fresh ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.server.gallery import CaseRows, Filter, Row
from registry.similarity import MatchConfig

HEX = "0123456789abcdef"

rows_strategy = st.lists(
    st.builds(
        Row,
        sha256=st.text(HEX, min_size=64, max_size=64),
        media_type=st.sampled_from(["image", "video"]),
        observed=st.floats(0, 1e9, allow_nan=False),
        posted=st.none() | st.floats(0, 1e9, allow_nan=False),
        captured=st.none() | st.floats(0, 1e9, allow_nan=False),
        gps=st.booleans(),
        copies=st.integers(0, 3),
        waiting=st.just(()),
        unreviewed=st.booleans(),
        text=st.sampled_from(["", "https://t.me/a/1", "img_0001.jpg\nnote"]),
    ),
    max_size=60,
    unique_by=lambda r: r.sha256,
)
filters = st.builds(
    Filter,
    media_type=st.sampled_from(["", "image", "video"]),
    gps=st.sampled_from(["", "yes", "no"]),
    date_on=st.sampled_from(["observed", "posted", "captured"]),
    date_from=st.none() | st.floats(0, 1e9, allow_nan=False),
    date_to=st.none() | st.floats(0, 1e9, allow_nan=False),
    unreviewed=st.booleans(),
    q=st.sampled_from(["", "t.me", "note", "ab12", "0"]),
    newest_first=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, wanted=filters, offset=st.integers(0, 70), size=st.integers(1, 30))
def test_a_page_is_the_slice_of_the_plain_filter(rows, wanted, offset, size) -> None:
    case = CaseRows("C", MatchConfig())
    case.rows = {r.sha256: r for r in rows}
    case.order = sorted(r.key for r in rows)
    case.offset = 0
    plain = [r.sha256 for r in sorted(rows, key=lambda r: r.key) if wanted.keeps(r)]
    if wanted.newest_first:
        plain.reverse()
    for _ in range(2):  # the second time from what the first remembered
        page = case.select(wanted, offset, size)
        assert page.total == len(plain)
        assert page.shas == plain[offset : offset + size]
