"""Run the whole service locally in one terminal: web, sync worker, webhook worker and (when needed)
a fake offers service.

`make run` calls this. When OFFERS_SERVICE_URL is unset, it starts the project's fake offers
service (`manage.py run_fake_offers`, from the development-only devtools app) on port 8001 and
points the web process and the worker at it. Ctrl-C (or SIGTERM) stops all of them; if one of
them exits, the others are stopped too.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FAKE_PORT = os.environ.get("FAKE_OFFERS_PORT", "8001")
FAKE_REFRESH_TOKEN = "local-development-refresh-token"


def read_dotenv_value(name: str) -> str:
    """The value a variable will have for the children: environment first, then .env."""
    if name in os.environ:
        return os.environ[name]
    dotenv = ROOT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            if line.startswith(f"{name}="):
                return line.split("=", 1)[1].strip().strip("'\"")
    return ""


def main() -> int:
    env = dict(os.environ)
    # Local receivers (a script on this machine) are what one tests alerts against; the shell may say otherwise.
    env.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
    children = []
    if not read_dotenv_value("OFFERS_SERVICE_URL"):
        env["OFFERS_SERVICE_URL"] = f"http://127.0.0.1:{FAKE_PORT}"
        env["OFFERS_REFRESH_TOKEN"] = FAKE_REFRESH_TOKEN
        print(f"run: OFFERS_SERVICE_URL is unset; starting a fake offers service on port {FAKE_PORT}")
        command = [PYTHON, "manage.py", "run_fake_offers", "--port", FAKE_PORT, "--refresh-token", FAKE_REFRESH_TOKEN]
        # The fake is the development-only devtools app, which DEV_TOOLS installs (an .env written
        # before that variable existed lacks it).
        children.append(("fake-offers", subprocess.Popen(command, cwd=ROOT, env={**env, "DEV_TOOLS": "true"})))
        time.sleep(0.5)  # let it bind before the others first call it
    for name, command in [
        ("web", [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "aggregator.wsgi"]),
        ("sync", [PYTHON, "manage.py", "run_sync"]),
        ("webhooks", [PYTHON, "manage.py", "run_webhooks"]),
    ]:
        children.append((name, subprocess.Popen(command, cwd=ROOT, env=env)))
    print(f"run: serving on http://localhost:{env.get('PORT', '8000')} (Ctrl-C stops everything)")

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children:
            if child.poll() is not None:
                print(f"run: {name} exited with {child.returncode}; stopping the others")
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for _, child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
