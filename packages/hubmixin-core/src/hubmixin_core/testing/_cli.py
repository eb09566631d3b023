"""``hubmixin hub serve``: run a LocalHub from the command line until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from hubmixin_core._paths import path_argument
from hubmixin_core.testing._server import LocalHub
from hubmixin_core.testing._sqlite import DatabaseFileError
from hubmixin_core.testing.xet import xet_available

__all__ = ["add_hub_parser", "main"]


def add_hub_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``hub`` command (sub-command ``serve``) to a ``hubmixin`` parser."""
    hub = subparsers.add_parser("hub", help="a local Hub-compatible server for tests and offline work")
    commands = hub.add_subparsers(dest="hub_command", required=True)
    serve = commands.add_parser("serve", help="serve a local Hub until interrupted (Ctrl-C)")
    serve.add_argument(
        "--root", type=path_argument, default=None, help="data folder (default: temporary, deleted at exit)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="TCP port (default: 0, any free port)")
    serve.add_argument("--username", default="localuser", help="name of the default user (default: localuser)")
    serve.add_argument(
        "--token", default=None, help="write token of the default user (default: a new one at each start)"
    )
    serve.add_argument(
        "--org",
        action="append",
        default=[],
        metavar="NAME",
        help="an organization with the default user as its admin (repeat for several)",
    )
    serve.set_defaults(func=_serve)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)")
    return port


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        hub = LocalHub(args.root, host=args.host, port=args.port, username=args.username, token=args.token)
        hub.start()
        try:
            for org in args.org:
                hub.add_organization(org, members={hub.username: "admin"})
        except BaseException:
            hub.stop()
            raise
    except ValueError as error:  # a host off the loopback interface, a bad user, organization name or token
        print(f"hubmixin hub serve: error: {error}", file=sys.stderr)
        return 2
    except DatabaseFileError as error:  # a damaged or foreign data folder
        print(f"hubmixin hub serve: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the port is taken, the address cannot be bound, the root is not writable
        reason = error.strerror or str(error)
        where = f"data folder {error.filename}" if error.filename else f"{args.host}:{args.port}"
        print(f"hubmixin hub serve: error: cannot use {where}: {reason}", file=sys.stderr)
        return 1
    try:
        print(f"LocalHub serving at {hub.endpoint}", flush=True)
        orgs = f"  organizations: {', '.join(args.org)}" if args.org else ""
        print(f"data: {hub.root}  user: {hub.username}{orgs}", flush=True)
        print("Point the huggingface_hub client at it (paste into a shell):", flush=True)
        no_xet = "" if xet_available() else " HF_HUB_DISABLE_XET=1"  # Xet storage needs the hub extra
        print(f"  export HF_ENDPOINT={hub.endpoint} HF_TOKEN={hub.token}{no_xet}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        hub.stop()
        signal.signal(signal.SIGTERM, previous)
    print("LocalHub stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hub serve`` without the rest of the ``hubmixin`` CLI: ``python -m hubmixin_core.testing._cli``."""
    parser = argparse.ArgumentParser(prog="hubmixin")
    add_hub_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
