# read-history.sh: prints the last LINES entries of DEPLOY_DIR/history in a section "@@history".
# Exits with tail's status.
resolve_deploy_dir
echo "@@history"
[ ! -r "$DEPLOY_DIR/history" ] || tail -n "$LINES" -- "$DEPLOY_DIR/history"
