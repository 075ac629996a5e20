"""The status line's account of a sync run: appointments, patients and providers apart."""

from __future__ import annotations

from datetime import UTC, datetime

from linker_tui.store.enums import SyncRunStatus
from linker_tui.sync.summary import SyncSummary
from linker_tui.tui.widgets.status import run_counts

AT = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def _summary(**counts: object) -> SyncSummary:
    return SyncSummary(1, SyncRunStatus.OK, "schedule", AT, AT, **counts)  # type: ignore[arg-type]


def test_appointments_patients_and_providers_are_counted_apart() -> None:
    detail = {
        "appointments_inserted": 3,
        "appointments_updated": 12,
        "patients_inserted": 0,
        "patients_updated": 2,
        "providers_inserted": 1,
        "providers_updated": 0,
    }
    summary = _summary(inserted=4, updated=14, cancelled=1, requests_imported=1, detail=detail)
    assert run_counts(summary) == "+3 ~12 -1 appts ~2 patients +1 provider +1 request"


def test_only_patients_changed_is_not_said_to_be_appointments() -> None:
    detail = {"appointments_inserted": 0, "appointments_updated": 0, "patients_updated": 5}
    assert run_counts(_summary(updated=5, detail=detail)) == "~5 patients"


def test_nothing_changed_and_runs_recorded_before_per_table_counts() -> None:
    assert run_counts(_summary()) == "no changes"
    assert run_counts(_summary(inserted=2, updated=1)) == "+2 ~1 appts"
