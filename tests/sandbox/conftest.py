"""Fixtures of the sandbox tests: the ``python -m sandbox`` command line, started as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class SandboxProcess:
    """One ``python -m sandbox ...`` process, its port and TLS folder."""

    process: subprocess.Popen
    port: int
    tls_dir: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def session(self) -> requests.Session:
        """A session that trusts the stand-in's own CA (and nothing the environment names)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.tls_dir / "ca.pem")
        return session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sandbox_command(tmp_path) -> Iterator[Callable[..., SandboxProcess]]:
    """``start("bigcommerce", "--seed", "1")`` runs ``python -m sandbox`` on a free port; killed at the end."""
    started: list[SandboxProcess] = []

    def start(kind: str, *args: str) -> SandboxProcess:
        port = _free_port()
        tls_dir = tmp_path / "tls"
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", kind, "--port", str(port), "--tls-dir", str(tls_dir), *args],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        )
        started.append(SandboxProcess(process, port, tls_dir))
        return started[-1]

    yield start
    for sandbox in started:
        sandbox.process.kill()
        sandbox.process.wait(timeout=10)
        sandbox.process.stdout.close()
        sandbox.process.stderr.close()
