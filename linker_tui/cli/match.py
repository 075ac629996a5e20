"""``linker-tui match [REQUEST_ID] [--json]``: the patient candidates of open requests, with
their scores and per-field evidence, for support staff."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from linker_tui.common.text import clean, dumps_json
from linker_tui.matching import PatientRanking
from linker_tui.matching.match_model import fit_model
from linker_tui.matching.patient_search import rank_requests
from linker_tui.store.db import read_session, write_session
from linker_tui.store.enums import OPEN_STATES
from linker_tui.store.models import OnlineRequest, Patient


def add_match_parser(sub: Any) -> None:
    """Register the ``match`` command on the CLI's subparsers."""
    match = sub.add_parser("match", help="show the patient candidates of open requests")
    match.add_argument(
        "request_id", nargs="?", help="one request's external id (default: all open)"
    )
    match.add_argument("--json", action="store_true", help="one JSON object per request per line")
    match.add_argument(
        "--fit",
        action="store_true",
        help="first learn the practice's matching model from its latest requests (EM) and store it",
    )


def match_requests(
    engine: Engine, region: str, external_id: str | None = None
) -> Iterator[tuple[OnlineRequest, PatientRanking]]:
    """Each open request (or the one with ``external_id``, in any state) and its ranking."""
    with read_session(engine) as session:
        query = select(OnlineRequest).order_by(
            col(OnlineRequest.received_at), col(OnlineRequest.id)
        )
        if external_id is not None:
            query = query.where(OnlineRequest.external_id == external_id)
        else:
            query = query.where(col(OnlineRequest.state).in_(OPEN_STATES))
        requests = session.exec(query).all()
        # The whole list at once: a few set-based lookups, not one search per request.
        yield from zip(requests, rank_requests(session, requests, region), strict=True)


def _as_dict(
    request: OnlineRequest, ranking: PatientRanking, pms: dict[int, str]
) -> dict[str, Any]:
    return {
        "request": request.external_id,
        "typed": {
            "first_name": request.typed_first_name,
            "last_name": request.typed_last_name,
            "birthdate": request.typed_birthdate.isoformat() if request.typed_birthdate else None,
            "email": request.typed_email,
            "phone": request.typed_phone,
        },
        "attached_patient": pms.get(request.patient_id) if request.patient_id else None,
        "level": ranking.level.value,
        "explanation": ranking.explanation,
        "candidates": [
            {
                "patient": pms.get(c.patient_id, str(c.patient_id)),
                "name": f"{c.patient.last_name}, {c.patient.first_name}",
                "score": c.score,
                "probability": c.probability,
                "decisive": c.decisive,
                "evidence": {
                    e.field.value: {
                        "agreement": e.agreement.value,
                        "level": e.level,
                        "note": e.note,
                        "weight": e.weight,
                    }
                    for e in c.evidence
                },
            }
            for c in ranking.candidates
        ],
    }


def _line(text: str) -> str:
    return clean(text, single_line=True)


def run_match_command(
    engine: Engine, region: str, args: argparse.Namespace, out: TextIO | None = None
) -> int:
    """Print the candidates; exit status 1 when the named request does not exist."""
    out = out or sys.stdout
    if getattr(args, "fit", False):
        with write_session(engine) as session:
            model = fit_model(session, region)
        print(f"matching model: {model.source}", file=sys.stderr)
    with read_session(engine) as session:
        pms = dict(session.exec(select(Patient.id, Patient.pms_id)).all())
    found = 0
    for request, ranking in match_requests(engine, region, args.request_id):
        found += 1
        data = _as_dict(request, ranking, pms)  # type: ignore[arg-type]
        if args.json:
            print(dumps_json(data), file=out)
            continue
        typed = data["typed"]
        print(
            clean(
                f"{request.external_id}: {request.typed_name} born {typed['birthdate'] or '-'} "
                f"{request.typed_phone or '-'} {request.typed_email or '-'}",
                single_line=True,
            ),
            file=out,
        )
        print(f"  {ranking.level.value}: {_line(ranking.explanation)}", file=out)
        for c in data["candidates"]:
            print(
                f"  {c['score']:6.1f}  p={c['probability']:.3f}  {_line(c['patient']):<10} "
                f"{_line(c['name'])}",
                file=out,
            )
            for field, e in c["evidence"].items():
                if e["agreement"] != "missing":
                    note = f" ({_line(e['note'])})" if e["note"] else ""
                    print(f"          {field}: {e['agreement']}{note}", file=out)
    if args.request_id is not None and not found:
        print(f"linker-tui: no request {args.request_id!r}", file=sys.stderr)
        return 1
    return 0
