#!/usr/bin/python3
"""Network check page. VULNERABLE ON PURPOSE: the host is pasted into a shell command (command injection)."""

import html
import os
import subprocess
import sys
from urllib.parse import parse_qs


def main() -> None:
    host = parse_qs(os.environ.get("QUERY_STRING", "")).get("host", ["127.0.0.1"])[0]
    command = f"ping -c 1 -W 1 {host}"  # the planted flaw: a shell runs whatever follows the host
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=20, check=False)
    output = html.escape(result.stdout + result.stderr)
    sys.stdout.write(f"Content-Type: text/html\r\n\r\n<pre>{output}</pre>\n")


if __name__ == "__main__":
    main()
