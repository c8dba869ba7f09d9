# switch.sh: points nginx's include INCLUDE at a port: writes CONTENT there (and first
# HTTP_CONTENT to the http-level file HTTP_FILE, when set), tests the configuration with
# TEST_COMMAND (restoring the old include and http-level file byte for byte if the test fails),
# reloads with RELOAD_COMMAND, waits up to RELOAD_TIMEOUT seconds until the nginx master that the
# reload signalled (NGINX_BIN, NGINX_CONF, NGINX_PREFIX when the command tells it; else the masters
# whose command line holds MASTER_HINT) runs new workers, then fetches VERIFY_URL every INTERVAL
# seconds for up to VERIFY_TIMEOUT seconds. If that fails, the old files are put back and nginx
# reloaded again. A user who cannot write a file's directory goes through `sudo -n tee <file>`
# (and `sudo -n rm -f -- <include>` to remove an include that was not there before; an http-level
# file that was not there is left empty instead). On success it writes "served" to
# RELEASE_STATE_FILE (when set).
# Prints old_workers= (for handover.sh), switched=yes (exit 0); or error= with what failed, and
# rolled_back=yes when the old files are back, and exits with one of EXIT_WRITE_FAILED,
# EXIT_TEST_FAILED, EXIT_RELOAD_FAILED, EXIT_NOT_TAKEN, EXIT_VERIFY_FAILED (SWITCH_EXIT). A write
# that failed names its file (write_file=).

# Reports a write that did not happen: which file, how it was tried, and what refused it. What was
# written before it (the http-level file) is put back first.
write_failed() {
  [ "$http_way" = none ] || restore_file "$HTTP_FILE" "$http_way" "$http_had_old" "$http_saved" empty > /dev/null 2>&1
  echo "error=include_write"
  echo "write_file=$wf_path"
  echo "write_as=$1"
  echo "write_step=$2"
  [ "$1" = user ] || echo "tee_path=$(command -v tee 2>/dev/null)"
  echo "@@write_output"; printf '%s\n' "$3"
  exit "$EXIT_WRITE_FAILED"
}

# Writes $2 (and a newline) to file $1 and keeps its old text to put back (restore_file). Sets
# wf_way: move (a user who can write the directory: written beside it and moved into place), user
# (the file itself is writable, written in place) or sudo (written in place with the exact command
# a sudoers rule names, "tee <file>", and nothing more); wf_had_old and wf_saved (the old text).
write_file() {
  wf_path=$1 wf_had_old=no wf_saved=
  case "$wf_path" in */*) wf_dir=${wf_path%/*}; wf_dir=${wf_dir:-/} ;; *) wf_dir=. ;; esac
  [ -e "$wf_path" ] && wf_had_old=yes
  if [ -w "$wf_dir" ] && { [ "$wf_had_old" = no ] || [ -w "$wf_path" ]; }; then
    wf_way=move
    wf_fresh="$wf_path.zdd-new"
    wf_saved="$wf_path.zdd-old"
    if ! wf_out=$(printf '%s\n' "$2" 2>&1 > "$wf_fresh"); then
      rm -f -- "$wf_fresh" 2>/dev/null
      write_failed user write "$wf_out"
    fi
    if [ "$wf_had_old" = yes ] && ! wf_out=$(cp -p -- "$wf_path" "$wf_saved" 2>&1); then
      rm -f -- "$wf_fresh"
      write_failed user keep "$wf_out"
    fi
    wf_out=$(mv -f -- "$wf_fresh" "$wf_path" 2>&1) || write_failed user write "$wf_out"
    return 0
  fi
  # Written in place: by the user when the file itself is writable (a group's file in a root
  # directory), otherwise through sudo.
  if [ "$wf_had_old" = yes ] && [ -w "$wf_path" ]; then wf_way=user; else wf_way=sudo; fi
  wf_as=$wf_way
  wf_saved=$(mktemp 2>/dev/null) || write_failed "$wf_as" keep "mktemp could not create a temporary file"
  if [ "$wf_had_old" = yes ] && ! wf_out=$(cat -- "$wf_path" 2>&1 > "$wf_saved"); then
    rm -f -- "$wf_saved"
    write_failed "$wf_as" read "$wf_out"
  fi
  if ! wf_out=$({ printf '%s\n' "$2" | put_file "$wf_way" "$wf_path"; } 2>&1); then
    # tee may have truncated the file before failing (a full disk): put the old text back.
    [ "$wf_had_old" = no ] || put_file "$wf_way" "$wf_path" < "$wf_saved" > /dev/null 2>&1
    rm -f -- "$wf_saved"
    write_failed "$wf_as" write "$wf_out"
  fi
}

# Writes stdin to file $2 in place, as $1 says (user or sudo).
put_file() {
  case "$2" in -*) pf_target=./$2 ;; *) pf_target=$2 ;; esac
  if [ "$1" = user ]; then cat > "$pf_target"; else sudo -n tee "$pf_target" > /dev/null; fi
}

# Puts file $1 back as it was before write_file, written the way $2, which found it there ($3
# yes) or not, its old text kept in $4. A file that was not there is removed again; with sudo,
# where only "tee <file>" may be allowed, $5 "empty" leaves it empty instead (nginx reads an empty
# file as nothing), and "rm" asks sudo for rm.
restore_file() {
  case "$2" in
    move) if [ "$3" = yes ]; then mv -f -- "$4" "$1"; else rm -f -- "$1"; fi ;;
    *)
      if [ "$3" = yes ]; then put_file "$2" "$1" < "$4"
      elif [ "$5" = empty ]; then put_file "$2" "$1" < /dev/null
      else sudo -n rm -f -- "$1"
      fi
      rf_status=$?
      rm -f -- "$4"
      return "$rf_status"
      ;;
  esac
}

http_way=none http_had_old=no http_saved=
if [ -n "$HTTP_FILE" ]; then
  write_file "$HTTP_FILE" "$HTTP_CONTENT"
  http_way=$wf_way http_had_old=$wf_had_old http_saved=$wf_saved
fi
write_file "$INCLUDE" "$CONTENT"
include_way=$wf_way include_had_old=$wf_had_old include_saved=$wf_saved

# Puts the include and the http-level file back, byte for byte, together.
restore() {
  restore_file "$INCLUDE" "$include_way" "$include_had_old" "$include_saved" rm || echo "restore=failed"
  [ "$http_way" = none ] || restore_file "$HTTP_FILE" "$http_way" "$http_had_old" "$http_saved" empty || echo "restore=failed"
}

# The old texts are not needed any more once nginx serves the new ones.
forget_old() {
  [ -z "$include_saved" ] || forget_file "$include_saved"
  [ -z "$http_saved" ] || forget_file "$http_saved"
}
# shellcheck disable=SC2217 # the background rm must hold none of the session's descriptors, stdin included
forget_file() { rm -f -- "$1" < /dev/null > /dev/null 2>&1 3>&- & }

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
  case "$pidp_conf" in /*) ;; *) pidp_conf=${pidp_prefix%/}/$pidp_conf ;; esac
  pidp_path=$(awk '$1 == "pid" { v = $2; sub(/;.*/, "", v); gsub(/["\047]/, "", v); print v; exit }' "$pidp_conf" 2>/dev/null)
  [ -n "$pidp_path" ] || { pidp_option pid-path logs/nginx.pid; pidp_path=$pidp_value; }
  case "$pidp_path" in /*) ;; *) pidp_path=${pidp_prefix%/}/$pidp_path ;; esac
  echo "$pidp_path"
}

# Sets pidp_value to the value of --$1= among the build options of nginx pidp_bin (nginx -V, run
# once), or to $2.
pidp_option() {
  [ -n "$pidp_built" ] || pidp_built=$("$pidp_bin" -V 2>&1 < /dev/null) || pidp_built=' '
  # shellcheck disable=SC2295 # $1 is an option name of nginx -V, which holds no pattern characters
  case "$pidp_built" in
    *" --$1="*) pidp_value=${pidp_built#* --$1=}; pidp_value=${pidp_value%%[[:space:]]*} ;;
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
  worker_children_file=/proc/$1/task/$1/children
  if [ -r "$worker_children_file" ]; then
    worker_children=
    { read -r worker_children < "$worker_children_file"; } 2>/dev/null
    for worker_child in $worker_children; do
      case "$BEFORE" in *" $1:$worker_child "*) continue ;; esac
      worker_title=
      { IFS= read -r worker_title < "/proc/$worker_child/cmdline"; } 2>/dev/null
      case "$worker_title" in *'shutting down'*) ;; 'nginx: worker process'*) return 0 ;; esac
    done
    return 1
  fi
  for worker_pair in $(nginx_workers "$MASTER_HINT"); do
    case "$worker_pair" in "$1":*) ;; *) continue ;; esac
    case "$BEFORE" in *" $worker_pair "*) ;; *) return 0 ;; esac
  done
  return 1
}

# Sets OLD_WORKERS to the pids of master $1's workers listed in BEFORE: those the reload replaces.
set_old_workers() {
  OLD_WORKERS=
  for old_pair in $BEFORE; do
    case "$old_pair" in "$1":*) OLD_WORKERS="$OLD_WORKERS${old_pair#*:} " ;; esac
  done
}

# Prints the pid of a master, not among $1, that runs workers now: after a restart (a reload
# command that stops and starts nginx), the new master of the one that exited.
successor() {
  for successor_pair in $(nginx_workers "$MASTER_HINT"); do
    case " $1 " in *" ${successor_pair%%:*} "*) ;; *) echo "${successor_pair%%:*}"; return 0 ;; esac
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
  BEFORE=" " reload_masters='' reload_seen=
  if [ -n "$SCAN_PID" ]; then
    wait "$SCAN_PID"
    SCAN_PID='' reload_pairs=
    while IFS= read -r reload_pair; do reload_pairs="$reload_pairs $reload_pair"; done < "$SCAN_FILE"
    [ ! -r "$SCAN_FILE.pid" ] || { read -r PID_PATH < "$SCAN_FILE.pid"; } 2>/dev/null
  else
    reload_pairs=$(nginx_workers "$MASTER_HINT")
    [ -z "$NGINX_BIN" ] || [ -n "$PID_PATH" ] || PID_PATH=$(nginx_pid_path)
  fi
  for reload_pair in $reload_pairs; do
    reload_master=${reload_pair%%:*}
    case " $reload_seen " in *" $reload_master "*) ;; *) reload_seen="$reload_seen $reload_master" ;; esac
    [ -z "$SIGNALLED" ] || [ "$reload_master" = "$SIGNALLED" ] || continue
    BEFORE="$BEFORE$reload_pair "
    case " $reload_masters " in *" $reload_master "*) ;; *) reload_masters="$reload_masters $reload_master" ;; esac
  done
  # nginx -s reload signals the master its pid file names: another master that starts a worker
  # meanwhile (one respawning a crashed worker) says nothing about this reload.
  reload_named=
  [ -z "$PID_PATH" ] || { read -r reload_named < "$PID_PATH"; } 2>/dev/null
  case " $reload_masters " in *" $reload_named "*) [ -z "$reload_named" ] || reload_masters=$reload_named ;; esac
  if ! reload_output=$(run_command "$RELOAD_COMMAND" 2>&1); then return 2; fi
  if [ -z "$reload_masters" ]; then echo "reload=unobserved"; sleep 1; return 0; fi
  clock; reload_deadline=$(( NOW + RELOAD_TIMEOUT )) reload_looks=0
  while :; do
    for reload_master in $reload_masters; do
      if has_new_worker "$reload_master"; then
        SIGNALLED=$reload_master
        set_old_workers "$reload_master"
        echo "reload=observed"; echo "nginx_master=$reload_master"; echo "old_workers=$OLD_WORKERS"; return 0
      fi
      if ! pid_alive "$reload_master" && SIGNALLED=$(successor "$reload_seen"); then
        # The old master took its workers with it: nothing is left to hand over.
        OLD_WORKERS=
        echo "reload=observed"; echo "nginx_master=$SIGNALLED"; return 0
      fi
    done
    if clock; [ "$NOW" -ge "$reload_deadline" ]; then echo "reload=not_taken"; return 1; fi
    # nginx forks its new workers a few milliseconds after the signal, and a look costs builtins
    # only: a quick beat at first, a slower one if the master takes longer.
    reload_looks=$(( reload_looks + 1 ))
    if [ "$reload_looks" -le 40 ]; then sleep 0.005; else sleep 0.02; fi
  done
}

# The workers before the reload are looked for while nginx tests the configuration, on another
# core where there is one: the reload needs them only once the test has passed. The answer goes to
# the session's private directory; a script run alone looks for them when it reloads.
# So is the pid file of the master an "nginx -s reload" signals.
SCAN_PID='' SCAN_FILE='' PID_PATH=
if [ -n "${ZDD_TMP:-}" ] && [ -d "$ZDD_TMP" ]; then
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
  exit "$EXIT_TEST_FAILED"
fi

reload_and_wait
status=$?
if [ "$status" != 0 ]; then
  restore
  # nginx kept its old workers, or a failing reload command may still have signalled it: either
  # way, one more reload makes it serve what the include says again.
  (run_command "$RELOAD_COMMAND") > /dev/null 2>&1
  if [ "$status" = 2 ]; then
    echo "error=reload_failed"; echo "@@reload_output"; printf '%s\n' "$reload_output"
    exit "$EXIT_RELOAD_FAILED"
  fi
  echo "error=reload_not_taken"; exit "$EXIT_NOT_TAKEN"
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
      exit "$EXIT_VERIFY_FAILED"
    fi
    sleep "$INTERVAL"
  done
  rm -f -- "$body"
fi
# The old text is not needed any more; it goes in the background, and a fleet's next wave need
# not wait for that.
forget_old
[ -z "$RELEASE_STATE_FILE" ] || printf 'served\n' 2>/dev/null > "$RELEASE_STATE_FILE" || :
echo "switched=yes"
