"""Storing a request's patient ranking on it when it is ranked (on arrival, or by the
sync for requests never ranked). What the list and the detail pane then say about the
request is :mod:`linker_tui.read.match_hints`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linker_tui.matching import PatientRanking
    from linker_tui.store.models import OnlineRequest


def record_ranking(request: OnlineRequest, ranking: PatientRanking) -> None:
    """Store a ranking on its request: the patient when exact (a patient already set is
    kept: staff's choice wins), the level and how many candidates were offered."""
    if request.patient_id is None and ranking.patient_id is not None:
        request.patient_id = ranking.patient_id
    request.patient_match_level = ranking.level.value
    request.patient_match_count = len(ranking.candidates)
