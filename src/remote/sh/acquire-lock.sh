# acquire-lock.sh: takes DEPLOY_DIR/.lock for this session's shell ($$); waits up to TIMEOUT
# seconds for a live holder; takes over a stale one (one whose holder ended, whose host rebooted,
# or whose lease, renewed every LEASE_RENEW_SECONDS, is older than LEASE seconds). Takes
# DEPLOY_DIR, OWNER, SINCE, TIMEOUT, LEASE and the exit statuses EXIT_UNWRITABLE, EXIT_TIMEOUT
# (LOCK_EXIT).
# Prints deploy_dir=, lock=waiting and owner= (also on fd 3) while it waits, then holder_key=
# (the key the lease renewals name) and lock=held (exit 0); or error=deploy_dir_unwritable,
# or lock=timeout with owner=, and exits with one of those statuses.
resolve_deploy_dir
# shellcheck disable=SC2015 # any step that fails leaves the deploy dir unwritable
{ [ -d "$DEPLOY_DIR" ] || mkdir -p -- "$DEPLOY_DIR" 2>/dev/null; } && cd -- "$DEPLOY_DIR" 2>/dev/null && [ -w . ] || {
  echo "error=deploy_dir_unwritable"; echo "deploy_dir=$DEPLOY_DIR"; exit "$EXIT_UNWRITABLE"
}
echo "deploy_dir=$DEPLOY_DIR"
boot_id
proc_start "$$"; ME_START=${PROC_START:-0}
proc_is "$$" ""
# The process group a takeover ends should this run go silent: the session sshd made for this
# run's shell (led by the shell, or by the login shell that started it). Anything else (a shell
# started by some other program) is ended by its process tree instead.
ME_GROUP=-
# shellcheck disable=SC2153 # PROC_SID and PROC_PPID are set by proc_is (lock-lib.sh)
if [ -n "$PROC_PGID" ] && [ "$PROC_SID" = "$PROC_PGID" ] && { [ "$PROC_PGID" = "$$" ] || [ "$PROC_PGID" = "$PROC_PPID" ]; }; then
  # shellcheck disable=SC2034 # read by lock-lib.sh's functions
  ME_GROUP=$PROC_PGID
fi
ME_KEY="$$-$ME_START"
# shellcheck disable=SC2034 # read by lock-lib.sh's functions
ME_CLAIM="$$ $ME_START ${BOOT_ID:--}"
clock; deadline=$(( NOW + TIMEOUT ))
waiting=
while :; do
  if mkdir .lock 2>/dev/null; then
    hold_new_lock
    case $? in
      0) break ;;
      2) echo "error=deploy_dir_unwritable"; exit "$EXIT_UNWRITABLE" ;;
    esac
  fi
  if judge_lock && [ -n "$STALE" ] && take_over "$LOCK_KEY"; then break; fi
  if clock; [ "$NOW" -ge "$deadline" ]; then
    echo "lock=timeout"; echo "owner=$(tr '\n' ' ' < .lock/owner 2>/dev/null)"; exit "$EXIT_TIMEOUT"
  fi
  if [ -z "$waiting" ] && [ -r .lock/owner ]; then
    owner="owner=$(tr '\n' ' ' < .lock/owner 2>/dev/null)"
    echo "lock=waiting"; echo "$owner"; waiting=1
    # fd 3 reaches the runner while this waits (see the session); absent when run on its own.
    echo "$owner" 2>/dev/null >&3
  fi
  sleep 0.2
done
echo "holder_key=$ME_KEY"
echo "lock=held"
