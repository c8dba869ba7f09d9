/**
 * The per-host deploy lock, `<deploy-dir>/.lock`: a directory taken with an atomic mkdir, holding
 *   holder          "<pid> <start> <boot id> <group>" of the run's remote shell (the `sh -s` that
 *                   runs every step: `$$` in each script), always written whole: by a hard link
 *                   into a lock that has none (which fails when one came first), by rename over a
 *                   stale one
 *   owner           who holds it, for the warnings and the waiting message
 *   lease.<key>     when the holder last proved to be alive (seconds on the host's uptime clock),
 *                   key = "<pid>-<start>"; renewed by the runner over its own SSH channel
 *
 * A lock is stale when its holder has ended (the pid is gone, or belongs to another process: its
 * start time differs, or the host has rebooted since), when it has had no holder for 10 s (a run
 * cut off, or stalled, between its mkdir and its holder), or when its lease has not been renewed for
 * LEASE_SECONDS: a runner that went silent (lost its network without a FIN or RST) keeps its
 * remote shell alive until sshd notices, which may take hours. The holder of a silent lock is
 * ended (its shell and whatever that shell still runs) before its lock is taken over, so nothing
 * of the silent run acts on the host afterwards.
 */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'

/** A lock whose lease has not been renewed for this long is taken over. */
export const LEASE_SECONDS = 60
/** How often a live run renews its lease: several renewals fit in one lease, even over a busy link. */
export const LEASE_RENEW_SECONDS = 10

/** Exit codes of the lock script. */
export const LOCK_EXIT = { unwritable: 30, timeout: 31 } as const

/**
 * Shell functions of the lock scripts, beside SHELL_LIB's (boot_id and proc_start come from
 * there). sh has no local variables: every name here is prefixed with the function's purpose so
 * that no script's variable is overwritten by accident.
 */
const LOCK_LIB = `
# Status 0 when pid $1 runs and is the process that started at $2 (field 22 of /proc/<pid>/stat,
# clock ticks since boot): a pid reused by another process after the first one ended, or after a
# reboot, is not it. Sets PROC_PPID, PROC_PGID and PROC_SID. Builtins only: waiters run it five
# times a second.
proc_is() {
  PROC_PPID= PROC_PGID= PROC_SID=
  if [ ! -d /proc/self ]; then
    kill -0 "$1" 2>/dev/null
    return
  fi
  [ -r "/proc/$1/stat" ] && read -r proc_line < "/proc/$1/stat" 2>/dev/null || return 1
  # After the command name, which may hold spaces and parentheses: field 3 (state) onwards.
  set -- "$2" \${proc_line##*) }
  case "$2" in Z|X|'') return 1 ;; esac
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
  STALE= LOCK_KEY= SILENT_FOR= HOLDER_PID= HOLDER_GROUP= judge_line=
  [ ! -r .lock/holder ] || read -r judge_line < .lock/holder 2>/dev/null || judge_line=
  if [ -z "$judge_line" ]; then
    LOCK_KEY=$(stat -c 'dir-%i-%Y' .lock 2>/dev/null) || return 1
    [ $(( $(date +%s) - \${LOCK_KEY##*-} )) -le 10 ] || STALE=unfinished
    return 0
  fi
  set -- $judge_line
  HOLDER_PID=$1 HOLDER_GROUP=\${4:--}
  LOCK_KEY="$1-\${2:-}"
  if [ -n "$BOOT_ID" ] && [ "\${3:-}" != "$BOOT_ID" ]; then STALE=rebooted; return 0; fi
  proc_is "$1" "\${2:-}" || { STALE=ended; return 0; }
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
  proc_is "$HOLDER_PID" "\${LOCK_KEY#*-}" || { end_hook; return 0; }
  end_targets=
  if [ "$HOLDER_GROUP" != - ] && [ "$PROC_PGID" = "$HOLDER_GROUP" ]; then
    end_targets="-$HOLDER_GROUP"
  else
    end_frontier=$HOLDER_PID end_targets=$HOLDER_PID
    while [ -n "$end_frontier" ]; do
      end_next=
      for end_stat in /proc/[0-9]*/stat; do
        read -r end_line < "$end_stat" 2>/dev/null || continue
        set -- \${end_line##*) }
        case " $end_frontier " in *" $2 "*) end_pid=\${end_stat#/proc/}; end_next="$end_next \${end_pid%/stat}" ;; esac
      done
      end_targets="$end_targets$end_next" end_frontier=$end_next
    done
  fi
  for end_signal in TERM KILL; do
    for end_target in $end_targets; do kill -"$end_signal" "$end_target" 2>/dev/null; done
    clock; end_deadline=$(( NOW + 5 ))
    while proc_is "$HOLDER_PID" "\${LOCK_KEY#*-}"; do
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
  end_hook_pid= end_hook_id= end_hook_holder=
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
  printf '%s\\n' "$NOW" > .lock/.lease.$$ && mv -f .lock/.lease.$$ ".lock/lease.$ME_KEY" &&
    printf '%s\\npid=%s\\nsince=%s\\n' "$OWNER" "$$" "$SINCE" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner &&
    printf '%s %s %s %s\\n' "$$" "$ME_START" "\${BOOT_ID:--}" "$ME_GROUP" > .lock/.holder.$$ && mv -f .lock/.holder.$$ .lock/holder
}

# Makes a lock that has no holder ours: the holder first, by a hard link, which fails when the
# name exists. A run whose mkdir made .lock may stall before that (swap, a stopped VM) until its
# lock is judged unfinished and taken over; both then link a holder, and only one link is made:
# the other run has lost, writes nothing more, and waits as any waiter. Status 1 when another run
# holds .lock (or it is gone), 2 when .lock cannot be written.
hold_new_lock() {
  if ! printf '%s %s %s %s\\n' "$$" "$ME_START" "\${BOOT_ID:--}" "$ME_GROUP" > .lock/.holder.$$; then
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
  printf '%s\\n' "$NOW" > .lock/.lease.$$ && mv -f .lock/.lease.$$ ".lock/lease.$ME_KEY" &&
    printf '%s\\npid=%s\\nsince=%s\\n' "$OWNER" "$$" "$SINCE" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner && return 0
  rm -rf .lock
  return 2
}

# Status 0 when the claim symlink $1 names a live claimant ("<pid> <start> <boot>").
claimant_alive() {
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
    set -- $break_claimant
    break_outer="$break_target.\${1:-x}-\${2:-x}"
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
  take_owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)
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
`

/**
 * Takes `<deploy-dir>/.lock` for this session's shell; waits up to the timeout for a live holder;
 * takes over a stale one (see the module's comment). Answers `lock=held` and `holder_key=`, the
 * key the lease renewals name.
 */
export function acquireLockScript(p: { deployDir: string; owner: string; since: Date; timeoutSeconds: number }): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      OWNER: p.owner,
      SINCE: p.since.toISOString().replace(/\.\d+Z$/, 'Z'),
      TIMEOUT: Math.ceil(p.timeoutSeconds),
      LEASE: LEASE_SECONDS,
    },
    `${SHELL_LIB}${LOCK_LIB}
resolve_deploy_dir
{ [ -d "$DEPLOY_DIR" ] || mkdir -p -- "$DEPLOY_DIR" 2>/dev/null; } && cd -- "$DEPLOY_DIR" 2>/dev/null && [ -w . ] || {
  echo "error=deploy_dir_unwritable"; echo "deploy_dir=$DEPLOY_DIR"; exit ${LOCK_EXIT.unwritable}
}
echo "deploy_dir=$DEPLOY_DIR"
boot_id
proc_start "$$"; ME_START=\${PROC_START:-0}
proc_is "$$" ""
# The process group a takeover ends should this run go silent: the session sshd made for this
# run's shell (led by the shell, or by the login shell that started it). Anything else (a shell
# started by some other program) is ended by its process tree instead.
ME_GROUP=-
if [ -n "$PROC_PGID" ] && [ "$PROC_SID" = "$PROC_PGID" ] && { [ "$PROC_PGID" = "$$" ] || [ "$PROC_PGID" = "$PROC_PPID" ]; }; then
  ME_GROUP=$PROC_PGID
fi
ME_KEY="$$-$ME_START"
ME_CLAIM="$$ $ME_START \${BOOT_ID:--}"
clock; deadline=$(( NOW + TIMEOUT ))
waiting=
while :; do
  if mkdir .lock 2>/dev/null; then
    hold_new_lock
    case $? in
      0) break ;;
      2) echo "error=deploy_dir_unwritable"; exit ${LOCK_EXIT.unwritable} ;;
    esac
  fi
  if judge_lock && [ -n "$STALE" ] && take_over "$LOCK_KEY"; then break; fi
  if clock; [ "$NOW" -ge "$deadline" ]; then
    echo "lock=timeout"; echo "owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)"; exit ${LOCK_EXIT.timeout}
  fi
  if [ -z "$waiting" ] && [ -r .lock/owner ]; then
    owner="owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)"
    echo "lock=waiting"; echo "$owner"; waiting=1
    # fd 3 reaches the runner while this waits (see the session); absent when run on its own.
    echo "$owner" 2>/dev/null >&3
  fi
  sleep 0.2
done
echo "holder_key=$ME_KEY"
echo "lock=held"`,
  )
}

/**
 * Renews the lease of the lock held by the shell `holderKey` names; run by the runner over an SSH
 * channel of its own every LEASE_RENEW_SECONDS, since the run's shell may be busy for minutes
 * (an upload, a health wait). Answers `lease=renewed`, or `lease=lost` when that shell no longer
 * holds the lock.
 */
export function renewLeaseScript(p: { deployDir: string; holderKey: string }): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir, KEY: p.holderKey },
    `${SHELL_LIB}
cd -- "$DEPLOY_DIR" 2>/dev/null || { echo "lease=lost"; exit 0; }
line=
[ ! -r .lock/holder ] || read -r line < .lock/holder 2>/dev/null || line=
set -- $line
if [ "\${1:-}-\${2:-}" != "$KEY" ]; then echo "lease=lost"; exit 0; fi
clock
# A renewal that lands after a takeover writes a lease nobody reads: the new holder's key differs.
printf '%s\\n' "$NOW" > ".lock/.lease.renew.$$" && mv -f ".lock/.lease.renew.$$" ".lock/lease.$KEY" 2>/dev/null
echo "lease=renewed"`,
  )
}

/** Releases the lock if this session's shell still holds it. */
export function releaseLockScript(p: { deployDir: string }): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir },
    `
cd -- "$DEPLOY_DIR" 2>/dev/null || exit 0
line=
[ ! -r .lock/holder ] || read -r line < .lock/holder
set -- $line
[ "\${1:-}" = "$$" ] && rm -rf .lock
echo "lock=released"`,
  )
}
