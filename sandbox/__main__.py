"""``python -m sandbox salesforce|bigcommerce --port PORT --tls-dir DIR [...]``."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.server import serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="service", required=True)
    from sandbox.bigcommerce.cli import app_build as bc_app_build
    from sandbox.bigcommerce.cli import arguments_add as bc_arguments_add
    from sandbox.salesforce.cli import app_build as sf_app_build
    from sandbox.salesforce.cli import arguments_add as sf_arguments_add

    builders = {}
    for name, add, build in (
        ("salesforce", sf_arguments_add, sf_app_build),
        ("bigcommerce", bc_arguments_add, bc_app_build),
    ):
        service_parser = sub.add_parser(name)
        service_parser.add_argument("--port", type=int, required=True)
        service_parser.add_argument("--tls-dir", required=True)
        service_parser.add_argument("--log-level", default="WARNING")
        add(service_parser)
        builders[name] = build
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    app = builders[args.service](args)
    serve_forever(app, port=args.port, tls_dir=args.tls_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
