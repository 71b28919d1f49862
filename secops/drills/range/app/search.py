#!/usr/bin/python3
"""Staff directory search. VULNERABLE ON PURPOSE: the query is pasted into the SQL (SQL injection)."""

import html
import os
import sqlite3
import sys
from urllib.parse import parse_qs

DB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "app.db")


def main() -> None:
    query = parse_qs(os.environ.get("QUERY_STRING", "")).get("q", [""])[0]
    sql = f"SELECT name, email FROM staff WHERE name LIKE '%{query}%'"
    try:
        with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
            rows = conn.execute(sql).fetchall()
        body = "".join(f"<li>{html.escape(str(a))} {html.escape(str(b))}</li>" for a, b in rows)
        status = "200 OK"
    except sqlite3.Error as exc:
        body, status = f"<pre>{html.escape(sql)}\n{html.escape(str(exc))}</pre>", "500 Internal Server Error"
    sys.stdout.write(f"Status: {status}\r\nContent-Type: text/html\r\n\r\n<ul>{body}</ul>\n")


if __name__ == "__main__":
    main()
