# take-over.sh: takes PORT over from the process TAKEN_PID that started at TAKEN_START (field 22
# of its stat), which free-port.sh named and the client judged to be this service: SIGTERM to that
# process alone, SIGKILL after STOP_TIMEOUT seconds, each only while the pid still names that
# process. Then it waits up to 3 s for the port to be free.
# Prints taken_killed= or taken_gone=, then port=free (exit 0); or error=not_permitted, or the
# holder (report_holder) and error=port_busy, and exits EXIT_PORT_BUSY.

# The judged process: same pid, same start time. A process that ended has no stat, and one that
# reused its pid started later.
is_judged() { [ -n "$TAKEN_START" ] && proc_start "$TAKEN_PID" && [ "$PROC_START" = "$TAKEN_START" ]; }
if is_judged; then
  if ! kill -TERM "$TAKEN_PID" 2>/dev/null && is_judged; then
    echo "error=not_permitted"; exit "$EXIT_PORT_BUSY"
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
    echo "error=port_busy"; exit "$EXIT_PORT_BUSY"
  fi
  sleep 0.05
done
echo "port=free"
