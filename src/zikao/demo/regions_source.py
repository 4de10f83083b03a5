"""Regenerate `data/jiangsu_regions.csv` from python-stdnum's GB/T 2260 database (run by hand).

The demo never imports this module: it reads the shipped CSV, so it does not depend on
stdnum internals at run time. After a python-stdnum upgrade, refresh it with
`python -m zikao.demo.regions_source > src/zikao/demo/data/jiangsu_regions.csv`.

Every 32xxxx code ever assigned is listed (older ones are still valid birthplaces in 身份证
numbers of people born while they were in use). Columns: code, name, start, end (years the
code was assigned, blank = open), current (1 = a county-level division today),
city_exam_code, county_exam_code (2-digit codes used in candidate numbers: cities 01..13 in
GB order, counties 01.. inside each city in GB order).
"""

from __future__ import annotations

import csv
import sys


def _segments(text: str) -> list[tuple[str, str, str]]:
    out = []
    for part in text.split(","):
        if part.startswith("["):
            span, name = part[1:].split("]")
            start, end = span.split("-")
            out.append((start, end, name))
        else:
            out.append(("", "", part))
    return out


def main() -> None:
    from stdnum import numdb

    db = numdb.get("cn/loc")
    rows = []
    for city in range(1, 100):
        for county in range(0, 100):
            code = f"32{city:02d}{county:02d}"
            info = {k: v for _part, props in db.info(code) for k, v in props.items()}
            if "county" not in info or len(db.info(code)) < 2 or not db.info(code)[1][0]:
                continue
            for start, end, name in _segments(info["county"]):
                rows.append((code, name, start, end))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["code", "name", "start", "end", "current", "city_exam_code", "county_exam_code"])
    county_seq: dict[str, int] = {}
    for code, name, start, end in rows:
        current = end == "" and not code.endswith(("00", "01")) and int(code[2:4]) <= 13
        city_exam = code[2:4] if int(code[2:4]) <= 13 else ""
        county_exam = ""
        if current:
            county_seq[city_exam] = county_seq.get(city_exam, 0) + 1
            county_exam = f"{county_seq[city_exam]:02d}"
        writer.writerow([code, name, start, end, "1" if current else "0", city_exam, county_exam])


if __name__ == "__main__":
    main()
