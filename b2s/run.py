"""``make run``: set up and start b2s locally (web server + django-q2 cluster).

With no Salesforce credentials configured it also starts the sandbox stand-ins of Salesforce and
BigCommerce, points b2s at them and runs the demo (``b2s.sandbox_demo``). With credentials it runs
the service against them and starts nothing of the sandbox. Stop everything with Ctrl-C.

Environment: ``B2S_ADDRESS`` (default 127.0.0.1:8000), ``SANDBOX_SALESFORCE_PORT`` (8443),
``SANDBOX_BIGCOMMERCE_PORT`` (8444), ``B2S_DEMO_SECONDS`` (how long the demo drives the store, 60).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"
WEB_READY_TIMEOUT_SECONDS = 60


def env_file_ensure() -> None:
    """Give a fresh checkout a local .env with a random secret key (never committed)."""
    if ENV_FILE.exists():
        return
    ENV_FILE.write_text(
        "# Written by `make run` for this machine. See .env.example for every setting.\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
    )
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE.name} with a new random DJANGO_SECRET_KEY.")


def manage(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a child process (it sees this process's environment)."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, check=False, text=True, capture_output=capture
    )
    if capture:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
    if check and result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode}).")
    return result


def spawn(args: list[str], name: str, *, log: Path | None = None) -> subprocess.Popen[str]:
    """Start a long-running child in its own session; its output goes to ``log`` when given."""
    print(f"Starting {name}: {' '.join(args)}" + (f"  (output: {log.relative_to(BASE_DIR)})" if log else ""))
    output = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        output = log.open("a")
    return subprocess.Popen(
        args, cwd=BASE_DIR, text=True, start_new_session=True, stdout=output, stderr=subprocess.STDOUT if log else None
    )


def sandbox_mode() -> bool:
    """No Salesforce credential in the environment or .env means the local stand-ins."""
    import environ

    from b2s.env import SALESFORCE_CREDENTIAL_VARS

    if ENV_FILE.is_file():
        environ.Env.read_env(ENV_FILE, overwrite=False)
    return not any(os.environ.get(name) for name in SALESFORCE_CREDENTIAL_VARS)


def web_ready_wait(address: str, processes: list[subprocess.Popen[str]]) -> None:
    """Block until the web server answers its health check."""
    deadline = time.monotonic() + WEB_READY_TIMEOUT_SECONDS
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must not sit between us and 127.0.0.1
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise SystemExit("A b2s process stopped during start-up; see its output above.")
        try:
            session.get(f"http://{address}/health", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"The web server did not answer on http://{address}/health in {WEB_READY_TIMEOUT_SECONDS} s.")


def demo_database_prepare() -> None:
    """In sandbox mode b2s starts from a fresh database each run (unless DATABASE_URL is set).

    The stand-ins keep their records in memory only, so what b2s remembers about them (Salesforce ids of
    orders, products and price book entries) is void once they restart: a fresh database keeps the two in step.
    """
    if os.environ.get("DATABASE_URL"):
        return
    database = BASE_DIR / ".sandbox" / "demo.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    print(f"Sandbox mode: a fresh demo database in {database.relative_to(BASE_DIR)}.")


def admin_login_from(output: str) -> str:
    """'user admin, password X' from local_admin_ensure's output, or how to set one."""
    match = re.search(r"password:\s*(\S+)", output)
    if match:
        return f"user admin, password {match.group(1)}"
    return "user admin (password printed on the first run; reset: .venv/bin/python manage.py changepassword admin)"


def _stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """``make run``: migrate, ensure the local admin, start the web server and a cluster (and the stand-ins)."""
    # Ctrl-C and SIGTERM both stop everything cleanly, even when started from a script in the
    # background (where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_requested)
    env_file_ensure()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
    web_address = os.environ.get("B2S_ADDRESS", "127.0.0.1:8000")
    sandbox = sandbox_mode()
    # /health shows queue counts only to a token holder: the demo (this process) reads them with this one.
    os.environ.setdefault("HEALTH_TOKEN", secrets.token_urlsafe(32))
    ports = tls_dir = None
    if sandbox:
        from b2s.sandbox_demo import SandboxPorts, sandbox_environment_prepare

        ports = SandboxPorts.from_env()
        tls_dir = Path(os.environ.get("SANDBOX_TLS_DIR") or BASE_DIR / ".sandbox" / "tls")
        sandbox_environment_prepare(tls_dir=tls_dir, ports=ports)
        demo_database_prepare()

    processes: list[subprocess.Popen[str]] = []
    try:
        if sandbox:
            from b2s.sandbox_demo import sandbox_start

            processes.extend(sandbox_start(tls_dir=tls_dir, ports=ports))
        manage("migrate", "--no-input", "-v", "0")
        manage("collectstatic", "--no-input", "-v", "0")
        admin_login = admin_login_from(manage("local_admin_ensure", capture=True).stdout)
        if sandbox:
            manage("sandbox_store_ensure", "--url", ports.bigcommerce_url)
        # In the demo the terminal tells the story; the servers' own output goes to files.
        logs = BASE_DIR / ".sandbox" / "logs" if sandbox else None
        processes.append(
            spawn([sys.executable, "manage.py", "qcluster"], "django-q2 cluster", log=logs and logs / "worker.log")
        )
        processes.append(
            spawn(
                [sys.executable, "manage.py", "runserver", "--insecure", "--noreload", web_address],
                "web server",
                log=logs and logs / "web.log",
            )
        )
        web_ready_wait(web_address, processes)
        print(f"\nb2s is running: http://{web_address}/admin/  (health: http://{web_address}/health)")
        if sandbox:
            from b2s.sandbox_demo import sandbox_demo_run

            sandbox_demo_run(
                web_address=web_address,
                ports=ports,
                tls_dir=tls_dir,
                manage=manage,
                seconds=float(os.environ.get("B2S_DEMO_SECONDS", "60")),
                admin_login=admin_login,
            )
        else:
            print(f"  Admin: http://{web_address}/admin/   {admin_login}")
        print("\nPress Ctrl-C to stop.", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
