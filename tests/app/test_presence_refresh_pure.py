"""An arrival the presence record already had (issue 20 follow-up): after an outage whose
`disconnected` events were lost, the records still say present, so no one is announced; the
room is sent a member list instead, within a per-room, per-instance bucket."""

from __future__ import annotations

from chat import presence, rooms, sweep
from chat.plan import Failed, KeepListBudget, ListConnections, MarkPending, SendToGroup
from chat.settings import Settings

SETTINGS = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp")
PRESENT = (presence.Announced(True, 4.0, 0.0), "etag")


def decide(arrived: bool, lists=None, now: float = 100.0, record=PRESENT, present=True):
    return presence.reconcile(SETTINGS, "dev", "bob", present, record, None, now, arrived, lists)


def test_an_arrival_already_recorded_present_lists_the_room_then_sends_it_the_list() -> None:
    plan = decide(arrived=True)
    kept, listing = plan.effects
    assert isinstance(kept, KeepListBudget) and kept.room == "dev"
    assert listing == ListConnections(rooms.group("dev"), presence.SNAPSHOT_CONNECTIONS)
    assert plan.then is not None
    then = plan.then((None, [{"userId": "alice"}, {"userId": "bob"}, {"userId": "bob"}]))
    assert then.effects == (
        SendToGroup(rooms.group("dev"), presence.member_list("dev", ["alice", "bob"])),
    )


def test_no_list_for_a_departure_a_failed_listing_or_a_partial_one() -> None:
    assert decide(arrived=False).effects == ()  # a disconnect with another tab still open
    assert decide(arrived=True, present=False, record=(None, None)).effects == ()
    plan = decide(arrived=True)
    assert plan.then is not None
    assert plan.then((None, Failed("down", 503))).effects == ()
    full = [{"userId": f"u{n}"} for n in range(presence.SNAPSHOT_CONNECTIONS)]
    assert plan.then((None, full)).effects == ()  # would drop members from everyone's list


def test_a_reconnect_storm_is_bounded_per_room_and_instance() -> None:
    lists, sent, held = None, 0, []
    for _ in range(20):  # 20 arrivals in the same instant
        plan = decide(arrived=True, lists=lists)
        lists = plan.effects[0].bucket
        sent += isinstance(plan.effects[1], ListConnections)
        held += [e for e in plan.effects if isinstance(e, MarkPending)]
    assert sent == presence.MEMBER_LISTS
    # The storm's tail is the sweep's: a mark for the whole room (written once per instance
    # until due: adapters/effects.py), which ends in the room's list (chat/sweep.py).
    assert len(held) == 20 - presence.MEMBER_LISTS
    assert {(m.room, m.user) for m in held} == {("dev", presence.ROOM_WIDE)}
    later = presence.MEMBER_LISTS_WINDOW_S / presence.MEMBER_LISTS
    plan = decide(arrived=True, lists=lists, now=100.0 + later)
    assert isinstance(plan.effects[1], ListConnections)


def test_the_sweep_sends_a_room_wide_marked_room_its_list_though_nothing_changed() -> None:
    mark = sweep.Mark("dev", presence.ROOM_WIDE, 100.0, "e")
    listing = [{"userId": "alice"}, {"userId": "bob"}]
    facts = sweep.Room(SETTINGS, "dev", (), (mark,), listing, None, 200.0)
    plan, sent = sweep.settle(facts), []
    while True:  # walk the chain, every effect answering "done"
        sent += [e.payload for e in plan.effects if isinstance(e, SendToGroup)]
        if plan.then is None:
            break
        plan = plan.then(tuple(None for _ in plan.effects))
    assert sent == [presence.member_list("dev", ["alice", "bob"])]


def test_a_first_arrival_is_announced_not_listed() -> None:
    plan = decide(arrived=True, record=(None, None))
    assert not any(isinstance(e, (KeepListBudget, ListConnections)) for e in plan.effects)
