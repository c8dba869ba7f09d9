# hook.sh: runs a hook (HOOK_COMMAND, named HOOK_NAME) with `sh -c` in releases/$RELEASE, with the
# service's environment (the release's env file, JAVA_OPTS) and PORT, PREVIOUS_PORT, RELEASE,
# RELEASE_DIR, ARTIFACT, APP_NAME and COMMAND, in a session of its own (see hook-guard.sh, passed
# as HOOK_GUARD). Its output goes to logs/hook-$HOOK_NAME.log and, line by line, to fd 3 with
# HOOK_LINE_PREFIX. Past TIMEOUT seconds its group gets SIGTERM, then SIGKILL 5 s later. It
# records itself in run/hook.pid, so that a run taking the lock over from this one ends it.
# Takes DEPLOY_DIR, RELEASE, FILE_NAME, APP_NAME, JAVA_OPTS, HOOK_NAME, HOOK_COMMAND, PORT,
# PREVIOUS_PORT, COMMAND, TIMEOUT, TAIL_LINES, HOOK_GUARD, HOOK_LINE_PREFIX and the exit statuses
# EXIT_FAILED, EXIT_TIMED_OUT, EXIT_NO_RELEASE (HOOK_EXIT).
# Prints hook_pid=, hook_status=, hook=ok|failed|timeout, and after "@@hook_tail" the last
# TAIL_LINES lines of the log when it did not succeed. Exits 0, or with one of those statuses.
cd -- "$DEPLOY_DIR" || exit "$EXIT_NO_RELEASE"
[ -d "releases/$RELEASE" ] || { echo "error=release_missing"; exit "$EXIT_NO_RELEASE"; }
log="logs/hook-$HOOK_NAME.log"
: > "$log" || exit "$EXIT_FAILED"
[ -d run ] || mkdir -p run
deploy_root=$PWD
# The hook records itself (pid, identity, and this run's shell) before it runs anything, so that a
# run which takes the lock over from this one, silent, ends it too (see end_holder).
(
  cd -P -- "releases/$RELEASE" || exit 97
  RELEASE_DIR=$PWD
  ARTIFACT="$PWD/$FILE_NAME"
  SERVER_PORT=$PORT
  export PORT SERVER_PORT PREVIOUS_PORT RELEASE RELEASE_DIR ARTIFACT APP_NAME COMMAND JAVA_OPTS
  # shellcheck disable=SC1091 # the release's env file, written by finalize-release.sh
  [ ! -r ./env ] || . ./env || exit 98
  self_pid
  proc_id "$SELF_PID"
  printf '%s\n%s\nholder=%s\n' "$SELF_PID" "$PROC_ID" "$$" > "$deploy_root/run/hook.pid" || exit 96
  HOOK_LIMIT=$(( TIMEOUT + 2 ))
  export HOOK_COMMAND HOOK_LIMIT
  exec_detached sh -c "$HOOK_GUARD" zdd-hook
) < /dev/null >> "$log" 2>&1 3>&- &
hook=$!
echo "hook_pid=$hook"

# Passes on the lines the hook has written since the last call. fd 3 is absent when the script runs
# on its own; the hook's output is still in its log then. A line only partly written yet waits for
# its end (or the hook's): the client masks a secret within one line, and a secret printed in two
# writes must not reach the job log as two harmless pieces.
exec 4< "$log"
relay_partial=
relay() {
  while :; do
    relay_line=
    if IFS= read -r relay_line <&4; then
      { printf '%s%s\n' "$HOOK_LINE_PREFIX" "$relay_partial$relay_line" >&3; } 2>/dev/null
      relay_partial=
    else
      relay_partial=$relay_partial$relay_line
      break
    fi
  done
}
relay_rest() {
  relay
  [ -z "$relay_partial" ] || { printf '%s%s\n' "$HOOK_LINE_PREFIX" "$relay_partial" >&3; } 2>/dev/null
  relay_partial=
}

clock; deadline=$(( NOW + TIMEOUT ))
timed_out=
while pid_alive "$hook"; do
  relay
  if clock; [ "$NOW" -ge "$deadline" ]; then
    timed_out=1
    signal_group TERM "$hook"
    clock; grace=$(( NOW + 5 ))
    while alive "$hook" && clock && [ "$NOW" -lt "$grace" ]; do sleep 0.1; done
    alive "$hook" && signal_group KILL "$hook"
    break
  fi
  sleep 0.2
done
wait "$hook" 2>/dev/null
status=$?
rm -f -- run/hook.pid
relay_rest
exec 4<&-
echo "hook_status=$status"
if [ -n "$timed_out" ]; then
  echo "hook=timeout"
elif [ "$status" = 0 ]; then
  echo "hook=ok"; exit 0
else
  echo "hook=failed"
fi
echo "@@hook_tail"
tail -n "$TAIL_LINES" -- "$log"
[ -n "$timed_out" ] && exit "$EXIT_TIMED_OUT"
exit "$EXIT_FAILED"
