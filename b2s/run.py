"""``make run``: set up and start b2s locally (web server + django-q2 cluster).

With no Salesforce credentials configured it also starts the sandbox stand-ins of Salesforce and
BigCommerce, points b2s at them and runs the demo (``b2s.sandbox_demo``). With credentials it runs
the service against them and starts nothing of the sandbox. Stop everything with Ctrl-C.

Environment: ``B2S_ADDRESS`` (default 127.0.0.1:8000), ``SANDBOX_SALESFORCE_PORT`` (8443),
``SANDBOX_BIGCOMMERCE_PORT`` (8444), ``B2S_DEMO_SECONDS`` (how long the demo drives the store, 60),
``B2S_WEB_WORKERS`` (gunicorn workers, 1) and ``B2S_WEB_THREADS`` (threads per worker, 4).

``python -m b2s.run qcluster`` starts the django-q2 cluster alone, lean (see ``qcluster_main``).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from b2s.local import demo_database_path, env_file_ensure, local_environment_prepare, sandbox_mode

if TYPE_CHECKING:
    from b2s.sandbox_demo import SandboxPorts

BASE_DIR = Path(__file__).resolve().parent.parent
WEB_READY_TIMEOUT_SECONDS = 60


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


def cluster_command() -> list[str]:
    """The django-q2 cluster as ``make run`` starts it (``bench/memory.py`` measures this same command)."""
    return [sys.executable, "-m", "b2s.run", "qcluster"]


def web_command(address: str) -> list[str]:
    """The web server as ``make run`` starts it (``bench/memory.py`` measures this same command).

    gunicorn, as in production, with the application loaded once in the master (``--preload``) and
    shared by its forked workers; ``B2S_WEB_WORKERS`` (default 1) workers of ``B2S_WEB_THREADS``
    (default 4) threads. The local run serves the static files itself (production: the TLS proxy).
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "b2s.run:web_application(static=True)",
        "--preload",
        "--bind",
        address,
        "--workers",
        os.environ.get("B2S_WEB_WORKERS", "1"),
        "--threads",
        os.environ.get("B2S_WEB_THREADS", "4"),
        "--access-logfile",
        "-",
    ]


def _fork_ready() -> None:
    """Before forking: collect, then keep everything alive now out of the garbage collector's reach.

    A forked process shares its parent's pages until it writes to them, and a collection writes to
    every object it examines (Python keeps its bookkeeping in the object's header): without this
    each child soon holds a private copy of the parent's modules. ``gc.freeze`` moves them to a
    generation the collector never examines (they live as long as the process anyway).
    """
    gc.collect()
    gc.freeze()


def web_application(*, static: bool = False) -> Any:
    """The WSGI application for ``gunicorn --preload`` (``web_command``), ready to be forked.

    Everything a request imports (the URL configuration, hence every view and the services behind
    it) is loaded here, in the master, so the workers share it instead of each importing its own.
    ``static``: serve the static files too (the local run; production leaves them to the TLS proxy).
    """
    from django.core.wsgi import get_wsgi_application
    from django.urls import get_resolver

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
    application = get_wsgi_application()
    get_resolver().url_patterns  # noqa: B018  (imports the views now, in the master)
    if static:
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        application = StaticFilesHandler(application)
    _fork_ready()
    return application


def qcluster_main(args: list[str]) -> None:
    """``python -m b2s.run qcluster [options]``: ``manage.py qcluster``, ready to be forked.

    django-q2 forks its sentinel, workers, monitor and pusher from this process. Each task module of
    the installed apps (what the workers run) is imported first, then ``_fork_ready``: the children
    share those pages instead of each importing the task modules (and all they import) on its own.

    The system checks ``qcluster`` would run run here instead, before the freeze, so what they load
    (the template engine with every installed app's template tags) is shared too; all but those of
    the URL configuration, which import every view and all the views import (Django REST framework
    and what it loads), none of which a task uses. The web server loads the URL configuration
    itself, and ``migrate`` (before the service starts: ``make run``, every release) runs every check.
    """
    import django
    from django.apps import apps
    from django.core import checks
    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
    django.setup()
    issues = [
        issue
        for check in checks.registry.registry.get_checks()
        if checks.Tags.urls not in check.tags
        for issue in check(app_configs=None, databases=None)
        if not issue.is_silenced()
    ]
    for issue in issues:
        print(issue, file=sys.stderr)
    if any(issue.is_serious() for issue in issues):
        raise SystemExit("System check identified errors: the cluster did not start.")
    for app in apps.get_app_configs():
        if importlib.util.find_spec(f"{app.name}.tasks") is not None:
            importlib.import_module(f"{app.name}.tasks")
    importlib.import_module("django_q.management.commands.qcluster")
    # What a worker imports on its first event, imported here to be shared: the handler modules (the order
    # feature, cart recovery) and the Salesforce client's library, simple-salesforce (with zeep and lxml).
    importlib.import_module("sync.handlers").handlers_load()
    importlib.import_module("simple_salesforce")
    _fork_ready()
    execute_from_command_line(["manage.py", "qcluster", "--skip-checks", *args])


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


def demo_database_reset() -> None:
    """In sandbox mode b2s starts from a fresh demo database each run (unless DATABASE_URL is set).

    The stand-ins keep their records in memory only, so what b2s remembers about them (Salesforce ids of
    orders, products and price book entries) is void once they restart: a fresh database keeps the two in step.
    """
    database = demo_database_path(BASE_DIR)
    database.parent.mkdir(parents=True, exist_ok=True)
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    print(f"Sandbox mode: a fresh demo database in {database.relative_to(BASE_DIR)}.")


def local_run_prepare() -> tuple[bool, SandboxPorts | None, Path | None]:
    """The environment of every process ``make run`` starts (and of ``manage.py``: ``b2s.local``).

    Returns whether it is the sandbox demo, with the stand-ins' ports and TLS folder.
    """
    env_file_ensure(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
    filled = local_environment_prepare(base_dir=BASE_DIR)
    if not sandbox_mode(os.environ):
        return False, None, None
    from b2s.sandbox_demo import SandboxPorts, sandbox_environment_prepare

    ports = SandboxPorts.from_env()
    tls_dir = Path(os.environ.get("SANDBOX_TLS_DIR") or BASE_DIR / ".sandbox" / "tls")
    sandbox_environment_prepare(tls_dir=tls_dir, ports=ports)
    if "DATABASE_URL" in filled:
        demo_database_reset()
    return True, ports, tls_dir


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
    sandbox, ports, tls_dir = local_run_prepare()
    web_address = os.environ.get("B2S_ADDRESS", "127.0.0.1:8000")
    # /health shows queue counts only to a token holder: the demo (this process) reads them with this one.
    os.environ.setdefault("HEALTH_TOKEN", secrets.token_urlsafe(32))

    processes: list[subprocess.Popen[str]] = []
    try:
        # ports and tls_dir are set exactly when sandbox is.
        if ports is not None and tls_dir is not None:
            from b2s.sandbox_demo import sandbox_start

            processes.extend(sandbox_start(tls_dir=tls_dir, ports=ports))
        manage("migrate", "--no-input", "-v", "0")
        manage("collectstatic", "--no-input", "-v", "0")
        admin_login = admin_login_from(manage("local_admin_ensure", capture=True).stdout)
        if ports is not None:
            manage("sandbox_store_ensure", "--url", ports.bigcommerce_url)
        # In the demo the terminal tells the story; the servers' own output goes to files.
        logs = BASE_DIR / ".sandbox" / "logs" if sandbox else None
        processes.append(spawn(cluster_command(), "django-q2 cluster", log=logs and logs / "worker.log"))
        processes.append(spawn(web_command(web_address), "web server", log=logs and logs / "web.log"))
        web_ready_wait(web_address, processes)
        print(f"\nb2s is running: http://{web_address}/admin/  (health: http://{web_address}/health)")
        if ports is not None and tls_dir is not None:
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
    if sys.argv[1:2] == ["qcluster"]:
        qcluster_main(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
