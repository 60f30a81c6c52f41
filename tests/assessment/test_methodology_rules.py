"""The non-compliance rule at its edges (issue 15): one assessed compliance point is enough to
assess its cluster, a finding question answered with no verdict does not count, and every
counter counts exactly what it names."""

from services.assessment.findings.methodology import (
    AssessmentResults,
    ClusterResult,
    CompliancePointResult,
    QuestionInfo,
    compute_results,
)

QUESTIONS = [
    QuestionInfo("HS-1-1", "finding", "HS-1", "HS"),
    QuestionInfo("HS-1-2", "finding", "HS-1", "HS"),
    QuestionInfo("HS-1-3", "finding", "HS-1", "HS"),
    QuestionInfo("HS-2-1", "finding", "HS-2", "HS"),
    QuestionInfo("HS-3-1", "finding", "HS-3", "HS"),
    QuestionInfo("FA-1-1", "finding", "FA-1", "FA"),
    QuestionInfo("FA-1-9", "information", "FA-1", "FA"),
]


def by_code(results: AssessmentResults) -> dict[str, ClusterResult]:
    return {c.code: c for c in results.clusters}


def points(results: AssessmentResults) -> dict[str, CompliancePointResult]:
    return {p.code: p for c in results.clusters for p in c.compliance_points}


def test_a_cluster_with_exactly_one_assessed_compliance_point_is_assessed() -> None:
    results = compute_results(QUESTIONS, {"HS-2-1": False})
    hs = by_code(results)["HS"]
    assert hs.compliance_points_assessed == 1
    assert hs.assessed is True
    assert hs.non_compliant is False
    assert by_code(results)["FA"].assessed is False


def test_a_cluster_with_exactly_one_non_compliant_point_is_non_compliant() -> None:
    results = compute_results(QUESTIONS, {"HS-1-1": False, "HS-2-1": True, "HS-3-1": False})
    hs = by_code(results)["HS"]
    assert (hs.compliance_points_assessed, hs.compliance_points_non_compliant) == (3, 1)
    assert hs.non_compliant is True


def test_a_finding_question_answered_without_a_verdict_does_not_assess_its_point() -> None:
    results = compute_results(QUESTIONS, {"HS-2-1": None, "FA-1-9": True})
    assert points(results)["HS-2"].assessed is False
    assert points(results)["HS-2"].questions_answered == 0
    assert points(results)["FA-1"].assessed is False
    assert results.non_compliance_rate is None


def test_each_answered_finding_question_is_counted_and_each_finding_named_in_order() -> None:
    answers = {"HS-1-3": True, "HS-1-1": True, "HS-1-2": False}
    hs1 = points(compute_results(QUESTIONS, answers))["HS-1"]
    assert hs1.questions_answered == 3
    assert hs1.non_compliant_questions == ["HS-1-1", "HS-1-3"]
    assert (hs1.code, hs1.cluster_code) == ("HS-1", "HS")


def test_a_compliant_answer_after_a_finding_leaves_the_point_non_compliant() -> None:
    hs1 = points(compute_results(QUESTIONS, {"HS-1-1": True, "HS-1-2": False}))["HS-1"]
    assert hs1.non_compliant is True
    assert hs1.non_compliant_questions == ["HS-1-1"]


def test_each_compliance_point_is_listed_once_under_its_own_cluster_in_catalogue_order() -> None:
    results = compute_results(QUESTIONS, {})
    assert [c.code for c in results.clusters] == ["HS", "FA"]
    assert [p.code for p in by_code(results)["HS"].compliance_points] == ["HS-1", "HS-2", "HS-3"]
    assert [p.code for p in by_code(results)["FA"].compliance_points] == ["FA-1"]
    assert all(not p.assessed and not p.non_compliant for p in points(results).values())


def test_the_rate_is_non_compliant_points_over_assessed_points_across_clusters() -> None:
    answers = {"HS-1-1": True, "HS-2-1": False, "HS-3-1": False, "FA-1-1": True}
    results = compute_results(QUESTIONS, answers)
    assert results.compliance_points_assessed == 4
    assert results.compliance_points_non_compliant == 2
    assert results.non_compliance_rate == 0.5
