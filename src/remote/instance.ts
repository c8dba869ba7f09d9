/** Scripts that run the service: free a port, start a release there, check its health, stop it. */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'
import { SYSTEMCTL_LIB, type UnitTarget, dropInText, instanceConfText, launcherText, unitFileText, unitVars } from './systemd.js'

export interface FreePortParams {
  deployDir: string
  port: number
  stopTimeoutSeconds: number
  /** The host's systemd, when usable: a unit of this app on the port is stopped and disabled first. */
  unit?: UnitTarget
}

/** Exit codes of the instance scripts, so the client can tell the failures apart. */
export const INSTANCE_EXIT = { portBusy: 50, startFailed: 51, exited: 52, unhealthy: 53, notOurs: 54 } as const

/**
 * Names the process $1 that holds the port, for the client to judge and, should it take it over,
 * to make sure it signals that very process: its start time (field 22 of its stat), which a reused
 * pid does not share. Its whole command line, arguments joined by spaces (newlines too), cut at
 * 2000 characters: the jar it runs may come after many options.
 */
const REPORT_HOLDER = `
report_holder() {
  proc_start "$1" || PROC_START=
  echo "holder_pid=$1"
  echo "holder_start=$PROC_START"
  echo "holder_command=$(tr '\\0\\n' '  ' < "/proc/$1/cmdline" 2>/dev/null | cut -c1-2000)"
}
`

/**
 * freePortScript's exit when a process this action did not start holds the port: it is named
 * (`holder_pid`, `holder_start`, `holder_command`) and left alone. Whether it is this service after
 * all (a JVM of a script-era deploy, see same-service.ts) the client decides; only then does it
 * send `takeOverScript`.
 */
export const PORT_HELD_EXIT = 58

/**
 * Frees a port: stops our instance there (SIGTERM, SIGKILL after the timeout; once it has closed
 * its listener it may finish in the background, still bounded by the timeout), and confirms that
 * nothing listens any more. Any other process listening there is never signalled: it is named, and
 * the script exits with PORT_HELD_EXIT.
 */
export function freePortScript(p: FreePortParams): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir, PORT: p.port, STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds), ...unitVars(p.unit, p.port) },
    `${SHELL_LIB}${SYSTEMCTL_LIB}${REPORT_HOLDER}
cd -- "$DEPLOY_DIR" || exit ${INSTANCE_EXIT.startFailed}
port_free=
# A unit of this app on the port is stopped and disabled first: systemd would start it again.
unit_retire
# A pid file that names a process which is not ours (see find_instance) is stale: nothing is
# signalled on its word, and it is removed below.
if find_instance "$PORT"; then
  old=$INSTANCE_PID
  echo "idle_pid=$old"
  # Once it has closed its listener, its sockets differ: the kernel's tables (see port_in_use) are
  # read only then, or every 0.2 s for a listener this watch cannot see.
  sockets_of "$old"; watched=$SOCKETS looks=0
  signal_group TERM "$old"
  clock; deadline=$(( NOW + STOP_TIMEOUT ))
  while alive "$old"; do
    sockets_of "$old"; looks=$(( looks + 1 ))
    if { [ "$SOCKETS" != "$watched" ] || [ $(( looks % 10 )) = 0 ]; } && watched=$SOCKETS && ! port_in_use "$PORT"; then
      port_free=yes
      # The port is free: a JVM closes its listener first and may take seconds more to finish.
      # The new instance need not wait for that; a watchdog still ends it at stop-timeout, once it
      # has made sure the pid is still our instance's. It must not hold the session's fd 3 open.
      (
        while alive "$old" && clock && [ "$NOW" -lt "$deadline" ]; do sleep 0.5; done
        if alive "$old" && is_our_instance "$old" "$INSTANCE_ID" "$INSTANCE_RELEASE"; then signal_group KILL "$old"; fi
      ) < /dev/null > /dev/null 2>&1 3>&- &
      echo "draining=$old"
      break
    fi
    if clock; [ "$NOW" -ge "$deadline" ]; then
      # Only while it is still our instance: it may have ended meanwhile, and its pid been reused.
      if is_our_instance "$old" "$INSTANCE_ID" "$INSTANCE_RELEASE"; then
        signal_group KILL "$old"
        echo "killed=$old"
        sleep 0.1
      fi
      break
    fi
    sleep 0.02
  done
  alive "$old" || echo "stopped=$old"
fi
[ ! -e "run/$PORT.pid" ] && [ ! -e "run/$PORT.release" ] || rm -f -- "run/$PORT.pid" "run/$PORT.release" "run/$PORT.conf"
[ "$port_free" != yes ] && port_in_use "$PORT" || { echo "port=free"; exit 0; }
holder=$(port_holder "$PORT")
if [ -z "$holder" ]; then
  echo "error=port_busy"; exit ${INSTANCE_EXIT.portBusy}
fi
report_holder "$holder"
exit ${PORT_HELD_EXIT}`,
  )
}

/**
 * Takes the port over from a JVM of a script-era deploy that freePortScript named (pid and start
 * time) and the client judged to be this service: SIGTERM to that process alone (its group may be
 * an old deploy script's shell), SIGKILL after the timeout, each only while the pid still names the
 * process that was judged. Then it confirms that nothing listens any more; if something does, it
 * is named as freePortScript names it.
 */
export function takeOverScript(p: { port: number; pid: number; startTime: string; stopTimeoutSeconds: number }): string {
  return shellScript(
    { PORT: p.port, TAKEN_PID: p.pid, TAKEN_START: p.startTime, STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds) },
    `${SHELL_LIB}${REPORT_HOLDER}
# The judged process: same pid, same start time. A process that ended has no stat, and one that
# reused its pid started later.
is_judged() { [ -n "$TAKEN_START" ] && proc_start "$TAKEN_PID" && [ "$PROC_START" = "$TAKEN_START" ]; }
if is_judged; then
  if ! kill -TERM "$TAKEN_PID" 2>/dev/null && is_judged; then
    echo "error=not_permitted"; exit ${INSTANCE_EXIT.portBusy}
  fi
  clock; deadline=$(( NOW + STOP_TIMEOUT ))
  while is_judged && pid_alive "$TAKEN_PID" && clock && [ "$NOW" -lt "$deadline" ]; do sleep 0.05; done
  if is_judged && pid_alive "$TAKEN_PID"; then kill -KILL "$TAKEN_PID" 2>/dev/null; echo "taken_killed=$TAKEN_PID"; fi
else
  echo "taken_gone=$TAKEN_PID"
fi
clock; deadline=$(( NOW + 3 ))
while port_in_use "$PORT"; do
  if clock; [ "$NOW" -ge "$deadline" ]; then
    holder=$(port_holder "$PORT")
    [ -z "$holder" ] || report_holder "$holder"
    echo "error=port_busy"; exit ${INSTANCE_EXIT.portBusy}
  fi
  sleep 0.05
done
echo "port=free"`,
  )
}

/**
 * The start as a unit: the instance's settings (0600, after the session's exported environment,
 * which a unit does not inherit), the launcher, the template unit and this port's drop-in (see
 * unit_install), then enable and start. Its main pid is what the health wait watches: a crash
 * fails the start at once, even though systemd would restart it.
 */
const UNIT_START = `(umask 077 && { unit_environment; printf '%s' "$CONF_TEXT"; } > "run/$PORT.conf.new") &&
    mv -f -- "run/$PORT.conf.new" "run/$PORT.conf" && echo "$RELEASE" > "run/$PORT.release" &&
    { write_changed run/launch "$LAUNCHER_TEXT" || [ -f run/launch ]; } && unit_install || fail unit_setup ${INSTANCE_EXIT.startFailed}
  if ! unit_output=$(unit_ctl enable --quiet "$UNIT" 2>&1 && unit_ctl start "$UNIT" 2>&1); then
    printf '%s\\n' "$unit_output" | sed 's/^/unit_error=/'
    fail unit_start ${INSTANCE_EXIT.startFailed}
  fi
  echo "unit=$UNIT"
  pid=$(unit_ctl show -p MainPID "$UNIT" 2>/dev/null)
  pid=\${pid#MainPID=}
  case "$pid" in ''|*[!0-9]*) pid=0 ;; esac
  [ "$pid" -gt 0 ] || fail exited ${INSTANCE_EXIT.exited}
  record_instance "$PORT" "$pid"`

export interface StartParams {
  deployDir: string
  port: number
  release: string
  fileName: string
  appName: string
  javaOpts: string
  startCommand: string
  healthUrl: string
  healthExpect: string
  healthTimeoutSeconds: number
  healthIntervalSeconds: number
  stopTimeoutSeconds: number
  /** For the line that marks the start in the port's log. */
  startedAt: Date
  /** Start it as the port's instance of the app's systemd unit, enabled; otherwise detached. */
  unit?: UnitTarget
}

/**
 * Starts the release on a free port, detached from the session (stdin from /dev/null, output
 * appended to the port's log), and polls its health until it answers 2xx while the process this
 * run started is alive. On failure the new instance is stopped again and the log tail returned,
 * so a failed start never leaves anything running.
 */
export function startScript(p: StartParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      PORT: p.port,
      RELEASE: p.release,
      FILE_NAME: p.fileName,
      APP_NAME: p.appName,
      JAVA_OPTS: p.javaOpts,
      START_COMMAND: p.startCommand,
      HEALTH_URL: p.healthUrl,
      HEALTH_EXPECT: p.healthExpect,
      HEALTH_TIMEOUT: Math.ceil(p.healthTimeoutSeconds),
      HEALTH_INTERVAL: p.healthIntervalSeconds,
      HEALTH_INTERVAL_CS: Math.max(1, Math.round(p.healthIntervalSeconds * 100)),
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      STARTED_AT: p.startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
      ...unitVars(p.unit, p.port),
      // The drop-in this start writes names p.deployDir: its own unit is then always ours to retire.
      UNIT_DEPLOY_DIR: p.deployDir,
      UNIT_TEXT: p.unit ? unitFileText({ appName: p.appName, scope: p.unit.scope }) : '',
      UNIT_DROPIN_TEXT: p.unit ? dropInText({ deployDir: p.deployDir, stopTimeoutSeconds: p.stopTimeoutSeconds }) : '',
      LAUNCHER_TEXT: p.unit ? launcherText(p.deployDir) : '',
      CONF_TEXT: p.unit ? instanceConfText(p) : '',
    },
    `${SHELL_LIB}${SYSTEMCTL_LIB}
cd -- "$DEPLOY_DIR" || exit ${INSTANCE_EXIT.startFailed}
pid_file="run/$PORT.pid"
log="logs/$PORT.log"
body="run/.health-$PORT"
pid=0
fail() {
  echo "health=$1"
  # A unit would restart what crashed: it is stopped and disabled, so nothing of this start lingers.
  [ -z "$UNIT" ] || unit_retire > /dev/null
  # Killed only while still the process recorded for it (see stop_group).
  fail_id=
  { read -r _; read -r fail_id; } 2>/dev/null < "$pid_file" || fail_id=
  if [ "$pid" -gt 0 ]; then
    if [ -n "$fail_id" ]; then stop_group "$pid" "$STOP_TIMEOUT" "$fail_id" "$RELEASE"; else stop_group "$pid" "$STOP_TIMEOUT"; fi > /dev/null
  fi
  rm -f -- "$pid_file" "run/$PORT.release" "run/$PORT.conf" "$body"
  echo "@@log"
  tail -n 50 -- "$log"
  exit "$2"
}
if [ -n "$UNIT" ]; then
  ${UNIT_START}
else
  echo "--- $STARTED_AT starting release $RELEASE on port $PORT" >> "$log"
  # The record exists before the process can start, so that a run cut off at any moment leaves an
  # instance the next run finds (find_instance) and stops, even one not listening yet: first the
  # release, then the process records its own pid and start time (exec keeps both) once it stands
  # in the release directory, and only then execs the start command, in a session of its own.
  rm -f -- "$pid_file"
  echo "$RELEASE" > "run/$PORT.release" || fail run_files ${INSTANCE_EXIT.startFailed}
  deploy_root=$PWD
  # fd 3 is the session's own output (see the session): an instance holding it open would keep the
  # connection from ever seeing the end of its output.
  (
    cd -P -- "releases/$RELEASE" || exit 97
    ARTIFACT="$PWD/$FILE_NAME"
    SERVER_PORT=$PORT
    export PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS
    . ./env || exit 98
    self_pid
    record_instance "$PORT" "$SELF_PID" "$deploy_root" || exit 96
    exec_detached sh -c "$START_COMMAND"
  ) < /dev/null >> "$log" 2>&1 3>&- &
  pid=$!
fi
echo "pid=$pid"
clock; deadline=$(( NOW + HEALTH_TIMEOUT ))
# Polls keep a fixed cadence (one every health-interval from the start, whatever each poll costs)
# where the clock has hundredths; elsewhere they sleep health-interval between polls. Between polls
# the new process's open files are watched, with builtins only: once its sockets (or a child's)
# differ from those at the last poll (a new one is its listener, most often, which a Spring Boot app
# opens when it is about ready) the next poll goes at once. The kernel's socket tables would tell
# more, but cost more CPU to read than an HTTP client does to start (see port_in_use), and the
# starting service needs that CPU more.
started_cs=$NOW_CS
# The process was started a moment ago: nothing can answer yet, so the first poll waits for the
# first tick, or for its first socket.
code=000
first_tick=1
while :; do
  alive "$pid" || fail exited ${INSTANCE_EXIT.exited}
  # Counted before the poll: a socket opened while it runs still calls the next one at once.
  sockets_of "$pid"; polled_sockets=$SOCKETS
  if [ -n "$first_tick" ]; then first_tick=; else code=$(http_status "$HEALTH_URL" "$body" 5); fi
  case "$code" in
    2??)
      if [ -z "$HEALTH_EXPECT" ] || grep -q -F -- "$HEALTH_EXPECT" "$body" 2>/dev/null; then
        if alive "$pid"; then
          # The answer must come from the process this run started (or its family), not from one
          # that took the port meanwhile: checked once, when everything else has passed.
          if ! listeners_are_ours "$PORT" "$pid"; then
            holder=$(port_holder "$PORT")
            if [ -n "$holder" ]; then
              echo "holder_pid=$holder"
              echo "holder_program=$(program_of "$holder")"
            fi
            fail not_ours ${INSTANCE_EXIT.notOurs}
          fi
          rm -f -- "$body"; echo "health=ok"; exit 0
        fi
      fi ;;
  esac
  if clock; [ "$NOW" -ge "$deadline" ]; then
    echo "last_status=$code"
    echo "last_body=$(head -c 200 "$body" 2>/dev/null | tr '\\n' ' ')"
    fail timeout ${INSTANCE_EXIT.unhealthy}
  fi
  if [ -n "$started_cs" ]; then
    next_cs=$(( NOW_CS + HEALTH_INTERVAL_CS - (NOW_CS - started_cs) % HEALTH_INTERVAL_CS ))
    while clock; [ "$NOW_CS" -lt "$next_cs" ]; do
      if [ $(( next_cs - NOW_CS )) -gt 10 ]; then
        sleep 0.1
        alive "$pid" || break
        sockets_of "$pid"; [ "$SOCKETS" = "$polled_sockets" ] || break
      else
        sleep_cs $(( next_cs - NOW_CS ))
      fi
    done
  else
    sleep "$HEALTH_INTERVAL"
  fi
done`,
  )
}

/** One health probe of each given port: `probe=<port> <http status> <ok|fail>`. */
export function probeScript(p: { ports: number[]; healthPath: string; healthExpect: string }): string {
  return shellScript(
    { PORTS: p.ports.join(' '), HEALTH_PATH: p.healthPath, HEALTH_EXPECT: p.healthExpect },
    `${SHELL_LIB}
body=$(mktemp)
for port in $PORTS; do
  code=$(http_status "http://127.0.0.1:$port$HEALTH_PATH" "$body" 5)
  verdict=fail
  case "$code" in 2??) { [ -z "$HEALTH_EXPECT" ] || grep -q -F -- "$HEALTH_EXPECT" "$body"; } && verdict=ok ;; esac
  echo "probe=$port $code $verdict"
done
rm -f -- "$body"`,
  )
}

/**
 * Waits `drainSeconds`, then stops the instance on `port` (SIGTERM, SIGKILL after the timeout). Its
 * unit, if any, is stopped and disabled, so that a reboot does not bring it back.
 */
export function stopScript(p: {
  deployDir: string
  port: number
  drainSeconds: number
  stopTimeoutSeconds: number
  unit?: UnitTarget
}): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      PORT: p.port,
      DRAIN: p.drainSeconds,
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      ...unitVars(p.unit, p.port),
    },
    `${SHELL_LIB}${SYSTEMCTL_LIB}
cd -- "$DEPLOY_DIR" || exit 0
if ! find_instance "$PORT"; then
  # Nothing of ours runs here; a unit that would start it again is disabled all the same.
  unit_retire
  # A stale record (its pid now names another process) says nothing runs here: it goes.
  [ -z "$STALE_PID" ] || rm -f -- "run/$PORT.pid" "run/$PORT.release" "run/$PORT.conf"
  echo "stopped=none"; exit 0
fi
sleep "$DRAIN"
unit_retire
# The drain takes seconds: the instance may have ended meanwhile, and its pid been reused.
if is_our_instance "$INSTANCE_PID" "$INSTANCE_ID" "$INSTANCE_RELEASE"; then
  stop_group "$INSTANCE_PID" "$STOP_TIMEOUT" "$INSTANCE_ID" "$INSTANCE_RELEASE"
fi
rm -f -- "run/$PORT.pid" "run/$PORT.release" "run/$PORT.conf"`,
  )
}
