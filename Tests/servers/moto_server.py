"""moto's server (S3, SSM, STS, ... with in-memory backends) on one loopback port.

The service is picked per request from the SigV4 credential scope in `Authorization`, so S3 in
path style (`/bucket/key`) and SSM (`POST /` with `X-Amz-Target: AmazonSSM.*`) share the port.
moto itself checks no signatures; put `sigv4_proxy.py` in front of it for that.
`POST /moto-api/reset` (moto's own) empties every backend.

Usage: python3 -u moto_server.py --host 127.0.0.1 --port 0 [--parent-pid PID]
"""
import os
import sys

from werkzeug.serving import make_server

from _common import base_parser, serve


def main():
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    # Imported after argument parsing so that --help stays quick.
    from moto.server import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    # threaded=True: one thread per connection. werkzeug 3 answers every request with
    # "Connection: close", so each S3 request (ours and the boto3 peer's alike) opens a connection.
    server = make_server(args.host, args.port, app, threaded=True)
    # moto builds some URLs (e.g. multipart Location) from MOTO_PORT; give it the real one.
    os.environ["MOTO_PORT"] = str(server.server_address[1])
    return serve(server, args.host, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
