"""DeadLetter v1: a record that could not be processed, with everything needed to redrive it."""

import base64
from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.base import Contract
from schemas.errors import ErrorCode


class DeadLetter(Contract):
    schema_version: Literal[1] = 1
    dead_letter_id: str  # "<topic>:<partition>:<offset>" — stable, so redelivery does not duplicate
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key_b64: str | None = None
    original_b64: str  # the original value bytes, base64 — never re-encoded text
    error_code: ErrorCode
    error_message: str
    stage: Literal["decode", "validate", "enrich", "sink"]
    event_id: str | None = None  # when it could be read
    failed_at: AwareDatetime

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    @staticmethod
    def make_id(topic: str, partition: int, offset: int) -> str:
        return f"{topic}:{partition}:{offset}"
