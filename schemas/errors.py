"""Stable error codes: the dead-letter `error_code`, the processors' Failure code and a metric label.

Values never change once published; add new members instead of renaming.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    # decoding the bytes
    EMPTY_PAYLOAD = "empty_payload"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    # validating the record
    UNKNOWN_SHAPE = "unknown_shape"
    UNKNOWN_NETWORK = "unknown_network"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    TEXT_TOO_LONG = "text_too_long"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    CONTROL_CHARACTERS = "control_characters"
    UNSUPPORTED_EVENT = "unsupported_event"  # a valid network payload that is not a post (like, delete, ...)
    # processing
    ENRICHMENT_FAILED = "enrichment_failed"
    # a record isolated by the failure policy (streams/runtime/failure_policy.py) after bounded attempts
    RECORD_TOO_LARGE = "record_too_large"  # it, or what a stage made of it, is over the topic's message limit
    PROCESSING_FAILED = "processing_failed"  # a stage's step raised on it every time (a bug some input triggers)
    # sinking
    ROW_REJECTED = "row_rejected"
