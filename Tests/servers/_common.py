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


def _parent_gone(parent_pid, original_ppid):
    """True once `parent_pid` has exited. A parent that exited but was not reaped yet is a zombie:
    kill(pid, 0) still succeeds then, so the reparenting of this process is checked too."""
    if os.getppid() != original_ppid:
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{parent_pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def serve(server, host, parent_pid):
    """Announces the port of `server` (a socketserver), serves until interrupted, and exits with
    `parent_pid`. Returns the exit status."""
    watch_parent(parent_pid)
    announce(host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def watch_parent(parent_pid):
    """Exits the whole process once `parent_pid` has ended (checked twice a second). Without
    this, a server started by a test process would hold that process's output pipe open after
    it exits, and whoever waits for the pipe to close (swift test) would wait for ever."""
    if not parent_pid:
        return
    # (not PR_SET_PDEATHSIG: it fires when the *thread* that started us ends, and the test
    # process starts servers from pool threads that come and go)
    original_ppid = os.getppid()

    def loop():
        while True:
            if _parent_gone(parent_pid, original_ppid):
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=loop, daemon=True).start()
