# append-history.sh: appends ENTRY (one JSON line) to DEPLOY_DIR/history and keeps the file to
# its last LIMIT lines, trimming only once the file may have outgrown them.
# Prints history=appended, or history=no_deploy_dir. Exits 0, or 1 when it cannot append.
resolve_deploy_dir
cd -- "$DEPLOY_DIR" 2>/dev/null || { echo "history=no_deploy_dir"; exit 0; }
printf '%s\n' "$ENTRY" >> history || exit 1
# Counting costs a process; trim only once in a while, when the file may have outgrown the limit.
size=$(wc -c < history)
if [ "$size" -gt $(( LIMIT * 200 )) ] && [ "$(wc -l < history)" -gt "$LIMIT" ]; then
  { tail -n "$LIMIT" history > "history.new.$$" && mv -f "history.new.$$" history; } || rm -f "history.new.$$"
fi
echo "history=appended"
