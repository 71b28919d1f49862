"""What both formats show, as text: titles, section headings, table columns and cells, so a figure reads
the same in the PDF and in the XLSX."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitors.bulletin.gather import AssessmentLine, Bulletin, IndicatorRow, incidents_by_state_zh
from monitors.departments import Utilisation

if TYPE_CHECKING:
    from secops.drills.history import Run

TITLE = "政务云与网络安全月度通报"
SECTIONS = ("一、主要指标完成情况", "二、云资源利用率考核排名", "三、网络安全态势", "四、攻防演练情况",
            "五、等级保护测评情况")  # fmt: skip
INDICATOR_COLUMNS = ("指标", "本月值", "目标值", "差距", "上月值", "环比", "取值")
RANKING_COLUMNS = ("排名", "部门", "vCPU利用率", "内存利用率", "存储利用率", "综合利用率", "达标")
SECURITY_COLUMNS = ("项目", "数量", "口径")
ASSESSMENT_COLUMNS = ("系统", "部门", "等级", "最近测评", "得分", "结论", "下次到期")
DRILL_COLUMNS = ("演练场景", "开始时间", "得分", "较上次", "检出覆盖率", "误报")
NO_DRILLS = "暂无演练数据（尚无演练记录）"
NO_DRILLS_IN_MONTH = "本月未开展演练。"
NO_ESTATE = "未提供 estate 文件"


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if unit == "ratio" else f"{value:,.0f} {unit}"


def signed(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:+.1%}" if unit == "ratio" else f"{value:+,.0f}"


def indicator_cells(row: IndicatorRow) -> tuple[str, ...]:
    return (row.name, shown(row.value, row.unit), shown(row.target, row.unit), signed(row.gap, row.unit),
            shown(row.previous, row.unit), signed(row.change, row.unit),
            "本月记录" if row.recorded else "当前估算")  # fmt: skip


def ranking_cells(row: Utilisation, target: float | None) -> tuple[str, ...]:
    met = "—" if target is None or row.overall is None else ("是" if row.overall >= target else "否")
    return (str(row.rank), row.title, *(shown(row.ratios[r], "ratio") for r in ("vcpu", "memory", "storage")),
            shown(row.overall, "ratio"), met)  # fmt: skip


def security_rows(bulletin: Bulletin) -> list[tuple[str, int, str]]:
    s = bulletin.security
    return [
        ("封堵攻击源（个）", s.sources_blocked, "本月执行的封堵类处置的源地址"),
        ("通报预警（份）", s.warnings_issued, f"本月发出的通报，涉及事件 {s.incidents_notified} 起"),
        ("修复漏洞（项）", s.vulnerabilities_fixed, "本月等保测评较上次测评整改达标的要求项"),
        ("发现网页木马（起）", s.webshells_found, "本月首次发现的网页木马告警（ATT&CK T1505.003）"),
        ("拦截攻击（次）", s.attacks_blocked, f"WAF 拦截 {s.waf_blocked} 次，IDS 阻断 {s.ids_dropped} 次"),
        *((f"安全事件：{label}（起）", n, "本月立案的事件按当前状态") for label, n in
          incidents_by_state_zh(s.incidents_by_state)),
    ]  # fmt: skip


def drill_cells(run: Run) -> tuple[str, ...]:
    change = "—" if run.score_delta is None else f"{run.score_delta:+d}"
    return (run.scenario, run.started.strftime("%Y-%m-%d %H:%M"), str(run.score), change,
            shown(run.coverage, "ratio"), str(run.false_positives))  # fmt: skip


def drills_note(bulletin: Bulletin) -> str | None:
    """What the drill section says instead of a table, if anything."""
    if bulletin.drills is None:
        return NO_DRILLS
    return None if bulletin.drills else NO_DRILLS_IN_MONTH


def assessment_cells(line: AssessmentLine) -> tuple[str, ...]:
    return (line.system, line.department, f"第{line.level}级",
            line.assessed.isoformat() if line.assessed else "未测评",
            "—" if line.score is None else f"{line.score:.2f}", line.band or "—",
            line.due.isoformat() if line.due else "—")  # fmt: skip


def overview(bulletin: Bulletin) -> list[tuple[str, str]]:
    return [
        ("通报月份", bulletin.month.zh),
        ("城市", bulletin.city or NO_ESTATE),
        ("部门计量日期", bulletin.metered_at.isoformat() if bulletin.metered_at else "无部门计量数据"),
        ("本月安全事件（起）", str(sum(bulletin.security.incidents_by_state.values()))),
        ("本月攻防演练（次）", str(len(bulletin.drills or []))),
        ("本月完成等保测评（个）", str(len(bulletin.done))),
        ("到期待测系统（个）", str(len(bulletin.due))),
    ]
