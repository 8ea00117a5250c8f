import asyncio

import pytest
from clickhouse_driver import errors as ch_errors

from streams.clickhouse.writer import ClickHouseWriter, is_retriable


class FakeClient:
    """Refuses rows containing "bad" (code 53, type mismatch); fails the first `outages` calls as if down."""

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.inserted: list[tuple] = []
        self.calls = 0

    def execute(self, sql, rows, types_check=True):
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise ch_errors.NetworkError("Connection refused (127.0.0.1:19000)")
        if any("bad" in row for row in rows):
            raise ch_errors.ServerException("Type mismatch", code=53)
        self.inserted.extend(rows)

    def disconnect(self):
        pass


async def no_sleep(_: float) -> None:
    return None


def run(coro):
    return asyncio.run(coro)


def test_writer_bisects_a_poison_batch_down_to_the_rejected_rows():
    client = FakeClient()
    writer = ClickHouseWriter(lambda: client, sleep=no_sleep)
    rows = [("ok", i) for i in range(10)]
    rows[3] = ("bad", 3)
    rows[8] = ("bad", 8)
    rejected = run(writer.insert("db.t", ["a", "b"], rows))
    assert [r.index for r in rejected] == [3, 8]
    assert "Type mismatch" in rejected[0].message
    assert sorted(client.inserted, key=lambda r: r[1]) == [r for r in rows if r[0] == "ok"]


def test_writer_retries_retriable_errors_in_place_until_the_insert_succeeds():
    client = FakeClient(outages=4)
    retries = []
    writer = ClickHouseWriter(lambda: client, sleep=no_sleep, on_retry=lambda exc, n: retries.append(n))
    rows = [("ok", 1), ("ok", 2)]
    assert run(writer.insert("db.t", ["a", "b"], rows)) == []
    assert client.inserted == rows
    assert retries == [1, 2, 3, 4]


def test_writer_backoff_is_bounded():
    delays = []

    async def record(delay: float) -> None:
        delays.append(delay)

    client = FakeClient(outages=15)
    writer = ClickHouseWriter(lambda: client, sleep=record, max_backoff_seconds=3.0)
    run(writer.insert("db.t", ["a"], [("ok",)]))
    assert len(delays) == 15
    assert max(delays) <= 3.0


@pytest.mark.parametrize(
    ("exc", "retriable"),
    [
        (ch_errors.NetworkError("refused"), True),
        (ch_errors.SocketTimeoutError("timeout"), True),
        (ch_errors.ServerException("too many parts", code=252), True),
        (ch_errors.ServerException("timeout exceeded", code=159), True),
        (ch_errors.ServerException("memory limit", code=241), True),
        (ch_errors.ServerException("cannot parse", code=27), False),
        (ch_errors.ServerException("unknown table", code=60), False),
        (ValueError("bad value"), False),
    ],
)
def test_writer_classifies_errors(exc, retriable):
    assert is_retriable(exc) is retriable
