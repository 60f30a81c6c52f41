"""The seeded generator behind `bw seed demo` and `bw seed synthetic`: Uzbek textile and garment
factories, brands, and findings with realistic non-compliance patterns (occupational safety and
working time high, child and forced labour near zero). Same seed, same data."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DRAFT_CAT_PATH = Path(__file__).parent / "data" / "cat-uz-draft.json"
DEMO_SEED = 2024

# Probability that one finding question of the cluster is answered "non-compliant", for an
# average factory. Shaped on published Better Work results: OSH and working time high, core
# labour standards rare.
CLUSTER_FINDING_RATE = {
    "CL": 0.003,
    "FL": 0.015,
    "DI": 0.04,
    "FA": 0.08,
    "CO": 0.10,
    "CH": 0.12,
    "OS": 0.26,
    "WT": 0.24,
}
DEFAULT_FINDING_RATE = 0.08

REGIONS = ["Tashkent", "Fergana", "Namangan", "Andijan", "Bukhara", "Samarkand", "Jizzakh"]
ASSESSORS = [
    "Dilnoza Karimova",
    "Jasur Toshmatov",
    "Malika Yusupova",
    "Sherzod Rakhimov",
    "Nodira Abdullayeva",
    "Bekzod Ergashev",
]


@dataclass(frozen=True)
class DemoFactory:
    name: str
    name_uz: str
    name_ru: str
    region: str
    address: str
    sector: str
    ownership: str
    export_markets: tuple[str, ...]
    workforce_total: int
    women_share: float
    migrants: int
    participation_start: date
    visit_start: date
    propensity: float  # 1.0 = an average factory; higher means more findings


DEMO_FACTORIES = [
    DemoFactory("Ipak Yo'li Tekstil", "Ипак Йўли Текстил", "Ипак Йули Текстиль", "Tashkent",
                "Yunusobod tumani, Amir Temur ko'chasi 107", "garment", "private_domestic",
                ("DE", "PL", "RU"), 640, 0.84, 0, date(2024, 1, 15), date(2024, 4, 16), 0.8),
    DemoFactory("Farg'ona Tikuv Fabrikasi", "Фарғона Тикув Фабрикаси", "Ферганская швейная фабрика",
                "Fergana", "Farg'ona sh., Mustaqillik ko'chasi 21", "garment", "private_domestic",
                ("RU", "KZ"), 410, 0.88, 0, date(2024, 2, 1), date(2024, 5, 14), 1.3),
    DemoFactory("Namangan Trikotaj", "Наманган Трикотаж", "Наманганский трикотаж", "Namangan",
                "Namangan sh., Sanoat zonasi 4", "knitwear", "joint_venture",
                ("TR", "DE"), 980, 0.79, 12, date(2024, 2, 1), date(2024, 6, 4), 1.0),
    DemoFactory("Andijon Denim Mills", "Андижон Деним Миллс", "Андижан Деним Миллс", "Andijan",
                "Asaka tumani, Paxtakor ko'chasi 9", "textile", "foreign",
                ("IT", "ES", "PL"), 1520, 0.62, 35, date(2024, 1, 20), date(2024, 6, 25), 1.1),
    DemoFactory("Buxoro Paxta Tekstil", "Бухоро Пахта Текстил", "Бухарский хлопковый текстиль",
                "Bukhara", "G'ijduvon tumani, Navoiy ko'chasi 3", "textile", "private_domestic",
                ("RU", "CN"), 720, 0.71, 0, date(2024, 3, 1), date(2024, 7, 16), 1.2),
    DemoFactory("Samarqand Libos", "Самарқанд Либос", "Самаркандская одежда", "Samarkand",
                "Samarqand sh., Registon ko'chasi 58", "garment", "private_domestic",
                ("DE", "NL"), 330, 0.91, 0, date(2024, 3, 10), date(2024, 8, 13), 0.7),
    DemoFactory("Marg'ilon Atlas", "Марғилон Атлас", "Маргиланский атлас", "Fergana",
                "Marg'ilon sh., Ipakchilar ko'chasi 14", "textile", "private_domestic",
                ("FR", "JP"), 260, 0.86, 0, date(2024, 3, 15), date(2024, 9, 10), 0.9),
    DemoFactory("Chirchiq Tekstil Group", "Чирчиқ Текстил Груп", "Чирчик Текстиль Групп",
                "Tashkent", "Chirchiq sh., Kimyogarlar ko'chasi 2", "garment", "foreign",
                ("GB", "DE", "US"), 1180, 0.77, 18, date(2024, 4, 1), date(2024, 9, 24), 1.0),
    DemoFactory("Qo'qon Yigiruv", "Қўқон Йигирув", "Кокандская прядильная фабрика", "Fergana",
                "Qo'qon sh., Turkiston ko'chasi 33", "spinning", "state_owned",
                ("CN", "TR"), 870, 0.58, 0, date(2024, 4, 15), date(2024, 10, 15), 1.4),
]  # fmt: skip

DEMO_BRANDS = [
    ("Nordlicht Apparel", "participant"),
    ("Baltic Basics", "participant"),
    ("Alpine Outfitters", "partner"),
    ("Harbor & Lane", "participant"),
]


def load_draft_cat() -> dict[str, Any]:
    """The draft CAT in its own file format, with the country the import needs."""
    doc: dict[str, Any] = json.loads(DRAFT_CAT_PATH.read_text(encoding="utf-8"))
    return {**doc, "country": "UZ"}


def extended_cat(target_questions: int = 250, previous_codes: set[str] | None = None) -> dict:  # type: ignore[type-arg]
    """The draft CAT grown deterministically to about ``target_questions`` (a national CAT's
    size): variants of existing questions added round-robin over the compliance points, every
    tenth added one information-only. Codes kept from the draft map to ``previous_codes``."""
    doc = copy.deepcopy(load_draft_cat())
    doc["meta"] = {**doc["meta"], "title": "Synthetic extended CAT (benchmarks)"}
    points = [p for c in doc["clusters"] for p in c["compliance_points"]]
    total = sum(len(p["questions"]) for p in points)
    added = 0
    while total < target_questions:
        point = points[added % len(points)]
        base = point["questions"][0]
        number = len(point["questions"]) + 1
        information = added % 10 == 9
        question: dict[str, Any] = {
            "code": f"{point['code']}-{number}",
            "text": (
                f"How many workers are concerned by: {base['text']}"
                if information
                else f"{base['text']} (variant {number})"
            ),
            "legal_basis": base.get("legal_basis"),
            "provenance": "inferred",
        }
        if information:
            question["kind"] = "information"
        else:
            question["noncompliant_answer"] = "yes"
        point["questions"].append(question)
        added += 1
        total += 1
    if previous_codes:
        for point in points:
            for question in point["questions"]:
                if question["code"] in previous_codes:
                    question["previous_code"] = question["code"]
    return doc


def finding_rate(cluster_code: str, propensity: float, cycle: int) -> float:
    """Factories improve with each cycle (about 15% fewer findings per cycle)."""
    base = CLUSTER_FINDING_RATE.get(cluster_code, DEFAULT_FINDING_RATE)
    return min(0.95, base * propensity * (0.85 ** (cycle - 1)))


def generate_findings(
    rng: random.Random,
    questions: list[tuple[str, str, str, str]],
    propensity: float = 1.0,
    cycle: int = 1,
) -> list[dict[str, Any]]:
    """One answer per question; ``questions`` are (code, kind, compliance point, cluster)."""
    findings = []
    for code, kind, point, cluster in questions:
        if kind == "information":
            findings.append(
                {
                    "question_code": code,
                    "compliance_point_code": point,
                    "cluster_code": cluster,
                    "non_compliant": None,
                    "value": rng.randint(0, 40),
                }
            )
            continue
        findings.append(
            {
                "question_code": code,
                "compliance_point_code": point,
                "cluster_code": cluster,
                "non_compliant": rng.random() < finding_rate(cluster, propensity, cycle),
                "value": None,
            }
        )
    return findings


def workforce(total: int, women_share: float, migrants: int) -> dict[str, int]:
    women = round(total * women_share)
    return {"total": total, "women": women, "men": total - women, "migrants": migrants}


def synthetic_factory(rng: random.Random, index: int) -> dict[str, Any]:
    total = rng.randint(120, 3000)
    region = rng.choice(REGIONS)
    return {
        "name": f"Synthetic Textile {index:05d}",
        "country": "UZ",
        "region": region,
        "sector": rng.choice(["garment", "textile", "knitwear", "spinning"]),
        "ownership": rng.choice(["private_domestic", "foreign", "joint_venture"]),
        "export_markets": rng.sample(["DE", "RU", "TR", "PL", "CN", "KZ", "IT", "GB"], 2),
        "workforce": workforce(total, rng.uniform(0.55, 0.92), rng.randint(0, total // 20)),
        "participation_start": date(2022, 1, 1) + timedelta(days=rng.randint(0, 300)),
        "propensity": rng.uniform(0.5, 1.6),
    }


def visit_dates(rng: random.Random, year: int) -> tuple[date, date]:
    start = date(year, 3, 1) + timedelta(days=rng.randint(0, 240))
    return start, start + timedelta(days=1)
