#!/usr/bin/env bash
# End-to-end smoke test of a running tickwatch API, local or deployed:
#   scripts/smoke.sh http://127.0.0.1:8080 [API_KEY]
#   scripts/smoke.sh "$(terraform -chdir=terraform output -raw api_url)" "$KEY"
# Prints one PASS/FAIL line per check and exits non-zero if any check fails. With a key it
# also exercises the writes (a throwaway symbol is created and deleted again).
set -uo pipefail
base="${1:?usage: scripts/smoke.sh URL [API_KEY]}"
base="${base%/}"
key="${2:-${API_KEY:-}}"
command -v curl >/dev/null || { echo "error: curl not found: install it (apt-get install curl)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 not found: install it (apt-get install python3)" >&2; exit 2; }

passed=0; failed=0
body="$(mktemp)"; trap 'rm -f "$body"' EXIT

# check NAME STATUS METHOD PATH [PYTHON-EXPR over `j` (parsed JSON) or `t` (text)] [curl args...]
check() {
    local name="$1" want="$2" method="$3" path="$4" expr="${5:-True}"
    shift 5 2>/dev/null || shift $#
    local got
    got="$(curl -sS -o "$body" -w '%{http_code}' -X "$method" --max-time 20 "$@" "$base$path" 2>/dev/null)"
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: $method $path answered $got, expected $want: $(head -c 200 "$body")"
        failed=$((failed + 1)); return
    fi
    if python3 - "$body" "$expr" <<'PY'
import json, sys
t = open(sys.argv[1], encoding="utf-8", errors="replace").read()
try:
    j = json.loads(t)
except ValueError:
    j = None
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    then
        echo "PASS $name"; passed=$((passed + 1))
    else
        echo "FAIL $name: $method $path: unexpected body: $(head -c 300 "$body")"
        failed=$((failed + 1))
    fi
}

check "health reports a reachable database" 200 GET /health 'j["database"] == "up" and len(j["series"]) > 0'
check "openapi document lists the routes" 200 GET /openapi.json '"/v1/prices/{symbol}/history" in j["paths"]'
check "metrics are Prometheus text" 200 GET /metrics '"# TYPE" in t'
check "the watch list is not empty" 200 GET /v1/symbols 'len(j["symbols"]) > 0'
symbol="$(curl -sS --max-time 20 "$base/v1/symbols" | python3 -c 'import json,sys; s=[x["symbol"] for x in json.load(sys.stdin)["symbols"] if x["enabled"]]; print("BTC" if "BTC" in s else s[0])' 2>/dev/null || echo BTC)"
check "latest price of $symbol" 200 GET "/v1/prices/$symbol/latest" 'float(j["close"]) > 0'
check "history pages newest first" 200 GET "/v1/prices/$symbol/history?limit=5" 'len(j["candles"]) == 5 and j["candles"][0]["open_time"] > j["candles"][-1]["open_time"]'
check "history as CSV" 200 GET "/v1/prices/$symbol/history?limit=5&format=csv" 't.splitlines()[0].startswith("symbol") or "open_time" in t.splitlines()[0]'
check "a moving average" 200 GET "/v1/prices/$symbol/ma?window=20&kind=ema" 'len(j["points"]) > 0'
check "anomalies exist after a detector run" 200 GET "/v1/anomalies?limit=5" 'len(j["anomalies"]) > 0 and j["anomalies"][0]["methods"]'
check "every candle of $symbol has a score" 200 GET "/v1/prices/$symbol/scores?limit=5" 'len(j["scores"]) == 5 and j["scores"][0]["score"] is not None'
check "anomaly stats" 200 GET /v1/anomalies/stats 'j["total"] >= 0 and "by_method" in j'
check "latest anomalies of $symbol" 200 GET "/v1/anomalies/$symbol/latest" '"anomalies" in j'
check "an unknown symbol is a 404" 404 GET /v1/prices/NOSUCHSYMBOL/latest 'j["error"]["code"] != ""'
check "a malformed symbol is a 400" 400 GET '/v1/prices/BAD%24SYM/latest' 'j["error"]["code"] != ""'
check "an impossible range is a 422" 422 GET "/v1/prices/$symbol/history?limit=100000" 'j["error"]["code"] != ""'
check "an unknown route is a 404" 404 GET /v1/nothing-here 'j["error"]["code"] != ""'
long_cursor="$(python3 -c 'print("A" * 9000)')"
check "an overlong URL is a 414 with the envelope" 414 GET "/v1/prices/$symbol/history?cursor=$long_cursor" 'j["error"]["code"] == "uri_too_long"'
check "a write without a key is a 401" 401 PUT /v1/symbols/SMOKE 'j["error"]["code"] != ""' \
    -H 'content-type: application/json' --data '{"asset_class":"crypto","provider":"synthetic","provider_id":"smoke","interval":"1m"}'
if [ -n "$key" ]; then
    auth=(-H "authorization: Bearer $key")
    check "a write with the key creates a symbol" 201 PUT /v1/symbols/SMOKE 'True' "${auth[@]}" \
        -H 'content-type: application/json' --data '{"asset_class":"crypto","provider":"synthetic","provider_id":"smoke","interval":"1m"}'
    check "collect-once stores candles" 200 POST /v1/collect/SMOKE 'True' "${auth[@]}"
    check "detector overrides are checked on PUT, naming the field" 422 PUT /v1/symbols/SMOKE \
        'j["error"]["code"] == "invalid_overrides" and "zscore.window" in j["error"]["message"]' "${auth[@]}" \
        -H 'content-type: application/json' \
        --data '{"asset_class":"crypto","provider":"synthetic","provider_id":"smoke","interval":"1m","detector_overrides":{"zscore":{"window":"DROP"}}}'
    big="$(mktemp)"; python3 -c 'print("{\"candles\": [" + "1," * 300000 + "1]}")' > "$big"
    check "an oversized body is a 413 with the envelope" 413 POST /v1/prices/SMOKE/candles \
        'j["error"]["code"] == "payload_too_large"' "${auth[@]}" -H 'content-type: application/json' --data-binary "@$big"
    rm -f "$big"
    # The candle of the minute before the current one, which the collector fetches again.
    minute="$(python3 -c 'import datetime as d; t = d.datetime.now(d.timezone.utc).replace(second=0, microsecond=0) - d.timedelta(minutes=1); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))')"
    check "a correction is stored as one" 200 PUT "/v1/prices/SMOKE/candles/$minute" \
        'j["source"] == "correction" and j["close"] == "1.5"' "${auth[@]}" \
        -H 'content-type: application/json' --data '{"open":"1","high":"2","low":"1","close":"1.5"}'
    check "the collector runs again" 200 POST /v1/collect/SMOKE 'True' "${auth[@]}"
    check "the correction survives the collector" 200 GET "/v1/prices/SMOKE/history?from=$minute&limit=1000" \
        'any(c["open_time"] == "'"$minute"'" and c["close"] == "1.5" and c["source"] == "correction" for c in j["candles"])'
    hour_ago="$(python3 -c 'import datetime as d; t = d.datetime.now(d.timezone.utc).replace(second=0, microsecond=0) - d.timedelta(hours=1); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))')"
    check "repeated open times in a batch are refused with a reason" 200 POST /v1/prices/SMOKE/candles \
        'j["written"] == 0 and [r["reason"] for r in j["rejected"]] == ["duplicate_open_time"] * 2 and j["unchanged"] + j["written"] == 1' "${auth[@]}" \
        -H 'content-type: application/json' \
        --data "{\"candles\":[{\"open_time\":\"$hour_ago\",\"open\":\"1\",\"high\":\"2\",\"low\":\"1\",\"close\":\"1.5\"},{\"open_time\":\"$hour_ago\",\"open\":\"1\",\"high\":\"2\",\"low\":\"1\",\"close\":\"1.6\"},{\"open_time\":\"$minute\",\"open\":\"1\",\"high\":\"2\",\"low\":\"1\",\"close\":\"1.5\"}]}"
    check "the symbol is deleted again" 204 DELETE /v1/symbols/SMOKE 'True' "${auth[@]}"
fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
