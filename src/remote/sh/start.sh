# start.sh: starts releases/$RELEASE on the free port PORT, as the port's systemd unit when UNIT
# is set (its settings CONF_TEXT, launcher LAUNCHER_TEXT, unit UNIT_TEXT and drop-in
# UNIT_DROPIN_TEXT), else detached, in a session of its own, output appended to logs/$PORT.log.
# Then polls HEALTH_URL every HEALTH_INTERVAL seconds (HEALTH_INTERVAL_CS hundredths) until it
# answers 2xx (with HEALTH_EXPECT in the body, when set) from the process this run started, within
# HEALTH_TIMEOUT seconds. On failure it stops what it started (STOP_TIMEOUT) and prints the log.
# Takes DEPLOY_DIR, PORT, RELEASE, FILE_NAME, APP_NAME, JAVA_OPTS, START_COMMAND, STARTED_AT,
# those above, the unit's variables (unitVars) and the exit statuses EXIT_START_FAILED,
# EXIT_EXITED, EXIT_UNHEALTHY, EXIT_NOT_OURS (INSTANCE_EXIT).
# Prints unit=, pid=, then health=ok (exit 0); or health=<why> (with last_status=, last_body=,
# holder_pid=, holder_program= where they tell), the log's tail after "@@log", and exits with
# one of those statuses.
# The start as a unit writes the instance's settings (0600, after the session's exported
# environment, which a unit does not inherit), the launcher, the template unit and this port's
# drop-in (see unit_install), then enables and starts it. Its main pid is what the health wait
# watches: a crash fails the start at once, even though systemd would restart it.
cd -- "$DEPLOY_DIR" || exit "$EXIT_START_FAILED"
pid_file="run/$PORT.pid"
log="logs/$PORT.log"
# The health answer goes to the session's private directory, which goes with the session: no rm
# once healthy, when every host of a fleet is answering at once. A script run alone uses run/.
if [ -n "${ZDD_TMP:-}" ] && [ -d "$ZDD_TMP" ]; then body=$ZDD_TMP/health-$PORT; else body=run/.health-$PORT; fi
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
  # shellcheck disable=SC2015 # any step that fails is a failed unit setup
  (umask 077 && { unit_environment; printf '%s' "$CONF_TEXT"; } > "run/$PORT.conf.new") &&
    mv -f -- "run/$PORT.conf.new" "run/$PORT.conf" && echo "$RELEASE" > "run/$PORT.release" &&
    { write_changed run/launch "$LAUNCHER_TEXT" || [ -f run/launch ]; } && unit_install || fail unit_setup "$EXIT_START_FAILED"
  if ! unit_output=$(unit_ctl enable --quiet "$UNIT" 2>&1 && unit_ctl start "$UNIT" 2>&1); then
    printf '%s\n' "$unit_output" | sed 's/^/unit_error=/'
    fail unit_start "$EXIT_START_FAILED"
  fi
  echo "unit=$UNIT"
  pid=$(unit_ctl show -p MainPID "$UNIT" 2>/dev/null)
  pid=${pid#MainPID=}
  case "$pid" in ''|*[!0-9]*) pid=0 ;; esac
  [ "$pid" -gt 0 ] || fail exited "$EXIT_EXITED"
  record_instance "$PORT" "$pid"
else
  echo "--- $STARTED_AT starting release $RELEASE on port $PORT" >> "$log"
  # The record exists before the process can start, so that a run cut off at any moment leaves an
  # instance the next run finds (find_instance) and stops, even one not listening yet: first the
  # release, then the process records its own pid and start time (exec keeps both) once it stands
  # in the release directory, and only then execs the start command, in a session of its own.
  # Freeing the port removed it already, most often: rm only for a file that is there.
  if [ -e "$pid_file" ] || [ -L "$pid_file" ]; then rm -f -- "$pid_file"; fi
  echo "$RELEASE" > "run/$PORT.release" || fail run_files "$EXIT_START_FAILED"
  deploy_root=$PWD
  # fd 3 is the session's own output (see the session): an instance holding it open would keep the
  # connection from ever seeing the end of its output.
  (
    cd -P -- "releases/$RELEASE" || exit 97
    ARTIFACT="$PWD/$FILE_NAME"
    SERVER_PORT=$PORT
    export PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS
    # shellcheck disable=SC1091 # the release's env file, written by finalize-release.sh
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
# Set when the watch calls the poll early: the family's sockets changed, most often for the listener.
woken=
while :; do
  alive "$pid" || fail exited "$EXIT_EXITED"
  # Counted before the poll: a socket opened while it runs still calls the next one at once.
  sockets_of "$pid"; polled_sockets=$SOCKETS
  if [ -n "$first_tick" ]; then
    first_tick=
  elif [ -z "$woken" ] && ss_listeners "$PORT" && [ -z "$LISTENERS" ]; then
    # A tick, and nothing listens on the port yet: an HTTP client would only be refused, and
    # starting curl costs the host four times what asking ss does (10 ms against 2.5), twice a
    # second for as long as the service takes to start.
    code=000
  else
    code=$(http_status "$HEALTH_URL" "$body" 5)
  fi
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
            fail not_ours "$EXIT_NOT_OURS"
          fi
          [ "$body" != "run/.health-$PORT" ] || rm -f -- "$body"
          echo "health=ok"; exit 0
        fi
      fi ;;
  esac
  if clock; [ "$NOW" -ge "$deadline" ]; then
    echo "last_status=$code"
    echo "last_body=$(head -c 200 "$body" 2>/dev/null | tr '\n' ' ')"
    fail timeout "$EXIT_UNHEALTHY"
  fi
  if [ -n "$started_cs" ]; then
    next_cs=$(( NOW_CS + HEALTH_INTERVAL_CS - (NOW_CS - started_cs) % HEALTH_INTERVAL_CS ))
    woken=
    while clock; [ "$NOW_CS" -lt "$next_cs" ]; do
      if [ $(( next_cs - NOW_CS )) -gt 10 ]; then
        sleep 0.1
        alive "$pid" || break
        sockets_of "$pid"; [ "$SOCKETS" = "$polled_sockets" ] || { woken=1; break; }
      else
        sleep_cs $(( next_cs - NOW_CS ))
      fi
    done
  else
    sleep "$HEALTH_INTERVAL"
  fi
done
