"""``python -m cvlab serve``: the app for a class, as several Streamlit processes behind HAProxy."""

from __future__ import annotations

import argparse
import json

from cvlab.commands import COMMANDS, Command, result_stream


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replicas", type=int, default=2,
                        help="Streamlit processes to start (about one per free core; each takes its own memory)")
    parser.add_argument("--port", type=int, default=8501, help="the port students open (the proxy's)")
    parser.add_argument("--address", default="0.0.0.0",
                        help="the address the proxy listens on (0.0.0.0: every interface; replicas stay on 127.0.0.1)")
    parser.add_argument("--tls", metavar="self-signed|CERT.pem:KEY.pem",
                        help="serve https at the proxy, so browsers allow the camera: a certificate made here "
                             "(browsers warn once), or a real one such as fullchain.pem:privkey.pem")
    parser.add_argument("--name", action="append", default=[], dest="names", metavar="HOST",
                        help="a name students type for this server, added to this machine's names and addresses "
                             "in the self-signed certificate (repeatable)")


def _run(args: argparse.Namespace) -> dict:
    from cvlab.server.replicas import ServePlan, serve
    from cvlab.settings import get_settings

    def say(line: str) -> None:  # under --json, one JSON object per line, as train streams its epochs
        print(json.dumps({"message": line}) if args.json else line, file=result_stream(), flush=True)

    plan = ServePlan(replicas=args.replicas, port=args.port, address=args.address, tls=args.tls,
                     names=tuple(args.names))
    return serve(plan, get_settings(), say=say)


COMMANDS.register(
    "serve",
    Command(
        name="serve",
        help="serve the app to a class: N streamlit processes behind HAProxy, sticky by cookie, optional TLS",
        configure=_configure,
        run=_run,
        render=lambda result: f"stopped {result['replicas']} replica(s) and the proxy",
    ),
)
