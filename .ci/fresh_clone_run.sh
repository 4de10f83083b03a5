#!/usr/bin/env bash
# Proves `make run` works from a fresh clone with only Python and make: clones the committed
# tree, runs `make run` on a spare port, waits for the demo to serve, checks pages, stops it.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
port="${SMOKE_PORT:-8765}"
trap 'kill -- -"$pid" 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT

git clone --quiet "$src" "$work/zikao"
cd "$work/zikao"
env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL \
    setsid make run PORT="$port" DEMO_CANDIDATES="${SMOKE_CANDIDATES:-300}" >"$work/run.log" 2>&1 &
pid=$!

ok=""
for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
done
if [ -z "$ok" ]; then
    echo "make run did not serve http://127.0.0.1:$port/ ; its output:"
    tail -n 60 "$work/run.log"
    exit 1
fi
home="$(curl -fsS "http://127.0.0.1:$port/")"
grep -q "考生自助服务" <<<"$home" || { echo "home page lacks its title"; exit 1; }
grep -q "202610" <<<"$home" || { echo "home page does not list the demo's latest sitting"; exit 1; }
grep -qi "demo logins\|演示账号" "$work/run.log" || { echo "make run printed no demo logins"; tail -n 40 "$work/run.log"; exit 1; }
echo "make run from a fresh clone: served the demo on port $port"
