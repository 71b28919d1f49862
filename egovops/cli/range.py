"""`egovops range`: the cyber range's top-level name (issues 5 and 7) for `egovops net range`."""

from egovops.cli.net import range_app as app

__all__ = ["app"]
