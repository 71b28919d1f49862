"""The e-gov extranet: sites by level, service planes, address plans, device configurations, safe pushes.

`estate` reads the `network:` section of the estate file; `ipam` plans prefixes from it; `checks` grades
the estate against its floors and targets; `render` writes vendor configurations; `diff` turns a running
configuration into the commands that reach the rendered one; `push` applies them with netmiko and rolls
back what fails its post-checks; `verify` proves reachability and isolation with real pings; `testbed`
builds FRRouting routers in network namespaces from the same estate.
"""
