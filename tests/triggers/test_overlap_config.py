"""A configured overlap agrees with the floor the triggers enforce (window.MIN_OVERLAP_MINUTES)."""

from __future__ import annotations

import pytest

from fortnox_connector.declaration.config import parse_config
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.errors import ConfigError
from fortnox_connector.triggers.window import MIN_OVERLAP_MINUTES


def test_the_config_schema_refuses_an_overlap_below_the_floor() -> None:
    prop = load_schema("config.json")["properties"]["lastmodified_overlap_minutes"]
    assert prop["minimum"] == MIN_OVERLAP_MINUTES
    assert str(MIN_OVERLAP_MINUTES) in prop["description"]
    with pytest.raises(ConfigError) as raised:
        parse_config({"lastmodified_overlap_minutes": MIN_OVERLAP_MINUTES - 1}, tenant="t1")
    assert raised.value.field == "lastmodified_overlap_minutes"
    config = parse_config({"lastmodified_overlap_minutes": str(MIN_OVERLAP_MINUTES)}, from_strings=True)
    assert config.lastmodified_overlap_minutes == MIN_OVERLAP_MINUTES
