/** Scripts for the user's own steps (hooks), the deploy history and the instances' logs. */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'

/** Exit codes of the hook script, so the client can tell a failed hook from one that ran too long. */
export const HOOK_EXIT = { failed: 80, timedOut: 81, noRelease: 82 } as const

/** Lines of a hook's output that its answer carries back, for the error message. */
export const HOOK_TAIL_LINES = 20

/** What a hook's output lines start with on fd 3, so the client can tell them from other live lines. */
export const HOOK_LINE_PREFIX = 'hook| '

export interface HookParams {
  deployDir: string
  release: string
  fileName: string
  appName: string
  javaOpts: string
  /** The hook's name, for its log and messages: pre-start, pre-switch or post-switch. */
  name: string
  command: string
  /** The new instance's port. */
  port: number
  /** The port that served before this run ('' when none did). */
  previousPort: number | undefined
  /** deploy or rollback. */
  runCommand: string
  timeoutSeconds: number
}

/**
 * What the hook's process runs, as the leader of its own session: the command, and beside it a
 * guard that ends the whole group (SIGTERM, SIGKILL 5 s later) once HOOK_LIMIT seconds have passed.
 * The script that starts the hook enforces hook-timeout itself; the guard, set a little later,
 * bounds the hook when that script is gone (a silent run's shell ended by a lock takeover). It
 * counts whole seconds, so that once the command has ended, nothing of it waits on.
 */
const HOOK_GUARD = `# Only a group of its own is the hook's to end. Where nothing could detach it, it is in the run's
# session: a takeover that ends that session ends the hook with it, and the command runs in place
# of this shell, where the script's SIGTERM at hook-timeout reaches it.
kill -0 -$$ 2>/dev/null || exec sh -c "$HOOK_COMMAND"
sh -c "$HOOK_COMMAND" &
hook_command=$!
(
  hook_left=$HOOK_LIMIT
  while [ "$hook_left" -gt 0 ]; do sleep 1; hook_left=$(( hook_left - 1 )); done
  trap '' TERM
  kill -TERM 0 2>/dev/null
  sleep 5
  kill -KILL 0 2>/dev/null
) &
hook_guard=$!
wait "$hook_command"
hook_status=$?
kill "$hook_guard" 2>/dev/null
exit "$hook_status"`

/**
 * Runs a hook with `sh -c` in the release directory, with the service's environment (the release's
 * env file, JAVA_OPTS) and PORT, PREVIOUS_PORT, RELEASE, RELEASE_DIR, ARTIFACT, APP_NAME and
 * COMMAND. Its output goes to `logs/hook-<name>.log` and, line by line as it comes, to fd 3, which
 * reaches the job log while the hook runs (a migration can take minutes). It runs in a session of
 * its own, so that a hook past its timeout is ended with every child it started: SIGTERM, then
 * SIGKILL 5 s later; it records itself in run/hook.pid, so that a run taking the lock over from
 * this one, silent, ends it (see end_holder).
 */
export function hookScript(p: HookParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      RELEASE: p.release,
      FILE_NAME: p.fileName,
      APP_NAME: p.appName,
      JAVA_OPTS: p.javaOpts,
      HOOK_NAME: p.name,
      HOOK_COMMAND: p.command,
      PORT: p.port,
      PREVIOUS_PORT: p.previousPort ?? '',
      COMMAND: p.runCommand,
      TIMEOUT: Math.ceil(p.timeoutSeconds),
      TAIL_LINES: HOOK_TAIL_LINES,
      HOOK_GUARD,
    },
    `${SHELL_LIB}
cd -- "$DEPLOY_DIR" || exit ${HOOK_EXIT.noRelease}
[ -d "releases/$RELEASE" ] || { echo "error=release_missing"; exit ${HOOK_EXIT.noRelease}; }
log="logs/hook-$HOOK_NAME.log"
: > "$log" || exit ${HOOK_EXIT.failed}
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
      { printf '${HOOK_LINE_PREFIX}%s\\n' "$relay_partial$relay_line" >&3; } 2>/dev/null
      relay_partial=
    else
      relay_partial=$relay_partial$relay_line
      break
    fi
  done
}
relay_rest() {
  relay
  [ -z "$relay_partial" ] || { printf '${HOOK_LINE_PREFIX}%s\\n' "$relay_partial" >&3; } 2>/dev/null
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
[ -n "$timed_out" ] && exit ${HOOK_EXIT.timedOut}
exit ${HOOK_EXIT.failed}`,
  )
}

/** How many entries `<deploy-dir>/history` keeps: the newest, as one JSON line each. */
export const HISTORY_LIMIT = 1000

/**
 * Appends one JSON line to `<deploy-dir>/history` and keeps the file to its last HISTORY_LIMIT
 * lines. The history lives beside `releases/`, never in it, so pruning cannot take it. An append of
 * one short line is atomic, so a failed run's entry cannot tear another's. The trim replaces the
 * file, so a line appended between its read and its rename would be lost: runs send this while they
 * hold the host's lock, one at a time, and each trims through a file of its own.
 */
export function appendHistoryScript(p: { deployDir: string; entry: string }): string {
  if (p.entry.includes('\n')) throw new Error('a history entry is one line')
  return shellScript(
    { DEPLOY_DIR: p.deployDir, ENTRY: p.entry, LIMIT: HISTORY_LIMIT },
    `${SHELL_LIB}
resolve_deploy_dir
cd -- "$DEPLOY_DIR" 2>/dev/null || { echo "history=no_deploy_dir"; exit 0; }
printf '%s\\n' "$ENTRY" >> history || exit 1
# Counting costs a process; trim only once in a while, when the file may have outgrown the limit.
size=$(wc -c < history)
if [ "$size" -gt $(( LIMIT * 200 )) ] && [ "$(wc -l < history)" -gt "$LIMIT" ]; then
  { tail -n "$LIMIT" history > "history.new.$$" && mv -f "history.new.$$" history; } || rm -f "history.new.$$"
fi
echo "history=appended"`,
  )
}

/** The last `lines` entries of `<deploy-dir>/history`, in a section `@@history`. */
export function readHistoryScript(p: { deployDir: string; lines: number }): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir, LINES: p.lines },
    `${SHELL_LIB}
resolve_deploy_dir
echo "@@history"
[ ! -r "$DEPLOY_DIR/history" ] || tail -n "$LINES" -- "$DEPLOY_DIR/history"`,
  )
}

/** The last `lines` lines of each port's log, in sections `@@log_<port>`. Reads only. */
export function readLogsScript(p: { deployDir: string; ports: number[]; lines: number }): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir, PORTS: p.ports.join(' '), LINES: p.lines },
    `${SHELL_LIB}
resolve_deploy_dir
for port in $PORTS; do
  echo "@@log_$port"
  [ ! -r "$DEPLOY_DIR/logs/$port.log" ] || tail -n "$LINES" -- "$DEPLOY_DIR/logs/$port.log"
done`,
  )
}
