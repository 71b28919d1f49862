#!/usr/bin/python3
"""The portal's front page: links to the three (deliberately vulnerable) pages."""

import sys

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Range intranet portal</title></head>
<body><h1>Range intranet portal</h1><ul>
<li><form action="/search">Staff search <input name="q"><input type="submit"></form></li>
<li><a href="/upload">Upload a document</a></li>
<li><form action="/ping">Network check <input name="host"><input type="submit"></form></li>
</ul></body></html>
"""

if __name__ == "__main__":
    sys.stdout.write(f"Content-Type: text/html\r\n\r\n{PAGE}")
