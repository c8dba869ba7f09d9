# read-logs.sh: prints the last LINES lines of each port's log (PORTS, separated by spaces) in
# sections "@@log_<port>". Reads only. Exits 0.
resolve_deploy_dir
for port in $PORTS; do
  echo "@@log_$port"
  [ ! -r "$DEPLOY_DIR/logs/$port.log" ] || tail -n "$LINES" -- "$DEPLOY_DIR/logs/$port.log"
done
