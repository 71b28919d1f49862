"""Alert ids, the alert record, summaries and suppression."""

from __future__ import annotations

from secops.detection.alerts import Alert, Suppression, Suppressor, alert_id, latest, summaries

T = "2026-11-22T10:00:00.000000Z"


def make(ids: list[str], first: str = T, rule: str = "r1", **entity: str) -> Alert:
    return Alert(
        id=alert_id(rule, entity, first),
        rule_id=rule,
        title="SSH brute force",
        severity="high",
        entity=dict(entity),
        event_ids=ids,
        tags=["attack.t1110"],
        first_seen=first,
        last_seen=first,
        count=len(ids),
        rule_type="event_count",
    )


def test_alert_id_is_rule_group_and_window_start() -> None:
    base = alert_id("r1", {"source.ip": "1.2.3.4", "user.name": "root"}, "2026-11-22T10:00:00.000000Z")
    assert base == alert_id("r1", {"user.name": "root", "source.ip": "1.2.3.4"}, T)
    assert len(base) == 32
    others = {
        alert_id("r2", {"source.ip": "1.2.3.4", "user.name": "root"}, "2026-11-22T10:00:00.000000Z"),
        alert_id("r1", {"source.ip": "1.2.3.5", "user.name": "root"}, "2026-11-22T10:00:00.000000Z"),
        alert_id("r1", {"source.ip": "1.2.3.4", "user.name": "root"}, "2026-11-22T10:00:01.000000Z"),
    }
    assert base not in others and len(others) == 3


def test_alert_round_trips_through_a_dict() -> None:
    alert = make(["a", "b"], **{"source.ip": "1.2.3.4"})
    data = alert.to_dict()
    assert data["entity"] == {"source.ip": "1.2.3.4"} and data["event_ids"] == ["a", "b"]
    assert Alert.from_dict({**data, "unknown": 1}) == alert


def test_summaries_name_the_rule_entity_count_and_severity() -> None:
    alert = make([f"e{i}" for i in range(6)], **{"source.ip": "1.2.3.4"})
    alert.title_zh, alert.last_seen = "SSH暴力破解", "2026-11-22T10:00:25.000000Z"
    zh, en = alert.summary_zh, alert.summary_en
    assert zh.startswith("【高危】") and "SSH暴力破解" in zh and "source.ip=1.2.3.4" in zh and "6 个" in zh
    assert en.startswith("[high]") and "6 contributing events" in en and "10:00:25" in en
    alert.suppressed, alert.count = 2, 18
    assert "另有 2 次重复已合并" in alert.summary_zh and "18 contributing events" in alert.summary_en
    assert alert.to_dict()["summary_en"] == alert.summary_en
    single = Alert("x", "r", "WAF match", "low", {}, ["e"], [], "t", "t", 1)
    assert "规则「WAF match」命中" in single.summary_zh
    assert summaries(single)[1] == "[low] rule 'WAF match' matched for - (t)"


def test_suppressor_folds_repeats_within_the_window() -> None:
    keep = Suppressor(max_keys=10, max_evidence=100)
    rule = Suppression(("source.ip",), 60)
    first = keep.admit(make(["a", "b"], **{"source.ip": "1.2.3.4"}), rule, ("1.2.3.4",), 0)
    assert first.suppressed == 0
    repeat = make(["b", "c"], "2026-11-22T10:00:30.000000Z", **{"source.ip": "1.2.3.4"})
    folded = keep.admit(repeat, rule, ("1.2.3.4",), 30)
    assert folded.id == first.id and folded.suppressed == 1 and folded.count == 4
    assert folded.event_ids == ["a", "b", "c"] and folded.last_seen == "2026-11-22T10:00:30.000000Z"
    other = keep.admit(make(["d"], **{"source.ip": "9.9.9.9"}), rule, ("9.9.9.9",), 31)
    assert other.suppressed == 0 and other.id != first.id
    after = keep.admit(
        make(["e"], "2026-11-22T10:02:00.000000Z", **{"source.ip": "1.2.3.4"}), rule, ("1.2.3.4",), 120
    )
    assert after.id != first.id and after.suppressed == 0
    assert keep.suppressed == 1
    assert latest([first, folded, other]) == [folded, other]


def test_suppressor_bounds_keys_and_evidence() -> None:
    keep = Suppressor(max_keys=2, max_evidence=3)
    rule = Suppression(("source.ip",), 60)
    for n, ip in enumerate(["1.1.1.1", "2.2.2.2", "3.3.3.3"]):
        keep.admit(make([f"x{n}"], **{"source.ip": ip}), rule, (ip,), n)
    assert keep.evicted == 1 and len(keep.held) == 2
    keep.admit(make(["y1", "y2", "y3"], **{"source.ip": "3.3.3.3"}), rule, ("3.3.3.3",), 5)
    assert keep.evidence_truncated == 1
    restored = Suppressor(max_keys=2, max_evidence=3)
    restored.load_state(keep.to_state())
    assert {k: v.alert for k, v in restored.held.items()} == {k: v.alert for k, v in keep.held.items()}
    keep.expire(61.5)
    assert list(keep.held) == [("r1", "3.3.3.3")]


def test_no_suppression_rule_passes_alerts_through() -> None:
    keep = Suppressor(max_keys=2, max_evidence=3)
    alert = make(["a"])
    assert keep.admit(alert, None, (), 0) is alert and keep.held == {}
