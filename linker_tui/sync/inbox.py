"""The request inbox: online booking requests arrive as JSON files (FHIR R4
``Appointment``, status ``proposed``) in a folder.

A run reads every ``*.json`` file of the folder, imports the new requests in one
transaction, and only then files each one away: imported files (and copies of a request
already imported: the same id is imported once) go to ``processed/``, files that are no
usable request go to ``rejected/`` with ``<name>.reason.txt`` beside them. A crash before
the files are moved leaves them in the inbox; the next run sees the ids are known and
moves them to ``processed/``.

Writers should create a file under another name (``*.tmp``) and rename it into the inbox;
a file that cannot be read and was changed in the last few seconds is left for the next
run rather than rejected, in case it is still being written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from linker_tui.common.files import PRIVATE_FILE, private_folder
from linker_tui.ingest.fhir import ParsedRequest, RequestFormatError, read_request
from linker_tui.ingest.pms_export import RowProblem
from linker_tui.matching.patient_search import rank_requests
from linker_tui.matching.request_match import record_ranking
from linker_tui.store.models import OnlineRequest, Provider
from linker_tui.sync.control import StopFlag, run_io

PROCESSED, REJECTED = "processed", "rejected"
_SETTLE_SECONDS = 5.0


@dataclass
class InboxFile:
    """One file of the inbox: the request read from it, or why it is refused."""

    path: Path
    request: ParsedRequest | None = None
    reason: str = ""
    outcome: str = ""  # imported, duplicate, rejected (after store)


@dataclass
class InboxBatch:
    """The files of one run."""

    files: list[InboxFile] = field(default_factory=list)
    waiting: int = 0  # unreadable but just written: left for the next run
    # Requests imported without a patient because matching them failed (after store).
    match_problems: list[RowProblem] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """Files with this outcome."""
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def problems(self) -> list[RowProblem]:
        """The rejected files and why."""
        return [RowProblem(f.path.name, 0, f.reason) for f in self.files if f.reason]


class RequestInbox:
    """A folder of request files; see the module docstring."""

    def __init__(
        self,
        folder: Path,
        tz: ZoneInfo,
        *,
        shift: timedelta = timedelta(0),
        phone_region: str = "CA",
        io_timeout: float = 60.0,
    ) -> None:
        self.folder = folder
        self.tz = tz
        self.shift = shift  # the demo: move request times (wall-clock kept)
        self.phone_region = phone_region
        self.io_timeout = io_timeout

    def read(self, stop: StopFlag) -> InboxBatch:
        """Parse every ``*.json`` file in the inbox (file I/O bounded by the timeout)."""
        return run_io(self._read, self.io_timeout, stop, f"reading the inbox {self.folder}")

    def _read(self) -> InboxBatch:
        for sub in (PROCESSED, REJECTED):
            private_folder(self.folder / sub, tighten=True)
        batch = InboxBatch()
        now = time.time()
        for path in sorted(self.folder.glob("*.json")):
            if not path.is_file():
                continue
            item = InboxFile(path)
            try:
                item.request = read_request(path.read_bytes())
            except FileNotFoundError:
                continue  # taken by another workstation meanwhile
            except RequestFormatError as exc:
                item.reason = str(exc)
            except OSError as exc:
                item.reason = f"cannot read: {exc.strerror or exc}"
            if item.reason:
                try:
                    fresh = now - path.stat().st_mtime < _SETTLE_SECONDS
                except OSError:
                    fresh = True
                if fresh:
                    batch.waiting += 1
                    continue
            batch.files.append(item)
        return batch

    def store(self, session: Session, batch: InboxBatch) -> int:
        """Add the new requests (patient matched on arrival, exact matches only); returns
        how many. Sets each file's outcome."""
        ids = [f.request.external_id for f in batch.files if f.request is not None]
        known = set(
            session.exec(
                select(OnlineRequest.external_id).where(col(OnlineRequest.external_id).in_(ids))
            ).all()
        )
        providers: dict[str, int] = {}
        if ids:
            providers = {
                p.pms_id: p.id for p in session.exec(select(Provider)).all() if p.id is not None
            }
        imported = 0
        new: list[tuple[InboxFile, OnlineRequest]] = []
        for item in batch.files:
            parsed = item.request
            if parsed is None:
                item.outcome = "rejected"
                continue
            if parsed.external_id in known:
                item.outcome = "duplicate"
                continue
            known.add(parsed.external_id)
            new.append((item, self._request(parsed, providers)))
            item.outcome = "imported"
            imported += 1
        self._match(session, new, batch)
        session.add_all(request for _, request in new)
        session.flush()
        return imported

    def _match(
        self, session: Session, new: list[tuple[InboxFile, OnlineRequest]], batch: InboxBatch
    ) -> None:
        """Match the new requests' patients in one batch (exact matches are attached); a
        request whose matching fails is imported without a patient and reported."""
        rankings = rank_requests(session, [request for _, request in new], self.phone_region)
        for (item, request), ranking in zip(new, rankings, strict=True):
            record_ranking(request, ranking)
            if ranking.error:
                batch.match_problems.append(
                    RowProblem(item.path.name, 0, f"patient not matched: {ranking.error}")
                )

    def _request(self, parsed: ParsedRequest, providers: dict[str, int]) -> OnlineRequest:
        duration = None
        if parsed.requested_end is not None:
            length = parsed.requested_end - parsed.requested_start
            duration = int(length.total_seconds() // 60)
        return OnlineRequest(
            external_id=parsed.external_id,
            received_at=parsed.received_at.astimezone(self.tz) + self.shift,
            typed_first_name=parsed.first_name,
            typed_last_name=parsed.last_name,
            typed_birthdate=parsed.birthdate,
            typed_email=parsed.email,
            typed_phone=parsed.phone,
            requested_start=parsed.requested_start.astimezone(self.tz) + self.shift,
            requested_duration_min=duration,
            requested_provider_id=providers.get(parsed.practitioner_pms_id),
            reason=parsed.reason,
            note=parsed.note,
        )

    def file_away(self, batch: InboxBatch, stop: StopFlag) -> list[RowProblem]:
        """Move the files of a stored batch to ``processed/`` or ``rejected/`` (after the
        commit). Returns the files that could not be moved (they are retried next run)."""
        return run_io(lambda: self._file_away(batch), self.io_timeout, stop, "filing requests")

    def _file_away(self, batch: InboxBatch) -> list[RowProblem]:
        failed: list[RowProblem] = []
        for item in batch.files:
            if not item.outcome:
                continue
            sub = REJECTED if item.outcome == "rejected" else PROCESSED
            try:
                target = _free_name(self.folder / sub, item.path.name)
                if item.outcome == "rejected":
                    reason = target.with_name(target.name + ".reason.txt")
                    _write_private(reason, item.reason + "\n")
                os.replace(item.path, target)
                os.chmod(target, PRIVATE_FILE)
            except FileNotFoundError:
                continue  # moved by another workstation
            except OSError as exc:
                failed.append(
                    RowProblem(item.path.name, 0, f"cannot move to {sub}/: {exc.strerror}")
                )
        return failed


def _write_private(path: Path, text: str) -> None:
    """Write a new file only its owner can read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(text)


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... if taken."""
    target = folder / name
    stem, suffix = os.path.splitext(name)
    number = 2
    while target.exists():
        target = folder / f"{stem}-{number}{suffix}"
        number += 1
    return target
