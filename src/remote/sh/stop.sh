# stop.sh: waits DRAIN seconds, then stops our instance on PORT (SIGTERM, SIGKILL after
# STOP_TIMEOUT seconds) and removes the port's run files. The port's unit, if any, is stopped and
# disabled (systemctl.sh), so that a reboot does not bring it back. Takes DEPLOY_DIR, PORT, DRAIN,
# STOP_TIMEOUT and the unit's variables (unitVars).
# Prints stopped=none when nothing of ours runs there, else what stop_group did. Exits 0.
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
rm -f -- "run/$PORT.pid" "run/$PORT.release" "run/$PORT.conf"
