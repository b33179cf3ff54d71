"""Command-line options of ``python -m sandbox salesforce`` (the shared ``__main__`` adds --port/--tls-dir)."""

from __future__ import annotations

import argparse
from typing import Any

from sandbox.salesforce.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    SalesforceSandbox,
)


def arguments_add(parser: argparse.ArgumentParser) -> None:
    """Add the Salesforce stand-in's options."""
    login = parser.add_argument_group("login")
    login.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help=f"consumer key (default {DEFAULT_CLIENT_ID})")
    login.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="consumer secret")
    login.add_argument("--username", default=DEFAULT_USERNAME, help=f"integration user (default {DEFAULT_USERNAME})")
    login.add_argument("--password", default=DEFAULT_PASSWORD, help="password of the integration user")
    login.add_argument("--security-token", default="", help="security token the password may have appended")
    login.add_argument(
        "--jwt-cert", default=None, help="PEM certificate or public key that verifies JWT bearer assertions"
    )
    login.add_argument("--token-lifetime", type=float, default=7200.0, help="access token lifetime in seconds")
    org = parser.add_argument_group("org")
    org.add_argument(
        "--schema",
        choices=("full", "minimal"),
        default="full",
        help="full: set up for b2s (custom fields, platform events); minimal: a fresh org without them",
    )
    org.add_argument("--api-max", type=int, default=15_000, help="daily API request limit (default 15000)")
    org.add_argument("--bulk-delay", type=float, default=0.5, help="seconds before a Bulk job is processed")
    org.add_argument(
        "--platform-event-enqueued",
        action="store_true",
        help="add the OPERATION_ENQUEUED entry newer API versions put in a publish result's errors",
    )


def app_build(args: argparse.Namespace) -> Any:
    """The WSGI application for the parsed arguments."""
    return SalesforceSandbox(
        schema=args.schema,
        client_id=args.client_id,
        client_secret=args.client_secret,
        username=args.username,
        password=args.password,
        security_token=args.security_token,
        jwt_certificate=args.jwt_cert,
        api_max=args.api_max,
        token_lifetime=args.token_lifetime,
        bulk_delay=args.bulk_delay,
        platform_event_enqueued=args.platform_event_enqueued,
    )
