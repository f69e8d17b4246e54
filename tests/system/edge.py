"""A real nginx with the project's caching configuration (deploy/nginx/aggregator.conf) on loopback.

The file is used as shipped, with only what a machine without Docker must change: the upstream's
address, the listening port, the cache directory; nginx runs in the foreground from a directory of
its own (pid, logs, temporary files), as the current user. Each replacement must match exactly
once, so that a change to the shipped file that these tests no longer cover fails loudly.
"""

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import requests

from tests.system.live import ROOT, free_port, wait_for

CONFIG = ROOT / "deploy" / "nginx" / "aggregator.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def unavailable_reason() -> str | None:
    """Why nginx cannot run here, or None when it can."""
    binary = nginx_binary()
    if binary is None:
        return "nginx is not installed (Debian: apt-get install nginx-light)"
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False).stderr
    if "--without-http-cache" in built or "--without-http_proxy_module" in built:
        return "this nginx is built without the proxy cache"
    return None


def _replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{CONFIG.name}: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


class Nginx:
    """nginx on 127.0.0.1:`port` in front of `upstream` ("127.0.0.1:8000"), caching by the shipped rules."""

    def __init__(self, upstream: str, directory: Path, *, port: int | None = None, workers: int = 1):
        self.port = port or free_port()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        site = CONFIG.read_text()
        site = _replace_once(site, "server web:8000;", f"server {upstream};")
        site = _replace_once(site, "listen 80;", f"listen 127.0.0.1:{self.port};")
        site = _replace_once(site, "/var/cache/nginx/aggregator", str(directory / "cache"))
        (directory / "aggregator.conf").write_text(site)
        temporary = "\n".join(
            f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (directory / "nginx.conf").write_text(
            f"user {getpass.getuser()};\n"
            f"worker_processes {workers};\n"
            f"pid {directory / 'nginx.pid'};\n"
            f"error_log {directory / 'error.log'} warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "    access_log off;\n"
            f"{temporary}\n"
            f"    include {directory / 'aggregator.conf'};\n"
            "}\n"
        )
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        command = [nginx_binary(), "-p", str(self.directory), "-c", str(self.directory / "nginx.conf")]
        self.popen = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for(lambda: self._listening(), timeout=15, what="nginx")
        return self

    def _listening(self) -> bool:
        if self.popen.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.popen.stderr.read().decode(errors='replace')[-2000:]}")
        return requests.get(self.url + "/health", timeout=2).status_code > 0

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def poll_until(check, *, timeout: float, what: str, interval: float = 0.05):
    """Like live.wait_for, at a finer interval: for measuring how soon a change shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
