"""`live2d-notify serve | hook <cli> | install <cli>`."""

from __future__ import annotations

import argparse
import sys


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from live2d_notify.config import Settings, SettingsError
    from live2d_notify.connections import LeanHttpToolsProtocol

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"live2d-notify: {exc}", file=sys.stderr)
        return 2
    if settings.redis_url:
        try:
            import redis  # noqa: F401 - only to tell whether the extra is installed
        except ImportError:
            print(
                "live2d-notify: LIVE2D_NOTIFY_REDIS_URL is set, but the Redis client is not installed: "
                "pip install 'live2d-notify[redis]'",
                file=sys.stderr,
            )
            return 2
    elif args.workers > 1:
        print(
            f"live2d-notify: --workers {args.workers} needs LIVE2D_NOTIFY_REDIS_URL: without Redis every worker "
            "would keep its own revocations, rate limits and streams (a token deleted on one worker would "
            "still work on the others, and events would not cross workers). Run one worker, or set Redis up "
            "(docs/deploy.md).",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        "live2d_notify.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http=LeanHttpToolsProtocol,  # httptools, with less held per connection (connections.py)
        workers=args.workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,  # no `server: uvicorn` on every response (nor its header checks)
        timeout_graceful_shutdown=2,
        lifespan="on",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hook"]:
        from live2d_notify import hooks

        return hooks.main(argv[1:])
    if argv[:1] == ["install"]:
        from live2d_notify import install

        return install.main(argv[1:])
    parser = argparse.ArgumentParser(prog="live2d-notify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server (uvicorn, uvloop, httptools)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes; more than one needs LIVE2D_NOTIFY_REDIS_URL")
    sub.add_parser("hook", help="the local hook: `live2d-notify hook <cli>` (payload on stdin)")
    sub.add_parser("install", help="write the hook into a CLI's settings: `live2d-notify install <cli>`")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    parser.print_help()
    return 2
