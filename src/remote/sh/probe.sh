# probe.sh: one health probe of each port in PORTS (separated by spaces) at HEALTH_PATH, ok when
# it answers 2xx with HEALTH_EXPECT in the body (when set).
# Prints probe=<port> <http status> <ok|fail> for each. Exits 0.
body=$(mktemp)
for port in $PORTS; do
  code=$(http_status "http://127.0.0.1:$port$HEALTH_PATH" "$body" 5)
  verdict=fail
  case "$code" in 2??) { [ -z "$HEALTH_EXPECT" ] || grep -q -F -- "$HEALTH_EXPECT" "$body"; } && verdict=ok ;; esac
  echo "probe=$port $code $verdict"
done
rm -f -- "$body"
