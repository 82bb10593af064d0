"""The history table's pure decisions: event times, row keys, cursors, reads and page order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from chat import event_time, history

NOW_MS = 1_796_032_800_000  # 2026-11-30T10:00:00Z


# --- ce-time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T10:00:00Z", NOW_MS),  # what the service and both emulators send
        ("2026-11-30T10:00:00.5Z", NOW_MS + 500),
        ("2026-11-30T10:00:00.123Z", NOW_MS + 123),
        ("2026-11-30T10:00:00.1234567Z", NOW_MS + 123),  # .NET's seven digits
        ("2026-11-30T10:00:00.999999999Z", NOW_MS + 999),  # truncated, never rounded up
        ("2026-11-30T11:00:00+01:00", NOW_MS),
        ("2026-11-30T09:30:00.25-00:30", NOW_MS + 250),
        ("2026-11-30T10:00:00+00:00", NOW_MS),
        ("2026-11-30t10:00:00z", NOW_MS),  # RFC 3339 allows lower case
        (" 2026-11-30T10:00:00Z ", NOW_MS),
        ("1969-12-31T23:59:59.5Z", -500),
        (None, None),
        ("", None),
        ("2026-11-30", None),  # a date is not a time
        ("2026-11-30T10:00:00", None),  # no zone: ambiguous
        ("2026-11-30 10:00:00Z", None),
        ("20261130T100000Z", None),
        ("2026W48", None),
        ("2026-11-30T10:00:60Z", None),  # a leap second: not a datetime
        ("2026-13-30T10:00:00Z", None),
        ("2026-11-30T10:00:00+24:00", None),
        ("2026-11-30T10:00:00.Z", None),
        ("2026-11-30T10:00:00.1234567890Z", None),
        ("2026-11-30T10:00:00Z,2026-11-30T10:00:01Z", None),  # sent twice, joined by the host
        ("2026-11-30T10:00:00Z" + " " * 100, None),
        ("\u0662026-11-30T10:00:00Z", None),
    ],
)
def test_ce_time(value: str | None, expected: int | None) -> None:
    assert event_time.epoch_ms(value) == expected


@pytest.mark.parametrize(
    ("ce_ms", "expected"),
    [
        (NOW_MS, (NOW_MS, True)),
        (NOW_MS - 1_000, (NOW_MS - 1_000, True)),  # handled a moment after it occurred
        (NOW_MS + 999, (NOW_MS, True)),  # a finer ce-time: its whole second
        (NOW_MS - 1_500, (NOW_MS - 2_000, True)),
        (NOW_MS - 100_000, (NOW_MS - 100_000, True)),  # the emulator's last retry
        (NOW_MS - history.CE_TIME_PAST_MS, (NOW_MS - history.CE_TIME_PAST_MS, True)),
        (NOW_MS + history.CE_TIME_FUTURE_MS, (NOW_MS + history.CE_TIME_FUTURE_MS, True)),
        # Too far ahead would hold the message at the top of history: the handler's clock.
        (NOW_MS + history.CE_TIME_FUTURE_MS + 1, (NOW_MS, False)),
        (NOW_MS + 86_400_000 * 365, (NOW_MS, False)),
        (NOW_MS - history.CE_TIME_PAST_MS - 1, (NOW_MS, False)),
        (0, (NOW_MS, False)),
        (None, (NOW_MS, False)),
    ],
)
def test_row_time(ce_ms: int | None, expected: tuple[int, bool]) -> None:
    assert history.row_time(ce_ms, NOW_MS) == expected
    # the handler's clock is used in whole seconds too
    assert history.row_time(None, NOW_MS + 456) == (NOW_MS, False)


def test_row_keys_sort_newest_first_and_repeat_on_a_retry() -> None:
    older = history.row_key(1_700_000_000_000, "a" * 24)
    newer = history.row_key(1_700_000_000_001, "b" * 24)
    assert newer < older
    assert older == "8299999999999-" + "a" * 24  # the format rows already stored use
    assert history.ROW_KEY.fullmatch(older)
    assert history.row_key(0, "c" * 24).startswith("9999999999999-")
    # A retry carries the same ce-time and ce-id, so the same key: the insert answers 409.
    first = history.row_time(event_time.epoch_ms("2026-11-30T10:00:00Z"), NOW_MS + 200)
    retry = history.row_time(event_time.epoch_ms("2026-11-30T10:00:00Z"), NOW_MS + 5_300)
    assert history.row_key(first[0], "d" * 24) == history.row_key(retry[0], "d" * 24)
    assert history.row_key(first[0], "d" * 24) < history.END < history.MARKER_PREFIX


# --- the request -----------------------------------------------------------------------------

ID = "0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (50, None)),
        ({"limit": "1"}, (1, None)),
        ({"limit": "200"}, (200, None)),
        ({"limit": " 7 "}, (7, None)),
        # the earlier layout's cursor, a plain row key, keeps working
        (
            {"before": "8203961810260-" + ID},
            (50, history.Cursor("8203961810260", row="8203961810260-" + ID)),
        ),
        ({"before": "8203961810260"}, (50, history.Cursor("8203961810260"))),
        (
            {"before": f"8203961810260-20261130100000123-{ID}"},
            (50, history.Cursor("8203961810260", position=("2026-11-30T10:00:00.123Z", ID))),
        ),
        # inside a group, after a row whose time could not be read (it sorts oldest)
        (
            {"before": f"8203961810260-{'0' * 17}-{ID}"},
            (50, history.Cursor("8203961810260", position=("", ID))),
        ),
    ],
)
def test_history_query(params: dict, expected: tuple) -> None:
    page = history.parse_query("dev", params)
    assert (page.limit, page.before) == expected
    if page.before is not None:
        assert page.before.encode() == params["before"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": "0"}, "from 1 to 200"),
        ({"limit": "201"}, "from 1 to 200"),
        ({"limit": "-1"}, "whole number"),
        ({"limit": "1e3"}, "whole number"),
        ({"limit": "9" * 50}, "whole number"),
        ({"limit": "\u0661"}, "whole number"),
        ({"before": ""}, "cursor"),
        ({"before": "x"}, "cursor"),
        ({"before": "8203961810260-" + ID + "' or 1 eq 1"}, "cursor"),
        ({"before": "8203961810260-" + "G" * 24}, "cursor"),
        ({"before": "8203961810260-" + ID.upper()}, "cursor"),
        ({"before": "820396181026"}, "cursor"),
        ({"before": "82039618102600"}, "cursor"),
        ({"before": "8203961810260."}, "cursor"),
        ({"before": f"8203961810260-179603280012-{ID}"}, "cursor"),
        ({"before": f"8203961810260-1796032800123-{ID}"}, "cursor"),
        ({"before": f"8203961810260-20261330100000123-{ID}"}, "cursor"),  # month 13
        ({"before": f"8203961810260-20261130100060123-{ID}"}, "cursor"),  # second 60
        ({"before": f"8203961810260-1796032800123-{ID}-"}, "cursor"),
        ({"before": "\u0668203961810260"}, "cursor"),
        ({"before": "8203961810260\n"}, "cursor"),
    ],
)
def test_bad_history_query(params: dict, reason: str) -> None:
    with pytest.raises(history.BadQuery, match=reason):
        history.parse_query("dev", params)


def test_read_filters_are_parameterised() -> None:
    assert history.read_filter("dev", history.Read(None, "~", 51)) == (
        "PartitionKey eq @room and RowKey lt @below",
        {"room": "dev", "below": "~"},
    )
    assert history.read_filter("dev", history.Read("8203961810260.", "~", 51)) == (
        "PartitionKey eq @room and RowKey gt @after and RowKey lt @below",
        {"room": "dev", "below": "~", "after": "8203961810260."},
    )


# --- order and paging ------------------------------------------------------------------------


def entity(ce_ms: int, stored_ms: int, n: int) -> dict[str, Any]:
    message = {
        "id": f"{n:024x}",
        "room": "dev",
        "from": "a",
        "message": f"m{n}",
        "time": history.iso_time(stored_ms / 1000),
    }
    return history.to_entity(message, ce_ms)


def scrambled_ids(count: int, seed: int) -> list[int]:
    """Ids in an order unrelated to arrival (real ids are hashes)."""
    ids = list(range(count))
    random.Random(seed).shuffle(ids)
    return ids


def test_a_group_is_ordered_by_when_its_rows_were_stored_then_by_id() -> None:
    second = NOW_MS
    rows = [entity(second, second + 300, 9), entity(second, second + 100, 1)]
    rows += [entity(second, second + 200, 5), entity(second, second + 200, 3)]
    rows += [entity(second + 1000, second + 1010, 0), entity(second - 1000, second - 900, 7)]
    ordered = history.in_order(sorted(rows, key=lambda r: r["RowKey"]))
    assert [r["message"] for r in ordered] == ["m0", "m9", "m5", "m3", "m1", "m7"]


def test_a_row_with_an_unreadable_time_sorts_oldest_in_its_group() -> None:
    broken = entity(NOW_MS, NOW_MS, 2) | {"time": "yesterday"}
    rows = [broken, entity(NOW_MS, NOW_MS + 5, 1)]
    assert [r["message"] for r in history.in_order(rows)] == ["m1", "m2"]


class Partition:
    """The room's partition in memory, answering reads the way the table's range query does."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = sorted(rows, key=lambda r: r["RowKey"])
        self.reads: list[tuple[history.Read, int]] = []

    def read(self, read: history.Read) -> list[dict[str, Any]]:
        found = [
            r
            for r in self.rows
            if (read.after is None or r["RowKey"] > read.after) and r["RowKey"] < read.below
        ]
        found = found if read.top is None else found[: read.top]
        self.reads.append((read, len(found)))
        return found

    def page(self, params: dict[str, str]) -> dict[str, Any]:
        page = history.parse_query("dev", params)
        plan = history.reads(page)
        rows: list[dict[str, Any]] = []
        step = next(plan)
        while True:
            got = self.read(step)
            rows += got
            try:
                step = plan.send(got)
            except StopIteration:
                return history.page_body("dev", history.visible(page, rows), page.limit)

    def all_pages(self, limit: int) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(len(self.rows) + 2):
            params = {"limit": str(limit)} | ({"before": cursor} if cursor else {})
            body = self.page(params)
            assert len(body["messages"]) <= limit
            seen = [m["message"] for m in body["messages"]] + seen
            cursor = body["next"]
            if cursor is None:
                return seen
        raise AssertionError("paging did not end")


def busy_room(counts: list[int], seed: int = 1) -> tuple[list[dict[str, Any]], list[str]]:
    """Seconds with the given numbers of messages; the messages in the order they were sent."""
    rows, sent = [], []
    ids = iter(scrambled_ids(sum(counts), seed))
    for second, count in enumerate(counts):
        for k in range(count):
            n = next(ids)
            rows.append(entity(NOW_MS + second * 1000, NOW_MS + second * 1000 + 40 * k + 3, n))
            sent.append(f"m{n}")
    return rows, sent


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 50])
@pytest.mark.parametrize(
    "counts",
    [
        [1, 1, 1],
        [12],  # one second busier than any page
        [3, 0, 9, 1, 4, 4, 25, 2],
        [2] * 10,
        [40, 1, 40],  # groups larger than limit + 1 + GROUP_SLACK
        [],
    ],
)
def test_paging_returns_every_message_once_in_the_order_sent(limit: int, counts: list) -> None:
    rows, sent = busy_room(counts, seed=limit)
    partition = Partition(rows)
    assert partition.all_pages(limit) == sent


def test_pages_of_the_earlier_layout_and_their_markers() -> None:
    old = []
    for n in range(6):  # keys from the handler's clock, each with its marker row
        row = entity(NOW_MS - 60_000 + n, NOW_MS - 60_000 + n, 100 + n)
        old += [row, history.marker({"room": "dev", "id": row["id"]}, row["RowKey"])]
    old.append(entity(NOW_MS - 60_000 + 3, NOW_MS - 60_000 + 3, 99))  # two in one millisecond
    new, sent = busy_room([3, 4])
    partition = Partition(old + new)
    expected = ["m100", "m101", "m102", "m99", "m103", "m104", "m105", *sent]
    # m99 and m103 share a millisecond and a stored time: the higher id counts as newer
    for limit in (1, 2, 4, 50):
        assert partition.all_pages(limit) == expected


def test_a_cursor_of_the_earlier_layout_continues_below_its_row() -> None:
    old = [entity(NOW_MS - 60_000 + n, NOW_MS - 60_000 + n, 100 + n) for n in range(5)]
    partition = Partition(old)
    body = partition.page({"limit": "10", "before": old[2]["RowKey"]})
    assert [m["message"] for m in body["messages"]] == ["m100", "m101"]
    assert body["next"] is None


def test_a_page_reads_what_it_shows_one_more_row_its_slack_and_its_boundary_group() -> None:
    rows, _ = busy_room([3] * 40)  # 120 messages, 3 a second
    partition = Partition(rows)
    body = partition.page({"limit": "50"})
    # one query: 51 rows and the slack cover the second that ends the page
    top = 51 + history.GROUP_SLACK
    assert partition.reads == [(history.Read(None, "~", top), top)]
    # 50 = 16 seconds of 3 and 2 of the 17th: the cursor points inside that second
    cursor = history.parse_cursor(body["next"])
    assert cursor.group == history.row_key(NOW_MS + 23_000, "")[:13]
    assert cursor.position is not None

    rows, _ = busy_room([10, 80])  # the newest second holds 80 messages
    partition = Partition(rows)
    partition.page({"limit": "50"})
    (first, got), (rest, count) = partition.reads
    newest = history.row_key(NOW_MS + 1000, "")[:13]
    assert first.top == got == 51 + history.GROUP_SLACK
    # the rest of that second, and nothing of the second before it
    assert (rest.below, rest.top, count) == (newest + ".", None, 80 - got)


def test_a_page_that_ends_a_room_reads_once() -> None:
    partition = Partition(busy_room([2, 2])[0])
    body = partition.page({})
    assert len(partition.reads) == 1 and body["next"] is None and len(body["messages"]) == 4


def test_the_cursor_points_inside_a_group_only_when_the_page_ends_inside_it() -> None:
    rows, sent = busy_room([2, 3])  # second 0: 2 messages, second 1: 3 (newest)
    partition = Partition(rows)
    first = partition.page({"limit": "3"})
    assert [m["message"] for m in first["messages"]] == sent[2:]
    assert history.parse_cursor(first["next"]) == history.Cursor(rows[-1]["RowKey"][:13])
    second = partition.page({"limit": "1", "before": first["next"]})
    assert [m["message"] for m in second["messages"]] == sent[1:2]
    inside = history.parse_cursor(second["next"])
    assert inside.position is not None and inside.group == rows[0]["RowKey"][:13]


def test_markers_and_foreign_rows_are_never_shown() -> None:
    rows, sent = busy_room([2])
    foreign = [{"RowKey": "~id-" + "0" * 24, "row": "x"}, {"RowKey": "abc"}, {"RowKey": "1" * 14}]
    page = history.parse_query("dev", {})
    assert history.visible(page, rows + foreign) == rows
    assert [m["message"] for m in history.page_body("dev", rows, 50)["messages"]] == sent


def test_page_body_is_oldest_first_exactly_as_sent() -> None:
    rows, sent = busy_room([1, 1, 1])
    body = history.page_body("dev", list(reversed(rows)), 2)
    assert [m["message"] for m in body["messages"]] == sent[1:]
    assert set(body["messages"][0]) == {"id", "room", "from", "message", "time"}
    assert history.page_body("dev", rows, 3)["next"] is None
    assert history.page_body("dev", [], 3) == {"room": "dev", "messages": [], "next": None}
    signed = rows[0] | {"userId": "github:1:a", "idp": "github"}
    [message] = history.page_body("dev", [signed], 1)["messages"]
    assert (message["userId"], message["idp"]) == ("github:1:a", "github")


def test_a_page_that_starts_inside_a_second_reads_that_second_then_below_it() -> None:
    rows, sent = busy_room([4, 6])  # the newest second holds 6
    partition = Partition(rows)
    first = partition.page({"limit": "2"})
    cursor = history.parse_cursor(first["next"])
    newest = history.row_key(NOW_MS + 1000, "")[:13]
    assert cursor.group == newest and cursor.position is not None
    partition.reads.clear()
    second = partition.page({"limit": "2", "before": first["next"]})
    assert [m["message"] for m in second["messages"]] == sent[6:8]
    # the whole second again (6 rows, 4 of them older than the cursor: more than a page),
    # and nothing below it: the page is known without another query
    assert partition.reads == [(history.Read(newest + "-", newest + ".", None), 6)]
    partition.reads.clear()
    third = partition.page({"limit": "5", "before": second["next"]})
    assert [m["message"] for m in third["messages"]] == sent[1:6]
    _, (below, got) = partition.reads
    assert (below.after, below.top, got) == (newest + ".", 5 + 1 + history.GROUP_SLACK - 2, 4)
