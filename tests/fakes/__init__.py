"""Local fake servers (127.0.0.1) that speak each network's documented protocol, serving documented payloads.

Every module here defines one `FakeServer` subclass; the connector tests (tests/unit/test_connector_*.py) and the
end-to-end tests (tests/integration/test_listen.py) run the real connectors against them.
"""
