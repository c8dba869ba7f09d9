/** The switch: point nginx's include at a port, safely, and make sure nginx took it. */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'

export interface SwitchParams {
  include: string
  /** The include's new text. */
  content: string
  testCommand: string
  reloadCommand: string
  /**
   * Text that narrows the nginx masters to watch to those whose command line holds it (the reload
   * command's -c path), or '' for every master. Of those, the one that replaces its workers after
   * the reload is the one the reload signalled.
   */
  masterHint: string
  verifyUrl: string
  verifyTimeoutSeconds: number
  intervalSeconds: number
  /** How long to wait for the reload to take effect. */
  reloadTimeoutSeconds: number
  /** The release's state file (RELEASE_STATE_FILE), set to `served` once the switch has succeeded; '' for none. */
  releaseStateFile: string
}

/** What a reload command of the form `[sudo -n] nginx [-p DIR] [-c FILE] ... -s reload` runs. */
export interface NginxSignaller {
  /** The nginx binary, as the command names it. */
  binary: string
  /** Its -c and -p, '' when absent (nginx's built-in defaults then). */
  conf: string
  prefix: string
}

/**
 * `nginx -s reload` signals the master whose pid is in the pid file its configuration names: for
 * such a command, that master alone can confirm the reload. Anything else (systemctl, a script, a
 * container's exec, an -g that may move the pid file) is left to the watch of every master, since
 * what it signals cannot be told from the command.
 */
export function nginxSignaller(reloadCommand: string): NginxSignaller | undefined {
  // Quoted text is a word as it stands, unless it is double-quoted and may expand.
  if (/[;&|`$()<>\\\n*?[\]{}~#=]/.test(reloadCommand.replace(/'[^']*'/g, "''"))) return undefined
  const words = [...reloadCommand.trim().matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])
  let i = 0
  if (words[0] === 'sudo') {
    i = 1
    if (words[i] === '-n') i++
  }
  const binary = words[i++]
  if (!binary || !/(^|\/)nginx$/.test(binary)) return undefined
  const found: NginxSignaller = { binary, conf: '', prefix: '' }
  let reload = false
  while (i < words.length) {
    const word = words[i++]
    const value = words[i]
    if (word === '-q') continue
    if (value === undefined) return undefined
    i++
    if (word === '-s' && value === 'reload') reload = true
    else if (word === '-c') found.conf = value
    else if (word === '-p') found.prefix = value
    else if (word === '-g' && !/\bpid\b/.test(value)) continue
    else if (word !== '-e') return undefined
  }
  return reload ? found : undefined
}

export const SWITCH_EXIT = { writeFailed: 60, testFailed: 61, reloadFailed: 62, notTaken: 63, verifyFailed: 64 } as const

/**
 * Writes the new include, tests the configuration (restoring the old include byte for byte if the
 * test fails), reloads, waits until the nginx master that the reload signalled runs new workers,
 * then fetches the verify URL (once the old workers take no new connection). If that fails, the
 * old include is put back and nginx reloaded again (`rolled_back=yes`). The answer names the old
 * workers (`old_workers`): before anything stops the port they served, `handoverScript` waits for them.
 *
 * A user who can write the include's directory gets the new include written beside the old one and
 * moved into place. Anyone else goes through `sudo -n tee <include>` and nothing more, so that one
 * narrow sudoers rule is enough: the include is written in place and the old text is kept by the
 * script itself, to be written back with the same command.
 */
export function switchScript(p: SwitchParams): string {
  const signaller = nginxSignaller(p.reloadCommand)
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
      NGINX_BIN: signaller?.binary ?? '',
      NGINX_CONF: signaller?.conf ?? '',
      NGINX_PREFIX: signaller?.prefix ?? '',
    },
    `${SHELL_LIB}
case "$INCLUDE" in */*) dir=\${INCLUDE%/*}; dir=\${dir:-/} ;; *) dir=. ;; esac
had_old=no
[ -e "$INCLUDE" ] && had_old=yes

# Reports a write that did not happen: how it was tried, and what refused it.
write_failed() {
  echo "error=include_write"
  echo "write_as=$1"
  echo "write_step=$2"
  [ "$1" = user ] || echo "tee_path=$(command -v tee 2>/dev/null)"
  echo "@@write_output"; printf '%s\\n' "$3"
  exit ${SWITCH_EXIT.writeFailed}
}

if [ -w "$dir" ] && { [ "$had_old" = no ] || [ -w "$INCLUDE" ]; }; then
  fresh="$INCLUDE.zdd-new"
  saved="$INCLUDE.zdd-old"
  if ! out=$(printf '%s\\n' "$CONTENT" 2>&1 > "$fresh"); then
    rm -f -- "$fresh" 2>/dev/null
    write_failed user write "$out"
  fi
  if [ "$had_old" = yes ] && ! out=$(cp -p -- "$INCLUDE" "$saved" 2>&1); then
    rm -f -- "$fresh"
    write_failed user keep "$out"
  fi
  out=$(mv -f -- "$fresh" "$INCLUDE" 2>&1) || write_failed user write "$out"
  restore() {
    if [ "$had_old" = yes ]; then mv -f -- "$saved" "$INCLUDE"; else rm -f -- "$INCLUDE"; fi || echo "restore=failed"
  }
  forget_old() { rm -f -- "$saved" < /dev/null > /dev/null 2>&1 3>&- & }
else
  # Written in place: by the user when the include itself is writable (a group's file in a root
  # directory), otherwise with the exact command a sudoers rule names, "tee <include>".
  case "$INCLUDE" in -*) target=./$INCLUDE ;; *) target=$INCLUDE ;; esac
  if [ "$had_old" = yes ] && [ -w "$INCLUDE" ]; then
    write_as=user
    put() { cat > "$target"; }
  else
    write_as=sudo
    put() { sudo -n tee "$target" > /dev/null; }
  fi
  saved=$(mktemp 2>/dev/null) || write_failed "$write_as" keep "mktemp could not create a temporary file"
  if [ "$had_old" = yes ] && ! out=$(cat -- "$INCLUDE" 2>&1 > "$saved"); then
    rm -f -- "$saved"
    write_failed "$write_as" read "$out"
  fi
  if ! out=$({ printf '%s\\n' "$CONTENT" | put; } 2>&1); then
    # tee may have truncated the include before failing (a full disk): put the old text back.
    [ "$had_old" = no ] || put < "$saved" > /dev/null 2>&1
    rm -f -- "$saved"
    write_failed "$write_as" write "$out"
  fi
  restore() {
    if [ "$had_old" = yes ]; then put < "$saved"; else sudo -n rm -f -- "$INCLUDE"; fi || echo "restore=failed"
    rm -f -- "$saved"
  }
  forget_old() { rm -f -- "$saved" < /dev/null > /dev/null 2>&1 3>&- & }
fi

# The pid file of the nginx master that "NGINX_BIN -s reload" signals (nginx reads the pid there
# to find it): the pid directive of its main configuration, else the path it was built with
# (nginx -V, run only when needed), relative paths under its prefix. Where nothing can be told, a
# path where no pid file is: the reload is then watched on every master, as for other commands.
nginx_pid_path() {
  pidp_bin=$NGINX_BIN pidp_built=
  case "$pidp_bin" in
    */*) ;;
    *)
      # sudo's secure_path has the sbin directories, which a user's PATH may not.
      pidp_dirs=$PATH:/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin pidp_ifs=$IFS IFS=:
      for pidp_dir in $pidp_dirs; do
        [ ! -x "$pidp_dir/$pidp_bin" ] || { pidp_bin=$pidp_dir/$pidp_bin; break; }
      done
      IFS=$pidp_ifs
      ;;
  esac
  pidp_prefix=$NGINX_PREFIX
  [ -n "$pidp_prefix" ] || { pidp_option prefix /usr/local/nginx/; pidp_prefix=$pidp_value; }
  pidp_conf=$NGINX_CONF
  [ -n "$pidp_conf" ] || { pidp_option conf-path conf/nginx.conf; pidp_conf=$pidp_value; }
  case "$pidp_conf" in /*) ;; *) pidp_conf=\${pidp_prefix%/}/$pidp_conf ;; esac
  pidp_path=$(awk '$1 == "pid" { v = $2; sub(/;.*/, "", v); gsub(/["\\047]/, "", v); print v; exit }' "$pidp_conf" 2>/dev/null)
  [ -n "$pidp_path" ] || { pidp_option pid-path logs/nginx.pid; pidp_path=$pidp_value; }
  case "$pidp_path" in /*) ;; *) pidp_path=\${pidp_prefix%/}/$pidp_path ;; esac
  echo "$pidp_path"
}

# Sets pidp_value to the value of --$1= among the build options of nginx pidp_bin (nginx -V, run
# once), or to $2.
pidp_option() {
  [ -n "$pidp_built" ] || pidp_built=$("$pidp_bin" -V 2>&1 < /dev/null) || pidp_built=' '
  case "$pidp_built" in
    *" --$1="*) pidp_value=\${pidp_built#* --$1=}; pidp_value=\${pidp_value%%[[:space:]]*} ;;
    *) pidp_value=$2 ;;
  esac
}

# Runs a user's command line as sh -c would, in a subshell of this one: one process fewer.
run_command() { set +u; zdd_command=$1; shift; eval "$zdd_command"; }

# The nginx master the reload signalled, once seen; later reloads are watched on it alone.
SIGNALLED=
OLD_WORKERS=

# Status 0 when master $1 runs a worker that is not among BEFORE: the reload took effect there.
# Other masters (a container's nginx, another network namespace's, another configuration) are none
# of ours: one that was not signalled keeps its workers, and is never waited for.
# The master's children are read from /proc with builtins alone; a kernel without that list gets
# the full scan, a few processes more.
has_new_worker() {
  children_file=/proc/$1/task/$1/children
  if [ -r "$children_file" ]; then
    children=
    { read -r children < "$children_file"; } 2>/dev/null
    for child in $children; do
      case "$BEFORE" in *" $1:$child "*) continue ;; esac
      title=
      { IFS= read -r title < "/proc/$child/cmdline"; } 2>/dev/null
      case "$title" in *'shutting down'*) ;; 'nginx: worker process'*) return 0 ;; esac
    done
    return 1
  fi
  for pair in $(nginx_workers "$MASTER_HINT"); do
    case "$pair" in "$1":*) ;; *) continue ;; esac
    case "$BEFORE" in *" $pair "*) ;; *) return 0 ;; esac
  done
  return 1
}

# Sets OLD_WORKERS to the pids of master $1's workers listed in BEFORE: those the reload replaces.
set_old_workers() {
  OLD_WORKERS=
  for pair in $BEFORE; do
    case "$pair" in "$1":*) OLD_WORKERS="$OLD_WORKERS\${pair#*:} " ;; esac
  done
}

# Prints the pid of a master, not among $1, that runs workers now: after a restart (a reload
# command that stops and starts nginx), the new master of the one that exited.
successor() {
  for pair in $(nginx_workers "$MASTER_HINT"); do
    case " $1 " in *" \${pair%%:*} "*) ;; *) echo "\${pair%%:*}"; return 0 ;; esac
  done
  return 1
}

# Prints reload=observed once the master that the reload signalled runs new workers (or, when the
# command restarted nginx, once a new master runs in place of one that exited), and the old workers
# it is replacing (old_workers=...). nginx gives those no new connection once it has told them to
# shut down, 100 ms after it started the new ones: whatever needs every new request to reach the
# new port waits for that (await_retired), and the switch itself does not, so that a fleet's next
# wave need not.
reload_and_wait() {
  BEFORE=" " masters= seen=
  if [ -n "$SCAN_PID" ]; then
    wait "$SCAN_PID"
    SCAN_PID= pairs=
    while IFS= read -r pair; do pairs="$pairs $pair"; done < "$SCAN_FILE"
    [ ! -r "$SCAN_FILE.pid" ] || { read -r PID_PATH < "$SCAN_FILE.pid"; } 2>/dev/null
  else
    pairs=$(nginx_workers "$MASTER_HINT")
    [ -z "$NGINX_BIN" ] || [ -n "$PID_PATH" ] || PID_PATH=$(nginx_pid_path)
  fi
  for pair in $pairs; do
    master=\${pair%%:*}
    case " $seen " in *" $master "*) ;; *) seen="$seen $master" ;; esac
    [ -z "$SIGNALLED" ] || [ "$master" = "$SIGNALLED" ] || continue
    BEFORE="$BEFORE$pair "
    case " $masters " in *" $master "*) ;; *) masters="$masters $master" ;; esac
  done
  # nginx -s reload signals the master its pid file names: another master that starts a worker
  # meanwhile (one respawning a crashed worker) says nothing about this reload.
  named=
  [ -z "$PID_PATH" ] || { read -r named < "$PID_PATH"; } 2>/dev/null
  case " $masters " in *" $named "*) [ -z "$named" ] || masters=$named ;; esac
  if ! reload_output=$(run_command "$RELOAD_COMMAND" 2>&1); then return 2; fi
  if [ -z "$masters" ]; then echo "reload=unobserved"; sleep 1; return 0; fi
  clock; deadline=$(( NOW + RELOAD_TIMEOUT )) looks=0
  while :; do
    for master in $masters; do
      if has_new_worker "$master"; then
        SIGNALLED=$master
        set_old_workers "$master"
        echo "reload=observed"; echo "nginx_master=$master"; echo "old_workers=$OLD_WORKERS"; return 0
      fi
      if ! pid_alive "$master" && SIGNALLED=$(successor "$seen"); then
        # The old master took its workers with it: nothing is left to hand over.
        OLD_WORKERS=
        echo "reload=observed"; echo "nginx_master=$SIGNALLED"; return 0
      fi
    done
    if clock; [ "$NOW" -ge "$deadline" ]; then echo "reload=not_taken"; return 1; fi
    # nginx forks its new workers a few milliseconds after the signal, and a look costs builtins
    # only: a quick beat at first, a slower one if the master takes longer.
    looks=$(( looks + 1 ))
    if [ "$looks" -le 40 ]; then sleep 0.005; else sleep 0.02; fi
  done
}

# The workers before the reload are looked for while nginx tests the configuration, on another
# core where there is one: the reload needs them only once the test has passed. The answer goes to
# the session's private directory; a script run alone looks for them when it reloads.
# So is the pid file of the master an "nginx -s reload" signals.
SCAN_PID= SCAN_FILE= PID_PATH=
if [ -n "\${ZDD_TMP:-}" ] && [ -d "$ZDD_TMP" ]; then
  SCAN_FILE=$ZDD_TMP/nginx-workers
  rm -f -- "$SCAN_FILE.pid"
  {
    nginx_workers "$MASTER_HINT" > "$SCAN_FILE"
    [ -z "$NGINX_BIN" ] || nginx_pid_path > "$SCAN_FILE.pid"
  } < /dev/null 2>/dev/null 3>&- &
  SCAN_PID=$!
fi

if ! out=$(run_command "$TEST_COMMAND" 2>&1); then
  # Not left running: the next switch in this session writes the same file.
  [ -z "$SCAN_PID" ] || wait "$SCAN_PID"
  restore
  echo "error=nginx_test"
  echo "@@test_output"; echo "$out"
  exit ${SWITCH_EXIT.testFailed}
fi

reload_and_wait
status=$?
if [ "$status" != 0 ]; then
  restore
  # nginx kept its old workers, or a failing reload command may still have signalled it: either
  # way, one more reload makes it serve what the include says again.
  (run_command "$RELOAD_COMMAND") > /dev/null 2>&1
  if [ "$status" = 2 ]; then
    echo "error=reload_failed"; echo "@@reload_output"; printf '%s\\n' "$reload_output"
    exit ${SWITCH_EXIT.reloadFailed}
  fi
  echo "error=reload_not_taken"; exit ${SWITCH_EXIT.notTaken}
fi

if [ -n "$VERIFY_URL" ]; then
  # Until the old workers are told to shut down, one of them may answer for the old port.
  await_retired "$OLD_WORKERS" "$RELOAD_TIMEOUT"
  body=$(mktemp)
  clock; deadline=$(( NOW + VERIFY_TIMEOUT ))
  while :; do
    code=$(http_status "$VERIFY_URL" "$body" 5)
    case "$code" in 2??) echo "verify=ok"; break ;; esac
    if clock; [ "$NOW" -ge "$deadline" ]; then
      echo "verify=failed"; echo "verify_status=$code"
      restore
      reload_and_wait > /dev/null && await_retired "$OLD_WORKERS" "$RELOAD_TIMEOUT" > /dev/null
      echo "rolled_back=yes"
      rm -f -- "$body"
      exit ${SWITCH_EXIT.verifyFailed}
    fi
    sleep "$INTERVAL"
  done
  rm -f -- "$body"
fi
# The old text is not needed any more; it goes in the background, and a fleet's next wave need
# not wait for that.
forget_old
[ -z "$RELEASE_STATE_FILE" ] || printf 'served\\n' 2>/dev/null > "$RELEASE_STATE_FILE" || :
echo "switched=yes"`,
  )
}

/**
 * Waits (up to `timeoutSeconds`) until the old nginx workers a switch named take no new
 * connection: then every new request goes to the port the include names.
 */
export function handoverScript(oldWorkers: string, timeoutSeconds: number): string {
  return shellScript(
    { OLD_WORKERS: oldWorkers, TIMEOUT: Math.ceil(timeoutSeconds) },
    `${SHELL_LIB}
await_retired "$OLD_WORKERS" "$TIMEOUT"`,
  )
}
