#!/usr/bin/env python3
"""Generate the deterministic demo data set for linker_tui ("Maple Grove Dental").

Run from anywhere::

    python scripts/make_demo_data.py

Writes ``data/providers.csv``, ``data/patients.csv``, ``data/appointments.csv``,
``data/requests/REQ-*.json`` and ``data/requests_manifest.csv``. The output is byte-identical
between runs: a fixed seed, no wall-clock reads and no iteration over hash-ordered sets.
See ``data/README.md`` for the format. Standard library only.
"""

from __future__ import annotations

import bisect
import csv
import json
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


def words(text: str, sep: str | None = None) -> list[str]:
    """Split a whitespace- (or ``sep``-) separated table into stripped items."""
    return [w.strip() for w in text.strip().split(sep)]


SEED = 20261127
TZ = ZoneInfo("America/Toronto")
ANCHOR = date(2026, 11, 27)  # export date, the demo's "today" (a Friday)
CUTOFF = datetime.combine(ANCHOR, time(0), TZ)  # everything recorded happened before this
LAST_OFFICE = datetime(2026, 11, 26, 16, 30, tzinfo=TZ)  # latest receptionist edit
WINDOW_START = ANCHOR - timedelta(days=548)  # ~18 months of history
WINDOW_END = ANCHOR + timedelta(days=120)  # ~4 months of bookings ahead
OPEN, CLOSE, LUNCH = 8 * 60, 17 * 60, (12 * 60, 13 * 60)
OPERATORIES = ("OP1", "OP2", "OP3", "OP4")
DATA = Path(__file__).resolve().parent.parent / "data"
CLOSED = {  # statutory holidays and Christmas-week closures
    date.fromisoformat(s)
    for s in words("""
    2025-07-01 2025-08-04 2025-09-01 2025-10-13 2025-12-24 2025-12-25 2025-12-26 2025-12-31
    2026-01-01 2026-02-16 2026-04-03 2026-05-18 2026-07-01 2026-08-03 2026-09-07 2026-10-12
    2026-12-24 2026-12-25 2026-12-28 2026-12-31 2027-01-01 2027-02-15""")
}
# reason -> (duration in minutes, provider kind)
REASONS: dict[str, tuple[int, str]] = {
    "Cleaning": (60, "hyg"), "Periodontal maintenance": (60, "hyg"), "Child check-up": (40, "hyg"),
    "Check-up": (30, "doc"), "New patient exam": (60, "doc"), "Filling": (60, "doc"),
    "Crown prep": (90, "doc"), "Crown seat": (40, "doc"), "Root canal": (90, "doc"),
    "Extraction": (60, "doc"), "Emergency - toothache": (30, "doc"),
    "Whitening consult": (30, "doc"), "Sealants": (30, "doc"), "Denture adjustment": (30, "doc"),
}  # fmt: skip
# appointment reason -> (request serviceType text, reasonCode texts patients type)
SERVICE: dict[str, tuple[str, list[str]]] = {
    "Cleaning": ("Cleaning", ["Cleaning and check-up", "Regular cleaning", "6-month cleaning"]),
    "Child check-up": ("Child visit", ["Check-up and cleaning for my child", "Kids check-up"]),
    "Check-up": ("Check-up", ["Check-up", "Annual exam"]),
    "New patient exam": ("New patient", ["New patient exam", "New patient check-up"]),
    "Filling": ("Treatment", ["Filling", "Chipped tooth", "Cavity found at my last visit"]),
    "Crown prep": ("Treatment", ["Crown", "Crown preparation"]),
    "Emergency - toothache": ("Emergency", ["Toothache", "Toothache [lower left]"]),
    "Whitening consult": ("Cosmetic", ["Teeth whitening consultation"]),
}
EPISODES_ADULT = [  # (weight, [(reason, day offset), ...])
    (30, [("Filling", 0)]), (15, [("Check-up", 0)]), (6, [("Extraction", 0)]),
    (8, [("Emergency - toothache", 0), ("Filling", 9)]),
    (8, [("Crown prep", 0), ("Crown seat", 18)]),
    (4, [("Root canal", 0), ("Crown prep", 21), ("Crown seat", 42)]),
    (4, [("Whitening consult", 0)]), (2, [("Denture adjustment", 0)]),
]  # fmt: skip
EPISODES_CHILD = [(4, [("Sealants", 0)]), (3, [("Filling", 0)]), (2, [("Check-up", 0)])]
MALE = words("""
James William Robert Michael David Daniel Thomas Christopher Matthew Andrew Joseph Anthony Kevin
Ryan Jason Brian Mark Steven Paul Nicholas Alexander Ethan Liam Noah Lucas Owen Jacob Benjamin Arjun
Raj Hassan Omar Jun Hiroshi Mateo Diego Luca Marco Pierre Luc Gabriel Samuel Isaac Tyler Dylan
Connor Aiden Nathan Adam Eric Patrick Sean Kwame Tariq Vikram Minh Sanjay""")
FEMALE = words("""
Mary Elizabeth Katherine Margaret Jennifer Patricia Susan Sarah Emily Jessica Ashley Amanda Rebecca
Laura Rachel Nicole Samantha Stephanie Olivia Emma Ava Sophia Isabella Mia Charlotte Hannah Chloe
Grace Lily Priya Aisha Fatima Mei Yuki Ananya Maria Sofia Isabelle Claire Julie Nadia Leila Zara
Megan Lauren Heather Karen Linda Helen Ruth Anne Simran Ling Abena Noor""")
LAST = words(
    """
Smith, Brown, Tremblay, Martin, Roy, Wilson, MacDonald, Taylor, Campbell, Anderson, Jones, Leblanc,
Gagnon, Johnson, Lee, White, Thompson, Scott, Stewart, Clark, Walker, Young, Robinson, Wright, King,
Green, Baker, Hall, Mitchell, Ross, Murphy, Kelly, Reid, Morrison, Nguyen, Tran, Wong, Li, Wang,
Liu, Singh, Sharma, Gill, Khan, Ali, Ahmed, Hussain, Rodriguez, Garcia, Silva, Santos, Rossi, Russo,
Costa, Kowalski, Nowak, Schmidt, Fischer, Mueller, Kim, Park, Choi, Tanaka, Sato, Mensah, Osei,
Adeyemi, Hughes, Graham, Fraser, Murray, Sinclair, Doyle, Byrne, Fitzpatrick, O'Connor, O'Neill,
McLean, MacKenzie, St-Pierre, Lam, Ho, Chan, Dhillon, Grewal, Gauthier, Bergeron, Lavoie, Ouellet,
Pelletier, Bélanger, da Silva, van der Berg, De Luca""",
    ",",
)
NICK = dict(
    William="Bill",
    Robert="Bob",
    Elizabeth="Liz",
    Katherine="Kate",
    Margaret="Peggy",
    James="Jim",
    Thomas="Tom",
    Michael="Mike",
    Daniel="Dan",
    Christopher="Chris",
    Alexander="Alex",
    Jennifer="Jen",
    Patricia="Pat",
    Susan="Sue",
    Rebecca="Becky",
    Anthony="Tony",
    Joseph="Joe",
    Nicholas="Nick",
    Samantha="Sam",
    Matthew="Matt",
    Andrew="Andy",
    Stephanie="Steph",
)
# Hand-written households, one per line, members separated by ";" (first = guarantor).
# Member: tag | first | last | preferred | birthdate | flags
SPECIAL = """
bill|William|Thompson|Bill|1979-04-02|; |Karen|Thompson||1981-09-17|; |Olivia|Thompson||2013-05-30|
|Ngozi|Okafor||1984-02-11|; twin1|Chidi|Okafor||2017-06-09|; twin2|Amara|Okafor||2017-06-09|
sr|Michael|Brown|Mike|1962-03-14|; |Linda|Brown||1964-07-22|; jr|Michael|Brown||1991-08-02|
jose|José|Núñez||1975-01-19|; |Lucía|Núñez||1977-12-03|; |Mateo|Núñez García||2011-08-14|
renee|Renée|Côté||1988-06-27|; |Étienne|Côté-Roy||2015-03-09|
zoe|Zoë|Lefèvre||1993-10-05|
soren|Søren|Ødegaard||1969-11-30|
maxi|Max [Maxi]|Keller||2001-02-14|
|Patrick|[Test] O'Brien||1990-01-01|
peggy|Margaret|MacDonald|Peggy|1951-05-08|
optout_a|Harpreet|Sandhu||1986-04-21|opt_out
optout_b|Gregory|Fitzgerald-Hayes|Greg|1972-08-30|opt_out
noemail_a|Dorothy|Kowalczyk|Dot|1944-09-12|no_email
noemail_b|Wei|Zhang||1958-02-25|no_email
sarah_a|Sarah|Wilson||1985-11-02|
sarah_b|Sarah|Wilson||1998-04-17|
|Jennifer|Lee|Jen|1979-07-07|
|Jennifer|Lee||2004-01-23|
|Siobhán|Ní Bhriain||1996-03-17|
|Anaïs|Dubé-Laflamme||1983-12-12|
"""
# People who are NOT patients: (first, last, birthdate, manifest note)
UNKNOWN = [
    ("Tremaine", "Jackson", "1990-05-12", "new to the area, not in the PMS"),
    ("Inês", "Ferreira", "1987-09-30", "not in the PMS (accented name)"),
    ("David", "Thompson", "1976-02-14", "shares a surname with the Thompson family; other phone"),
    ("Jennifer", "Lee", "1992-10-10", "same name as two patients; DOB/phone/e-mail match neither"),
]
DOMAINS = ("example.com", "example.org", "example.net")
AREA_CODES = ("416", "647", "437", "905", "289", "365", "613", "519")
STATUS_WEIGHTS = {
    "past": (("completed", "cancelled", "broken", "unscheduled"), (88, 6, 4, 2)),
    "soon": (("confirmed", "scheduled", "cancelled", "unscheduled"), (60, 32, 6, 2)),
    "later": (("scheduled", "confirmed", "cancelled", "unscheduled"), (88, 3, 7, 2)),
}
COMMENTS = [
    None, None, "", "Mornings are best for me.", "Please call my cell, not the house phone.",
    "My insurance changed this year (Sun Life).", "Can I get a reminder by text?",
    "Je parle français si c'est plus facile.", "Sensitive to cold on the upper right.",
    "Need a receipt for my health spending account.",
]  # fmt: skip
ANY_TIME = "Any weekday works if this one is taken."
HOSTILE = [  # (comment, reason, latest day offset)
    ("Please fit me in, it's [b]urgent[/b]! Cracked a molar.", "Emergency - toothache", 7),
    ("Copied from your reminder: [@click=app.quit]Confirm[/] - not Mondays", "Cleaning", 28),
    ("From my chart: \x1b[31mALLERGIC TO LATEX\x1b[0m please note", "Filling", 28),
]


@dataclass
class Provider:
    """A dentist or hygienist who works on ``weekdays`` between optional first/last days."""

    provider_id: str
    abbr: str
    first_name: str
    last_name: str
    title: str
    active: bool
    kind: str  # "doc" or "hyg"
    home_op: str
    weekdays: tuple[int, ...]
    first_day: date = date.min
    last_day: date = date.max

    @property
    def display(self) -> str:
        """Name as shown to patients, e.g. "Dr. Amelia Chen" or "Jordan Blake, RDH"."""
        if self.title == "Dr.":
            return f"Dr. {self.first_name} {self.last_name}"
        return f"{self.first_name} {self.last_name}, {self.title}"

    def works(self, day: date) -> bool:
        """True if the provider sees patients on ``day``."""
        return day.weekday() in self.weekdays and self.first_day <= day <= self.last_day


PROVIDERS = [
    Provider("DOC1", "AC", "Amelia", "Chen", "Dr.", True, "doc", "OP1", (0, 1, 2, 3, 4)),
    Provider("DOC2", "RP", "Rahul", "Patel", "Dr.", True, "doc", "OP2", (0, 1, 2, 3)),
    Provider("DOC3", "MB", "Marc-André", "Bouchard", "Dr.", True, "doc", "OP2", (1, 2, 3, 4),
             first_day=date(2026, 3, 2)),
    Provider("DOC4", "HW", "Harold", "Wu", "Dr.", False, "doc", "OP1", (0, 2, 4),
             last_day=date(2026, 2, 27)),
    Provider("HYG1", "JB", "Jordan", "Blake", "RDH", True, "hyg", "OP3", (0, 1, 2, 3, 4)),
    Provider("HYG2", "PN", "Priya", "Nair", "RDH", True, "hyg", "OP4", (0, 1, 3)),
]  # fmt: skip
PROV = {p.provider_id: p for p in PROVIDERS}


@dataclass(eq=False)
class Patient:
    """One row of patients.csv plus generator-only bookkeeping (tag, preferences)."""

    last_name: str
    first_name: str
    preferred_name: str
    birthdate: date | None
    tag: str = ""  # handle for hand-written scenario patients
    flags: str = ""
    patient_id: str = ""
    email: str = ""
    phone_home: str = ""
    phone_mobile: str = ""
    email_opt_out: bool = False
    guarantor: Patient | None = None
    pref_doc: str = "DOC1"
    pref_hyg: str = "HYG1"
    reserved: bool = False  # used by a scenario: gets history only, no generated bookings

    @property
    def child(self) -> bool:
        """Younger than 14 on the anchor date."""
        return self.birthdate is not None and (ANCHOR - self.birthdate).days < 14 * 365

    def row(self) -> list[str]:
        bd = self.birthdate.isoformat() if self.birthdate else ""
        g = self.guarantor.patient_id if self.guarantor else self.patient_id
        return [self.patient_id, self.last_name, self.first_name, self.preferred_name, bd,
                self.email, self.phone_home, self.phone_mobile, g,
                str(int(self.email_opt_out))]  # fmt: skip


@dataclass(eq=False)
class Appt:
    """One row of appointments.csv; ``start`` is naive local (practice) wall time."""

    patient: Patient
    provider: str
    start: datetime
    duration: int
    op: str
    reason: str
    status: str
    updated_at: datetime | None = None
    appointment_id: str = ""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration)

    def row(self) -> list[str]:
        upd = self.updated_at.astimezone(UTC) if self.updated_at else None
        return [self.appointment_id, self.patient.patient_id, self.provider,
                self.start.strftime("%Y-%m-%dT%H:%M"), str(self.duration), self.op, self.reason,
                self.status, upd.strftime("%Y-%m-%dT%H:%M:%SZ") if upd else ""]  # fmt: skip


@dataclass(eq=False)
class Req:
    """One online request plus its manifest entry."""

    scenario: str
    patient: Patient | None  # None: not a patient
    ident: dict[str, str | None]  # what was typed: given, family, birthDate, phone, email
    start: datetime
    end: datetime
    practitioner: str | None
    reason: str
    comment: str | None
    created: datetime
    expected: Appt | None
    notes: str
    request_id: str = ""

    def row(self) -> list[str]:
        pid = self.patient.patient_id if self.patient else ""
        aid = self.expected.appointment_id if self.expected else ""
        return [self.request_id, self.scenario, pid, aid, self.notes]


def is_open(d: date) -> bool:
    """Office open (Mon-Fri, not a holiday/closure)."""
    return d.weekday() < 5 and d not in CLOSED


FOLDED: dict[str, str | int | None] = {"ø": "o", "Ø": "O", "ß": "ss"}  # no NFKD form


def slug(s: str) -> str:
    """ASCII lower-case alphanumeric e-mail fragment: accents folded, [nicknames] dropped."""
    s = re.sub(r"\[.*?\]", "", s).translate(str.maketrans(FOLDED))
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s.lower() if c.isascii() and c.isalnum())


def fmt_phone(digits: str, style: int) -> str:
    """Format 10 digits the way people write Ontario numbers."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    styles = (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}.{b}.{c}", f"+1 {a}-{b}-{c}")
    return (*styles, a + b + c)[style]


def when(dt: datetime) -> str:
    """Short human-readable local time for manifest notes."""
    return dt.strftime("%a %Y-%m-%d %H:%M")


def local(dt: datetime) -> datetime:
    """Attach the practice timezone to a naive local wall time."""
    return dt.replace(tzinfo=TZ)


def iso(dt: datetime) -> str:
    """ISO-8601 with the Toronto offset of that instant (naive input = local wall time)."""
    return (local(dt) if dt.tzinfo is None else dt.astimezone(TZ)).isoformat(timespec="seconds")


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    """Uniform random date in [lo, hi]."""
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def office_time(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A random moment during office hours (Mon-Fri 08-17) within [lo, hi]; ``hi`` if none."""
    lo_d, hi_d = lo.astimezone(TZ).date(), hi.astimezone(TZ).date()
    days = [d for d in (lo_d + timedelta(days=i) for i in range((hi_d - lo_d).days + 1))
            if d.weekday() < 5]  # fmt: skip
    for _ in range(40 if days else 0):
        t = datetime.combine(rng.choice(days), time(8), TZ)
        t += timedelta(minutes=rng.randint(0, 540), seconds=rng.randint(0, 59))
        if lo <= t <= hi:
            return t
    return hi


class Contacts:
    """Hands out unique fictional 555-01xx phone numbers and example.* e-mail addresses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = [f"{a}55501{n:02d}" for a in AREA_CODES for n in range(100)]
        self.pool.remove("4165550100")  # the practice's own number (data/practice.json)
        rng.shuffle(self.pool)
        self.emails: set[str] = set()

    def phone(self) -> str:
        """A new number in a random (mostly "(416) 555-0134" / "416-555-0134") style."""
        return fmt_phone(self.pool.pop(), self.rng.choices(range(6), (50, 35, 5, 4, 4, 2))[0])

    def email(self, first: str, last: str, family: bool = False) -> str:
        """A new unique address derived from the name (or a household address)."""
        f, la, rng = slug(first), slug(last), self.rng
        if family:
            base = rng.choice([f"the{la}s", f"{la}family", f"{la}.household"])
        else:
            base = rng.choice([f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}", f"{f}_{la}", f"{la}.{f}"])
        addr = f"{base}@{rng.choice(DOMAINS)}"
        while addr in self.emails:
            addr = f"{base}{rng.randint(2, 99)}@{addr.split('@')[1]}"
        self.emails.add(addr)
        return addr


def new_person(rng: random.Random, used: set[tuple[str, str]], last: str, bd: date) -> Patient:
    """A generated person whose first+last name is not used yet (no accidental namesakes)."""
    while True:
        first = rng.choice(MALE if rng.random() < 0.5 else FEMALE)
        if (first, last) not in used:
            used.add((first, last))
            pref = NICK[first] if first in NICK and rng.random() < 0.35 else ""
            return Patient(last, first, pref, bd)


def gen_household(rng: random.Random, used: set[tuple[str, str]], single: bool) -> list[Patient]:
    """A random household: guarantor, maybe a spouse, children (or just a single adult)."""
    last = rng.choice(LAST)
    if single:
        return [new_person(rng, used, last, rand_date(rng, date(1936, 1, 1), date(2007, 6, 1)))]
    g_bd = rand_date(rng, date(1960, 1, 1), date(1994, 12, 31))
    fam, kid_last = [new_person(rng, used, last, g_bd)], last
    if rng.random() < 0.75:
        s_last = last if rng.random() < 0.75 else rng.choice(LAST)
        fam.append(new_person(rng, used, s_last, g_bd + timedelta(days=rng.randint(-2190, 2190))))
        if s_last != last and rng.random() < 0.4:
            kid_last = f"{last}-{s_last}"
    kid_lo = max(g_bd + timedelta(days=22 * 365), date(2006, 1, 1))
    for _ in range(rng.choices((0, 1, 2, 3), (1, 3, 4, 2))[0] or (0 if len(fam) > 1 else 1)):
        fam.append(new_person(rng, used, kid_last, rand_date(rng, kid_lo, date(2023, 12, 31))))
    return fam


def assign_contacts(rng: random.Random, c: Contacts, fam: list[Patient]) -> None:
    """Phones/e-mails for a household: shared home phone, often a shared e-mail."""
    home = c.phone() if rng.random() < (0.85 if len(fam) > 1 else 0.4) else ""
    mode = rng.choices(("shared", "own", "kids_none"), (4, 4, 2))[0] if len(fam) > 1 else "own"
    g = fam[0]
    family_email = c.email(g.first_name, g.last_name, family=True) if mode == "shared" else ""
    for p in fam:
        p.guarantor, p.phone_home = g, home
        teen = p.birthdate is not None and (ANCHOR - p.birthdate).days < 18 * 365
        if p is g or (not p.child and (not teen or rng.random() < 0.5)):
            p.phone_mobile = c.phone() if rng.random() < 0.9 or not home else ""
        elif not home:
            p.phone_mobile = g.phone_mobile  # parent's cell on the child's file
        if mode == "shared":
            p.email = family_email
        elif not p.child and rng.random() < 0.94:
            p.email = c.email(p.preferred_name or p.first_name, p.last_name)
        elif mode == "own" and p is not g:
            p.email = g.email
        if "no_email" in p.flags:
            p.email = ""
        p.email_opt_out = bool(p.email) and ("opt_out" in p.flags or rng.random() < 0.04)
        p.pref_doc = rng.choices(("DOC1", "DOC2", "DOC3"), (40, 30, 30))[0]
        p.pref_hyg = rng.choices(("HYG1", "HYG2"), (60, 40))[0]


def build_patients(rng: random.Random, c: Contacts) -> list[Patient]:
    """All patients: the hand-written households plus generated households and singles."""
    special = [[Patient(f[2], f[1], f[3], date.fromisoformat(f[4]), f[0], f[5])
                for f in (words(member, "|") for member in line.split(";"))]
               for line in SPECIAL.strip().splitlines()]  # fmt: skip
    used = {(p.first_name, p.last_name) for fam in special for p in fam}
    used |= {(u[0], u[1]) for u in UNKNOWN}
    households = special + [gen_household(rng, used, single=False) for _ in range(76)]
    households += [gen_household(rng, used, single=True) for _ in range(125)]
    rng.shuffle(households)  # ids in registration order, families registered together
    patients: list[Patient] = []
    for fam in households:
        for p in fam:
            p.patient_id = str(1001 + len(patients))
            patients.append(p)
        assign_contacts(rng, c, fam)
    singles = [fam[0] for fam in households if len(fam) == 1 and not fam[0].tag]
    for p in rng.sample(singles, 6):
        p.birthdate = None  # date of birth never recorded
    return patients


def pick_status(rng: random.Random, day: date) -> str:
    """Realistic status for an appointment on ``day`` as seen on the anchor date."""
    key = "past" if day < ANCHOR else "soon" if day <= ANCHOR + timedelta(days=14) else "later"
    states, weights = STATUS_WEIGHTS[key]
    return rng.choices(states, weights)[0]


Slot = tuple[int, str]  # (start minute of the day, operatory)


class Booker:
    """Places appointments so that no operatory, provider or patient is double-booked.

    Cancelled appointments do not hold their slot (someone else may be booked there).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.busy: dict[tuple[date, str], list[tuple[int, int]]] = {}
        self.appts: list[Appt] = []

    def _free(self, day: date, key: str, s: int, e: int) -> bool:
        return all(e2 <= s or s2 >= e for s2, e2 in self.busy.get((day, key), ()))

    def _slot(self, d: date, pid: str, p: Patient, dur: int, at: int | None) -> Slot | None:
        """First free (start minute, operatory), trying starts in random order."""
        step = 30 if self.rng.random() < 0.88 else 10  # mostly :00/:30
        starts = list(range(OPEN, CLOSE - dur + 1, step))
        self.rng.shuffle(starts)
        home = PROV[pid].home_op
        ops = [home] + [o for o in OPERATORIES if o != home]
        for s in [at] if at is not None else starts:
            e = s + dur
            if (s < LUNCH[1] and e > LUNCH[0]) or s < OPEN or e > CLOSE:
                continue
            if self._free(d, f"prov:{pid}", s, e) and self._free(d, f"pat:{p.patient_id}", s, e):
                for op in ops:
                    if self._free(d, f"op:{op}", s, e):
                        return s, op
        return None

    def provider_for(self, p: Patient, kind: str, day: date) -> str | None:
        """The patient's preferred provider of ``kind`` if working that day, else a colleague."""
        pref = p.pref_doc if kind == "doc" else p.pref_hyg
        if pref == "DOC3" and not PROV["DOC3"].works(day) and PROV["DOC4"].works(day):
            pref = "DOC4"  # Dr. Bouchard took over Dr. Wu's patients in March 2026
        order = [pref] + [q.provider_id for q in PROVIDERS if q.kind == kind]
        return next((pid for pid in order if PROV[pid].works(day)), None)

    def book(self, p: Patient, reason: str, day: date, status: str | None = None,
             provider: str | None = None, at: int | None = None,
             max_days: int = 15) -> Appt | None:  # fmt: skip
        """Book on ``day`` or one of the next days; ``status`` None = pick one by date."""
        dur, kind = REASONS[reason]
        for d in (day + timedelta(days=i) for i in range(max_days)):
            pid = provider or self.provider_for(p, kind, d)
            if d > WINDOW_END or not is_open(d) or pid is None or not PROV[pid].works(d):
                continue
            slot = self._slot(d, pid, p, dur, at)
            if slot is None:
                continue
            s, op = slot
            st = status or pick_status(self.rng, d)
            start = datetime.combine(d, time()) + timedelta(minutes=s)
            a = Appt(p, pid, start, dur, op, reason, st)
            if st != "cancelled":
                for key in (f"op:{op}", f"prov:{pid}", f"pat:{p.patient_id}"):
                    self.busy.setdefault((d, key), []).append((s, s + dur))
            self.appts.append(a)
            return a
        return None


def generate_history(bk: Booker, p: Patient, until: date) -> None:
    """Recalls every ~6 months plus treatment episodes; only the next recall is booked ahead."""
    rng = bk.rng
    perio = not p.child and rng.random() < 0.1
    interval = 120 if perio else 182
    recall = "Child check-up" if p.child else "Periodontal maintenance" if perio else "Cleaning"
    join, leave, plan = WINDOW_START, WINDOW_END, []
    if rng.random() < 0.12:  # new patient during the window
        join = WINDOW_START + timedelta(days=rng.randint(30, 480))
        plan.append((join, "New patient exam"))
        d = join + timedelta(days=rng.randint(14, 35))
    else:
        d = WINDOW_START + timedelta(days=rng.randint(0, interval))
    if rng.random() < 0.08:  # left the practice
        leave = min(join + timedelta(days=rng.randint(120, 450)), WINDOW_END)
    while d <= WINDOW_END:
        plan.append((d, recall))
        d += timedelta(days=interval + rng.randint(-10, 20))
    episodes = EPISODES_CHILD if p.child else EPISODES_ADULT
    n = rng.choices(range(5), (4, 3, 1, 0, 0) if p.child else (2, 3, 3, 2, 1))[0]
    for _ in range(n):
        start = rand_date(rng, join, leave)
        for reason, off in rng.choices([e[1] for e in episodes], [e[0] for e in episodes])[0]:
            plan.append((start + timedelta(days=off + rng.randint(0, 4)), reason))
    plan = sorted(x for x in plan if WINDOW_START <= x[0] < min(leave, until))
    next_recall_booked = False
    while plan:
        d, reason = plan.pop(0)
        if d >= ANCHOR and reason == recall:
            if next_recall_booked or rng.random() > 0.8:
                continue
            next_recall_booked = True
        elif d > ANCHOR + timedelta(days=70):
            continue  # treatment not booked that far ahead yet
        a = bk.book(p, reason, d)
        if a and a.start.date() < ANCHOR and a.status != "completed":  # rebook the missed visit
            redo = a.start.date() + timedelta(days=rng.randint(7, 28))
            if redo < until:
                bisect.insort(plan, (redo, reason))


def stamp(rng: random.Random, a: Appt) -> datetime:
    """Plausible last-modified time (aware) for an appointment, always before the anchor."""
    start = local(a.start)
    if a.status in ("completed", "broken"):
        t = local(a.end) + timedelta(minutes=rng.randint(5, 120), seconds=rng.randint(0, 59))
    elif a.start.date() < ANCHOR:
        t = office_time(rng, start - timedelta(days=6), start - timedelta(hours=1))
    else:
        lo = max(start - timedelta(days=150), CUTOFF - timedelta(days=200))
        if a.status in ("confirmed", "cancelled"):
            lo = max(lo, CUTOFF - timedelta(days=7 if a.status == "confirmed" else 30))
        t = office_time(rng, lo, LAST_OFFICE)
    return min(t, LAST_OFFICE)


class Scenarios:
    """Builds the online requests, booking the appointments that make each scenario true."""

    def __init__(self, rng: random.Random, bk: Booker, c: Contacts, patients: list[Patient]):
        self.rng, self.bk, self.c = rng, bk, c
        self.tags = {p.tag: p for p in patients if p.tag}
        plain = [p for p in patients if not p.tag and p.birthdate and p.guarantor]
        self.adults = [p for p in plain if not p.child and p.email and p.phone_mobile
                       and not p.email_opt_out and not p.preferred_name]  # fmt: skip
        self.kids = [p for p in plain if p.child and p.guarantor
                     and p.guarantor.email and p.guarantor.phone_mobile]  # fmt: skip
        self.days = [d for d in (ANCHOR + timedelta(days=i) for i in range(1, 121)) if is_open(d)]
        self.reqs: list[Req] = []

    def pick(self, tag: str = "", child: bool = False) -> Patient:
        """Reserve a patient: a hand-written one by tag, else a random generated one."""
        pool = self.kids if child else self.adults
        p = self.tags[tag] if tag else pool.pop(self.rng.randrange(len(pool)))
        p.reserved = True
        return p

    def day(self, lo: int = 3, hi: int = 28, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> date:
        """A random open day ``lo``..``hi`` days after the anchor."""
        ok = [d for d in self.days if lo <= (d - ANCHOR).days <= hi and d.weekday() in weekdays]
        return self.rng.choice(ok)

    def book(self, p: Patient, reason: str, day: date, status: str = "", **kw: Any) -> Appt:
        """Book or fail loudly (the scenario would silently be false otherwise)."""
        a = self.bk.book(p, reason, day, status or "scheduled", **kw)
        if a is None:
            raise RuntimeError(f"could not book {reason} for {p.patient_id} on {day}")
        return a

    def slot_on(self, day: date, dur: int, avoid: datetime | None = None) -> datetime:
        """A random :00/:30 start on ``day`` (other than ``avoid``) that fits ``dur``."""
        base = datetime.combine(day, time())
        opts = [base + timedelta(minutes=s) for s in range(OPEN, CLOSE - dur + 1, 30)
                if not (s < LUNCH[1] and s + dur > LUNCH[0])]  # fmt: skip
        return self.rng.choice([o for o in opts if o != avoid])

    def ident(self, p: Patient, given: str = "", phone: str | None = "mobile",
              email: str | None = "pms", upper: bool = False) -> dict[str, str | None]:  # fmt: skip
        """What the person typed: PMS name and DOB, phone re-typed in some other format."""
        raw = {"mobile": p.phone_mobile, "home": p.phone_home}.get(phone or "", phone)
        digits = re.sub(r"\D", "", raw or "")[-10:]
        mail = p.email if email == "pms" else email
        if mail and self.rng.random() < 0.15:
            mail = mail.capitalize()
        given, family = given or p.first_name, p.last_name
        return {"given": given.upper() if upper else given,
                "family": family.upper() if upper else family,
                "birthDate": p.birthdate.isoformat() if p.birthdate else None,
                "phone": fmt_phone(digits, self.rng.randrange(6)) if digits else None,
                "email": mail or None}  # fmt: skip

    def req(self, scenario: str, p: Patient | None, a: Appt | None, notes: str, *,
            start: datetime | None = None, dur: int = 0, prac: str | None = "appt",
            reason: str = "", comment: str | None = "?",
            ident: dict[str, str | None] | None = None) -> None:  # fmt: skip
        """Add a request. By default it asks for exactly ``a``'s start, length and provider."""
        start = start or (a.start if a else datetime.min)
        dur = dur or (a.duration if a else REASONS[reason][0])
        reason = reason or (a.reason if a else "")
        linked = a is not None
        # received in the 10 days before the anchor; early enough to have been booked since
        hi = datetime(2026, 11, 25, 12, tzinfo=TZ) if linked else CUTOFF - timedelta(minutes=30)
        lo = CUTOFF - timedelta(days=10)
        created = lo + timedelta(minutes=self.rng.randint(0, int((hi - lo).total_seconds()) // 60))
        if a is not None:  # the receptionist booked it after the request arrived
            a.updated_at = office_time(self.rng, created + timedelta(minutes=20), LAST_OFFICE)
        if ident is None and p is not None:
            ident = self.ident(p)
        assert ident is not None and start > CUTOFF.replace(tzinfo=None) and reason in REASONS
        self.reqs.append(Req(
            scenario, p, ident, start, start + timedelta(minutes=dur),
            a.provider if a and prac == "appt" else prac, reason,
            self.rng.choice(COMMENTS) if comment == "?" else comment, created, a,
            notes))  # fmt: skip

    def build(self) -> list[Req]:
        """All scenarios (see data/README.md); each is made true in the appointment book."""
        rng, book, day, pick, req = self.rng, self.book, self.day, self.pick, self.req
        for reason in ("Cleaning", "Check-up", "Filling", "Crown prep", "Whitening consult"):
            p = pick()
            req("exact_match", p, book(p, reason, day()), "same patient, start and provider")
        p = pick()
        req("exact_match", p, book(p, "Cleaning", day(3, 7)), "same patient, start and provider")

        for lo, hi, shift in ((3, 20, 2), (4, 20, -1), (3, 10, 14)):
            p = pick()
            a = book(p, rng.choice(["Cleaning", "Filling", "Check-up"]), day(lo, hi))
            d = a.start.date() + timedelta(days=shift)
            while not is_open(d):
                d += timedelta(days=1)
            s = self.slot_on(d, a.duration, avoid=a.start)
            req("other_time", p, a, f"booked {when(a.start)}, requested {when(s)}", start=s,
                comment=ANY_TIME)  # fmt: skip

        for reason, booked, asked, wd in (("Cleaning", "HYG1", "HYG2", (2, 4)),
                                          ("Filling", "DOC1", "DOC2", (4,))):  # fmt: skip
            p = pick()
            a = book(p, reason, day(weekdays=wd), provider=booked)
            req("other_provider", p, a, f"asked for {asked} (off that weekday); booked with "
                f"{booked} at the same start", prac=asked)  # fmt: skip

        p, d = pick(), day(3, 10)
        plan = (("Root canal", 0), ("Crown prep", 21), ("Crown seat", 42), ("Cleaning", 60))
        series = [book(p, r, d + timedelta(days=o)) for r, o in plan]
        req("multiple_future", p, series[1], f"4 upcoming; the crown prep {when(series[1].start)} "
            "matches exactly")  # fmt: skip
        p, d = pick(), day(3, 10)
        series = [book(p, r, d + timedelta(days=o)) for r, o in (("Filling", 0), ("Filling", 14),
                                                                 ("Cleaning", 40))]  # fmt: skip
        s = self.slot_on(series[1].start.date(), 60, avoid=series[1].start)
        req("multiple_future", p, series[1], f"3 upcoming; requested {when(s)}, that day's "
            f"appointment is at {series[1].start:%H:%M}", start=s)  # fmt: skip

        p = pick()
        a = book(p, "Cleaning", day(), "cancelled")
        a.updated_at = office_time(rng, CUTOFF - timedelta(days=25), CUTOFF - timedelta(days=12))
        req("cancelled_or_completed", p, None, f"the appointment at that very start "
            f"({when(a.start)}) is cancelled", start=a.start, prac=a.provider,
            reason=a.reason)  # fmt: skip
        p = pick()
        a = book(p, "Cleaning", ANCHOR - timedelta(days=4), "completed", max_days=3)
        s = self.slot_on(day(3, 10), 60)
        req("cancelled_or_completed", p, None, f"only a completed cleaning {when(a.start)}",
            start=s, prac=self.bk.provider_for(p, "doc", s.date()), reason="Filling",
            comment="The hygienist found a cavity at my cleaning this week.")  # fmt: skip
        p = pick()
        done = book(p, "Check-up", ANCHOR - timedelta(days=14), "completed", max_days=3)
        a = book(p, "Filling", day(3, 12), "cancelled")
        a.updated_at = office_time(rng, local(done.end), CUTOFF - timedelta(days=11))
        req("cancelled_or_completed", p, None, f"completed {when(done.start)}; cancelled filling "
            f"{when(a.start)}", start=self.slot_on(a.start.date(), 60, avoid=a.start),
            prac=a.provider, reason="Filling")  # fmt: skip

        for kind in ("doc", "hyg", None):
            p = pick()
            s = self.slot_on(day(3, 40), 60)
            prac = self.bk.provider_for(p, kind, s.date()) if kind else None
            req("no_future_appointment", p, None, "known patient, nothing booked yet", start=s,
                prac=prac, reason="Cleaning" if kind == "hyg" else "Check-up")  # fmt: skip

        for first, last, bd, note in UNKNOWN:
            who = Patient(last, first, "", date.fromisoformat(bd))
            who.phone_mobile, who.email = self.c.phone(), self.c.email(first, last)
            req("unknown_person", None, None, note, ident=self.ident(who), prac=None,
                reason="New patient exam", start=self.slot_on(day(3, 30), 60),
                comment=rng.choice(["First visit, we just moved here.", None, ""]))  # fmt: skip

        for tag in ("optout_a", "optout_b"):
            p = pick(tag)
            req("email_opt_out", p, book(p, "Cleaning", day()), "email_opt_out=1; exact match")
        p = pick("noemail_a")
        req("no_email", p, book(p, "Check-up", day()), "no e-mail on file; typed home phone only",
            ident=self.ident(p, phone="home", email=None))  # fmt: skip
        p = pick("noemail_b")
        req("no_email", p, book(p, "Filling", day()), "no e-mail on file; typed an unknown one",
            ident=self.ident(p, email="wei.zhang58@example.org"))  # fmt: skip

        for tag, scen, given, family in (
            ("zoe", "accents_typed", "", ""), ("soren", "accents_typed", "", ""),
            ("jose", "accents_stripped", "Jose", "Nunez"),
            ("renee", "accents_stripped", "Renee", "Cote"),
        ):  # fmt: skip
            p = pick(tag)
            ident = self.ident(p, given=given)
            ident["family"] = family or p.last_name
            req(scen, p, book(p, "Cleaning", day()), f"PMS {p.first_name} {p.last_name}; typed "
                f"{ident['given']} {ident['family']}", ident=ident)  # fmt: skip
        p = pick("maxi")
        req("brackets_name", p, book(p, "Check-up", day()), "first name contains [brackets]")
        for tag, phone in (("bill", "mobile"), ("peggy", "home")):
            p = pick(tag)
            req("nickname", p, book(p, "Cleaning", day()), f"typed preferred name "
                f"{p.preferred_name} for {p.first_name}",
                ident=self.ident(p, given=p.preferred_name, phone=phone))  # fmt: skip

        twin_a, twin_b = pick("twin1"), pick("twin2")
        a = book(twin_a, "Child check-up", day(4, 20, (0, 1, 3)), provider="HYG2", at=900)
        b = book(twin_b, "Child check-up", a.start.date(), provider="HYG2", at=940, max_days=1)
        assert b.start == a.end
        for kid in (twin_a, pick(child=True)):
            g = kid.guarantor
            assert g is not None and g.phone_mobile and g.email
            appt = a if kid is twin_a else book(kid, "Child check-up", day())
            extra = f"; twin {twin_b.first_name} (same DOB) is booked right after" * (appt is a)
            req("family_contact", kid, appt, f"guarantor {g.first_name}'s cell and e-mail typed"
                f"{extra}", ident=self.ident(kid, phone=g.phone_mobile, email=g.email))  # fmt: skip

        for comment, reason, hi in HOSTILE:
            p = pick()
            req("hostile_text", p, book(p, reason, day(3, hi)), "exact match; the comment holds "
                "markup/escape text that must be shown literally", comment=comment)  # fmt: skip

        for tag, namesake in (("jr", "sr"), ("sarah_b", "sarah_a")):
            p, other = pick(tag), pick(namesake)
            a = book(p, "Cleaning", day())
            book(other, "Check-up", a.start.date() + timedelta(days=1))
            req("duplicate_name", p, a, f"namesake {other.patient_id} (DOB {other.birthdate}) "
                "is booked the next open day")  # fmt: skip

        p = pick()
        req("ordinary", p, book(p, "Check-up", day()), "no provider preference", prac=None,
            comment=None)  # fmt: skip
        p = pick()
        req("ordinary", p, book(p, "Cleaning", date(2027, 3, 15)), "after DST: offset -04:00")
        p = pick()
        req("ordinary", p, book(p, "Filling", day()), "name typed in capitals",
            ident=self.ident(p, upper=True))  # fmt: skip
        p = pick()
        a = book(p, "Check-up", day())
        s = max(a.start.replace(minute=0) - timedelta(hours=1), a.start.replace(hour=8, minute=0))
        e = min(s + timedelta(hours=3), a.start.replace(hour=17, minute=0))
        req("ordinary", p, a, f"asked for a window {s:%H:%M}-{e:%H:%M}; booked {when(a.start)}",
            start=s, dur=(e - s).seconds // 60, comment="Any time in this window.")  # fmt: skip
        p = pick()
        req("ordinary", p, book(p, "Cleaning", day()), "e-mail only, no phone",
            ident=self.ident(p, phone=None))  # fmt: skip
        return self.reqs


def to_fhir(r: Req) -> dict[str, Any]:
    """The FHIR R4 Appointment resource for a request."""
    name = {"family": r.ident["family"], "given": [r.ident["given"]]}
    pat: dict[str, Any] = {"resourceType": "Patient", "id": "p", "name": [name]}
    if r.ident["birthDate"]:
        pat["birthDate"] = r.ident["birthDate"]
    telecom = [{"system": s, "value": r.ident[s]} for s in ("phone", "email") if r.ident[s]]
    if telecom:
        pat["telecom"] = telecom
    service, texts = SERVICE.get(r.reason, ("Treatment", [r.reason]))
    res: dict[str, Any] = {
        "resourceType": "Appointment", "id": r.request_id, "status": "proposed",
        "created": iso(r.created), "serviceType": [{"text": service}],
        "reasonCode": [{"text": texts[int(r.request_id[-4:]) % len(texts)]}],
    }  # fmt: skip
    if r.comment is not None:
        res["comment"] = r.comment
    res["requestedPeriod"] = [{"start": iso(r.start), "end": iso(r.end)}]
    res["contained"] = [pat]
    res["participant"] = [{"actor": {"reference": "#p"}, "status": "needs-action"}]
    if r.practitioner:
        ref, display = f"Practitioner/{r.practitioner}", PROV[r.practitioner].display
        actor = {"reference": ref, "display": display}
        res["participant"].append({"actor": actor, "status": "needs-action"})
    return res


def write_csv(path: Path, header: str, rows: list[list[str]]) -> None:
    """UTF-8 without BOM, \\n line endings, RFC 4180 quoting (csv module, minimal quoting)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(words(header))
        w.writerows(rows)


def main() -> None:
    """Generate everything and write it under data/."""
    rng = random.Random(SEED)
    contacts = Contacts(rng)
    patients = build_patients(rng, contacts)
    bk = Booker(rng)
    reqs = Scenarios(rng, bk, contacts, patients).build()  # scenario bookings go in first
    for p in patients:  # scenario patients get history only: nothing recent or upcoming
        generate_history(bk, p, ANCHOR - timedelta(days=75) if p.reserved else WINDOW_END)
    bk.appts.sort(key=lambda a: (a.start, a.op, a.patient.patient_id))
    for i, a in enumerate(bk.appts, 1):
        a.appointment_id = f"A{i:05d}"
        a.updated_at = a.updated_at or stamp(rng, a)
    reqs.sort(key=lambda r: r.created)
    for i, r in enumerate(reqs, 1):
        r.request_id = f"REQ-{i:04d}"

    DATA.mkdir(exist_ok=True)
    write_csv(DATA / "providers.csv", "provider_id abbr first_name last_name title active",
              [[p.provider_id, p.abbr, p.first_name, p.last_name, p.title, str(int(p.active))]
               for p in PROVIDERS])  # fmt: skip
    write_csv(DATA / "patients.csv", "patient_id last_name first_name preferred_name birthdate "
              "email phone_home phone_mobile guarantor_id email_opt_out",
              [p.row() for p in patients])  # fmt: skip
    write_csv(DATA / "appointments.csv", "appointment_id patient_id provider_id start "
              "duration_min operatory reason status updated_at",
              [a.row() for a in bk.appts])  # fmt: skip
    req_dir = DATA / "requests"
    req_dir.mkdir(exist_ok=True)
    for old in sorted(req_dir.glob("REQ-*.json")):
        old.unlink()
    for r in reqs:
        text = json.dumps(to_fhir(r), indent=2, ensure_ascii=False) + "\n"
        (req_dir / f"{r.request_id}.json").write_text(text, encoding="utf-8", newline="\n")
    write_csv(DATA / "requests_manifest.csv", "request_id scenario expected_patient_id "
              "expected_appointment_id notes", [r.row() for r in reqs])  # fmt: skip
    print(f"{len(PROVIDERS)} providers, {len(patients)} patients, {len(bk.appts)} appointments, "
          f"{len(reqs)} requests written to {DATA}")  # fmt: skip


if __name__ == "__main__":
    main()
