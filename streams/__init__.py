"""socialpulse I/O and wiring: settings, Faust app and agents, codec, producers, ClickHouse, metrics, CLI."""
