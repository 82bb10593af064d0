"""The in-process bench's `--rtt-ms` wiring: both services reached through the delaying proxy,
and the option refused where it does not apply."""

from __future__ import annotations

import time
import urllib.request

import pytest

from bench import __main__ as bench_cli
from bench import inprocess, sink
from bench.procs import free_port


def _get(url: str) -> float:
    t0 = time.perf_counter()
    urllib.request.urlopen(url, timeout=10).close()  # noqa: S310 - loopback only
    return time.perf_counter() - t0


def test_the_sink_and_the_tables_are_both_reached_through_the_delaying_proxy() -> None:
    with sink.running(free_port()) as service, sink.running(free_port()) as tables:
        storage = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            f"TableEndpoint={tables}/devstoreaccount1;"
        )
        with inprocess._round_trip(0, service, storage) as unchanged:
            assert unchanged == (service, storage, None)
        with inprocess._round_trip(20, service, storage) as (endpoint, connection, trip):
            assert endpoint != service and connection != storage
            account, table_url = connection.split("TableEndpoint=")
            assert account == storage.split("TableEndpoint=")[0]  # only the endpoint changed
            table_url = table_url.rstrip(";")
            assert table_url.endswith("/devstoreaccount1")
            least = 2 * trip["each_way_ms"] / 1000
            # A new connection per call: its request and its answer each wait one delay.
            assert _get(endpoint + "/api/health") >= least
            assert _get(table_url) >= least
            assert trip["rtt_ms"] == 20 and trip["measured_added_ms"] > 0


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--rtt-ms", "5"], "in-process bench only"),
        (["--only", "inprocess", "e2e", "--rtt-ms", "5"], "in-process bench only"),
        (["--only", "inprocess", "--rtt-ms", "-1"], "between 0 and 1000"),
        (["--only", "inprocess", "--rtt-ms", "five"], "invalid float value"),
    ],
)
def test_the_round_trip_option_is_refused_where_it_does_not_apply(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_cli.main(argv)
    assert exited.value.code == 2
    assert reason in capsys.readouterr().err
