"""The cyber range (网络安全仿真靶场) drills run on: namespaces joined by bridges, an FRRouting router,
a web host (Apache + ModSecurity + CRS in front of a vulnerable test app), an SSH host, an attacker, and
sensors (WAF audit log, auth log, auditd, rotating pcaps) that egovops follows.

`up` builds one from a description file, `down` removes everything it made, `running` does both around a
block. A `Range` is the handle drills use: addresses, commands in a host's namespace, credentials, sensors.
"""

from secops.drills.range.description import SHIPPED, Description, DescriptionError, load_description
from secops.drills.range.lifecycle import PREFIX, down, running, up
from secops.drills.range.procs import RangeError
from secops.drills.range.state import Range, Sensor

__all__ = [
    "PREFIX",
    "SHIPPED",
    "Description",
    "DescriptionError",
    "Range",
    "RangeError",
    "Sensor",
    "down",
    "load_description",
    "running",
    "up",
]
