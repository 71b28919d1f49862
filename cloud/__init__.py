"""Gov-cloud tenants: the estate planned into OpenStack state, checked by policy, and applied by the
openstacksdk reconciler or the Pulumi program (`stacks/`)."""

from cloud import sdk  # noqa: F401  (registers openstacksdk deferred before any module here imports it)
