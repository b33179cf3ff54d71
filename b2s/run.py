"""``make run``: set up and start b2s locally (web server + django-q2 cluster).

With no Salesforce credentials configured it also starts the sandbox stand-ins of
Salesforce and BigCommerce and points b2s at them. Stop everything with Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"
WEB_ADDRESS = os.environ.get("B2S_ADDRESS", "127.0.0.1:8000")


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


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, check=check, text=True)


def spawn(args: list[str], name: str) -> subprocess.Popen[str]:
    print(f"Starting {name}: {' '.join(args)}")
    return subprocess.Popen(args, cwd=BASE_DIR, text=True, start_new_session=True)


def main() -> int:
    env_file_ensure()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
    import django

    django.setup()
    from django.conf import settings

    processes: list[subprocess.Popen[str]] = []
    try:
        if settings.SALESFORCE["SANDBOX"]:
            from b2s.sandbox_demo import sandbox_start

            processes.extend(sandbox_start(spawn=spawn))
        manage("migrate", "--no-input", "-v", "0")
        manage("collectstatic", "--no-input", "-v", "0")
        manage("local_admin_ensure")
        if settings.SALESFORCE["SANDBOX"]:
            manage("sandbox_store_ensure")
        processes.append(spawn([sys.executable, "manage.py", "qcluster"], "django-q2 cluster"))
        processes.append(
            spawn([sys.executable, "manage.py", "runserver", "--insecure", "--noreload", WEB_ADDRESS], "web server")
        )
        time.sleep(2)
        print(f"\nb2s is running: http://{WEB_ADDRESS}/admin/  (health: http://{WEB_ADDRESS}/health)")
        if settings.SALESFORCE["SANDBOX"]:
            from b2s.sandbox_demo import sandbox_demo_run

            sandbox_demo_run(web_address=WEB_ADDRESS)
        print("Press Ctrl-C to stop.")
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
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
