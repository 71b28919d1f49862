"""Sites a city has by the hundred, written as rules: `network.generate` in the estate.

A plan gives 67 镇街 and 1086 村居 as counts, not lists. Each rule makes sites of one level under the
sites whose names match `parent` (names or shell patterns such as `*-t*`), `count` under each or a
`total` spread over them as evenly as the count allows (the first ones get one more), named and titled
by format strings with `{parent}`, `{parent_title}` and `{n}` (1, 2, … under each parent). With
`device`, each new site also gets one access router, numbered management addresses from a block, and an
uplink of the given capacity to the first device of its parent site. Rules run in order, so a village
rule can match the towns an earlier rule made. The expanded sites, devices and links are validated like
hand-written ones.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from egovops.estate import Level


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Uplink(_Model):
    parent_interface: str = Field(description="the parent device's end; `{n}` numbers it per parent")
    interface: str = Field(description="the new device's end")
    capacity: int = Field(gt=0, description="Mbit/s")


class DeviceRule(_Model):
    vendor: str
    model: str
    os: str
    warranty_end: date
    lan: str
    management: ipaddress.IPv4Network | ipaddress.IPv6Network = Field(
        description="block the devices' management addresses are numbered from (its 1st host onwards)"
    )
    planes: list[str] = Field(default_factory=list)
    uplink: Uplink


class SiteRule(_Model):
    level: Level
    parent: str | list[str] = Field(
        description="site names or shell patterns (fnmatch) over the sites declared or made so far"
    )
    count: int | None = Field(None, ge=1, description="sites under each matching parent")
    total: int | None = Field(None, ge=1, description="sites spread over all matching parents")
    name: str = Field(description="format string: {parent}, {n}; e.g. '{parent}-v{n:02d}'")
    title: str = Field("", description="format string: {parent_title}, {n}")
    device: DeviceRule | None = None

    @model_validator(mode="after")
    def _one_size(self) -> SiteRule:
        if (self.count is None) == (self.total is None):
            raise ValueError("give exactly one of count (per parent) or total (spread over the parents)")
        return self

    def matches(self, name: str) -> bool:
        patterns = [self.parent] if isinstance(self.parent, str) else self.parent
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)

    def shares(self, parents: int) -> list[int]:
        if self.count is not None:
            return [self.count] * parents
        assert self.total is not None
        base, extra = divmod(self.total, parents)
        return [base + (1 if i < extra else 0) for i in range(parents)]


class GenerateError(ValueError):
    """A rule matched no parent; the message names the rule and what to check."""


def expand(rules: list[SiteRule], network: dict[str, Any]) -> dict[str, Any]:
    """`network` (the raw section) with the rules' sites, devices and links appended."""
    sites: list[Any] = list(network.get("sites") or [])
    devices: list[Any] = list(network.get("devices") or [])
    links = list(network.get("links") or [])
    for index, rule in enumerate(rules):
        where = f"network.generate.{index}"
        parents = [s for s in sites if isinstance(s, dict) and rule.matches(str(s.get("name")))]
        if not parents:
            raise GenerateError(
                f"{where}.parent: no site matches {rule.parent!r} "
                "(name a site declared above, or one an earlier rule makes)"
            )
        first_device: dict[str, dict[str, Any]] = {}
        for device in (d for d in devices if isinstance(d, dict)):
            first_device.setdefault(str(device.get("site")), device)
        number = 0
        for parent, share in zip(parents, rule.shares(len(parents)), strict=True):
            for n in range(1, share + 1):
                values = {"parent": parent["name"], "parent_title": parent.get("title", ""), "n": n}
                site = {"name": rule.name.format(**values), "level": rule.level.value,
                        "parent": parent["name"], "title": rule.title.format(**values)}  # fmt: skip
                sites.append(site)
                if rule.device is None:
                    continue
                upper = first_device.get(parent["name"])
                if upper is None:
                    raise GenerateError(
                        f"{where}.device: parent site {parent['name']} has no device for the uplink "
                        "(declare one, or give the parent rule a device)"
                    )
                number += 1
                made = _device(rule.device, site["name"], number)
                devices.append(made)
                uplink = rule.device.uplink
                links.append({
                    "a": {"device": upper["name"], "interface": uplink.parent_interface.format(n=n)},
                    "b": {"device": made["name"], "interface": uplink.interface},
                    "capacity": uplink.capacity,
                })  # fmt: skip
    return {**network, "sites": sites, "devices": devices, "links": links}


def _device(rule: DeviceRule, site: str, number: int) -> dict[str, Any]:
    if number >= rule.management.num_addresses - 1:
        raise GenerateError(f"management block {rule.management} has no address for device {number}")
    device: dict[str, Any] = {
        "name": f"r-{site}", "site": site, "vendor": rule.vendor, "model": rule.model, "os": rule.os,
        "warranty_end": rule.warranty_end, "lan": rule.lan,
        "management": str(rule.management.network_address + number),
    }  # fmt: skip
    if rule.planes:
        device["planes"] = rule.planes
    return device
