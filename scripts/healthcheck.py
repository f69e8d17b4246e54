"""Container health check for the web process: exit 0 when GET /health on this container answers 200.

The image's HEALTHCHECK runs it (the image has no curl). It uses only the standard library, so
it starts in milliseconds rather than importing Django every few seconds. The request carries a
Host that ALLOWED_HOSTS accepts: in production that is the public name, not localhost, and Django
would refuse the probe otherwise. /health is exempt from the HTTPS redirect, so plain http works.
"""

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 3


def probe_host() -> str:
    """A Host header this deployment accepts: the first ALLOWED_HOSTS entry, made concrete."""
    allowed = [host.strip() for host in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if host.strip()]
    # ".example.com" allows example.com and its subdomains; "*" allows anything.
    first = allowed[0].lstrip(".") if allowed else ""
    return "localhost" if first in {"", "*"} else first


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/health", headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            healthy = response.status == 200
    except OSError as exc:  # URLError, and HTTPError for an error status, are OSErrors
        print(f"healthcheck: /health unreachable or unhealthy ({exc})")
        return 1
    print("healthcheck: healthy" if healthy else "healthcheck: unexpected answer")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
