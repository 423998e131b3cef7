"""What the Schedule keeper logs each minute: a written Schedule, and a tenant's bad cron once per error."""

from __future__ import annotations

import logging

import pytest

from fortnox_connector.temporal.schedules import ScheduleChange, _log_changes


def test_a_bad_schedule_is_logged_once_until_its_error_changes_or_it_is_mended(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reported: dict[str, str] = {}
    bad = ScheduleChange("acme", "error", error="tenant acme: schedule: '0 23 30 2 *' never fires")
    worse = ScheduleChange("acme", "error", error="tenant acme: timezone: 'Mars/Olympus' is unknown")
    mended = ScheduleChange("acme", "unchanged", "0 23 * * *", "Europe/Stockholm")
    with caplog.at_level(logging.INFO, logger="fortnox_connector.temporal.schedules"):
        for round_ in ([bad], [bad], [bad], [worse], [worse], [mended], [bad]):
            _log_changes(round_, reported)
        _log_changes([ScheduleChange("bolaget", "created", "0 23 * * *", "Europe/Stockholm")], reported)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and "never fires" in warnings[0] and "Mars" in warnings[1]
    assert "never fires" in warnings[2]  # broken again after it was mended: said again
    assert "bolaget created" in caplog.records[-1].getMessage()
