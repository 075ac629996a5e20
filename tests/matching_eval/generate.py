"""Generate the labelled patient-matching evaluation set (seeded, reproducible).

Writes ``patients.csv`` (a synthetic practice of families) and ``cases.csv`` (what people
typed into the booking form, the category of difficulty, and the patient each case
belongs to, empty for people who are not patients). Run from the repository root:

    .venv/bin/python -m tests.matching_eval.generate
"""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20261127

FIRST_M = [
    "William",
    "Robert",
    "Richard",
    "James",
    "Michael",
    "Thomas",
    "Joseph",
    "Daniel",
    "Matthew",
    "Christopher",
    "Andrew",
    "Benjamin",
    "Samuel",
    "Alexander",
    "Nicholas",
    "Jonathan",
    "Edward",
    "Stephen",
    "Patrick",
    "Anthony",
    "Liam",
    "Noah",
    "Owen",
    "Ethan",
    "Lucas",
    "Mathieu",
    "François",
    "Jérôme",
    "Étienne",
    "Sébastien",
    "Rémi",
    "Zoltan",
    "Aarav",
    "Wei",
    "Hiroshi",
    "Omar",
    "Mateo",
    "Luca",
    "Felix",
    "Hugo",
]
FIRST_F = [
    "Margaret",
    "Elizabeth",
    "Catherine",
    "Jennifer",
    "Patricia",
    "Susan",
    "Deborah",
    "Victoria",
    "Alexandra",
    "Rebecca",
    "Samantha",
    "Jessica",
    "Emily",
    "Olivia",
    "Emma",
    "Sophie",
    "Chloé",
    "Zoë",
    "Amélie",
    "Geneviève",
    "Hélène",
    "Mélanie",
    "Anaïs",
    "Léa",
    "Noémie",
    "Priya",
    "Mei",
    "Yuki",
    "Fatima",
    "Sofia",
    "Isabella",
    "Nora",
    "Ava",
    "Mia",
    "Harper",
    "Aisha",
    "Ingrid",
    "Maëlle",
    "Renée",
    "Josée",
]
LAST = [
    "Smith",
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Gagné",
    "Ouellet",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Bergeron",
    "Leblanc",
    "Paquette",
    "Girard",
    "Simard",
    "Boucher",
    "Caron",
    "Beaulieu",
    "Cloutier",
    "Dubé",
    "Poirier",
    "Fournier",
    "Lapointe",
    "Leclerc",
    "Lefèvre",
    "Martin",
    "Brown",
    "Wilson",
    "Taylor",
    "Johnson",
    "Campbell",
    "Anderson",
    "Thompson",
    "MacDonald",
    "O'Brien",
    "Nguyen",
    "Patel",
    "Singh",
    "Chen",
    "Wong",
    "Li",
    "Kim",
    "Park",
    "Khan",
    "Ali",
    "Müller",
    "Novak",
    "Kowalski",
    "Rossi",
    "Da Silva",
    "De la Cruz",
    "Van der Berg",
    "Saint-Pierre",
    "Lefèvre-Côté",
    "Garcia Lopez",
    "Ødegaard",
    "Núñez",
    "Sørensen",
    "Haddad",
    "Hart",
    "Thomson",
    "Reid",
    "Murphy",
    "Kelly",
    "Walsh",
]
# first name -> a nickname people type (from linker_tui/nicknames.csv)
NICK = {
    "William": "Bill",
    "Robert": "Bob",
    "Richard": "Rick",
    "James": "Jim",
    "Michael": "Mike",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Daniel": "Dan",
    "Matthew": "Matt",
    "Christopher": "Chris",
    "Andrew": "Andy",
    "Benjamin": "Ben",
    "Samuel": "Sam",
    "Alexander": "Alex",
    "Nicholas": "Nick",
    "Jonathan": "Jon",
    "Edward": "Ted",
    "Stephen": "Steve",
    "Patrick": "Pat",
    "Anthony": "Tony",
    "Margaret": "Peggy",
    "Elizabeth": "Liz",
    "Catherine": "Kate",
    "Jennifer": "Jenny",
    "Patricia": "Trish",
    "Susan": "Sue",
    "Deborah": "Debbie",
    "Victoria": "Vicky",
    "Alexandra": "Sasha",
    "Rebecca": "Becky",
    "Samantha": "Sam",
    "Jessica": "Jess",
    "Emily": "Emmy",
}
AREA = ["416", "647", "905", "514", "438", "613", "604"]
DOMAINS = ["example.com", "example.org", "mail.example.net"]


@dataclass
class PatientRow:
    patient_id: str
    last_name: str
    first_name: str
    preferred_name: str
    birthdate: str
    email: str
    phone_home: str
    phone_mobile: str
    guarantor_id: str


@dataclass
class Case:
    case_id: str
    category: str
    first_name: str
    last_name: str
    birthdate: str
    email: str
    phone: str
    expected_patient_id: str


def ascii_fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.patients: list[PatientRow] = []
        self.families: list[list[PatientRow]] = []
        self.phones: set[str] = set()
        self.next_id = 5001

    # -------------------------------------------------------------- helpers
    def phone(self, style: int | None = None) -> str:
        while True:
            digits = f"{self.rng.choice(AREA)}555{self.rng.randrange(10000):04d}"
            if digits not in self.phones:
                self.phones.add(digits)
                break
        style = self.rng.randrange(4) if style is None else style
        a, b, c = digits[:3], digits[3:6], digits[6:]
        return [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}"][style]

    def email(self, first: str, last: str) -> str:
        local = ascii_fold(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
        return f"{local}{self.rng.randrange(100)}@{self.rng.choice(DOMAINS)}"

    def birthdate(self, start: int, end: int) -> date:
        first = date(start, 1, 1)
        return first + timedelta(days=self.rng.randrange((date(end, 12, 31) - first).days))

    def add(self, **values: str) -> PatientRow:
        row = PatientRow(patient_id=str(self.next_id), **values)
        self.next_id += 1
        self.patients.append(row)
        return row

    # -------------------------------------------------------------- practice
    def practice(self, families: int) -> None:
        for _ in range(families):
            last = self.rng.choice(LAST)
            shared_phone, shared_email = self.phone(), ""
            members: list[PatientRow] = []
            adults = 1 + (self.rng.random() < 0.6)
            for n in range(adults):
                female = self.rng.random() < 0.5
                first = self.rng.choice(FIRST_F if female else FIRST_M)
                born = self.birthdate(1945, 1995)
                email = self.email(first, last)
                shared_email = shared_email or email
                preferred = NICK.get(first, "") if self.rng.random() < 0.15 else ""
                guarantor = members[0].patient_id if members else ""
                row = self.add(
                    last_name=last,
                    first_name=first,
                    preferred_name=preferred,
                    birthdate="" if self.rng.random() < 0.03 else born.isoformat(),
                    email=email if n == 0 or self.rng.random() < 0.5 else shared_email,
                    phone_home=shared_phone,
                    phone_mobile=self.phone() if self.rng.random() < 0.7 else "",
                    guarantor_id=guarantor,
                )
                if not guarantor:
                    row.guarantor_id = row.patient_id
                members.append(row)
            kids = self.rng.choice([0, 0, 1, 2, 2, 3])
            twins = kids >= 2 and self.rng.random() < 0.2
            kid_born = self.birthdate(2005, 2022)
            for k in range(kids):
                female = self.rng.random() < 0.5
                first = self.rng.choice(FIRST_F if female else FIRST_M)
                while any(m.first_name == first for m in members):
                    first = self.rng.choice(FIRST_F if female else FIRST_M)
                born = kid_born if twins and k < 2 else self.birthdate(2005, 2022)
                members.append(
                    self.add(
                        last_name=last,
                        first_name=first,
                        preferred_name="",
                        birthdate=born.isoformat(),
                        email=shared_email if self.rng.random() < 0.8 else "",
                        phone_home=shared_phone,
                        phone_mobile="",
                        guarantor_id=members[0].patient_id,
                    )
                )
            self.families.append(members)
        # namesakes: different people with the same first and last name
        for _ in range(40):
            model = self.rng.choice(self.patients)
            self.add(
                last_name=model.last_name,
                first_name=model.first_name,
                preferred_name="",
                birthdate=self.birthdate(1940, 2020).isoformat(),
                email=self.email(model.first_name, model.last_name),
                phone_home=self.phone(),
                phone_mobile="",
                guarantor_id=str(self.next_id),
            )

    # -------------------------------------------------------------- cases
    def typo(self, word: str) -> str:
        letters = list(word)
        if len(letters) < 4:
            return word + word[-1]
        i = self.rng.randrange(1, len(letters) - 1)
        kind = self.rng.randrange(4)
        if kind == 0:  # transpose
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        elif kind == 1:  # delete
            del letters[i]
        elif kind == 2:  # double
            letters.insert(i, letters[i])
        else:  # neighbouring vowel
            swap = {"a": "e", "e": "a", "i": "y", "y": "i", "o": "u", "u": "o"}
            if letters[i].lower() in swap:
                letters[i] = swap[letters[i].lower()]
            else:
                letters[i], letters[i + 1] = letters[i + 1], letters[i]
        return "".join(letters)

    def own_contact(self, p: PatientRow) -> tuple[str, str]:
        phone = p.phone_mobile or p.phone_home
        return (p.email if self.rng.random() < 0.7 else ""), (
            phone if self.rng.random() < 0.8 else ""
        )

    def case(self, category: str, p: PatientRow | None, **typed: str) -> Case:
        return Case(
            case_id="",
            category=category,
            first_name=typed.get("first", p.first_name if p else ""),
            last_name=typed.get("last", p.last_name if p else ""),
            birthdate=typed.get("born", p.birthdate if p else ""),
            email=typed.get("email", ""),
            phone=typed.get("phone", ""),
            expected_patient_id=p.patient_id if p else "",
        )

    def cases(self) -> list[Case]:
        rng, out = self.rng, []
        adults = [p for p in self.patients if p.birthdate and p.birthdate < "2000"]
        kids = [
            p for p in self.patients if p.birthdate >= "2005" and p.guarantor_id != p.patient_id
        ]
        dated = [p for p in self.patients if p.birthdate]
        for p in rng.sample(dated, 40):
            email, phone = self.own_contact(p)
            out.append(self.case("exact_copy", p, email=email, phone=phone))
        for p in rng.sample(dated, 30):
            email, phone = self.own_contact(p)
            out.append(
                self.case("typo_first", p, first=self.typo(p.first_name), email=email, phone=phone)
            )
        for p in rng.sample(dated, 30):
            email, phone = self.own_contact(p)
            out.append(
                self.case("typo_last", p, last=self.typo(p.last_name), email=email, phone=phone)
            )
        nicknamed = [p for p in dated if p.first_name in NICK]
        for p in rng.sample(nicknamed, 30):
            email, phone = self.own_contact(p)
            born = p.birthdate if rng.random() < 0.8 else ""
            out.append(
                self.case(
                    "nickname", p, first=NICK[p.first_name], born=born, email=email, phone=phone
                )
            )
        for p in rng.sample(dated, 20):
            email, phone = self.own_contact(p)
            out.append(
                self.case(
                    "swapped", p, first=p.last_name, last=p.first_name, email=email, phone=phone
                )
            )
        accented = [
            p
            for p in dated
            if ascii_fold(p.first_name + p.last_name) != p.first_name + p.last_name
            or "-" in p.last_name
            or " " in p.last_name
        ]
        for p in rng.sample(accented, 30):
            last = ascii_fold(p.last_name)
            if "-" in last or " " in last:
                parts = last.replace("-", " ").split()
                last = rng.choice([" ".join(parts), "".join(parts), parts[-1], parts[0]])
                if last.lower() in {"de", "van", "la", "der", "saint"}:
                    last = "".join(parts)
            first = (
                ascii_fold(p.first_name).upper() if rng.random() < 0.3 else ascii_fold(p.first_name)
            )
            out.append(self.case("accents_hyphens", p, first=first, last=last))
        for p in rng.sample(dated, 25):
            out.append(
                self.case(
                    "new_contact", p, email=self.email(p.first_name, "new"), phone=self.phone()
                )
            )
        for p in rng.sample(kids, 30):
            parent = next(q for q in self.patients if q.patient_id == p.guarantor_id)
            born = p.birthdate if rng.random() < 0.7 else ""
            out.append(
                self.case(
                    "parent_for_child", p, born=born, email=parent.email, phone=parent.phone_home
                )
            )
        twins = [
            p
            for fam in self.families
            for p in fam
            if sum(q.birthdate == p.birthdate for q in fam) > 1
        ]
        for p in rng.sample(twins, min(20, len(twins))):
            fam = next(f for f in self.families if p in f)
            out.append(self.case("twins", p, email=fam[0].email, phone=fam[0].phone_home))
        seen: dict[tuple[str, str], list[PatientRow]] = {}
        for p in dated:
            seen.setdefault((p.first_name, p.last_name), []).append(p)
        namesakes = [p for group in seen.values() if len(group) > 1 for p in group]
        for p in rng.sample(namesakes, min(25, len(namesakes))):
            email, phone = self.own_contact(p)
            out.append(
                self.case("same_name", p, email=email if rng.random() < 0.5 else "", phone="")
            )
        for p in rng.sample(
            [
                q
                for q in dated
                if int(q.birthdate[8:]) <= 12 and q.birthdate[5:7] != q.birthdate[8:]
            ],
            15,
        ):
            born = f"{p.birthdate[:4]}-{p.birthdate[8:]}-{p.birthdate[5:7]}"
            out.append(self.case("birthdate_typo", p, born=born))
        uniques = [
            p for p in adults if p.email and sum(q.email == p.email for q in self.patients) == 1
        ]
        for p in rng.sample(uniques, 15):
            out.append(self.case("name_and_unique_email", p, born="", email=p.email))
        out.extend(self.unknown_cases(60))
        for n, c in enumerate(out, 1):
            c.case_id = f"C{n:04d}"
        return out

    def unknown_cases(self, count: int) -> list[Case]:
        rng, out = self.rng, []
        for n in range(count):
            kind = n % 4
            if kind == 0:  # somebody new
                first = rng.choice(FIRST_F + FIRST_M)
                last = rng.choice(
                    ["Okafor", "Lindqvist", "Fontaine", "Brennan", "Yilmaz", "Duarte"]
                )
                out.append(
                    self.case(
                        "unknown_new",
                        None,
                        first=first,
                        last=last,
                        born=self.birthdate(1950, 2015).isoformat(),
                        email=self.email(first, last),
                        phone=self.phone(),
                    )
                )
            elif kind == 1:  # a new member of a known family, booked with its shared contact
                fam = rng.choice(self.families)
                first = rng.choice(
                    [f for f in FIRST_F + FIRST_M if all(m.first_name != f for m in fam)]
                )
                out.append(
                    self.case(
                        "unknown_family_member",
                        None,
                        first=first,
                        last=fam[0].last_name,
                        born=self.birthdate(2010, 2024).isoformat(),
                        email=fam[0].email,
                        phone=fam[0].phone_home,
                    )
                )
            elif kind == 2:  # same name as a patient, but another person
                p = rng.choice([q for q in self.patients if q.birthdate])
                born = self.birthdate(1940, 2020).isoformat()
                while born == p.birthdate:
                    born = self.birthdate(1940, 2020).isoformat()
                out.append(
                    self.case(
                        "unknown_same_name",
                        None,
                        first=p.first_name,
                        last=p.last_name,
                        born=born,
                        email=self.email(p.first_name, "x"),
                        phone=self.phone(),
                    )
                )
            else:  # same name, no birth date, own new contact
                p = rng.choice(self.patients)
                out.append(
                    self.case(
                        "unknown_same_name_no_birthdate",
                        None,
                        first=NICK.get(p.first_name, p.first_name),
                        last=p.last_name,
                        born="",
                        email=self.email(p.first_name, "y"),
                        phone=self.phone(),
                    )
                )
        return out


def write(path: Path, rows: list[object], header: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))  # type: ignore[call-overload]


def main() -> None:
    gen = Generator(SEED)
    gen.practice(900)
    cases = gen.cases()
    write(HERE / "patients.csv", list(gen.patients), [f.name for f in fields(PatientRow)])
    write(HERE / "cases.csv", list(cases), [f.name for f in fields(Case)])
    print(f"{len(gen.patients)} patients, {len(cases)} cases written to {HERE}")


if __name__ == "__main__":
    main()
