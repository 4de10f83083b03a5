"""The demo province generator behind `manage.py demo` (a plain package, not a Django app).

What it builds (one transaction; `build.build_province`):

* offices: 江苏省教育考试院 (320000), the 13 cities (exam codes 01 南京 … 13 宿迁, GB order) and
  their 95 current counties/districts (exam codes 01.. inside each city, GB order), from
  `data/jiangsu_regions.csv` (GB/T 2260, generated once from python-stdnum by
  `regions_source`; the demo never reads stdnum's database at run time);
* the real catalog via `catalog.services.catalog_load_reference_data`, a ProvincePolicy row;
* sittings 201904 … 202610 (January/April/July/October; see `schedule`) with four slots,
  entry windows, release and review times, and timetables of the plans' THEORY courses.
  Practice parts and theses are assessed by the 主考学校 and are not on the province timetable
  (their entries and scores exist, at April/October sittings, with no slot). 00018/00019 are
  never examined (NCRE exemption only). 2021-only 080901 courses stop at the 2024-07 cut-over,
  courses new in the 2024 080901 plan start then, 04751 from 202610. Every sitting but 202610
  is released; 202610 is released `--release-in` minutes after the build finishes;
* N synthetic candidates (`people`, `history`, `showcase`), streamed in chunks with COPY on
  PostgreSQL and bulk_create elsewhere (`bulk`), then CandidateNumberSequence per prefix set to
  the highest number issued, demo staff users, and one `demo.built` audit event with counts.

Determinism: each candidate draws from its own `random.Random(seed, index)`; numbers (candidate
numbers, certificate sequences, 身份证 uniqueness) are issued in index order. The same seed gives
the same candidates, numbers and scores on any database. Not deterministic on purpose: the
202610 release time (now + delay) and certificate verification codes (core.codes.random_code,
never derived from data).

Known simplification: majors with a single (2024) plan version in the shipped data use that
version for every candidate, even those registered in 2019 (their histories include the 2024
politics courses 15040-15044).
"""
