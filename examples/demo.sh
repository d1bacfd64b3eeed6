#!/usr/bin/env bash
# Demo: build a gitstore store from real customer-care conversations, then look at it
# the way a support lead would: a ticket, its git history, and a verify.
# Usage: ./examples/demo.sh [STORE_DIR]   (default: ./demo-store, rebuilt each run)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/gitstore ]; then
  echo "== setting up .venv (first run only)"
  python3 -m venv .venv
  .venv/bin/pip install -q -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
fi
GS=.venv/bin/gitstore
STORE=${1:-demo-store}
rm -rf "$STORE"
export GITSTORE_ACTOR=demo-importer

echo "== gitstore init $STORE"
$GS init "$STORE"

echo "== import 38 real Twitter customer-care conversations (examples/twitter_care_sample.json)"
$GS -C "$STORE" import twitter-care examples/twitter_care_sample.json

T=TW-OEOTvXJiVzDoI3aOGrDx
echo "== a support agent and an engineer work on ticket $T"
$GS -C "$STORE" --actor alice message add "$T" --internal --sender cs_agent --sender-id alice \
  --type escalation "Customer reports the fix did not help; can engineering check the account?"
echo "== the ticket was resolved (stage end): reopen it, the workflow allows end -> trigger"
$GS -C "$STORE" --actor alice state set "$T" priority=HIGH assigned_member=alice workflow_stage=trigger resolved=false conversation_status=active

echo "== gitstore ticket show $T"
$GS -C "$STORE" ticket show "$T"

echo "== git log of the ticket's files (plain git: one commit per synchronized update)"
git -C "$STORE" log --date=iso-strict --format='%h %ad %an: %s' -- $($GS ticket path "$T")

echo "== gitstore history $T --limit 4"
$GS -C "$STORE" history "$T" --limit 4

echo "== search every conversation (gitstore index rebuild, then gitstore search)"
$GS -C "$STORE" index rebuild
$GS -C "$STORE" search "domain forwarding" --limit 3

echo "== gitstore verify"
$GS -C "$STORE" verify
echo "== git fsck"
git -C "$STORE" fsck --strict && echo "git fsck: ok"
