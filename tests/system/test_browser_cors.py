"""A browser on another origin reads the API with fetch(): headless Chromium, as a comparison site's page would.

The page is served from one port and the API (Django's live server) from another, so they are
different origins and every rule of CORS applies: a plain read, a read with `If-None-Match` (which
takes a preflight), and a request with a token from an origin not in CORS_TOKEN_ORIGINS, which the
browser must refuse to hand to the page. The page writes what it got into the DOM, and Chromium's
`--dump-dom` prints it once the page's work is done.

Skipped where Chromium is not installed (failed in CI, tests/tools.py).
"""

import functools
import json
import re
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.tests.factories import OfferFactory
from tests.tools import chromium

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = """<!doctype html>
<html><body><pre id="out">pending</pre><script>
const api = "%(api)s";
async function attempt(name, path, headers) {
  try {
    const response = await fetch(api + path, {headers});
    return [name, {status: response.status, etag: response.headers.get("ETag"), body: await response.text()}];
  } catch (error) {
    return [name, {error: String(error)}];
  }
}
(async () => {
  const plain = await attempt("plain", "%(path)s", {});
  const etag = plain[1].etag || "none";
  const results = Object.fromEntries([
    plain,
    await attempt("revalidated", "%(path)s", {"If-None-Match": etag}),
    await attempt("with_token", "%(path)s", {"Authorization": "Token not-a-listed-origin"}),
  ]);
  document.getElementById("out").textContent = "RESULT " + JSON.stringify(results);
})();
</script></body></html>
"""


@pytest.fixture
def page_origin(tmp_path):
    """A static web server on its own port: the other origin."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_page(url: str, profile) -> dict:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", url,
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    match = re.search(r"RESULT (\{.*\})</pre>", dom, re.S)
    assert match, f"the page did not finish: {dom[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_a_page_on_another_origin_reads_offers_with_fetch(live_server, page_origin, tmp_path_factory):
    product = ProductFactory(name="Kettle")
    OfferFactory(product=product, price=1299, items_in_stock=2)
    directory, origin = page_origin
    assert origin != live_server.url
    (directory / "page.html").write_text(PAGE % {"api": live_server.url, "path": f"/products/{product.id}/offers"})

    results = run_page(f"{origin}/page.html", tmp_path_factory.mktemp("chromium"))

    plain = results["plain"]
    assert plain["status"] == 200, results
    assert [offer["price"] for offer in json.loads(plain["body"])] == [1299]
    assert plain["etag"], "ETag must be exposed to the page"
    # The preflight for If-None-Match was answered, and the browser's revalidation came back.
    assert results["revalidated"].get("status") in {200, 304}, results
    # A token from an origin not in CORS_TOKEN_ORIGINS: the browser keeps the answer from the page.
    assert "error" in results["with_token"], results
