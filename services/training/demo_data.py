"""The demo seed's fixed content: courses, people's names, topics and 2024 stakeholder events."""

from datetime import date
from typing import Any

COURSES: list[dict[str, Any]] = [
    {
        "code": "BWU-SST",
        "title": (
            "Supervisory Skills Training",
            "Rahbarlik koʻnikmalari treningi",
            "Тренинг по навыкам руководства",
        ),
        "topic": "supervisory_skills",
        "duration_days": 3,
        "audience": ["supervisor"],
    },
    {
        "code": "BWU-WPC",
        "title": (
            "Workplace Cooperation",
            "Ish joyidagi hamkorlik",
            "Сотрудничество на рабочем месте",
        ),
        "topic": "workplace_cooperation",
        "duration_days": 2,
        "audience": ["worker_representative", "manager", "committee_member"],
    },
    {
        "code": "BWU-OSH",
        "title": ("Occupational Safety and Health", "Mehnatni muhofaza qilish", "Охрана труда"),
        "topic": "osh",
        "duration_days": 2,
        "audience": ["supervisor", "manager", "worker"],
    },
    {
        "code": "BWU-HRM",
        "title": (
            "HR Management Systems",
            "Kadrlar boshqaruvi tizimlari",
            "Системы управления персоналом",
        ),
        "topic": "hr_management",
        "duration_days": 2,
        "audience": ["manager"],
    },
    {
        "code": "BWU-SHP",
        "title": (
            "Sexual Harassment Prevention",
            "Jinsiy tazyiqning oldini olish",
            "Предотвращение сексуальных домогательств",
        ),
        "topic": "sexual_harassment_prevention",
        "duration_days": 1,
        "audience": ["worker", "supervisor", "manager"],
    },
]
TRAINERS = ["Dilnoza Karimova", "Jasur Toshmatov", "Nodira Ismoilova", "Akmal Nazarov"]
ADVISORS = ["Aziza Yusupova", "Bekzod Rahimov", "Shahnoza Ergasheva", "Timur Sodiqov"]
FIRST_NAMES_F = ["Malika", "Gulnora", "Dilfuza", "Zarina", "Nilufar", "Mohira", "Sevara"]
FIRST_NAMES_M = ["Rustam", "Sardor", "Bobur", "Otabek", "Jamshid", "Ulugʻbek"]
SURNAMES = ["Tosheva", "Saidova", "Aliyeva", "Qodirova", "Yoʻldosheva", "Karimova"]
VISIT_TOPICS = [
    "Improvement plan review",
    "Overtime records",
    "Fire safety and exits",
    "Worker-management committee coaching",
    "Wage calculation",
    "Grievance mechanism",
]
SEMINARS: list[dict[str, Any]] = [
    {
        "kind": "pac_meeting",
        "event_date": date(2024, 5, 22),
        "topic": "Project Advisory Committee: 2024 workplan",
        "organisations": [
            "Ministry of Employment and Poverty Reduction",
            "Confederation of Employers of Uzbekistan",
            "Federation of Trade Unions of Uzbekistan",
            "ILO",
            "IFC",
        ],
    },
    {
        "kind": "industry_seminar",
        "event_date": date(2024, 6, 18),
        "topic": "Mehnat kodeksi: ish vaqti va qoʻshimcha ish",
        "organisations": ["Uztekstilprom", "Better Work Uzbekistan"],
    },
    {
        "kind": "stakeholder_event",
        "event_date": date(2024, 9, 10),
        "topic": "Buyers' forum: responsible sourcing from Uzbekistan",
        "organisations": ["Better Work Uzbekistan", "Uztekstilprom", "international brands"],
    },
    {
        "kind": "industry_seminar",
        "event_date": date(2024, 10, 24),
        "topic": "Охрана труда на швейных предприятиях",
        "organisations": ["Federation of Trade Unions of Uzbekistan", "Better Work Uzbekistan"],
    },
    {
        "kind": "pac_meeting",
        "event_date": date(2024, 11, 27),
        "topic": "Project Advisory Committee: first annual report",
        "organisations": [
            "Ministry of Employment and Poverty Reduction",
            "Confederation of Employers of Uzbekistan",
            "Federation of Trade Unions of Uzbekistan",
            "ILO",
            "IFC",
        ],
    },
]
