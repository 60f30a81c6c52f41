"""The non-compliance rule for one assessment, without HTTP or a database."""

from services.assessment.findings.methodology import QuestionInfo, compute_results

QUESTIONS = [
    QuestionInfo("OS-1-1", "finding", "OS-1", "OS"),
    QuestionInfo("OS-1-2", "finding", "OS-1", "OS"),
    QuestionInfo("OS-2-1", "finding", "OS-2", "OS"),
    QuestionInfo("OS-2-9", "information", "OS-2", "OS"),
    QuestionInfo("WT-1-1", "finding", "WT-1", "WT"),
    QuestionInfo("WT-2-9", "information", "WT-2", "WT"),
    QuestionInfo("CL-1-1", "finding", "CL-1", "CL"),
]


def point(results, code):  # type: ignore[no-untyped-def]
    return next(cp for c in results.clusters for cp in c.compliance_points if cp.code == code)


def cluster(results, code):  # type: ignore[no-untyped-def]
    return next(c for c in results.clusters if c.code == code)


def test_one_finding_makes_the_compliance_point_non_compliant() -> None:
    results = compute_results(QUESTIONS, {"OS-1-1": False, "OS-1-2": True, "OS-2-1": False})
    assert point(results, "OS-1").non_compliant is True
    assert point(results, "OS-1").non_compliant_questions == ["OS-1-2"]
    assert point(results, "OS-2").non_compliant is False
    assert cluster(results, "OS").non_compliant is True


def test_information_questions_never_count() -> None:
    # WT-2 holds only an information question: it is never assessed, whatever the answer.
    results = compute_results(QUESTIONS, {"OS-2-9": True, "WT-2-9": None, "OS-2-1": False})
    assert point(results, "WT-2").assessed is False
    assert point(results, "OS-2").questions_answered == 1
    assert point(results, "OS-2").non_compliant is False


def test_unanswered_compliance_points_are_not_assessed_and_not_in_the_rate() -> None:
    results = compute_results(QUESTIONS, {"OS-1-1": True, "WT-1-1": False})
    assert point(results, "CL-1").assessed is False
    assert cluster(results, "CL").assessed is False
    assert results.compliance_points_assessed == 2
    assert results.compliance_points_non_compliant == 1
    assert results.non_compliance_rate == 0.5


def test_cluster_counts_its_compliance_points() -> None:
    answers = {"OS-1-1": True, "OS-2-1": True, "WT-1-1": False, "CL-1-1": False}
    results = compute_results(QUESTIONS, answers)
    os_cluster = cluster(results, "OS")
    assert (os_cluster.compliance_points_assessed, os_cluster.compliance_points_non_compliant) == (
        2,
        2,
    )
    assert cluster(results, "WT").non_compliant is False
    assert results.non_compliance_rate == 2 / 4


def test_nothing_answered_has_no_rate() -> None:
    results = compute_results(QUESTIONS, {})
    assert results.non_compliance_rate is None
    assert [c.code for c in results.clusters] == ["OS", "WT", "CL"]
