import asyncio

import pytest
from clickhouse_driver import errors as ch_errors

from streams.runtime.failure_policy import Fault, classify
from streams.sinks.clickhouse.writer import ClickHouseWriter


class FakeClient:
    """Refuses rows containing "bad" (code 53, type mismatch); fails the first `outages` calls as if down;
    `lost_acks` inserts land but answer UNKNOWN_STATUS_OF_INSERT (319). From 22.2 it deduplicates by token."""

    def __init__(self, outages: int = 0, *, version: str = "18.16.1", lost_acks: int = 0) -> None:
        self.outages = outages
        self.lost_acks = lost_acks
        self.version = version
        self.inserted: list[tuple] = []
        self.tokens: list[str | None] = []
        self.calls = 0

    def execute(self, sql, rows=None, types_check=True, settings=None):
        if sql == "SELECT version()":
            return [(self.version,)]
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise ch_errors.NetworkError("Connection refused (127.0.0.1:19000)")
        if any("bad" in row for row in rows):
            raise ch_errors.ServerException("Type mismatch", code=53)
        token = (settings or {}).get("insert_deduplication_token")
        if token is None or token not in self.tokens:
            self.inserted.extend(rows)
        self.tokens.append(token)
        if self.lost_acks:
            self.lost_acks -= 1
            raise ch_errors.ServerException("Unknown status, client must retry", code=319)

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


def test_writer_names_blocks_so_a_retried_insert_that_had_landed_is_stored_once_where_supported():
    rows = [("ok", 1), ("ok", 2)]
    current = FakeClient(version="24.8.4.13", lost_acks=1)
    assert run(ClickHouseWriter(lambda: current, sleep=no_sleep).insert("db.t", ["a", "b"], rows,
                                                                        dedup_token="raw/0:0-1")) == []
    assert current.tokens == ["raw/0:0-1", "raw/0:0-1"] and current.inserted == rows
    # 18.16 has no insert_deduplication_token: the retry lands twice and ReplacingMergeTree(event_id) merges it
    old = FakeClient(version="18.16.1", lost_acks=1)
    assert run(ClickHouseWriter(lambda: old, sleep=no_sleep).insert("db.t", ["a", "b"], rows,
                                                                    dedup_token="raw/0:0-1")) == []
    assert old.tokens == [None, None] and old.inserted == rows + rows


def test_writer_bisected_halves_get_their_own_deterministic_tokens():
    client = FakeClient(version="24.8.4.13")
    rows = [("ok", i) for i in range(4)]
    rows[3] = ("bad", 3)
    rejected = run(ClickHouseWriter(lambda: client, sleep=no_sleep).insert("db.t", ["a", "b"], rows,
                                                                           dedup_token="T"))
    assert [r.index for r in rejected] == [3]
    assert client.tokens == ["T#0+2", "T#2+1"]  # the failed attempts of the whole and of [2, 4) never landed
    assert sorted(client.inserted) == rows[:3]


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
def test_writer_errors_are_classified_by_the_failure_policy(exc, retriable):
    assert (classify(exc) is Fault.INFRASTRUCTURE) is retriable
