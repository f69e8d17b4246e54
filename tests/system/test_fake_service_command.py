"""`manage.py run_fake_offers` as a process: it serves until signalled, exits 0, never logs its token."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


class TestCommand:
    @pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
    def test_serves_until_signalled_then_exits_0_without_logging_the_token(self, stop_signal):
        env = {**os.environ, "SECRET_KEY": "test-only", "FAKE_OFFERS_REFRESH_TOKEN": "from-the-environment"}
        command = [sys.executable, "manage.py", "run_fake_offers", "--port", "0", "--latency-ms", "0"]
        command += ["--error-rate", "0.5", "--seed", "3"]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            first_line = process.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+", first_line).group(0)
            assert requests.get(f"{url}/_control/state", timeout=5).json()["faults"]["error_rate"] == 0.5
            assert requests.post(f"{url}/api/v1/auth", headers={"Bearer": "from-the-environment"}, timeout=5).ok

            process.send_signal(stop_signal)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        output = first_line + process.stdout.read()
        assert "INFO" in first_line
        assert "from-the-environment" not in output
        assert "Traceback" not in output
