# free-port.sh: frees PORT. Retires the app's unit on the port (systemctl.sh), stops our
# instance there (SIGTERM, SIGKILL after STOP_TIMEOUT seconds; once it has closed its listener it
# may finish in the background, still bounded by the timeout), removes the port's run files, and
# confirms that nothing listens any more. Any other process listening there is never signalled:
# it is named (report_holder). Takes DEPLOY_DIR, PORT, STOP_TIMEOUT, the unit's variables
# (unitVars) and the exit statuses EXIT_START_FAILED, EXIT_PORT_BUSY, EXIT_PORT_HELD.
# Prints idle_pid=, draining=, killed=, stopped=, stale_pid= as it goes, then port=free (exit 0);
# or the holder (holder_pid=, holder_start=, holder_command=) and exits EXIT_PORT_HELD; or
# error=port_busy when the holder cannot be told, and exits EXIT_PORT_BUSY.
cd -- "$DEPLOY_DIR" || exit "$EXIT_START_FAILED"
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
# shellcheck disable=SC2015 # the run files go when either exists; a failed rm changes nothing
[ ! -e "run/$PORT.pid" ] && [ ! -e "run/$PORT.release" ] || rm -f -- "run/$PORT.pid" "run/$PORT.release" "run/$PORT.conf"
# shellcheck disable=SC2015 # a port that is free, or was seen free, is reported free
[ "$port_free" != yes ] && port_in_use "$PORT" || { echo "port=free"; exit 0; }
holder=$(port_holder "$PORT")
if [ -z "$holder" ]; then
  echo "error=port_busy"; exit "$EXIT_PORT_BUSY"
fi
report_holder "$holder"
exit "$EXIT_PORT_HELD"
