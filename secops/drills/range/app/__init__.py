"""The vulnerable-by-design test application the range's web host serves (CGI scripts, stdlib only).

Its flaws are deliberate and exist only inside the range: SQL injection in `search`, an upload that
lands in a directory Apache executes, and command injection in `ping`. Never serve it anywhere else.
"""
