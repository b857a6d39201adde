"""A lean load generator to measure the receiver's own capacity: raw http.client, keep-alive.

Usage: loadgen.py URL SECONDS THREADS -> prints the number of requests answered.
"""

import http.client
import sys
import threading
import time
from urllib.parse import urlsplit

BODY = b'{"type":"dashboard.updated","id":"evt_x","data":{"dashboard_id":"d1","name":"Sales","version":2}}'


def main() -> None:
    url, seconds, threads = urlsplit(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(slot: int) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(BODY))}
        while time.monotonic() < stop:
            conn.request("POST", url.path, BODY, headers)
            conn.getresponse().read()
            counts[slot] += 1
        conn.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(sum(counts))


if __name__ == "__main__":
    main()
