"""Pulumi's unit-test mocks for the pulumi-openstack provider (no Pulumi engine is packaged here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pulumi


class MockOpenStack(pulumi.runtime.Mocks):
    """A mock of the pulumi-openstack provider: it records each resource, answers its inputs back with an id
    made of its name, gives routers a gateway address and resolves role names to ids."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ == "openstack:networking/router:Router":
            outputs["externalFixedIps"] = [{"ipAddress": "100.64.9.10"}]
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        # an empty failure list, not None: pulumi 3.272's mock monitor iterates it
        if args.token == "openstack:identity/getRole:getRole":
            return {"id": f"role-{args.args['name']}", "name": args.args["name"]}, []
        return {}, []


def run_under_mocks(program: Callable[[], object]) -> MockOpenStack:
    """Run `program` as a Pulumi program under fresh mocks, waiting for every resource; the mocks after."""
    mocks = MockOpenStack()
    pulumi.runtime.set_mocks(mocks, project="egovops", stack="test", preview=False)
    runner = pulumi.runtime.test(program)  # type: ignore[no-untyped-call]  # pulumi leaves it unannotated
    cast(Callable[[], None], runner)()
    return mocks
