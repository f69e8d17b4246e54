#!/usr/bin/env bash
# End-to-end check of the container setup, for real: build the image, bring up the compose stack
# with the demo profile (PostgreSQL, migrate, web, sync, fake offers service), create a product
# through the API with a token, wait for the sync container to mirror its offers, scale the worker
# to two and show that they share each tick's products without fetching any twice, stop everything
# gracefully and remove the volumes. Prints how long each step took.
#
#   scripts/compose-smoke.sh
#   PYTHON_IMAGE=standin/python:3.11 POSTGRES_IMAGE=standin/postgres:15 scripts/compose-smoke.sh
#
# Without a reachable Docker engine it prints "skipped" and exits 0, so CI can always call it.
# It uses its own compose project name, port and throw-away secrets; a developer's .env is not read.
set -euo pipefail
cd "$(dirname "$0")/.."

project=${SMOKE_PROJECT:-aggregator-smoke}
extra_products=${SMOKE_EXTRA_PRODUCTS:-60}

say() { printf 'compose-smoke: %s\n' "$*"; }
skip() { say "skipped: $*"; exit 0; }
fail() { say "FAILED: $*"; exit 1; }

command -v docker >/dev/null 2>&1 || skip "no docker command on this machine"
docker info >/dev/null 2>&1 || skip "the Docker engine is not running or not reachable (docker info failed)"
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
else
  skip "neither 'docker compose' nor 'docker-compose' is installed"
fi
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed on the host"; done

# docker-compose 1.x gives up on an engine call after 60 s; creating a container takes longer than
# that on a slow storage driver (vfs, as on the stand-in machines). Compose v2 ignores this.
export COMPOSE_HTTP_TIMEOUT=${COMPOSE_HTTP_TIMEOUT:-600}

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(40))'; }
# Everything the compose file reads, for this run only (`--env-file` replaces .env). A schedule of
# every 5 s and two fetches at a time keep the run short and let two workers visibly share a tick.
cat >"$work/env" <<EOF
SECRET_KEY=$(random)
CURRENCY=EUR
POSTGRES_PASSWORD=$(random)
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.12-slim-bookworm}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:16-alpine}
AGGREGATOR_IMAGE=${AGGREGATOR_IMAGE:-aggregator:local}
WEB_PORT=127.0.0.1:$port
SYNC_SCHEDULE=*/5 * * * * *
SYNC_CONCURRENCY=2
LOG_FORMAT=json
EOF
compose() { "${compose_cmd[@]}" --env-file "$work/env" --project-name "$project" --profile demo "$@"; }

finished=0
cleanup() {
  local status=$?
  if [[ $finished != 1 ]]; then
    if [[ $status != 0 ]]; then
      say "last log lines of each service:"
      compose logs --no-color --tail 15 2>&1 | sed 's/^/    /' || true
    fi
    compose down --volumes --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

timings=()
step_started=0
step() { step_name=$1; step_started=$(date +%s.%N); say "$step_name ..."; }
step_done() {
  local seconds
  seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$step_started" "$(date +%s.%N)")
  timings+=("$(printf '%-46s %7ss' "$step_name" "$seconds")")
  say "$step_name: ${seconds}s${1:+ ($1)}"
}
# poll DEADLINE_SECONDS COMMAND...: run COMMAND every second until it succeeds.
poll() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 1
  done
}
json() { python3 -c "import json, sys; data = json.load(sys.stdin); print($1)"; }

say "compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo unknown)), project $project"
say "images: python $(grep ^PYTHON_IMAGE= "$work/env" | cut -d= -f2), postgres $(grep ^POSTGRES_IMAGE= "$work/env" | cut -d= -f2)"

step "build the image"
# web, migrate, sync and offers share one image: building it once builds it for all.
compose build web >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "the image did not build"; }
step_done

step "start db, migrate, web, sync, offers"
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up failed"; }
healthy() { [[ $(curl -fsS "$base/health" 2>/dev/null | json 'data["status"]' 2>/dev/null) == healthy ]]; }
poll 300 healthy || fail "GET /health did not answer healthy within 300 s"
step_done "GET /health: $(curl -fsS "$base/health")"

step "create an API token"
token=$(compose exec -T web python manage.py shell --verbosity 0 -c '
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(username="compose-smoke")
user.user_permissions.add(*Permission.objects.filter(content_type__app_label="catalogue", codename="add_product"))
print(Token.objects.get_or_create(user=user)[0].key)' | tail -n 1 | tr -d '\r')
[[ $token =~ ^[0-9a-f]{40}$ ]] || fail "no API token (got: $token)"
step_done

create_product() {
  curl -fsS -X POST "$base/products" -H "Authorization: Token $token" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$1\", \"description\": \"made by compose-smoke\"}"
}
step "create a product and wait for its offers"
product=$(create_product "Smoke test kettle")
product_id=$(json 'data["id"]' <<<"$product")
say "created: $product"
offers_count() { curl -fsS "$base/products/$product_id/offers" | json 'len(data)'; }
has_offers() { [[ $(offers_count 2>/dev/null || echo 0) -gt 0 ]]; }
poll 120 has_offers || fail "the product's offers did not appear within 120 s"
step_done "$(offers_count) offers; product now: $(curl -fsS "$base/products/$product_id")"

step "scale sync to 2 workers"
compose up -d --scale sync=2 --no-recreate >"$work/scale.log" 2>&1 || { cat "$work/scale.log"; fail "scaling failed"; }
grep -v '^$' "$work/scale.log" | sed 's/^/    /'
two_running() { [[ $(docker ps -q --filter "label=com.docker.compose.project=$project" \
  --filter "label=com.docker.compose.service=sync" --filter status=running | wc -l) -eq 2 ]]; }
poll 120 two_running || fail "two sync containers are not running"
step_done

step "add $extra_products products; both workers share the ticks"
for i in $(seq 1 "$extra_products"); do create_product "Smoke test product $i" >/dev/null; done
total=$((extra_products + 1))
mapfile -t workers < <(docker ps -q --filter "label=com.docker.compose.project=$project" \
  --filter "label=com.docker.compose.service=sync")
cycle_logs() {
  for container in "${workers[@]}"; do
    docker logs "$container" 2>&1 | sed "s/^/${container:0:12} /"
  done
}
# Reads the workers' JSON log lines: per tick, how many products each worker synced.
# `share`: succeeds when some tick was shared by both workers and together they synced every
# product exactly once (a product fetched by both would be counted twice). `total`: prints the
# number of products synced over all ticks.
tick_counts() {
  cycle_logs | python3 -c '
import json, re, sys
from collections import defaultdict
mode, total = sys.argv[1], int(sys.argv[2])
ticks = defaultdict(dict)
for line in sys.stdin:
    container, _, text = line.partition(" ")
    try:
        message = json.loads(text)["message"]
    except (ValueError, KeyError, TypeError):
        continue
    found = re.match(r"sync cycle for (\S+) finished: products synced=(\d+)", message)
    if found:
        ticks[found[1]][container] = int(found[2])
if mode == "total":
    print(sum(sum(counts.values()) for counts in ticks.values()))
    sys.exit(0)
for tick in sorted(ticks)[-4:]:
    counts = ticks[tick]
    print(f"    tick {tick}: " + ", ".join(f"worker {c} synced {n}" for c, n in sorted(counts.items()))
          + f" (together {sum(counts.values())} of {total})")
shared = [t for t, counts in ticks.items() if len(counts) == 2 and min(counts.values()) > 0 and sum(counts.values()) == total]
sys.exit(0 if shared else 1)
' "$@"
}
poll 120 tick_counts share "$total" >/dev/null || { tick_counts share "$total" || true; fail "no tick shared by both workers within 120 s"; }
tick_counts share "$total"
# Cross-check with the fake offers service, which counts every offers request it gets: it should
# have answered exactly as many as the workers report having synced (a cycle may be in flight, so
# compare a few times).
fake_requests() {
  compose exec -T offers python -c '
import json, urllib.request
stats = json.load(urllib.request.urlopen("http://127.0.0.1:8001/_control/stats"))
print(sum(stats["offers_requests"].values()))' | tail -n 1 | tr -d '\r'
}
requests_match() { [[ $(fake_requests) == $(tick_counts total 0) ]]; }
poll 20 requests_match || fail "the fake service answered $(fake_requests) offers requests, the workers synced $(tick_counts total 0)"
say "the fake offers service answered $(fake_requests) offers requests; the workers' cycles synced $(tick_counts total 0) products in all: none was fetched twice"
step_done

step "worker liveness probes"
for index in 1 2; do
  compose exec -T --index="$index" sync python manage.py run_sync --check | sed "s/^/    sync #$index: /" \
    || fail "run_sync --check failed in sync #$index"
done
compose ps | sed 's/^/    /'
step_done

step "stop everything (SIGTERM, graceful)"
compose stop >"$work/stop.log" 2>&1
for container in "${workers[@]}"; do
  code=$(docker inspect --format '{{.State.ExitCode}}' "$container")
  say "sync container ${container:0:12} exited with $code"
  [[ $code == 0 ]] || fail "a sync worker did not exit cleanly on SIGTERM"
done
step_done

step "remove containers and volumes (down -v)"
compose down --volumes --remove-orphans >"$work/down.log" 2>&1
finished=1
step_done

say "passed. Timings:"
printf '    %s\n' "${timings[@]}"
