"""CrossGuard entry: `pulumi preview --policy-pack stacks/policy`. The policies are in cloud.crossguard."""

from pulumi_policy import EnforcementLevel, PolicyPack

from cloud.crossguard import POLICIES

PolicyPack(name="egovops-dengbao", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
