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
# TEST_PLAIN and RELOAD_PLAIN are "yes" for a command of words alone, which exec runs.
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
    # Written by a builtin; only a write that fails is tried again in a subshell, to say why.
    if ! { printf '%s\n' "$2" > "$wf_fresh"; } 2>/dev/null && ! wf_out=$({ printf '%s\n' "$2" > "$wf_fresh"; } 2>&1); then
      rm -f -- "$wf_fresh" 2>/dev/null
      write_failed user write "$wf_out"
    fi
    # A second name keeps the old file itself (its bytes, mode and owner) once the new one takes
    # its place: one process. A name that a switch cut short left behind is removed first, and the
    # file copied where the file system has no hard links.
    if [ "$wf_had_old" = yes ] && ! ln -- "$wf_path" "$wf_saved" 2>/dev/null &&
      ! wf_out=$(rm -f -- "$wf_saved" && { ln -- "$wf_path" "$wf_saved" 2>/dev/null || cp -p -- "$wf_path" "$wf_saved"; } 2>&1); then
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

# Sets PID_PATH to the pid file of the nginx master that "NGINX_BIN -s reload" signals (nginx reads
# the pid there to find it): the pid directive of its main configuration, else the path it was
# built with, relative paths under its prefix. What nginx was built with takes nginx -V, a process,
# run only when needed; with $1 "quick", status 1 instead. Where nothing can be told, a path where
# no pid file is: the reload is then watched on every master, as for other commands.
nginx_pid_path() {
  pidp_quick=${1:-} pidp_built='' pidp_prefix=$NGINX_PREFIX pidp_conf=$NGINX_CONF
  if [ -z "$pidp_conf" ]; then pidp_option conf-path conf/nginx.conf || return 1; pidp_conf=$pidp_value; fi
  case "$pidp_conf" in /*) ;; *) pidp_need_prefix || return 1; pidp_conf=${pidp_prefix%/}/$pidp_conf ;; esac
  pid_directive "$pidp_conf"
  PID_FROM_CONF=no
  if [ -n "$pidp_path" ]; then PID_FROM_CONF=yes; else pidp_option pid-path logs/nginx.pid || return 1; pidp_path=$pidp_value; fi
  case "$pidp_path" in /*) ;; *) pidp_need_prefix || return 1; pidp_path=${pidp_prefix%/}/$pidp_path ;; esac
  PID_PATH=$pidp_path
}

# Sets pidp_prefix, where -p did not, to the prefix nginx was built with.
pidp_need_prefix() {
  [ -z "$pidp_prefix" ] || return 0
  pidp_option prefix /usr/local/nginx/ || return 1
  pidp_prefix=$pidp_value
}

# Sets pidp_path to the value of the pid directive in nginx configuration file $1, quotes taken
# off, or to '' where it has none. Read with builtins, up to the directive (near the top in the
# configurations that packages ship).
pid_directive() {
  pidp_path=
  [ -r "$1" ] || return 0
  while pidp_key='' pidp_word=''; read -r pidp_key pidp_word _ || [ -n "$pidp_key" ]; do
    [ "$pidp_key" = pid ] || continue
    pidp_word=${pidp_word%%;*}
    while :; do
      case "$pidp_word" in *[\"\']*) pidp_word=${pidp_word%%[\"\']*}${pidp_word#*[\"\']} ;; *) break ;; esac
    done
    pidp_path=$pidp_word
    return 0
  done < "$1"
}

# Sets pidp_value to the value of --$1= among the build options of nginx NGINX_BIN (nginx -V, run
# once), or to $2. Status 1, with nothing run, when pidp_quick is "quick".
pidp_option() {
  if [ -z "$pidp_built" ]; then
    [ "$pidp_quick" != quick ] || return 1
    pidp_bin=$NGINX_BIN
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
    pidp_built=$("$pidp_bin" -V 2>&1 < /dev/null) || pidp_built=' '
  fi
  # shellcheck disable=SC2295 # $1 is an option name of nginx -V, which holds no pattern characters
  case "$pidp_built" in
    *" --$1="*) pidp_value=${pidp_built#* --$1=}; pidp_value=${pidp_value%%[[:space:]]*} ;;
    *) pidp_value=$2 ;;
  esac
}

# Runs a user's command line $2 as sh -c would, in a subshell of this one: one process fewer. One
# of words alone ($1 yes: no shell syntax, see nginx.ts) takes the subshell's place: one more.
run_command() {
  set +u; zdd_plain=$1 zdd_command=$2; shift 2
  if [ "$zdd_plain" = yes ]; then eval "exec $zdd_command"; else eval "$zdd_command"; fi
}

# The nginx master the reload signalled, once seen; later reloads are watched on it alone.
SIGNALLED=
OLD_WORKERS=

# Sets master_children to the pids of process $1's children, read from /proc with builtins alone.
# Status 1 where the kernel keeps no such list.
master_children() {
  mc_children_file=/proc/$1/task/$1/children
  [ -r "$mc_children_file" ] || return 1
  master_children=
  # The list ends without a newline: read's status says nothing.
  { read -r master_children < "$mc_children_file"; } 2>/dev/null
  return 0
}

# Status 0 when master $1 runs a worker that is not among BEFORE: the reload took effect there.
# Other masters (a container's nginx, another network namespace's, another configuration) are none
# of ours: one that was not signalled keeps its workers, and is never waited for.
# A kernel without the list of a process's children gets the full scan, a few processes more.
has_new_worker() {
  if master_children "$1"; then
    for worker_child in $master_children; do
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

# Sets reload_pairs to the workers of the master that PID_PATH names, as nginx_workers lists them
# (master:worker), with builtins alone: the master "nginx -s reload" signals, when it is an nginx
# master whose command line holds MASTER_HINT and runs workers. Status 1 where that cannot be told
# (no pid file, another process there, no list of children): the scan of every process can.
signalled_workers() {
  sw_master='' reload_pairs=''
  { read -r sw_master < "$PID_PATH"; } 2>/dev/null
  case "$sw_master" in '' | *[!0-9]*) return 1 ;; esac
  sw_title=
  { IFS= read -r sw_title < "/proc/$sw_master/cmdline"; } 2>/dev/null
  case "$sw_title" in 'nginx: master process'*"$MASTER_HINT"*) ;; *) return 1 ;; esac
  master_children "$sw_master" || return 1
  for sw_child in $master_children; do
    sw_title=
    { IFS= read -r sw_title < "/proc/$sw_child/cmdline"; } 2>/dev/null
    case "$sw_title" in *'shutting down'*) ;; 'nginx: worker process'*) reload_pairs="$reload_pairs $sw_master:$sw_child" ;; esac
  done
  [ -n "$reload_pairs" ]
}

# Sets SIGNALLED to the master that runs workers in place of one that exited (a reload command
# that stops and starts nginx): the one the pid file names now, for "nginx -s reload"; otherwise a
# master not among $1.
successor() {
  if [ -n "$PID_PATH" ]; then
    successor_pid=
    { read -r successor_pid < "$PID_PATH"; } 2>/dev/null
    case " $1 " in *" $successor_pid "*) return 1 ;; esac
    [ -n "$successor_pid" ] && has_new_worker "$successor_pid" && SIGNALLED=$successor_pid
    return
  fi
  for successor_pair in $(nginx_workers "$MASTER_HINT"); do
    case " $1 " in *" ${successor_pair%%:*} "*) ;; *) SIGNALLED=${successor_pair%%:*}; return 0 ;; esac
  done
  return 1
}

# Sends SIGHUP to the master that "NGINX_BIN -s reload" would signal, as that command does, where
# the command is that one (SIGNAL_RELOAD, set for it without sudo), the pid file is the one the pid
# directive of its configuration names, and that file names the nginx master the workers were just
# read from (reload_named, alone in reload_masters). The command would read the whole configuration
# once more only to find that file, after the test just read it: a process and 5 ms on every
# switch, and every wave of a fleet waits for them. Status 1, with nothing sent, otherwise, or
# where the master is not ours to signal: the command runs then.
signal_reload() {
  [ "$SIGNAL_RELOAD" = yes ] && [ "$PID_FROM_CONF" = yes ] && [ -n "$reload_named" ] && [ "$reload_masters" = "$reload_named" ] &&
    kill -HUP "$reload_named" 2>/dev/null
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
    { { read -r PID_PATH && read -r PID_FROM_CONF; } < "$SCAN_FILE.pid"; } 2>/dev/null || PID_PATH='' PID_FROM_CONF=no
  else
    [ -z "$NGINX_BIN" ] || [ -n "$PID_PATH" ] || nginx_pid_path
    # The workers of the master the pid file names, just before it is signalled.
    [ -n "$PID_PATH" ] && signalled_workers || reload_pairs=$(nginx_workers "$MASTER_HINT")
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
  reload_output=
  if ! signal_reload && ! reload_output=$(run_command "$RELOAD_PLAIN" "$RELOAD_COMMAND" 2>&1); then return 2; fi
  if [ -z "$reload_masters" ]; then echo "reload=unobserved"; sleep 1; return 0; fi
  clock; reload_deadline=$(( NOW + RELOAD_TIMEOUT )) reload_looks=0
  while :; do
    for reload_master in $reload_masters; do
      if has_new_worker "$reload_master"; then
        SIGNALLED=$reload_master
        set_old_workers "$reload_master"
        echo "reload=observed"; echo "nginx_master=$reload_master"; echo "old_workers=$OLD_WORKERS"; return 0
      fi
      if ! pid_alive "$reload_master" && successor "$reload_seen"; then
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

# For "nginx -s reload" whose pid file builtins can find, the workers before the reload are read
# just before it, with builtins too. Otherwise they are looked for while nginx tests the
# configuration, on another core where there is one (and so is the pid file, where nginx -V must
# tell it): the reload needs them only once the test has passed. The answer goes to the session's
# private directory; a script run alone looks for them when it reloads.
SCAN_PID='' SCAN_FILE='' PID_PATH='' PID_FROM_CONF=no
if [ -n "$NGINX_BIN" ] && nginx_pid_path quick; then
  :
elif [ -n "${ZDD_TMP:-}" ] && [ -d "$ZDD_TMP" ]; then
  SCAN_FILE=$ZDD_TMP/nginx-workers
  {
    [ -z "$NGINX_BIN" ] || nginx_pid_path
    printf '%s\n%s\n' "$PID_PATH" "$PID_FROM_CONF" > "$SCAN_FILE.pid"
    if [ -n "$PID_PATH" ] && signalled_workers; then printf '%s\n' "$reload_pairs"; else nginx_workers "$MASTER_HINT"; fi > "$SCAN_FILE"
  } < /dev/null 2>/dev/null 3>&- &
  SCAN_PID=$!
fi

if ! out=$(run_command "$TEST_PLAIN" "$TEST_COMMAND" 2>&1); then
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
  (run_command "$RELOAD_PLAIN" "$RELOAD_COMMAND") > /dev/null 2>&1
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
