"""The one settings object. Built once (``Settings()``) from env vars prefixed ``SOCIALPULSE_``.

Nested fields use ``__``: ``SOCIALPULSE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:19092``. Everything else in
socialpulse receives explicit arguments taken from this object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.brand_queries import DEFAULT_BRAND_QUERIES_PATH
from processors.languages import LANGUAGES, check_languages
from streams.kafka_topics import ROLES, KafkaTopic, Role, default_name, kafka_topics

REPO_ROOT = Path(__file__).resolve().parent.parent


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:19092"
    # The topics' names (the catalogue of topics is streams/kafka_topics.py; read them through topics()).
    raw_topic: str = default_name("raw")
    enriched_topic: str = default_name("enriched")
    deadletter_topic: str = default_name("deadletter")
    counts_topic: str = default_name("counts")
    alerts_topic: str = default_name("alerts")
    incidents_topic: str = default_name("incidents")
    deletions_topic: str = default_name("deletions")
    sources_topic: str = default_name("sources")
    partitions: int = Field(default=4, ge=1)
    # The largest message the pipeline produces (Kafka's default `message.max.bytes` is 1,048,588): a larger one is
    # refused before it is sent and becomes a dead letter `record_too_large` (streams/runtime/failure_policy.py).
    # `setup` creates every topic with it as `max.message.bytes` (streams/kafka_topics.py).
    max_message_bytes: int = Field(default=1_048_576, ge=65_536)
    replication_factor: int = Field(default=1, ge=1)
    # A worker that died without leaving the group holds its partitions this long (kill -9, host loss).
    session_timeout_seconds: float = Field(default=30.0, ge=6.0)
    # The pipeline's producer waits this long to fill a request (one request per message costs a round trip
    # and a syscall each; measured in bench/RESULTS.md).
    producer_linger_ms: int = Field(default=5, ge=0)
    producer_batch_bytes: int = Field(default=262_144, ge=1024)
    # The stage consumers' fetches: the broker answers once it has this many bytes or waited this long. With
    # Kafka's defaults (1 byte / 500 ms) every few new records wake the event loop: 64 KiB / 100 ms ran the
    # 1-worker enrich pipeline (NLP then in a thread) 3-8 % faster in 3 side-by-side reps, pass-through ~7 %
    # slower (bench/RESULTS.md); at most 100 ms more latency per stage when traffic is light. A 500 ms wait
    # polls the broker less (enrich ~7 % faster) but put latency p99 at 2.0 s, over the 2 s goal.
    fetch_min_bytes: int = Field(default=65_536, ge=1)
    fetch_max_wait_ms: int = Field(default=100, ge=0)

    @model_validator(mode="after")
    def _topics_are_distinct(self) -> KafkaSettings:
        self.topics()  # raises ValueError on two roles sharing a name
        return self

    def topics(self) -> tuple[KafkaTopic, ...]:
        """The catalogue of the pipeline's topics with these settings' names, partitions and limits."""
        return kafka_topics({role: getattr(self, f"{role}_topic") for role in ROLES}, partitions=self.partitions,
                            replication_factor=self.replication_factor, max_message_bytes=self.max_message_bytes)

    def topic(self, role: Role) -> KafkaTopic:
        return next(t for t in self.topics() if t.role == role)


class ClickHouseSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 19000
    http_port: int = 18123
    database: str = "socialpulse"
    user: str = "default"
    password: SecretStr = SecretStr("")
    # Sink batches: flush at this many rows or this many seconds, whichever first.
    insert_batch_rows: int = Field(default=10_000, ge=1)
    insert_batch_seconds: float = Field(default=1.0, gt=0)
    # Retriable failures back off exponentially up to this delay, then keep retrying at it.
    max_backoff_seconds: float = Field(default=10.0, gt=0)
    # The leader worker recomputes the precomputed rising-term baselines this often (0 = never), so the
    # fast rising query BI tools use stays current and picks up late events.
    baseline_refresh_seconds: float = Field(default=300.0, ge=0)


class NlpSettings(_Section):
    profile: str = "fast"
    # Languages to run NER for: entries of processors/languages.py (default: all of them); another one fails here.
    languages: tuple[str, ...] = tuple(LANGUAGES)
    brand_queries_path: Path = DEFAULT_BRAND_QUERIES_PATH
    # Enrich batches: at most this many events. 1024 made the enrich pipeline slower than 256 (494 vs 557-587 ev/s,
    # more CPU per event; bench/RESULTS.md). Without NLP the stage uses worker.passthrough_batch_size instead.
    batch_size: int = Field(default=256, ge=1)
    # Latency: an event waits up to this long for its batch to fill, then again up to the sink's insert window.
    batch_seconds: float = Field(default=0.2, gt=0)
    max_text_chars: int = Field(default=10_000, ge=1)

    @field_validator("languages")
    @classmethod
    def _languages_are_known(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        return check_languages(languages)


class WorkerSettings(_Section):
    app_id: str = "socialpulse"
    # Faust web + /metrics. Loopback by default; containers set 0.0.0.0 so Prometheus and probes reach it.
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=0)
    data_dir: Path = REPO_ROOT / ".local" / "worker"
    enrich: bool = True  # false = pass-through (benchmarks): no NLP, only decode → enriched shape
    # The enrich stage's batch cap in pass-through. NLP's batch_size (256) bounds a batch's NLP time; without NLP
    # a batch of 2,048 takes ~25 ms, and per-batch costs (an offset commit, a produce request per partition)
    # dominate: 1 worker was faster than with 256 in 7 of 9 side-by-side reps, median 1.15x (bench/RESULTS.md).
    # Batches still close after nlp.batch_seconds, so light traffic waits no longer.
    passthrough_batch_size: int = Field(default=2048, ge=1)
    # Young-generation threshold of Python's cyclic garbage collector (CPython's default: 700). A sink batch keeps
    # ~10k decoded events alive, and at 700 every collection of the older generations walks them all again:
    # ~40 µs of CPU per event (bench/RESULTS.md). 0 keeps Python's defaults.
    gc_threshold: int = Field(default=50_000, ge=0)
    # How long a thread may hold the GIL before a waiting thread gets it (sys.setswitchinterval; CPython: 0.005 s).
    # Threads here: the ClickHouse insert and the one waiting for the NLP process; every hand-over costs the thread
    # holding the GIL CPU: at 0.02 the 1-worker enrich pipeline (NLP then in a thread) ran 4-10 % faster in each
    # of 3 side-by-side reps (bench/RESULTS.md); a waiting thread may wait up to this long.
    switch_interval: float = Field(default=0.02, gt=0, le=1)
    # Spike detection (streams/stages/alerts.py): a minute closes once every partition's event time passed its end
    # by this much; later posts for it are counted as late, not in the minute.
    spike_lateness_seconds: float = Field(default=30.0, ge=0)
    # A sink partition with nothing left to consume and no record for this long stops holding the watermark
    # back (streams/stages/counts.py:on_idle); shorter would let a partition that is only between two enrich
    # batches of a replay be passed, and its next posts be late.
    spike_idle_seconds: float = Field(default=10.0, gt=0)
    # An incident resolves when its subjects have been quiet this many minutes of event time.
    incident_quiet_minutes: int = Field(default=10, ge=1)


class SourcesSettings(_Section):
    """Credentials of the live connectors (`socialpulse listen`). Each can be given as the value or as a file holding
    it (`..._FILE`, e.g. a mounted secret), not both. Never logged; SecretStr hides them from reprs."""

    x_bearer_token: SecretStr | None = None
    x_bearer_token_file: Path | None = None
    mastodon_access_token: SecretStr | None = None  # optional: public streams need none on most instances
    mastodon_access_token_file: Path | None = None
    reddit_client_id: SecretStr | None = None
    reddit_client_id_file: Path | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_client_secret_file: Path | None = None
    youtube_api_key: SecretStr | None = None
    youtube_api_key_file: Path | None = None

    @model_validator(mode="after")
    def _value_or_file(self) -> SourcesSettings:
        for name in _SECRET_NAMES:
            if getattr(self, name) is not None and getattr(self, f"{name}_file") is not None:
                raise ValueError(f"set SOCIALPULSE_SOURCES__{name.upper()} or SOCIALPULSE_SOURCES__{name.upper()}_FILE,"
                                 " not both")
        return self

    def secret(self, name: str) -> SecretStr | None:
        """The credential `name`, from its value or its file (stripped of surrounding whitespace)."""
        if name not in _SECRET_NAMES:
            raise KeyError(name)
        path: Path | None = getattr(self, f"{name}_file")
        if path is not None:
            try:
                return SecretStr(path.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise ValueError(f"SOCIALPULSE_SOURCES__{name.upper()}_FILE: cannot read {path}: {exc.strerror}") \
                    from None
        value: SecretStr | None = getattr(self, name)
        return value


_SECRET_NAMES = ("x_bearer_token", "mastodon_access_token", "reddit_client_id", "reddit_client_secret",
                 "youtube_api_key")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SOCIALPULSE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    nlp: NlpSettings = NlpSettings()
    worker: WorkerSettings = WorkerSettings()
    sources: SourcesSettings = SourcesSettings()


def enrich_batch_size(settings: Settings) -> int:
    """The enrich stage's batch cap: NLP's batch, or the larger pass-through batch when enrichment is off."""
    return settings.nlp.batch_size if settings.worker.enrich else settings.worker.passthrough_batch_size


def consumer_groups(settings: Settings) -> dict[str, str]:
    """Topic name → the consumer group that consumes it (progress, lag and scale-out are per group)."""
    groups = {t.name: t.consumer_group(settings.worker.app_id) for t in settings.kafka.topics()}
    return {name: group for name, group in groups.items() if group is not None}


def topic_names_env(prefix: str) -> dict[str, str]:
    """Env vars naming every topic of the catalogue "<prefix>.<role>" (tests and benchmarks isolate their
    pipelines this way)."""
    return {f"SOCIALPULSE_KAFKA__{role.upper()}_TOPIC": f"{prefix}.{role}" for role in ROLES}


def settings_with_env(env: Mapping[str, str]) -> Settings:
    """Settings as a process started with `env` added to this one's environment would build them
    (tests and benchmarks configure their worker subprocesses this way and need the same view)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
