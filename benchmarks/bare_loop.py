"""The baseline of the throughput and memory figures: a bare requests.Session loop.

It posts the same bodies, with the same headers, to the same receiver, one after the other,
with none of the tool's work (no SQLite, no signing per request, no safety guards, no threads).
As a script (memory figure): bare_loop.py URL COUNT [BODY_FILE] -> prints RSS samples and the peak. The
script first imports the stack a CLI like ours is built on (typer, rich's console and table, requests,
sqlite-utils), as issue 14 defines the memory baseline; it runs no Typer command. With --requests-only it
imports requests alone (figure 2b: the bare loop as a process, against `alpana-hooks emit`).
"""

import http.client
import sys
import time
from urllib.parse import urlsplit

import requests

HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "alpana-hooks/0.1.0",
    "Accept-Encoding": "identity",
    "webhook-id": "evt_01KBZ0000000000000000000000",
    "webhook-timestamp": "1764350897",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
}


def post_all(urls: list[str], body: bytes, headers: dict = HEADERS) -> int:
    """POST body to each URL in turn on one keep-alive session; returns how many answered 2xx."""
    ok = 0
    with requests.Session() as session:
        for url in urls:
            response = session.post(url, data=body, headers=headers, allow_redirects=False, timeout=(5, 15))
            response.content
            ok += response.ok
    return ok


def post_all_http_client(urls: list[str], body: bytes, headers: dict = HEADERS) -> int:
    """The same over one keep-alive http.client connection (all URLs on one host:port): Python's ceiling."""
    ok = 0
    target = urlsplit(urls[0])
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=15)
    try:
        for url in urls:
            parts = urlsplit(url)
            connection.request("POST", f"{parts.path}?{parts.query}", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            ok += 200 <= response.status < 300
    finally:
        connection.close()
    return ok


def import_the_stack() -> None:
    """What a process built on typer, rich, requests and sqlite-utils has loaded before its first line of work."""
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401
    import sqlite_utils  # noqa: F401
    import typer  # noqa: F401


def main() -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from rss import Sampler

    args = sys.argv[1:]
    if "--requests-only" in args:  # throughput through the CLI (figure 2b): the bare loop as it is
        args.remove("--requests-only")
    else:
        import_the_stack()
    url, count = args[0], int(args[1])
    body = open(args[2], "rb").read() if len(args) > 2 else b"{}"
    sampler = Sampler()
    sampler.mark("start")
    quarter = max(1, count // 4)
    ok = 0
    with requests.Session() as session:
        for i in range(count):
            response = session.post(f"{url}?s={i % 100}", data=body, headers=HEADERS, allow_redirects=False,
                                     timeout=(5, 15))
            response.content
            ok += response.ok
            if (i + 1) % quarter == 0:
                sampler.mark(f"{(i + 1) * 100 // count}%")
    sampler.report(ok=ok)


if __name__ == "__main__":
    main()
