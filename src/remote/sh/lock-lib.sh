# lock-lib.sh: shell functions of the lock scripts, beside lib.sh's (boot_id and proc_start come
# from there): proc_is, judge_lock, end_holder, end_hook, write_lock, hold_new_lock,
# claimant_alive, break_claim and take_over (see lock.ts for the lock's layout). They read
# ME_KEY, ME_CLAIM, ME_GROUP, OWNER, SINCE and LEASE as acquire-lock.sh sets them. sh has no local
# variables: every name here is prefixed with the function's purpose so that no script's variable
# is overwritten by accident.

# Status 0 when pid $1 runs and is the process that started at $2 (field 22 of /proc/<pid>/stat,
# clock ticks since boot): a pid reused by another process after the first one ended, or after a
# reboot, is not it. Sets PROC_PPID, PROC_PGID and PROC_SID. Builtins only: waiters run it five
# times a second.
proc_is() {
  PROC_PPID='' PROC_PGID='' PROC_SID=
  if [ ! -d /proc/self ]; then
    kill -0 "$1" 2>/dev/null
    return
  fi
  [ -r "/proc/$1/stat" ] && read -r proc_line < "/proc/$1/stat" 2>/dev/null || return 1
  # After the command name, which may hold spaces and parentheses: field 3 (state) onwards.
  # shellcheck disable=SC2086 # splitting into fields is the point
  set -- "$2" ${proc_line##*) }
  case "$2" in Z|X|'') return 1 ;; esac
  # shellcheck disable=SC2034 # read by acquire-lock.sh
  PROC_PPID=$3 PROC_PGID=$4 PROC_SID=$5
  [ $# -ge 21 ] || return 1
  proc_want=$1
  shift 20
  [ -z "$proc_want" ] || [ "$1" = "$proc_want" ]
}

# Looks at .lock and sets:
#   LOCK_KEY    the identity of this lock instance: "<pid>-<start>" of its holder, or, while it has
#               none, "dir-<inode>-<mtime>" (the mtime changes when the holder is written)
#   STALE       empty while the lock is held; else why not: ended, rebooted, unfinished, silent
#   SILENT_FOR  seconds since the holder last renewed its lease
#   HOLDER_PID, HOLDER_GROUP (the process group to end, or -)
# Status 1 when .lock is gone.
judge_lock() {
  STALE='' LOCK_KEY='' SILENT_FOR='' HOLDER_PID='' HOLDER_GROUP='' judge_line=
  [ ! -r .lock/holder ] || read -r judge_line < .lock/holder 2>/dev/null || judge_line=
  if [ -z "$judge_line" ]; then
    LOCK_KEY=$(stat -c 'dir-%i-%Y' .lock 2>/dev/null) || return 1
    [ $(( $(date +%s) - ${LOCK_KEY##*-} )) -le 10 ] || STALE=unfinished
    return 0
  fi
  # shellcheck disable=SC2086 # splitting into fields is the point
  set -- $judge_line
  HOLDER_PID=$1 HOLDER_GROUP=${4:--}
  LOCK_KEY="$1-${2:-}"
  if [ -n "$BOOT_ID" ] && [ "${3:-}" != "$BOOT_ID" ]; then STALE=rebooted; return 0; fi
  proc_is "$1" "${2:-}" || { STALE=ended; return 0; }
  judge_renewed=
  [ ! -r ".lock/lease.$LOCK_KEY" ] || read -r judge_renewed < ".lock/lease.$LOCK_KEY" 2>/dev/null || judge_renewed=
  case "$judge_renewed" in ''|*[!0-9]*) return 0 ;; esac
  clock
  SILENT_FOR=$(( NOW - judge_renewed ))
  [ "$SILENT_FOR" -le "$LEASE" ] || STALE=silent
}

# Ends the silent holder that judge_lock has just identified (same pid, same start time, same
# boot): its process group when that group is the session sshd made for its shell, else the shell
# and its descendants; then the hook it was running, which is in a session of its own (see
# hookScript). The instances a run starts are in sessions of their own too, and go on. Status 1
# when it would not end.
end_holder() {
  proc_is "$HOLDER_PID" "${LOCK_KEY#*-}" || { end_hook; return 0; }
  end_targets=
  if [ "$HOLDER_GROUP" != - ] && [ "$PROC_PGID" = "$HOLDER_GROUP" ]; then
    end_targets="-$HOLDER_GROUP"
  else
    end_frontier=$HOLDER_PID end_targets=$HOLDER_PID
    while [ -n "$end_frontier" ]; do
      end_next=
      for end_stat in /proc/[0-9]*/stat; do
        read -r end_line < "$end_stat" 2>/dev/null || continue
        # shellcheck disable=SC2086 # splitting into fields is the point
        set -- ${end_line##*) }
        case " $end_frontier " in *" $2 "*) end_pid=${end_stat#/proc/}; end_next="$end_next ${end_pid%/stat}" ;; esac
      done
      end_targets="$end_targets$end_next" end_frontier=$end_next
    done
  fi
  for end_signal in TERM KILL; do
    for end_target in $end_targets; do kill -"$end_signal" "$end_target" 2>/dev/null; done
    clock; end_deadline=$(( NOW + 5 ))
    while proc_is "$HOLDER_PID" "${LOCK_KEY#*-}"; do
      if clock; [ "$NOW" -ge "$end_deadline" ]; then continue 2; fi
      sleep 0.05
    done
    end_hook
    return 0
  done
  return 1
}

# Ends the hook that run/hook.pid says the holder started ("<pid>", its identity line, then
# "holder=<pid>"): its whole group, SIGTERM, then SIGKILL 5 s later, each only while group_is still
# proves it to be that hook's.
end_hook() {
  end_hook_pid='' end_hook_id='' end_hook_holder=
  { read -r end_hook_pid; read -r end_hook_id; read -r end_hook_holder; } 2>/dev/null < run/hook.pid || return 0
  case "$end_hook_pid" in ''|*[!0-9]*|0|1) return 0 ;; esac
  [ "$end_hook_holder" = "holder=$HOLDER_PID" ] || return 0
  for end_signal in TERM KILL; do
    group_is "$end_hook_pid" "$end_hook_id" || return 0
    signal_group "$end_signal" "$end_hook_pid"
    clock; end_deadline=$(( NOW + 5 ))
    while group_is "$end_hook_pid" "$end_hook_id"; do
      if clock; [ "$NOW" -ge "$end_deadline" ]; then continue 2; fi
      sleep 0.1
    done
    echo "ended_hook=$end_hook_pid"
    return 0
  done
}

# Makes a stale .lock ours: lease, owner, then the holder, each written whole by rename.
write_lock() {
  clock
  printf '%s\n' "$NOW" > .lock/.lease.$$ && mv -f .lock/.lease.$$ ".lock/lease.$ME_KEY" &&
    printf '%s\npid=%s\nsince=%s\n' "$OWNER" "$$" "$SINCE" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner &&
    printf '%s %s %s %s\n' "$$" "$ME_START" "${BOOT_ID:--}" "$ME_GROUP" > .lock/.holder.$$ && mv -f .lock/.holder.$$ .lock/holder
}

# Makes a lock that has no holder ours: the holder first, by a hard link, which fails when the
# name exists. A run whose mkdir made .lock may stall before that (swap, a stopped VM) until its
# lock is judged unfinished and taken over; both then link a holder, and only one link is made:
# the other run has lost, writes nothing more, and waits as any waiter. Status 1 when another run
# holds .lock (or it is gone), 2 when .lock cannot be written.
hold_new_lock() {
  if ! printf '%s %s %s %s\n' "$$" "$ME_START" "${BOOT_ID:--}" "$ME_GROUP" > .lock/.holder.$$; then
    [ -d .lock ] || return 1
    rmdir .lock 2>/dev/null
    return 2
  fi
  if ! ln .lock/.holder.$$ .lock/holder 2>/dev/null; then
    rm -f .lock/.holder.$$
    # No holder after a failed link: this file system makes no hard links.
    [ ! -d .lock ] || [ -e .lock/holder ] || return 2
    return 1
  fi
  clock
  printf '%s\n' "$NOW" > .lock/.lease.$$ && mv -f .lock/.lease.$$ ".lock/lease.$ME_KEY" &&
    printf '%s\npid=%s\nsince=%s\n' "$OWNER" "$$" "$SINCE" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner && return 0
  rm -rf .lock
  return 2
}

# Status 0 when the claim symlink $1 names a live claimant ("<pid> <start> <boot>").
claimant_alive() {
  # shellcheck disable=SC2086 # splitting into fields is the point
  set -- $1
  [ $# -ge 3 ] && { [ -z "$BOOT_ID" ] || [ "$3" = "$BOOT_ID" ]; } && proc_is "$1" "$2"
}

# Removes the claim $1 when its claimant has died in the middle of a takeover. Removing it is
# itself claimed, by a symlink named after that dead claimant, so that two waiters never remove
# two different claims, the dead one and the one that replaced it (and so on up, should a
# breaker die as well).
break_claim() {
  break_target=$1 break_depth=0
  while [ "$break_depth" -lt 4 ]; do
    break_claimant=$(readlink "$break_target" 2>/dev/null) || return 0
    ! claimant_alive "$break_claimant" || return 0
    # shellcheck disable=SC2086 # splitting into fields is the point
    set -- $break_claimant
    break_outer="$break_target.${1:-x}-${2:-x}"
    if ln -s "$ME_CLAIM" "$break_outer" 2>/dev/null; then
      [ "$(readlink "$break_target" 2>/dev/null)" != "$break_claimant" ] || rm -f -- "$break_target"
      rm -f -- "$break_outer"
      return 0
    fi
    break_target=$break_outer break_depth=$(( break_depth + 1 ))
  done
}

# Takes over the stale lock judged as $1. Why this is atomic: the claim is a symlink named after
# that lock's identity, and ln -s fails when the name exists, so at most one waiter at a time holds
# the claim for a given stale lock. Only the claimant changes a lock of that identity: it judges
# .lock again under its claim and goes on only if it is still that stale lock; the holder, once
# stale, never writes again (it has ended, or is ended here before anything is written; a lock
# with no holder yet is the exception: its maker may only be slow, see hold_new_lock); and .lock
# itself is never removed by a takeover (the holder is replaced inside it), so a lock another
# waiter has just made by mkdir can never be moved away. A waiter that comes late, after the
# claim is gone, finds a different identity and leaves.
take_over() {
  take_key=$1
  take_claim=".lock.claim.$take_key"
  if ! ln -s "$ME_CLAIM" "$take_claim" 2>/dev/null; then
    break_claim "$take_claim"
    return 1
  fi
  if ! judge_lock || [ "$LOCK_KEY" != "$take_key" ] || [ -z "$STALE" ]; then rm -f -- "$take_claim"; return 1; fi
  take_reason=$STALE take_silent=$SILENT_FOR
  if [ "$STALE" = silent ] && ! end_holder; then rm -f -- "$take_claim"; return 1; fi
  take_owner=$(tr '\n' ' ' < .lock/owner 2>/dev/null)
  if [ "$STALE" = unfinished ]; then
    # Its maker may be alive and about to link its holder: whoever links first holds it. Its
    # files are left alone; they go with the lock.
    hold_new_lock
    take_ok=$?
  else
    for take_file in .lock/lease.* .lock/.lease.* .lock/.owner.* .lock/.holder.*; do
      [ ! -e "$take_file" ] || rm -f -- "$take_file"
    done
    write_lock
    take_ok=$?
  fi
  rm -f -- "$take_claim"
  [ "$take_ok" = 0 ] || return 1
  echo "stale_owner=$take_owner"
  echo "stale_reason=$take_reason"
  [ -z "$take_silent" ] || echo "stale_silent_for=$take_silent"
}
