"""The baseline of the throughput and memory figures: a bare requests.Session loop.

It posts the same bodies, with the same headers, to the same receiver, one after the other,
with none of the tool's work (no SQLite, no signing per request, no safety guards, no threads).
As a script (memory figure): bare_loop.py URL COUNT [BODY_FILE] -> prints RSS samples and the peak. The
script first imports the stack a CLI like ours is built on (typer, rich's console and table, requests,
sqlite-utils), as issue 14 defines the memory baseline; it runs no Typer command.
"""

import sys
import time

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


def import_the_stack() -> None:
    """What a process built on typer, rich, requests and sqlite-utils has loaded before its first line of work."""
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401
    import sqlite_utils  # noqa: F401
    import typer  # noqa: F401


def main() -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from rss import Sampler

    import_the_stack()

    url, count = sys.argv[1], int(sys.argv[2])
    body = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else b"{}"
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
