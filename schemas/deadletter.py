"""DeadLetter v1: a record that could not be processed, with everything needed to redrive it.

A dead letter stays well under the broker's message limit: it carries the original bytes whole up to
`ORIGINAL_MAX_BYTES`, else their first `ORIGINAL_MAX_BYTES` bytes plus the original's size and sha256, and the source
topic/partition/offset to read the whole record from while the topic retains it (`socialpulse redrive` does).
"""

import base64
from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.base import Contract
from schemas.errors import ErrorCode

# 256 KiB: base64 makes it ~342 KiB, a third of Kafka's default 1 MiB message limit, with room for the other fields
# (error message <= 1,000 characters, key <= KEY_MAX_BYTES).
ORIGINAL_MAX_BYTES = 256 * 1024
KEY_MAX_BYTES = 4096


class DeadLetter(Contract):
    schema_version: Literal[1] = 1
    dead_letter_id: str  # "<topic>:<partition>:<offset>" — stable, so redelivery does not duplicate
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key_b64: str | None = None
    original_b64: str  # the original value bytes (or their first ORIGINAL_MAX_BYTES), base64 — never re-encoded text
    error_code: ErrorCode
    error_message: str
    stage: Literal["decode", "validate", "enrich", "sink"]
    event_id: str | None = None  # when it could be read
    failed_at: AwareDatetime
    original_size: int | None = Field(default=None, ge=0)  # bytes of the whole original (None: written before 0011)
    original_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")

    @property
    def truncated(self) -> bool:
        """True when `original_b64` holds only a prefix of the original."""
        return self.original_size is not None and self.original_size > len(self.original)

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @staticmethod
    def make_id(topic: str, partition: int, offset: int) -> str:
        return f"{topic}:{partition}:{offset}"
