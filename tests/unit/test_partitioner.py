"""Our murmur2 partitioner must put every key where Kafka's default partitioner (aiokafka's copy) puts it."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from streams.runtime.partitioner import default_partitioner, key_partitions, murmur2, murmur2_many


def test_partitioner_murmur2_equals_kafkas_on_random_keys_of_every_length_class():
    rng = random.Random(5)
    keys = [rng.randbytes(rng.randint(0, 90)) for _ in range(5_000)]
    keys += [b"", b"a", b"ab", b"abc", b"abcd", b"bluesky:at://did:plc:1/app.bsky.feed.post/3l"]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF, key
    assert murmur2_many(keys) == [aiokafka_murmur2(key) & 0xFFFFFFFF for key in keys]
    for length in range(9):  # batches whose longest key ends in each tail length, and all-empty ones
        batch = [k for k in keys if len(k) <= length][:50]
        assert murmur2_many(batch) == [murmur2(k) for k in batch], length
    assert murmur2_many([]) == []


def test_partitioner_chooses_the_same_partition_as_the_default_and_spreads_unkeyed_messages():
    rng = random.Random(6)
    partitions = list(range(12))
    for _ in range(2_000):
        key = f"x:{rng.getrandbits(64)}".encode()
        assert default_partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)
    assert default_partitioner(None, partitions, [3]) == 3
    assert {default_partitioner(None, partitions, []) for _ in range(500)} == set(partitions)


def test_partitioner_key_partitions_equal_the_default_one_key_at_a_time():
    rng = random.Random(7)
    partitions = [0, 1, 2, 5, 7]
    keys: list[bytes | None] = [f"bluesky:{rng.getrandbits(90)}".encode() for _ in range(300)] + [b"", b"abc"]
    assert key_partitions(keys, partitions) == [default_partitioner(k, partitions, partitions) for k in keys]
    mixed = key_partitions([None, b"x:1", None, b"x:2"], partitions)
    assert mixed[1::2] == [default_partitioner(k, partitions, partitions) for k in (b"x:1", b"x:2")]
    assert set(mixed[0::2]) <= set(partitions)
