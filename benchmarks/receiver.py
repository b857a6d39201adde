"""A fast local webhook receiver for the benchmarks, run in its own process.

ThreadingHTTPServer, HTTP/1.1 keep-alive, TCP_NODELAY; answers every POST 200 `{}` after `--delay`
seconds. Prints `PORT <n>` on stdout once it listens. Usage: receiver.py [--delay 0.2] [--port 0] [--hosts 50]
With --hosts N it also listens on 127.0.0.2 ... 127.0.0.(N+1), same port: N destinations, as N real hosts would be.
"""

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = b"{}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hosts", type=int, default=0, help="also listen on this many more loopback addresses")
    args = parser.parse_args()
    delay = args.delay

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", args.port), Handler)
    for n in range(args.hosts):
        other = Server((f"127.0.0.{2 + n}", server.server_address[1]), Handler)
        threading.Thread(target=other.serve_forever, daemon=True).start()
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
