"""Reading a PMS export (``providers.csv``, ``patients.csv``, ``appointments.csv``): the
one request import path, the sync's (:mod:`linker_tui.sync.csv_folder`), reads it
through these modules; each bad row is reported with its file, line and reason, and the
rest is read.

* :mod:`.format`: the files, their columns, the status table, :class:`ExportFormat`;
* :mod:`.records`: whether a header or a record can be read at all
  (:func:`header_problem`, :func:`record_problem`);
* :mod:`.decode`: :class:`RowParser`, a record (or a block of appointment columns)
  into typed rows;
* :mod:`.rows`: the typed rows, :class:`RowProblem`, :class:`BadRow`, :class:`IgnoredRow`.

The names below are the package's API; its modules import one another directly.
"""

from linker_tui.ingest.pms_export.decode import MAX_ID_LENGTH, RowParser
from linker_tui.ingest.pms_export.format import (
    APPOINTMENTS_FILE,
    DEFAULT_STATUS_MAP,
    ID_COLUMNS,
    PATIENTS_FILE,
    PROVIDERS_FILE,
    REQUIRED_COLUMNS,
    ExportFormat,
    status_word,
)
from linker_tui.ingest.pms_export.records import header_problem, record_problem
from linker_tui.ingest.pms_export.rows import (
    APPOINTMENT_FIELDS,
    AppointmentColumns,
    AppointmentRow,
    BadRow,
    IgnoredRow,
    PatientRow,
    ProviderRow,
    RowProblem,
)

__all__ = [
    "APPOINTMENTS_FILE",
    "APPOINTMENT_FIELDS",
    "DEFAULT_STATUS_MAP",
    "ID_COLUMNS",
    "MAX_ID_LENGTH",
    "PATIENTS_FILE",
    "PROVIDERS_FILE",
    "REQUIRED_COLUMNS",
    "AppointmentColumns",
    "AppointmentRow",
    "BadRow",
    "ExportFormat",
    "IgnoredRow",
    "PatientRow",
    "ProviderRow",
    "RowParser",
    "RowProblem",
    "header_problem",
    "record_problem",
    "status_word",
]
