"""The one exception normalizers raise: a payload that cannot become a RawEvent, with a stable code."""

from __future__ import annotations

from schemas.errors import ErrorCode


class NormalizationError(ValueError):
    """`code` is the dead-letter error code; `field` is the dotted path of the offending field, if any."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"
