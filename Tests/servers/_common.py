"""Shared start-up for the loopback test servers: argument parsing, the `listening on HOST:PORT`
line the Swift side waits for, and exit when the parent process goes away."""
import argparse
import os
import sys
import threading
import time


def base_parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0,
                        help="exit when this process is gone (tests that start their own servers)")
    return parser


def announce(host, port):
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("test servers listen on loopback only")
    print(f"listening on {host}:{port}", flush=True)


def watch_parent(parent_pid):
    """Exits the whole process once `parent_pid` has ended (checked twice a second)."""
    if not parent_pid:
        return

    def loop():
        while True:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            time.sleep(0.5)

    threading.Thread(target=loop, daemon=True).start()
