#!/usr/bin/env bash
# Send a work to pidsync, read what became of it, and verify a webhook, with curl and openssl.
# Run: PIDSYNC_URL=... PIDSYNC_CLIENT=... PIDSYNC_SECRET=... \
#      WEBHOOK_BODY_FILE=body.json WEBHOOK_SIGNATURE='t=...,v1=...' bash integrate.sh
set -euo pipefail

# --8<-- [start:sign]
# hmac_hex PAYLOAD: the lower-case hex HMAC-SHA256 of PAYLOAD with the client's secret.
hmac_hex() {
  printf '%s' "$1" | openssl dgst -sha256 -hmac "$PIDSYNC_SECRET" -r | cut -d' ' -f1
}
# --8<-- [end:sign]

# --8<-- [start:send]
source="https://cris.example.edu"
work_id="example-shell-$(openssl rand -hex 4)"
body=$(printf '{"specversion":"1.0","id":"event-%s","source":"%s","type":"work.published","datacontenttype":"application/json","data":{"id":"%s","type":"dataset","title":"Ocean temperatures 2020","publisher":"Example University","publication_date":"2026-03-01","url":"https://repository.example.edu/%s","contributors":[{"given":"Ada","family":"Lovelace"}]}}' \
  "$(openssl rand -hex 16)" "$source" "$work_id" "$work_id")
t=$(date +%s)
answer=$(curl -sS --fail-with-body -X POST "$PIDSYNC_URL/events" \
  -H "Content-Type: application/cloudevents+json" \
  -H "Pidsync-Client: $PIDSYNC_CLIENT" \
  -H "Pidsync-Signature: t=$t,v1=$(hmac_hex "$t.$body")" \
  --data-binary "$body")
receipt=$(printf '%s' "$answer" | grep -o '"receipt": *"[^"]*"' | head -1 | cut -d'"' -f4)
echo "accepted $receipt"
# --8<-- [end:send]

# --8<-- [start:read]
# signed_get TARGET: GET a path (and query) signed over "<t>.GET <target>", exactly as sent.
signed_get() {
  local t; t=$(date +%s)
  curl -sS -w '\n%{http_code}' "$PIDSYNC_URL$1" \
    -H "Pidsync-Client: $PIDSYNC_CLIENT" \
    -H "Pidsync-Signature: t=$t,v1=$(hmac_hex "$t.GET $1")"
}
event_answer=$(signed_get "/events/$receipt")
echo "event $(printf '%s' "$event_answer" | grep -o '"status": *"[^"]*"' | head -1 | cut -d'"' -f4)"
# The source is a URL: percent-encode it as ONE path segment.
encoded_source=$(printf '%s' "$source" | sed -e 's/:/%3A/g' -e 's/\//%2F/g')
for _ in $(seq 40); do  # the worker applies the event within moments
  work_answer=$(signed_get "/works/$encoded_source/$work_id")
  code=$(printf '%s' "$work_answer" | tail -n 1)
  [ "$code" = 200 ] && break
  sleep 0.25
done
echo "work $code"
# --8<-- [end:read]

# --8<-- [start:webhook]
# verify_webhook SIGNATURE_HEADER BODY_FILE: exit 0 only if pidsync signed this body lately.
verify_webhook() {
  local header=$1 file=$2 t="" candidates=() part
  IFS=',' read -ra parts <<< "$header"
  for part in "${parts[@]}"; do
    case "$part" in
      t=*) t=${part#t=} ;;
      v1=*) candidates+=("${part#v1=}") ;;
    esac
  done
  [ -n "$t" ] && [ "${#candidates[@]}" -gt 0 ] || { echo "webhook refused: malformed signature"; return 1; }
  local now; now=$(date +%s)
  [ $((now - t)) -le 300 ] && [ $((t - now)) -le 300 ] || { echo "webhook refused: too old"; return 1; }
  # Sign the raw bytes as received (a file keeps them exact; no trailing newline added).
  local expected
  expected=$( { printf '%s.' "$t"; cat "$file"; } | openssl dgst -sha256 -hmac "$PIDSYNC_SECRET" -r | cut -d' ' -f1)
  for part in "${candidates[@]}"; do
    [ "$part" = "$expected" ] && return 0
  done
  echo "webhook refused: signature does not match"
  return 1
}
verify_webhook "$WEBHOOK_SIGNATURE" "$WEBHOOK_BODY_FILE"
# The same secret signs your requests to pidsync: a captured request replayed here is signed too.
# Only pidsync's own webhooks carry the source "pidsync".
grep -q '"source": *"pidsync"' "$WEBHOOK_BODY_FILE" || { echo "webhook refused: not from pidsync"; exit 1; }
echo "webhook verified $(grep -o '"type": *"[^"]*"' "$WEBHOOK_BODY_FILE" | head -1 | cut -d'"' -f4)"
# --8<-- [end:webhook]
