"""`socialpulse listen NETWORK`: a long-running connector that produces a live network's posts to the raw topic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from streams.sources.connectors import CONNECTORS, connector_module

log = logging.getLogger("socialpulse.listen")


def cmd_listen(args: argparse.Namespace) -> int:
    from streams.settings import Settings
    from streams.sources.connectors.base import ConnectorConfigError

    logging.basicConfig(level=getattr(logging, args.loglevel.upper()), stream=sys.stderr,
                        format="%(asctime)s [%(levelname)s] %(name)s: %(message)s")
    try:
        settings = Settings()
        connector = connector_module(args.network).from_args(args, settings.sources)
    except (ConnectorConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_listen(connector, settings, args))
    except ConnectorConfigError as exc:
        print(f"error: {connector.source_id}: {exc}", file=sys.stderr)
        return 2
    return 0


async def _listen(connector: Any, settings: Any, args: argparse.Namespace) -> None:
    from aiohttp import web
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from streams.metrics import SourceMetrics
    from streams.runtime.failure_policy import RetryPolicy
    from streams.runtime.producer import BatchProducer
    from streams.sources.connectors.checkpoints import KafkaCheckpoints
    from streams.sources.connectors.runner import SourceRunner, SourceTopics

    kafka = settings.kafka
    if args.bootstrap:
        kafka = kafka.model_copy(update={"bootstrap_servers": args.bootstrap})
    metrics = SourceMetrics.create()
    producer = BatchProducer(kafka, client_id=f"socialpulse-listen-{connector.source_id}",
                             max_message_bytes=kafka.max_message_bytes)
    await producer.start()
    site_runner = None
    if args.metrics_port is not None:
        async def metrics_page(_request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", metrics_page)
        site_runner = web.AppRunner(app, access_log=None)
        await site_runner.setup()
        await web.TCPSite(site_runner, args.metrics_host, args.metrics_port).start()
    runner = SourceRunner(
        connector, producer=producer,
        checkpoints=KafkaCheckpoints(bootstrap_servers=kafka.bootstrap_servers, topic=kafka.sources_topic,
                                     producer=producer),
        topics=SourceTopics(raw=kafka.raw_topic, deletions=kafka.deletions_topic, deadletter=kafka.deadletter_topic),
        metrics=metrics, policy=RetryPolicy(0.5, settings.clickhouse.max_backoff_seconds),
        max_in_flight=args.max_in_flight, checkpoint_seconds=args.checkpoint_seconds,
    )
    log.info("%s: listening to %s", connector.source_id, connector.describe())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _run_until_stopped(runner.run(), stop)
        log.info("%s: stopped after %d posts; %s", connector.source_id, runner.posts_total,
                 f"last checkpoint {dict(runner.written_cursor)}" if runner.written_cursor is not None
                 else "no new checkpoint")
    finally:
        if site_runner is not None:
            await site_runner.cleanup()
        await producer.stop()


async def _run_until_stopped(work: Any, stop: asyncio.Event, *, recancel_seconds: float = 5.0) -> None:
    """Run `work` until it ends or `stop` is set, then cancel it (the runner settles and checkpoints) and wait. A
    client library can swallow a cancellation that races with its own timeout (aiokafka's fetch, aiohttp's timer):
    the cancel is sent again until the task is done."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=recancel_seconds)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "listen", help="Listen to a live network and produce its posts to the raw topic", formatter_class=fmt,
        description=(
            "A long-running connector per source. Posts go to the raw topic (acks=all, idempotent), upstream\n"
            "deletions to the deletions topic; the resume point (cursor, since_id, page token) is kept in the\n"
            "compacted sources topic, written only after the posts before it were acknowledged, so a restarted\n"
            "connector resumes with no gap. Credentials come from SOCIALPULSE_SOURCES__* (or *_FILE) and are\n"
            "never logged. Stop with Ctrl-C or SIGTERM: posts in flight are settled and a last checkpoint written."),
    )
    networks = p.add_subparsers(dest="network", metavar="NETWORK", required=True)
    for network in CONNECTORS:
        module = connector_module(network)
        sub = networks.add_parser(network, help=module.HELP, description=module.DESCRIPTION, formatter_class=fmt)
        module.add_arguments(sub)
        common = sub.add_argument_group("every connector")
        common.add_argument("--source-id", help="name of this source: its checkpoint key and metrics label "
                            "(default: derived from the network and what is listened to)")
        common.add_argument("--bootstrap",
                            help="Kafka bootstrap servers (default: SOCIALPULSE_KAFKA__BOOTSTRAP_SERVERS)")
        common.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                            help="serve Prometheus metrics on this port at /metrics (default: none)")
        common.add_argument("--metrics-host", default="127.0.0.1", help="address to serve metrics on (%(default)s)")
        common.add_argument("--max-in-flight", type=int, default=2000, metavar="N",
                            help="messages sent and not yet acknowledged before reading pauses (%(default)s)")
        common.add_argument("--checkpoint-seconds", type=float, default=1.0, metavar="S",
                            help="write the checkpoint at most this often (%(default)s)")
        common.add_argument("--loglevel", default="info", choices=("debug", "info", "warning", "error"))
        sub.set_defaults(func=cmd_listen)
