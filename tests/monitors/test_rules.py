"""The shipped rules pass `promtool check rules`, and their unit tests pass `promtool test rules`."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.components import require_binary
from tests.components.prometheus import INSTALL, RULES

TESTS = RULES / "tests"


def promtool() -> str:
    return require_binary("promtool", INSTALL)


def test_rules_check() -> None:
    files = sorted(RULES.glob("*.yml"))
    run = subprocess.run(
        [promtool(), "check", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", run.stdout)] == [7, 6]


def test_rule_unit_tests_pass() -> None:
    files = sorted(TESTS.glob("*.yml"))
    run = subprocess.run(
        [promtool(), "test", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=TESTS,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(files) == 2


def test_every_alert_has_a_unit_test_that_expects_it_firing() -> None:
    alerts = {
        rule["alert"]
        for path in RULES.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    firing = {
        case["alertname"]
        for path in TESTS.glob("*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    assert len(alerts) == 9
    assert alerts == firing
