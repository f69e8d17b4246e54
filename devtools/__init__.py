"""Development tools: the fake offers service, `manage.py run_fake_offers`, and the script that
takes docs/admin.md's screenshots (`admin_screenshots.py`).

For local runs, tests and benchmarks only. Production settings do not install this app and the
image does not contain it: it is in INSTALLED_APPS only when DEV_TOOLS is true (the test settings,
and `make run`'s .env), it is left out of the Docker build context (.dockerignore), and no
production app imports it (an import-linter contract in .importlinter). docs/development.md.
"""
