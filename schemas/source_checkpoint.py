"""SourceCheckpoint v1 (social.sources.v1, compacted, keyed by `source`): where a connector resumes.

A connector writes one only after every post it read before that point was acknowledged by the broker, so a
restarted or killed connector resumes with no gap; the posts between the checkpoint and the kill are read again
and absorbed downstream by `event_id`.
"""

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.base import Contract
from schemas.events import Network


class SourceCheckpoint(Contract):
    schema_version: Literal[1] = 1
    source: str = Field(min_length=1, max_length=256)  # the connector's source id, e.g. "bluesky:jetstream"
    network: Network
    # The connector's own resume point, e.g. {"time_us": "1725911162329308"} or {"after": "t3_abc", ...}.
    cursor: dict[str, str]
    written_at: AwareDatetime
    posts_total: int = Field(default=0, ge=0)  # posts acknowledged by the broker since the source began
