"""Synthetic people for the demo province: Jiangsu places, names, 身份证 numbers, phones, addresses.

Everything here is a pure function of a `random.Random` and the shipped data files in
`data/` (GB/T 2260 codes generated once from python-stdnum, see `regions_source`), so the same
seed always gives the same people. Nothing reads the shared source folder or stdnum's internal database.
"""

from __future__ import annotations

import bisect
import csv
import functools
import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from zikao.core.identity import make_resident_id

DATA_DIR = Path(__file__).resolve().parent / "data"

# Resident population of the 13 cities (2020 census, millions, rounded): how candidates spread.
CITY_POPULATION = {
    "01": 9.3,
    "02": 7.5,
    "03": 9.1,
    "04": 5.3,
    "05": 12.7,
    "06": 7.7,
    "07": 4.6,
    "08": 4.6,
    "09": 6.7,
    "10": 4.6,
    "11": 3.2,
    "12": 4.5,
    "13": 5.0,
}


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    start: int | None
    end: int | None
    current: bool
    city_exam_code: str
    county_exam_code: str

    def assigned_in(self, year: int) -> bool:
        """Whether the code was in use in `year` (python-stdnum's birthplace rule for 身份证)."""
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True)
class County:
    """A current county-level division with its city; exam codes as used in candidate numbers."""

    code: str
    name: str
    city_code: str
    city_name: str
    city_exam_code: str
    exam_code: str


class WeightedPicker:
    """Draw from a fixed weighted list with one `random()` call (bisect on cumulative weights)."""

    def __init__(self, items, weights) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(float(w) for w in weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@functools.cache
def regions() -> tuple[Region, ...]:
    """Every Jiangsu GB/T 2260 code ever assigned (from data/jiangsu_regions.csv)."""
    out = []
    for row in _read_csv("jiangsu_regions.csv"):
        out.append(
            Region(
                code=row["code"],
                name=row["name"],
                start=int(row["start"]) if row["start"] else None,
                end=int(row["end"]) if row["end"] else None,
                current=row["current"] == "1",
                city_exam_code=row["city_exam_code"],
                county_exam_code=row["county_exam_code"],
            )
        )
    return tuple(out)


@functools.cache
def cities() -> tuple[tuple[str, str, str], ...]:
    """The 13 cities today: (region code, name, exam code), in exam-code order."""
    out = [
        (r.code, r.name, r.city_exam_code)
        for r in regions()
        if r.code.endswith("00") and r.end is None and r.city_exam_code and r.code != "320000"
    ]
    return tuple(sorted(out, key=lambda c: c[2]))


@functools.cache
def counties() -> tuple[County, ...]:
    """The 95 current county-level divisions, in (city, county) exam-code order."""
    city_by_exam = {exam: (code, name) for code, name, exam in cities()}
    out = []
    for r in regions():
        if r.current:
            city_code, city_name = city_by_exam[r.city_exam_code]
            out.append(County(r.code, r.name, city_code, city_name, r.city_exam_code, r.county_exam_code))
    return tuple(sorted(out, key=lambda c: (c.city_exam_code, c.exam_code)))


@functools.cache
def county_picker() -> WeightedPicker:
    per_city: dict[str, int] = {}
    for c in counties():
        per_city[c.city_exam_code] = per_city.get(c.city_exam_code, 0) + 1
    return WeightedPicker(
        counties(), [CITY_POPULATION[c.city_exam_code] / per_city[c.city_exam_code] for c in counties()]
    )


@functools.cache
def id_region_options(county_code: str, birth_year: int) -> tuple[str, ...]:
    """Region codes a 身份证 of someone from `county_code` born in `birth_year` may carry.

    The county's own code when it was assigned in the birth year; otherwise a code of the same
    name or the same city assigned then; otherwise any Jiangsu code assigned then. (python-stdnum
    refuses a birthplace code that did not exist in the birth year.)
    """
    own = next(r for r in regions() if r.code == county_code and r.current)
    if own.assigned_in(birth_year):
        return (own.code,)
    usable = [r for r in regions() if r.assigned_in(birth_year) and not r.code.endswith(("0000", "01"))]
    for candidates in (
        [r for r in usable if r.name == own.name],
        [r for r in usable if r.code[:4] == own.code[:4] and not r.code.endswith("00")],
        [r for r in usable if r.code[:4] == own.code[:4]],
        usable,
    ):
        if candidates:
            return tuple(sorted({r.code for r in candidates}))
    raise ValueError(f"no Jiangsu region code was assigned in {birth_year}")


@functools.cache
def surname_picker() -> WeightedPicker:
    rows = _read_csv("surnames.csv")
    return WeightedPicker([r["surname"] for r in rows], [int(r["weight"]) for r in rows])


@functools.cache
def given_chars() -> dict[str, str]:
    return {row["use"]: row["characters"] for row in _read_csv("given_names.csv")}


def make_name(rng: random.Random, gender: str) -> str:
    """A Chinese name: weighted surname, one- or two-character given name fitting the gender."""
    chars = given_chars()
    own = chars["male"] if gender == "M" else chars["female"]
    either = chars["either"]
    surname = surname_picker().pick(rng)
    if rng.random() < 0.22:
        return surname + rng.choice(own)
    first = rng.choice(either) if rng.random() < 0.35 else rng.choice(own)
    second = rng.choice(own)
    if second == first:
        second = rng.choice(either)
    return surname + first + second


MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "173",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]
ROADS = [
    "人民路",
    "中山路",
    "建设路",
    "解放路",
    "和平路",
    "长江路",
    "淮海路",
    "文化路",
    "新华路",
    "青年路",
    "东风路",
    "胜利路",
    "健康路",
    "学府路",
    "工农路",
    "环城路",
    "友谊路",
    "朝阳路",
    "湖滨路",
    "运河路",
    "太湖路",
    "黄河路",
    "江南大道",
    "南京路",
]
COMPANY_WORDS = [
    "恒达",
    "华信",
    "金陵",
    "苏通",
    "瑞丰",
    "中天",
    "新宇",
    "海澜",
    "永盛",
    "天合",
    "润泽",
    "宏图",
    "东方",
    "鑫源",
    "开元",
    "同创",
]
COMPANY_KINDS = [
    "科技有限公司",
    "商贸有限公司",
    "建设工程有限公司",
    "物流有限公司",
    "电子有限公司",
    "会计师事务所",
    "幼儿园",
    "人力资源服务有限公司",
    "医药有限公司",
    "机械制造有限公司",
]
ETHNICITIES = WeightedPicker(
    ["汉族", "回族", "满族", "蒙古族", "壮族", "苗族", "土家族", "彝族", "朝鲜族"],
    [985, 5, 2, 2, 1, 1, 1, 1, 1],
)


def make_phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def make_address(rng: random.Random, county: County) -> str:
    street = f"{rng.choice(ROADS)}{rng.randint(1, 399)}号"
    if rng.random() < 0.7:
        street += f"{rng.randint(1, 40)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return f"江苏省{county.city_name}{county.name}{street}"


def make_work_unit(rng: random.Random, county: County) -> str:
    if rng.random() < 0.35:
        return ""
    return f"{county.city_name[:-1]}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_KINDS)}"


def birth_date_between(rng: random.Random, first_year: int, last_year: int) -> date:
    start = date(first_year, 1, 1)
    days = (date(last_year, 12, 31) - start).days
    return start + timedelta(days=rng.randint(0, days))


class ResidentIdIssuer:
    """Issues distinct valid 身份证 numbers (GB 11643 check via core.identity.make_resident_id).

    The 3-digit sequence's last digit encodes gender (odd = male). Numbers already in the
    database or issued earlier in the run are never issued twice.
    """

    def __init__(self, taken=()) -> None:
        self._taken: set[int] = {int(n[:17]) for n in taken if len(n) == 18 and n[:17].isdigit()}

    def issue(self, rng: random.Random, county_code: str, birth: date, gender: str) -> str:
        options = id_region_options(county_code, birth.year)
        region = options[0] if len(options) == 1 else rng.choice(options)
        parity = 1 if gender == "M" else 0
        for _attempt in range(2000):
            sequence = rng.randrange(0, 500) * 2 + parity
            key = int(f"{region}{birth:%Y%m%d}{sequence:03d}")
            if sequence and key not in self._taken:
                self._taken.add(key)
                return make_resident_id(region, birth, sequence)
        raise RuntimeError("no free 身份证 sequence left for this birthplace and date")
