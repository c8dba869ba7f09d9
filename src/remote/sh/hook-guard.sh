# hook-guard.sh: what a hook's process runs, as the leader of its own session: HOOK_COMMAND, and
# beside it a guard that ends the whole group (SIGTERM, SIGKILL 5 s later) once HOOK_LIMIT seconds
# have passed. The hook script enforces hook-timeout itself; the guard bounds the hook when that
# script is gone (a silent run's shell ended by a lock takeover). It counts whole seconds, so that
# once the command has ended, nothing of it waits on. Passed to `sh -c` as the variable HOOK_GUARD.
# Exits with the command's status.
# Only a group of its own is the hook's to end. Where nothing could detach it, it is in the run's
# session: a takeover that ends that session ends the hook with it, and the command runs in place
# of this shell, where the script's SIGTERM at hook-timeout reaches it.
kill -0 -$$ 2>/dev/null || exec sh -c "$HOOK_COMMAND"
sh -c "$HOOK_COMMAND" &
hook_command_pid=$!
(
  hook_left=$HOOK_LIMIT
  while [ "$hook_left" -gt 0 ]; do sleep 1; hook_left=$(( hook_left - 1 )); done
  trap '' TERM
  kill -TERM 0 2>/dev/null
  sleep 5
  kill -KILL 0 2>/dev/null
) &
hook_guard_pid=$!
wait "$hook_command_pid"
hook_status=$?
kill "$hook_guard_pid" 2>/dev/null
exit "$hook_status"
