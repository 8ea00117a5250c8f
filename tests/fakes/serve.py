"""Run one fake network server in its own process, for benchmarks and for trying `socialpulse listen` by hand:

    .venv/bin/python -m tests.fakes.serve bluesky --count 1000

prints one JSON line {"network", "port", "listen_args", "env", "expected_posts", "expected_deletions"} and serves
until stdin closes or SIGTERM/SIGINT arrives.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tests.fakes import NETWORKS, fake_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", choices=NETWORKS)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    fake = fake_for(args.network, args.count)
    fake.start()
    print(json.dumps({"network": args.network, "port": fake.port, "listen_args": fake.listen_args(),
                      "env": fake.env(), "expected_posts": len(fake.expected_event_ids()),
                      "expected_deletions": len(fake.expected_deletion_ids())}), flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
