"""Deletion v1 (social.deletions.v1): a network said a post was deleted, or must no longer be shown.

Connectors produce one per upstream deletion: a Jetstream delete commit, a Mastodon streaming `delete`, an X
compliance `delete` / `drop` / `withheld`. Consumers that store posts must honour them (hide or erase the post).

`event_id` is the deleted post's `<network>:<native_id>` when the deletion names the post as the post's events do.
A Mastodon `delete` names only the serving instance's local status id, while a status's `native_id` is its URI:
`event_id` is then None and `native_ref` + `instance` identify the post (the status URL of a local post is
`https://<instance>/@<user>/<native_ref>`; `url` of the stored event).
"""

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from schemas.base import Contract
from schemas.events import Network

DeletionKind = Literal["delete", "compliance_delete", "compliance_drop", "withheld"]


class Deletion(Contract):
    schema_version: Literal[1] = 1
    # "<network>:<native_ref>": the message key, stable so a redelivered deletion replaces itself
    deletion_id: str = Field(min_length=3, max_length=600)
    network: Network
    kind: DeletionKind
    native_ref: str = Field(min_length=1, max_length=512)  # the id the network's deletion names
    event_id: str | None = Field(default=None, max_length=300)  # the deleted post's event id, when known
    instance: str | None = Field(default=None, max_length=256)  # Mastodon: the instance whose local id native_ref is
    author_id: str | None = Field(default=None, max_length=256)
    deleted_at: AwareDatetime | None = None  # when the network says it happened (None: not given)
    received_at: AwareDatetime
    source: str = Field(min_length=1, max_length=256)  # the connector's source id

    @model_validator(mode="after")
    def _id_is_network_and_ref(self) -> "Deletion":
        expected = f"{self.network.value}:{self.native_ref}" if self.instance is None else \
            f"{self.network.value}:{self.instance}:{self.native_ref}"
        if self.deletion_id != expected:
            raise ValueError(f"deletion_id must be {expected!r}, got {self.deletion_id!r}")
        return self

    @staticmethod
    def make_id(network: Network, native_ref: str, instance: str | None = None) -> str:
        return f"{network.value}:{native_ref}" if instance is None else f"{network.value}:{instance}:{native_ref}"
