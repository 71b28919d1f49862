"""What every format shows, as text: section titles, table columns and cells. The formats differ only in
how they lay these out, so a cell reads the same in the PDF, the DOCX and the XLSX."""

from __future__ import annotations

from secops.compliance.models import Part
from secops.compliance.report.model import Report, ReportItem, ReportProblem
from secops.compliance.scoring import Result, Risk

TITLE = "网络安全等级保护测评报告"
SECTIONS = ("一、被测对象概况", "二、测评范围", "三、测评结果", "四、安全问题与风险", "五、综合得分与结论",
            "六、整改建议")
ITEM_COLUMNS = ("编号", "控制点", "要求项", "测评结果/风险", "复核说明与未通过的检查")
PROBLEM_COLUMNS = ("编号", "安全层面", "控制点", "风险", "问题描述", "高风险判定")
ADVICE_COLUMNS = ("编号", "控制点", "测评结果", "整改建议")
CLOUD_MARK = "〔云〕"


def overview(report: Report, digest: str) -> list[tuple[str, str]]:
    """The overview as label/value pairs, ending with the assessment id and the report's SM3 digest."""
    versions = "，".join(f"{name} {version}" for name, version in report.catalogue_versions.items())
    return [
        ("被测系统", report.system),
        ("安全保护等级", f"第{report.level}级" + ("（含云计算安全扩展要求）" if report.cloud else "")),
        ("测评对象", report.target),
        ("测评时间", report.assessed_at.isoformat()),
        ("要求项版本", versions),
        ("评分模型版本", report.scoring_version),
        ("整改建议版本", report.advice_version),
        ("测评编号", report.assessment_id),
        ("报告摘要（SM3）", digest),
    ]


def conclusion(report: Report) -> list[tuple[str, str]]:
    counts = "，".join(f"{result.value} {n}" for result, n in report.counts.items())
    risks = "，".join(f"{risk.value}风险 {n}" for risk, n in report.risks.items())
    return [("综合得分", f"{report.score:.2f}"), ("结论", report.band), ("单项判定", counts),
            ("安全问题", risks)]


def item_cells(row: ReportItem) -> tuple[str, ...]:
    """A category table row. Result and risk share a cell (`不符合/中`), as do the reviewer's note and the
    failed checks: most rows have neither, and every cell costs the PDF layout time (docs/compliance.md,
    Speed). An overridden result shows what was assessed beside the final one."""
    result = _judgement(row.result, row.risk)
    if row.assessed_result is not None:
        result += f"（原判定 {_judgement(row.assessed_result, row.assessed_risk)}）"
    review = f"{row.reviewer}：{row.override_reason}" if row.override_reason else row.reviewer
    notes = [f"复核 {review}"] if review else []
    notes += [f"未通过的检查 {'、'.join(row.failed_checks)}"] if row.failed_checks else []
    text = (CLOUD_MARK if row.part is Part.CLOUD else "") + row.text
    return (row.id, row.control_point, text, result, "；".join(notes))


def _judgement(result: Result, risk: Risk | None) -> str:
    return result.value + (f"/{risk.value}" if risk else "")


def problem_cells(problem: ReportProblem) -> tuple[str, ...]:
    return (problem.item, problem.category, problem.control_point, problem.risk.value, problem.description,
            "；".join(problem.rules))


def advised(report: Report) -> list[tuple[str, ...]]:
    """One row per item judged 不符合 or 部分符合, in catalogue order."""
    return [(row.id, row.control_point, row.result.value, row.advice)
            for table in report.categories for row in table.items if row.advice]


def category_heading(score: float | None, category: str) -> str:
    return f"{category}（得分 {score:.2f}）" if score is not None else f"{category}（不适用）"
