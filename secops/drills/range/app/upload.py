#!/usr/bin/python3
"""Document upload. VULNERABLE ON PURPOSE: any file is saved, executable, where Apache runs CGI
(`/uploads/`), so an uploaded script is a webshell."""

import html
import os
import sys
from email.parser import BytesParser
from email.policy import HTTP

UPLOADS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "uploads")
FORM = (
    '<form method="post" enctype="multipart/form-data">'
    '<input type="file" name="file"><input type="submit" value="Upload"></form>'
)


def save(body: bytes, content_type: str) -> list[str]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    saved = []
    for part in message.iter_parts():
        name = part.get_filename()
        if name:
            path = os.path.join(UPLOADS, os.path.basename(name))
            with open(path, "wb") as out:
                payload = part.get_payload(decode=True)
                out.write(payload if isinstance(payload, bytes) else b"")
            os.chmod(path, 0o755)
            saved.append(os.path.basename(name))
    return saved


def main() -> None:
    if os.environ.get("REQUEST_METHOD") == "POST":
        length = int(os.environ.get("CONTENT_LENGTH") or 0)
        saved = save(sys.stdin.buffer.read(length), os.environ.get("CONTENT_TYPE", ""))
        links = "".join(f'<li><a href="/uploads/{html.escape(n)}">{html.escape(n)}</a></li>' for n in saved)
        page = f"<p>saved</p><ul>{links}</ul>"
    else:
        page = FORM
    sys.stdout.write(f"Content-Type: text/html\r\n\r\n{page}\n")


if __name__ == "__main__":
    main()
