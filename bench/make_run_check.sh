#!/usr/bin/env bash
# `make run` on a fresh clone, with no credentials: within two minutes the Salesforce stand-in must hold
# orders with items, accounts with analytics and cart records, and the admin must show the audit trail.
#
#   bench/make_run_check.sh                 # a `git clone` of this repository (what is committed)
#   bench/make_run_check.sh --working-tree  # a copy of the working tree instead (uncommitted work)
#
# The clone reuses this checkout's .venv (so no package download); everything else starts from nothing:
# no .env, no database, no CA. Ports are free ones. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$PWD
PYTHON=$PROJECT/.venv/bin/python
BUDGET=120
WORK=$(mktemp -d -t b2s-make-run-XXXXXX)
RUN_PID=""

cleanup() {
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    # SIGTERM (a background job ignores SIGINT); b2s.run then stops the servers it started.
    kill -TERM -- "-$RUN_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${1:-}" = "--working-tree" ]; then
  mkdir -p "$WORK/b2s"
  tar --exclude=./.venv --exclude=./.git --exclude='./db.sqlite3*' --exclude=./.env --exclude=./.sandbox \
      --exclude=./staticfiles --exclude='*/__pycache__' -cf - . | tar -xf - -C "$WORK/b2s"
else
  git clone --quiet "$PROJECT" "$WORK/b2s"
fi
cd "$WORK/b2s"
ln -s "$PROJECT/.venv" .venv
# The Makefile reinstalls when requirements.txt is newer than the virtualenv's stamp; this one is current.
touch -d "2000-01-01" requirements.txt

read -r WEB SF BC < <("$PYTHON" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)

env -u DJANGO_SETTINGS_MODULE -u DATABASE_URL -u REDIS_URL \
  $(env | grep -oE '^(SALESFORCE|BIGCOMMERCE)_[A-Z_]+' | sed 's/^/-u /') \
  B2S_ADDRESS="127.0.0.1:$WEB" SANDBOX_SALESFORCE_PORT="$SF" SANDBOX_BIGCOMMERCE_PORT="$BC" PYTHONUNBUFFERED=1 \
  setsid make run >"$WORK/make-run.log" 2>&1 &
RUN_PID=$!
STARTED=$(date +%s)
echo "make run started in $WORK/b2s (web $WEB, Salesforce stand-in $SF, BigCommerce stand-in $BC)"

until grep -qs "Press Ctrl-C to stop." "$WORK/make-run.log"; do
  if ! kill -0 "$RUN_PID" 2>/dev/null; then
    echo "make run exited early:"; tail -40 "$WORK/make-run.log"; exit 1
  fi
  if [ $(( $(date +%s) - STARTED )) -gt $BUDGET ]; then
    echo "make run was not ready within $BUDGET s:"; tail -40 "$WORK/make-run.log"; exit 1
  fi
  sleep 1
done
ELAPSED=$(( $(date +%s) - STARTED ))
echo "ready after ${ELAPSED} s"

"$PYTHON" - "$WORK" "$WEB" "$SF" <<'EOF'
import re
import sys
from pathlib import Path

import requests

work, web, sf = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
log = (work / "make-run.log").read_text()
session = requests.Session()
session.trust_env = False
state = session.get(
    f"https://127.0.0.1:{sf}/__sandbox__/state", verify=str(work / "b2s/.sandbox/tls/ca.pem"), timeout=10
).json()
records = state["records"]
orders, items = records.get("Order", []), records.get("OrderItem", [])
problems = []
if not {item["OrderId"] for item in items} & {order["Id"] for order in orders}:
    problems.append("no Order with items")
analysed = [a for a in records.get("Account", []) if a.get("CLV__c") and a.get("Customer_Tier__c") and a.get("RFM_Score__c")]
if not analysed:
    problems.append("no Account with lifetime value, tier and RFM")
if not (records.get("Opportunity") or records.get("Lead")) or not records.get("Task"):
    problems.append("no cart records (Opportunity or Lead, and Task)")
if not state.get("events"):
    problems.append("no platform event")
match = re.search(r"password:?\s+([A-Za-z0-9_\-]{8,})", log)
if not match:
    problems.append("no admin password printed")
else:
    base = f"http://127.0.0.1:{web}"
    admin = requests.Session()
    admin.trust_env = False
    admin.get(f"{base}/admin/login/", timeout=10)
    admin.post(
        f"{base}/admin/login/",
        data={"username": "admin", "password": match.group(1), "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    audit = admin.get(f"{base}/admin/audit/auditlog/", timeout=10)
    if audit.status_code != 200 or ("ORDER_SYNC" not in audit.text and "order sync" not in audit.text.lower()):
        problems.append(f"the admin shows no order sync in the audit trail ({audit.status_code})")
print(
    f"Salesforce stand-in: {len(orders)} orders, {len(items)} order items, {len(records.get('Account', []))} accounts "
    f"({len(analysed)} with analytics), {len(records.get('Opportunity', []))} opportunities, "
    f"{len(records.get('Lead', []))} leads, {len(records.get('Task', []))} tasks, {len(state.get('events', []))} events"
)
for problem in problems:
    print("FAIL:", problem)
sys.exit(1 if problems else 0)
EOF
echo "make run: OK within ${ELAPSED} s (budget ${BUDGET} s)"
