"""Screenshots of the admin's main pages for docs/admin.md, from a seeded local run.

    make run                                               # in another terminal
    .venv/bin/python devtools/admin_screenshots.py --seed  # products, webhooks, alerts; then the pictures
    .venv/bin/python devtools/admin_screenshots.py         # the pictures again, from what is there

`--seed` makes an admin user (and its API token) with `manage.py`, adds 31 products, two webhook
endpoints on a receiver this script runs (one answering 204, one 500) and eight alerts through the
API, then waits for four sync cycles and for deliveries to both endpoints, so every page has
something to show. The receiver answers as long as the script runs (on --receiver-port, the port
--seed registered), so the healthy endpoint stays healthy when the pictures are made again.
The pictures are Debian's chromium, headless, driven by Selenium through /usr/bin/chromedriver,
at 1400 × 900, written to docs/admin/ (PNG).
"""

import argparse
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "admin"
WIDTH, HEIGHT = 1400, 900
USERNAME = "admin"
PASSWORD = "admin-screenshots-local"  # a local run's admin, made by --seed; never a deployment's
THINGS = [
    "kettle", "mug", "lamp", "chair", "teapot", "blender", "toaster", "skillet", "wok", "grater", "whisk",
    "carafe", "tumbler", "bowl", "platter", "jug", "vase", "clock", "mirror", "shelf", "stool", "rug",
    "cushion", "blanket", "towel", "basket", "rack", "tray", "ladle", "colander", "candle",
]  # fmt: skip
COLOURS = ["Red", "Blue", "Green", "Black", "White", "Silver", "Yellow"]


def log(message: str) -> None:
    print(f"screenshots: {message}", flush=True)


# -- seeding ------------------------------------------------------------------------------------


class Receiver(http.server.ThreadingHTTPServer):
    """Webhook receiver: /ok answers 204, anything else 500."""

    def __init__(self, port: int):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204 if self.path == "/ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)


def manage_shell(code: str) -> str:
    """The last line `manage.py shell -c code` printed."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip().splitlines()[-1]


def api(base: str, token: str, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def seed(base: str, receiver_port: int) -> None:
    code = (
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        f"u, _ = get_user_model().objects.get_or_create(username={USERNAME!r});"
        "u.is_staff = u.is_superuser = True;"
        f"u.set_password({PASSWORD!r}); u.save();"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    token = manage_shell(code)
    products = [
        api(base, token, "POST", "/products", {"name": f"{COLOURS[n % len(COLOURS)]} {thing}", "description": ""})
        for n, thing in enumerate(THINGS)
    ]
    log(f"{len(products)} products added")
    ok = api(base, token, "POST", "/webhooks", {"url": f"http://127.0.0.1:{receiver_port}/ok", "description": "shop"})
    broken = api(
        base, token, "POST", "/webhooks", {"url": f"http://127.0.0.1:{receiver_port}/broken", "description": "crm"}
    )
    log("waiting for the first products' offers (a sync cycle every 30 s)")
    first = products[0]["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not api(base, token, "GET", f"/products/{first}/offers"):
        time.sleep(5)
    offers = api(base, token, "GET", f"/products/{first}/offers") or []
    best = min((o["price"] for o in offers if o["items_in_stock"] > 0), default=10000)
    alerts = [
        (ok, products[0]["id"], "price_below", best + best // 10),
        (ok, products[1]["id"], "price_below", 8000),
        (ok, products[2]["id"], "price_drop", 5),
        (ok, None, "price_drop", 1),
        (broken, None, "price_drop", 1),
        (broken, products[3]["id"], "back_in_stock", None),
        (broken, products[4]["id"], "out_of_stock", None),
        (ok, products[5]["id"], "back_in_stock", None),
    ]
    for endpoint, product_id, kind, threshold in alerts:
        body = {"webhook_id": endpoint["id"], "product_id": product_id, "kind": kind, "threshold": threshold}
        api(base, token, "POST", "/alerts", body)
    api(base, token, "POST", f"/webhooks/{ok['id']}/ping")
    log(f"{len(alerts)} alerts added; waiting for deliveries to both endpoints and four sync cycles")
    deadline = time.monotonic() + 360
    while time.monotonic() < deadline:
        delivered = [api(base, token, "GET", f"/webhooks/{e['id']}/deliveries") for e in (ok, broken)]
        counts = [len(d["results"] if isinstance(d, dict) else d) for d in delivered]
        cycles = int(manage_shell("from offers_sync.models import SyncRun; print(SyncRun.objects.count())"))
        if all(counts) and counts[1] >= 3 and cycles >= 4:
            break
        time.sleep(10)
    log(f"deliveries {counts}, sync cycles {cycles}")


# -- pictures -----------------------------------------------------------------------------------


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--lang=en-US"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    # The window's size includes no browser chrome headless, but make the page's viewport exact.
    metrics = {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    return driver


def first_link(driver, pattern: str) -> str:
    """The first link on the page whose href matches `pattern`."""
    for href in re.findall(r'href="([^"]+)"', driver.page_source):
        href = href.replace("&amp;", "&")
        if re.search(pattern, href):
            return href
    raise SystemExit(f"screenshots: no link matching {pattern} on {driver.current_url}")


def shoot(driver, base: str, path: str, name: str, *, scroll_to: str | None = None) -> None:
    driver.get(base + path)
    if scroll_to:
        driver.execute_script(f"document.querySelector({scroll_to!r}).scrollIntoView()")
    time.sleep(0.3)
    target = OUT / f"{name}.png"
    driver.save_screenshot(str(target))
    log(f"{target.relative_to(ROOT)} ({target.stat().st_size // 1024} kB): {path}")


def pictures(base: str) -> None:
    from selenium.webdriver.common.by import By

    OUT.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        driver.get(base + "/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(USERNAME)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        shoot(driver, base, "/admin/", "index")
        shoot(driver, base, "/admin/offers_sync/syncstatus/", "status")
        shoot(driver, base, "/admin/offers_sync/syncstatus/", "status-chart", scroll_to="#webhook-health")
        shoot(driver, base, "/admin/catalogue/product/", "products")
        product = first_link(driver, r"/admin/catalogue/product/[0-9a-f-]{36}/change/")
        shoot(driver, base, product, "product")
        shoot(driver, base, product, "product-offers", scroll_to="fieldset:nth-of-type(2)")
        shoot(driver, base, product, "product-history", scroll_to="#price-history")
        shoot(driver, base, "/admin/offers_sync/offer/", "offers")
        shoot(driver, base, first_link(driver, r"/admin/offers_sync/offer/[0-9a-f-]{36}/change/"), "offer")
        shoot(driver, base, "/admin/price_history/priceevent/", "price-events")
        shoot(driver, base, "/admin/offers_sync/syncrun/", "sync-runs")
        shoot(driver, base, "/admin/alerts/webhookendpoint/", "endpoints")
        driver.get(base + "/admin/alerts/webhookendpoint/?state=failing")
        shoot(driver, base, first_link(driver, r"/admin/alerts/webhookendpoint/[0-9a-f-]{36}/change/"), "endpoint")
        shoot(driver, base, "/admin/alerts/delivery/", "deliveries")
        # A delivery to the failing endpoint: its attempts and the Retry button.
        driver.get(base + "/admin/alerts/delivery/?status__exact=pending")
        shoot(driver, base, first_link(driver, r"/admin/alerts/delivery/[0-9a-f-]{36}/change/"), "delivery")
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        driver.execute_script("document.querySelector('details').scrollIntoView()")
        time.sleep(0.2)
        driver.save_screenshot(str(OUT / "delivery-body.png"))
        log("docs/admin/delivery-body.png: the same, its body unfolded")
        shoot(driver, base, "/admin/alerts/alert/", "alerts")
        shoot(driver, base, first_link(driver, r"/admin/alerts/alert/[0-9a-f-]{36}/change/"), "alert")
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    parser.add_argument("--seed", action="store_true", help="add products, webhooks and alerts first, and wait")
    parser.add_argument("--receiver-port", type=int, default=8765, help="the webhook receiver's port (--seed)")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    deadline = time.monotonic() + 60  # a `make run` started just before is still migrating
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=10)
            break
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"screenshots: nothing answers at {base} ({error}); start `make run` first") from None
            time.sleep(2)
    # The seeded endpoints' receiver answers while the pictures are taken too, so the healthy one stays so.
    receiver = Receiver(args.receiver_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        if args.seed:
            seed(base, args.receiver_port)
        pictures(base)
    finally:
        receiver.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
