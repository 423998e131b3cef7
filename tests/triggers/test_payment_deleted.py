"""payment_deleted: stream-only; its module agrees with connector.yaml and its events validate."""

from __future__ import annotations

import jsonschema
import pytest

from fortnox_connector.declaration.loader import load_declaration
from fortnox_connector.declaration.schemas import validator
from fortnox_connector.triggers import payment_deleted


def test_the_module_agrees_with_the_declaration_and_is_stream_only() -> None:
    declared = load_declaration().trigger(payment_deleted.NAME)
    assert declared.event_schema == payment_deleted.EVENT_SCHEMA_PATH
    assert declared.description == payment_deleted.DESCRIPTION
    assert declared.modes == ("stream",)
    assert not declared.polled


def test_an_event_from_the_feed_validates_and_keys_on_the_payment_number() -> None:
    event = payment_deleted.payment_deleted_event(
        "acme",
        "21",
        observed_at="2026-03-02T10:00:01+01:00",
        detected_by="stream",
        deleted_at="2026-03-02T10:00:00.500+01:00",
    )
    assert event.trigger == "payment_deleted"
    assert event.dedup_key == "fortnox:acme:payment:21:deleted" == event.payload["dedup_key"]
    validator(payment_deleted.EVENT_SCHEMA_PATH).validate(event.payload)


def test_a_poll_detector_may_name_the_invoice() -> None:
    payload = payment_deleted.payment_deleted_payload(
        "acme", "21", observed_at="2026-03-02T10:00:01+01:00", detected_by="poll", invoice_number="1042"
    )
    validator(payment_deleted.EVENT_SCHEMA_PATH).validate(payload)


def test_an_unknown_detector_breaks_the_schema() -> None:
    payload = payment_deleted.payment_deleted_payload(
        "acme", "21", observed_at="2026-03-02T10:00:01+01:00", detected_by="webhook"
    )
    with pytest.raises(jsonschema.ValidationError):
        validator(payment_deleted.EVENT_SCHEMA_PATH).validate(payload)
