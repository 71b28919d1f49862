"""Pulumi program: the estate named by the stack's `egovops:estate` setting, planned and declared.

`pulumi stack select shanwei && pulumi preview --policy-pack stacks/policy` (see docs/cloud.md). The program
refuses to declare anything when the plan breaks policy, as `egovops tenant apply` does.
"""

from pathlib import Path

import pulumi

from cloud.planner import plan_estate
from cloud.policy import check_plan
from cloud.pulumi_program import build
from egovops.estate import load_estate

REPO = Path(__file__).resolve().parent.parent

estate = load_estate(REPO / pulumi.Config("egovops").require("estate"))
plan = plan_estate(estate)
problems = check_plan(estate, plan)
if problems:
    raise pulumi.RunError("; ".join(f"{v.rule} (等保 {v.item}) {v.resource}: {v.message}" for v in problems))
build(estate, plan)
