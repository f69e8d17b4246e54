"""Reading metrics as Prometheus does, for the tests of the web's and the workers' /metrics."""

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape, read with Prometheus' own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(url: str, **headers) -> tuple[int, str]:
    """GET over real HTTP: the status and the body, also of an error answer."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape_listener(server, token: str) -> tuple[int, str]:
    """One authorized GET /metrics from a metrics listener started on 127.0.0.1, which is then stopped."""
    try:
        return get(f"http://127.0.0.1:{server.server_address[1]}/metrics", Authorization=f"Bearer {token}")
    finally:
        server.shutdown()
        server.server_close()
