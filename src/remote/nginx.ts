/** The switch: point nginx's include at a port, safely, and make sure nginx took it. */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'

export interface SwitchParams {
  include: string
  /** The include's new text. */
  content: string
  testCommand: string
  reloadCommand: string
  /** Text that identifies our nginx master's command line (its -c path), or '' for any. */
  masterHint: string
  verifyUrl: string
  verifyTimeoutSeconds: number
  intervalSeconds: number
  /** How long to wait for the reload to take effect. */
  reloadTimeoutSeconds: number
  /** The release's state file (RELEASE_STATE_FILE), set to `served` once the switch has succeeded; '' for none. */
  releaseStateFile: string
}

export const SWITCH_EXIT = { writeFailed: 60, testFailed: 61, reloadFailed: 62, notTaken: 63, verifyFailed: 64 } as const

/**
 * Writes the new include beside the old one and moves it into place, tests the configuration
 * (restoring the old include byte for byte if the test fails), reloads, waits until the old nginx
 * workers stop taking connections, then fetches the verify URL. If that fails, the old include is
 * put back and nginx reloaded again (`rolled_back=yes`).
 */
export function switchScript(p: SwitchParams): string {
  return shellScript(
    {
      INCLUDE: p.include,
      CONTENT: p.content,
      TEST_COMMAND: p.testCommand,
      RELOAD_COMMAND: p.reloadCommand,
      MASTER_HINT: p.masterHint,
      VERIFY_URL: p.verifyUrl,
      VERIFY_TIMEOUT: Math.ceil(p.verifyTimeoutSeconds),
      INTERVAL: p.intervalSeconds,
      RELOAD_TIMEOUT: Math.ceil(p.reloadTimeoutSeconds),
      RELEASE_STATE_FILE: p.releaseStateFile,
    },
    `${SHELL_LIB}
case "$INCLUDE" in */*) dir=\${INCLUDE%/*}; dir=\${dir:-/} ;; *) dir=. ;; esac
if [ -w "$dir" ] && { [ ! -e "$INCLUDE" ] || [ -w "$INCLUDE" ]; }; then as=; else as="sudo -n"; fi
fresh="$INCLUDE.zdd-new"
saved="$INCLUDE.zdd-old"
had_old=no
[ -e "$INCLUDE" ] && had_old=yes

if [ -z "$as" ]; then
  write_fresh() { printf '%s\\n' "$CONTENT" > "$fresh"; }
else
  write_fresh() { printf '%s\\n' "$CONTENT" | $as tee -- "$fresh" > /dev/null; }
fi
if ! write_fresh; then
  $as rm -f -- "$fresh" 2>/dev/null
  echo "error=include_write"; exit ${SWITCH_EXIT.writeFailed}
fi
if [ "$had_old" = yes ] && ! $as cp -p -- "$INCLUDE" "$saved"; then
  $as rm -f -- "$fresh"
  echo "error=include_write"; exit ${SWITCH_EXIT.writeFailed}
fi
$as mv -f -- "$fresh" "$INCLUDE" || { echo "error=include_write"; exit ${SWITCH_EXIT.writeFailed}; }

# Runs a user's command line as sh -c would, in a subshell of this one: one process fewer.
run_command() { set +u; zdd_command=$1; shift; eval "$zdd_command"; }

restore() {
  if [ "$had_old" = yes ]; then $as mv -f -- "$saved" "$INCLUDE"; else $as rm -f -- "$INCLUDE"; fi
}

# Status 0 when none of the nginx workers given still takes connections: each has exited or calls
# itself "shutting down". Read by the shell alone: this runs every 20 ms while the old workers close
# their idle connections, and a process started then takes CPU from the clients they close on.
workers_retired() {
  for worker in "$@"; do
    title=
    { IFS= read -r title < "/proc/$worker/cmdline"; } 2>/dev/null
    case "$title" in '' | *'shutting down'*) ;; *) return 1 ;; esac
  done
}

# Prints reload=observed once every old worker has stopped taking connections and a new one runs.
reload_and_wait() {
  workers=$(nginx_workers "$MASTER_HINT")
  before=" "
  for worker in $workers; do before="$before$worker "; done
  if ! out=$(run_command "$RELOAD_COMMAND" 2>&1); then
    echo "error=reload_failed"; echo "@@reload_output"; echo "$out"; return 2
  fi
  if [ -z "$workers" ]; then echo "reload=unobserved"; sleep 1; return 0; fi
  clock; deadline=$(( NOW + RELOAD_TIMEOUT ))
  while :; do
    # The full scan only once the old workers have all retired: it must also find a new one.
    if workers_retired $workers; then
      current=$(nginx_workers "$MASTER_HINT")
      taken=yes
      [ -n "$current" ] || taken=no
      for worker in $current; do
        case "$before" in *" $worker "*) taken=no ;; esac
      done
      if [ "$taken" = yes ]; then echo "reload=observed"; return 0; fi
    fi
    if clock; [ "$NOW" -ge "$deadline" ]; then echo "reload=not_taken"; return 1; fi
    sleep 0.02
  done
}

if ! out=$(run_command "$TEST_COMMAND" 2>&1); then
  restore
  echo "error=nginx_test"
  echo "@@test_output"; echo "$out"
  exit ${SWITCH_EXIT.testFailed}
fi

reload_and_wait
status=$?
if [ "$status" != 0 ]; then
  restore
  if [ "$status" = 2 ]; then exit ${SWITCH_EXIT.reloadFailed}; fi
  # nginx kept its old workers, so it still serves the old port; make the include say so again.
  (run_command "$RELOAD_COMMAND") > /dev/null 2>&1
  echo "error=reload_not_taken"; exit ${SWITCH_EXIT.notTaken}
fi

if [ -n "$VERIFY_URL" ]; then
  body=$(mktemp)
  clock; deadline=$(( NOW + VERIFY_TIMEOUT ))
  while :; do
    code=$(http_status "$VERIFY_URL" "$body" 5)
    case "$code" in 2??) echo "verify=ok"; break ;; esac
    if clock; [ "$NOW" -ge "$deadline" ]; then
      echo "verify=failed"; echo "verify_status=$code"
      restore
      reload_and_wait > /dev/null
      echo "rolled_back=yes"
      rm -f -- "$body"
      exit ${SWITCH_EXIT.verifyFailed}
    fi
    sleep "$INTERVAL"
  done
  rm -f -- "$body"
fi
$as rm -f -- "$saved"
[ -z "$RELEASE_STATE_FILE" ] || printf 'served\n' 2>/dev/null > "$RELEASE_STATE_FILE" || :
echo "switched=yes"`,
  )
}
