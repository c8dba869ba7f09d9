# lib.sh: shell functions every host script starts with, sent once per SSH session (the session's
# shell defines them, and later scripts arrive without them). It takes no variables of its own:
# its functions take arguments, or read DEPLOY_DIR and HOME where they say so. It prints nothing
# and exits with no status of its own.
# Only what the host is promised to have is used: POSIX sh, coreutils, grep, sed, curl or wget,
# and Linux's /proc (to find who holds a port and to watch nginx workers).
# sh has no local variables: what a function sets, its caller sees, so their working variables
# have names the scripts do not use (a script's `state` once came back as a /proc stat line).

# Makes DEPLOY_DIR absolute: a relative deploy-dir is under the deploy user's home, wherever the
# script runs from, and the answers name it in full.
resolve_deploy_dir() { case "$DEPLOY_DIR" in /*) ;; *) DEPLOY_DIR="$HOME/$DEPLOY_DIR" ;; esac; }

# Sets NOW to whole seconds and NOW_CS to hundredths on a clock that only goes forward: for
# deadlines and cadences, not for wall time. Builtins only where /proc/uptime exists; NOW_CS is
# empty where it does not. Every process a script starts costs 20 ms on a loaded host.
clock() {
  if [ -r /proc/uptime ] && read -r NOW _ < /proc/uptime; then
    NOW_CS=${NOW%.*}${NOW#*.}
    # shellcheck disable=SC2295 # the inner expansion is digits: as a pattern it matches only itself
    NOW_CS=${NOW_CS#${NOW_CS%%[!0]*}}
    NOW=${NOW%.*}
  else
    NOW=$(date +%s) NOW_CS=
  fi
}

# Sleeps $1 hundredths of a second.
sleep_cs() {
  sleep_fraction=$(( $1 % 100 ))
  [ "$sleep_fraction" -ge 10 ] || sleep_fraction=0$sleep_fraction
  sleep "$(( $1 / 100 )).$sleep_fraction"
}

# Exit status 0 when process $1 is running: not gone, and not a zombie that init has yet to reap.
# Builtins only: this runs in every wait loop, and a spawn costs 20 ms on a loaded host.
pid_alive() {
  if [ -r "/proc/$1/stat" ]; then
    read -r proc_stat < "/proc/$1/stat" 2>/dev/null || return 1
    proc_state=${proc_stat##*) }
    case "${proc_state%% *}" in Z|X|'') return 1 ;; *) return 0 ;; esac
  elif [ -d /proc/self ]; then
    return 1
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# Exit status 0 when some process of the group led by $1 (or $1 itself) is running.
alive() {
  if [ -d /proc/self ]; then
    pid_alive "$1" || grep -q -E "^[0-9]+ \(.*\) [^ZX] [0-9]+ $1 " /proc/[0-9]*/stat 2>/dev/null
  else
    kill -0 "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null
  fi
}

# HTTP GET $1 into file $2 within $3 seconds; prints the status code (000 when nothing answered).
# BusyBox wget (Alpine's only HTTP client) rejects --max-redirect, and Debian's build crashes on -T:
# it runs under timeout instead. It follows redirects and cannot be told not to, so the first
# status line it shows is the answer. Callers run this in $(...), so nothing set here outlives the
# call: which wget it is, is asked each time (one more process, only on hosts without curl).
http_status() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o "$2" -w '%{http_code}' --max-time "$3" "$1" 2>/dev/null || true
  else
    case $(wget --help 2>&1) in *BusyBox*) http_wget_kind=busybox ;; *) http_wget_kind=gnu ;; esac
    if [ "$http_wget_kind" = gnu ]; then
      http_answer=$(wget -q -S -O "$2" -T "$3" -t 1 --max-redirect=0 "$1" 2>&1)
    elif command -v timeout >/dev/null 2>&1; then
      http_answer=$(timeout "$3" wget -q -S -O "$2" "$1" 2>&1)
    else
      http_answer=$(wget -q -S -O "$2" -T "$3" "$1" 2>&1)
    fi
    http_code=$(printf '%s\n' "$http_answer" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | head -n 1)
    echo "${http_code:-000}"
  fi
}

# Sets LISTENERS to ss's lines for the sockets listening on TCP port $1, IPv4 and IPv6, with their
# inodes. Status 1 when ss cannot tell (not installed, or too old for -H): the caller reads the
# kernel's tables instead. ss asks the kernel for the listeners alone (netlink), which costs it
# a third of what /proc/net/tcp and tcp6 do (see port_in_use), process start included. "state
# listening", not -l: -l asks for closed sockets too, and the kernel then walks its whole
# connection hash to find them.
ss_listeners() {
  command -v ss >/dev/null 2>&1 && LISTENERS=$(ss -Htne state listening "sport = :$1" 2>/dev/null)
}

# Inodes of the sockets listening on TCP port $1: from ss, or from the kernel's tables, of which
# only the top is read (see port_in_use).
listen_inodes() {
  if ss_listeners "$1"; then
    listen_rest=$LISTENERS
    while :; do
      case "$listen_rest" in *ino:*) listen_rest=${listen_rest#*ino:}; echo "${listen_rest%%[!0-9]*}" ;; *) return 0 ;; esac
    done
  fi
  port_hex "$1"
  [ ! -r /proc/net/tcp ] || listening_inodes_in "$HEX" /proc/net/tcp
  [ ! -r /proc/net/tcp6 ] || listening_inodes_in "$HEX" /proc/net/tcp6
}

# Prints the inode of each socket that table $2 lists as listening on port $1 (as port_hex writes
# it), reading no further than the listening sockets at its top.
listening_inodes_in() {
  {
    read -r _
    while read -r _ socket_address _ socket_state _ _ _ _ _ socket_inode _; do
      case "$socket_state" in
        0A) case "$socket_address" in *:"$1") echo "$socket_inode" ;; esac ;;
        03) ;;
        *) return 0 ;;
      esac
    done
  } < "$2"
}

# Sets HEX to port $1 as the kernel's tables write it: four upper-case hex digits.
port_hex() {
  HEX='' hex_rest=$1
  for _ in 1 2 3 4; do
    hex_digit=$(( hex_rest % 16 )); hex_rest=$(( hex_rest / 16 ))
    case $hex_digit in 10) hex_digit=A ;; 11) hex_digit=B ;; 12) hex_digit=C ;; 13) hex_digit=D ;; 14) hex_digit=E ;; 15) hex_digit=F ;; esac
    HEX=$hex_digit$HEX
  done
}

# Status 0 when table $2 (in the format of /proc/net/tcp) lists a socket listening on port $1
# (as port_hex writes it), reading no further than the listening sockets at its top.
listed_as_listening() {
  {
    read -r _
    while read -r _ socket_address _ socket_state _; do
      case "$socket_state" in
        0A) case "$socket_address" in *:"$1") return 0 ;; esac ;;
        03) ;;
        *) return 1 ;;
      esac
    done
  } < "$2"
  return 1
}

# Status 0 when something listens on TCP port $1. The kernel lists the listening sockets first in
# /proc/net/tcp and tcp6, before the established and TIME_WAIT ones (tens of thousands on a busy
# proxy), so reading stops at the first of those: no process is started. (Kernels before 4.4 list
# half-open connections, state 03, among the listeners: they do not end the listeners.) Even so,
# each table costs the kernel a walk of its whole connection hash, which is sized by the host's
# memory, not by its connections: 6 ms on a 24 GiB host, in every network namespace. So ss is
# asked first where there is one, and scripts look only when nothing cheaper can tell, not in wait
# loops.
port_in_use() {
  if ss_listeners "$1"; then
    [ -n "$LISTENERS" ]
  elif [ -r /proc/net/tcp ]; then
    port_hex "$1"
    listed_as_listening "$HEX" /proc/net/tcp || { [ -r /proc/net/tcp6 ] && listed_as_listening "$HEX" /proc/net/tcp6; }
  else
    http_status "http://127.0.0.1:$1/" /dev/null 2 | grep -qv '^000$'
  fi
}

# Sets SOCKETS to the sockets open in process $1 and its children (the default start command's sh
# runs java as its child), as "<pid>:<fd>" words. Builtins only: it runs in wait loops.
sockets_of() {
  SOCKETS='' sockets_children=
  { read -r sockets_children < "/proc/$1/task/$1/children"; } 2>/dev/null
  for sockets_process in $1 $sockets_children; do
    # shellcheck disable=SC2231 # $sockets_process is a pid: nothing to split
    for sockets_fd in /proc/$sockets_process/fd/*; do [ ! -S "$sockets_fd" ] || SOCKETS="$SOCKETS ${sockets_process}:${sockets_fd##*/}"; done
  done 2>/dev/null
}

# The pid of a process holding a socket that listens on port $1 (empty when unknown or not ours to see).
port_holder() {
  # -p makes ss read every process's file descriptors: only here, where the pid is needed.
  holder_pid=$(ss -tnp state listening "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9][0-9]*\).*/\1/p' | head -n 1)
  if [ -n "$holder_pid" ]; then echo "$holder_pid"; return 0; fi
  for holder_inode in $(listen_inodes "$1"); do
    holder_dir=
    # shellcheck disable=SC2012 # ls -l of the fd directories is how the socket inodes are read
    ls -l /proc/[0-9]*/fd 2>/dev/null | while read -r holder_line; do
      case "$holder_line" in
        /proc/*/fd:) holder_dir=${holder_line%/fd:} ;;
        *"socket:[$holder_inode]"*) echo "${holder_dir#/proc/}"; break ;;
      esac
    done | head -n 1
  done | head -n 1
}

# Instance identity. run/<port>.pid names the process a run started on <port>, but a pid alone
# proves nothing: the instance may have ended long ago, or the host rebooted, and the pid now
# belongs to anything on the host. So the file's second line records which process it was: the
# boot and the process's start time. A process is ours only when it is on the same boot, started
# at the recorded time, and runs the release named in run/<port>.release (its working directory is
# that release directory or one in it, or the release directory is on its command line). Files
# written before identities were recorded hold only the pid: for them the release check alone
# decides. A pid that fails is never signalled. These functions work in the deploy dir, whoever
# started the process (a detached start or a supervisor), and use builtins but for the
# command-line fallback.

# Sets BOOT_ID to the kernel's id of this boot (empty where it does not tell).
boot_id() { BOOT_ID=; read -r BOOT_ID 2>/dev/null < /proc/sys/kernel/random/boot_id || BOOT_ID=; }

# Sets PROC_START to the start time of process $1: field 22 of its stat, clock ticks since boot.
# It never changes over the process's life (exec included), and a reused pid has another one.
proc_start() {
  PROC_START=
  read -r proc_line 2>/dev/null < "/proc/$1/stat" || return 1
  # The command name (field 2) may hold spaces and parentheses: count from the last ") ".
  # shellcheck disable=SC2086 # splitting the stat line into fields is the point
  set -- ${proc_line##*) }
  [ $# -ge 20 ] || return 1
  shift 19
  PROC_START=$1
}

# record_instance PORT PID [DEPLOY_DIR]: writes run/PORT.pid (in DEPLOY_DIR, else here) for the
# instance PID on PORT, with its identity (see above), whole, by rename: a reader never sees half of
# it. Call it as soon as the pid is known.
record_instance() {
  boot_id
  proc_start "$2" || PROC_START=
  printf '%s\nboot=%s start=%s\n' "$2" "$BOOT_ID" "$PROC_START" > "${3:-.}/run/$1.pid.$2" &&
    mv -f -- "${3:-.}/run/$1.pid.$2" "${3:-.}/run/$1.pid"
}

# Sets SELF_PID to the pid of the shell process that calls it, a subshell included (where $$ still
# names the script's shell).
self_pid() {
  SELF_PID=
  # shellcheck disable=SC2034 # SELF_PID is read by the scripts
  { read -r SELF_PID _ < /proc/self/stat; } 2>/dev/null || SELF_PID=$(exec sh -c 'echo "$PPID"')
}

# Status 0 when process $1 runs release $2: its working directory is releases/$2 or a directory in
# it (a server that went into the folder it serves, as BusyBox's httpd -h does), or that
# directory's path is on its command line (a start command that changed directory elsewhere).
runs_release() {
  [ -n "$2" ] || return 1
  # shellcheck disable=SC3013 # dash, bash and BusyBox ash have -ef; where a test lacks it, the checks below decide
  [ "/proc/$1/cwd" -ef "releases/$2" ] && return 0
  release_path=$(cd -P -- "releases/$2" 2>/dev/null && pwd) || release_path="$PWD/releases/$2"
  if process_cwd=$(cd -P -- "/proc/$1/cwd" 2>/dev/null && pwd); then
    case "$process_cwd/" in "$release_path/"*) return 0 ;; esac
  fi
  grep -q -a -F -e "$release_path/" "/proc/$1/cmdline" 2>/dev/null
}

# Status 0 when process (group) $1 is the instance recorded with identity line $2 ("" for a file
# written before identities were recorded) running release $3. When the recorded process has
# exited but its group lives on (a start command that left the app in the background), a member
# of the group must run the release.
is_our_instance() {
  id_boot='' id_start=
  case "$2" in
    boot=*) id_boot=${2#boot=}; id_boot=${id_boot%% *}; id_start=${2##*start=}; id_start=${id_start%% *} ;;
    ?*) return 1 ;;
  esac
  if [ -n "$2" ]; then boot_id; [ "$id_boot" = "$BOOT_ID" ] || return 1; fi
  if pid_alive "$1"; then
    if [ -n "$2" ]; then proc_start "$1" && [ "$id_start" = "$PROC_START" ] || return 1; fi
    runs_release "$1" "$3"
    return
  fi
  # shellcheck disable=SC2013 # grep -l prints paths of /proc, which hold no spaces
  for instance_member in $(grep -l -E "^[0-9]+ \(.*\) [^ZX] [0-9]+ $1 " /proc/[0-9]*/stat 2>/dev/null); do
    instance_member=${instance_member#/proc/}; instance_member=${instance_member%/stat}
    # Started after the recorded process: a member of an older group of the same id is not ours.
    # shellcheck disable=SC2015 # either failure means: not this member
    if [ -n "$2" ]; then proc_start "$instance_member" && [ "$PROC_START" -ge "$id_start" ] 2>/dev/null || continue; fi
    runs_release "$instance_member" "$3" && return 0
  done
  return 1
}

# find_instance PORT: status 0, with INSTANCE_PID set, when run/PORT.pid names a live process
# (group) proven to be our instance on PORT. When it names a live process that is not ours,
# STALE_PID is set to that pid and "stale_pid=PORT PID" printed, for the log: that process must
# not be signalled. RECORDED_PID is the pid the file names (empty without one); INSTANCE_ID its
# identity line, INSTANCE_RELEASE the release, for a later is_our_instance. run/PORT.release must
# name the release the instance runs: whoever starts one writes it beside record_instance's file.
find_instance() {
  INSTANCE_PID='' STALE_PID='' RECORDED_PID='' INSTANCE_ID='' INSTANCE_RELEASE=
  { read -r RECORDED_PID; read -r INSTANCE_ID; } 2>/dev/null < "run/$1.pid"
  case "$RECORDED_PID" in ''|*[!0-9]*) RECORDED_PID=; return 1 ;; esac
  [ "$RECORDED_PID" -gt 1 ] && alive "$RECORDED_PID" || return 1
  read -r INSTANCE_RELEASE 2>/dev/null < "run/$1.release" || :
  # Without /proc (not Linux) there is nothing to prove it with: the pid file is believed.
  if [ ! -d /proc/self ] || is_our_instance "$RECORDED_PID" "$INSTANCE_ID" "$INSTANCE_RELEASE"; then
    # shellcheck disable=SC2034 # INSTANCE_PID is read by the scripts
    INSTANCE_PID=$RECORDED_PID
    return 0
  fi
  STALE_PID=$RECORDED_PID
  echo "stale_pid=$1 $STALE_PID"
  return 1
}

# Status 0 when every socket listening on TCP port $1 is held by process $2 or its family: its
# children and the processes of its group or session (what stop_group stops). Where the kernel's
# tables cannot be read nothing can be told, and status is 0. Most often the process or a child
# holds them, which its own descriptors tell; only otherwise is every process's stat read to find
# the rest of the family. Call it once, not in a wait loop.
listeners_are_ours() {
  own_inodes=$(listen_inodes "$1")
  [ -n "$own_inodes" ] || return 0
  own_children=
  { read -r own_children < "/proc/$2/task/$2/children"; } 2>/dev/null
  own_fds=
  for own_pid in $2 $own_children; do own_fds="$own_fds /proc/$own_pid/fd"; done
  ! holds_sockets "$own_fds" "$own_inodes" || return 0
  own_fds=
  # Fields 1, 4, 5 and 6 of a stat line: pid, parent, process group, session.
  # shellcheck disable=SC2013 # grep -l prints paths of /proc, which hold no spaces
  for own_stat in $(grep -l -E "^($2 |[0-9]+ \(.*\) . ([0-9]+ ){0,2}$2 )" /proc/[0-9]*/stat 2>/dev/null); do
    own_fds="$own_fds ${own_stat%stat}fd"
  done
  [ -n "$own_fds" ] && holds_sockets "$own_fds" "$own_inodes"
}

# Status 0 when the descriptor directories $1 hold every socket inode in $2.
holds_sockets() {
  # shellcheck disable=SC2086 # $1 is a list of fd directories, split on purpose
  held=$(ls -l $1 2>/dev/null)
  for held_inode in $2; do
    case "$held" in *"socket:[$held_inode]"*) ;; *) return 1 ;; esac
  done
}

# The program that process $1 runs, by name, for messages: its first word only, since the
# arguments may carry secrets.
program_of() {
  program_path=$(tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | head -n 1)
  echo "${program_path##*/}"
}

# The command line of pid $1, for messages.
command_of() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | cut -c1-200; }

# Sends signal $1 to the group led by $2, or to $2 alone when it leads none. ("kill -SIG -PGID"
# without "--": dash rejects "kill -TERM -- -PGID".)
signal_group() { kill -"$1" "-$2" 2>/dev/null || kill -"$1" "$2" 2>/dev/null; }

# Status 0 when process $1 is the one identity line $2 ("boot=... start=...", as record_instance
# writes it) names: same boot, same start time. When it has exited but its group lives on, a member
# of the group started at or after it must be alive: the kernel does not give a group's id to a new
# process while the group has members, so only then is a signal to the group still ours to send.
group_is() {
  group_boot=${2#*boot=}; group_boot=${group_boot%% *}
  group_start=${2##*start=}; group_start=${group_start%% *}
  case "$group_start" in ''|*[!0-9]*) return 1 ;; esac
  boot_id; [ "$group_boot" = "$BOOT_ID" ] || return 1
  if pid_alive "$1"; then proc_start "$1" && [ "$PROC_START" = "$group_start" ]; return; fi
  # shellcheck disable=SC2013 # grep -l prints paths of /proc, which hold no spaces
  for group_member in $(grep -l -E "^[0-9]+ \(.*\) [^ZX] [0-9]+ $1 " /proc/[0-9]*/stat 2>/dev/null); do
    group_member=${group_member#/proc/}; group_member=${group_member%/stat}
    proc_start "$group_member" && [ "$PROC_START" -ge "$group_start" ] 2>/dev/null && return 0
  done
  return 1
}

# Sets PROC_ID to the identity line of live process $1 (empty when it is gone), for group_is.
proc_id() {
  PROC_ID=
  boot_id
  proc_start "$1" && PROC_ID="boot=$BOOT_ID start=$PROC_START"
}

# stop_group PID TIMEOUT [IDENTITY RELEASE]: SIGTERM the group led by PID, SIGKILL after TIMEOUT
# seconds, but only to the same process (group) still: proven by is_our_instance with IDENTITY and
# RELEASE when they are given, else by the start time PID had when it was asked to stop. A pid
# that has been reused meanwhile is never killed. Prints what it had to do.
stop_group() {
  alive "$1" || return 0
  stop_id=${3:-} stop_release=${4:-}
  if [ -z "$stop_release" ]; then proc_id "$1"; stop_id=$PROC_ID; fi
  signal_group TERM "$1"
  clock; stop_deadline=$(( NOW + $2 ))
  while alive "$1"; do
    if clock; [ "$NOW" -ge "$stop_deadline" ]; then
      if [ -n "$stop_release" ]; then
        is_our_instance "$1" "$stop_id" "$stop_release" || { echo "not_killed=$1"; return 0; }
      else
        group_is "$1" "$stop_id" || { echo "not_killed=$1"; return 0; }
      fi
      signal_group KILL "$1"
      echo "killed=$1"
      sleep 0.1
      return 0
    fi
    sleep 0.05
  done
  echo "stopped=$1"
}

# Runs "$@" in place of this process (same pid, same start time) in a session of its own, so that
# nothing aimed at the caller's session or process group (a lock takeover ends the silent run's
# session) reaches it. setsid (util-linux, or BusyBox's applet) or Perl's POSIX::setsid makes it;
# none forks, since the caller is a background child that leads no group. sh's own job control
# (set -m) cannot: dash and BusyBox ash turn it off without a terminal. Without any of them the
# command runs in the caller's group.
exec_detached() {
  if command -v setsid >/dev/null 2>&1; then
    exec setsid "$@"
  elif command -v busybox >/dev/null 2>&1 && busybox setsid true >/dev/null 2>&1; then
    exec busybox setsid "$@"
  elif command -v perl >/dev/null 2>&1; then
    exec perl -MPOSIX -e 'POSIX::setsid(); exec { $ARGV[0] } @ARGV or exit 127' -- "$@"
  fi
  exec "$@"
}

# The live nginx workers (not shutting down), one "<master pid>:<worker pid>" line each, of the
# nginx masters whose command line holds $1 (all masters when $1 is empty or matches none). nginx
# writes its role into its command line ("nginx: master process <its arguments>"), so one grep over
# /proc finds them all. Each worker comes with its master: a host may run several nginx masters
# that look alike (a container's, another network namespace's), and a reload replaces the workers
# of one of them only.
nginx_workers() {
  nginx_titles=$(grep -a -H -o -E 'nginx: (master|worker) process[^[:cntrl:]]*' /proc/[0-9]*/cmdline 2>/dev/null)
  nginx_masters='' nginx_all_masters=
  while IFS= read -r nginx_line; do
    case "$nginx_line" in *':nginx: master process'*) ;; *) continue ;; esac
    nginx_pid=${nginx_line#/proc/}; nginx_pid=${nginx_pid%%/*}
    nginx_all_masters="$nginx_all_masters $nginx_pid"
    case "$nginx_line" in *"$1"*) nginx_masters="$nginx_masters $nginx_pid" ;; esac
  done <<EOF
$nginx_titles
EOF
  [ -n "$nginx_masters" ] || nginx_masters=$nginx_all_masters
  while IFS= read -r nginx_line; do
    case "$nginx_line" in *'shutting down'*) continue ;; *':nginx: worker process'*) ;; *) continue ;; esac
    nginx_pid=${nginx_line#/proc/}; nginx_pid=${nginx_pid%%/*}
    read -r _ _ _ nginx_parent _ < "/proc/$nginx_pid/stat" 2>/dev/null || continue
    case " $nginx_masters " in *" $nginx_parent "*) echo "$nginx_parent:$nginx_pid" ;; esac
  done <<EOF
$nginx_titles
EOF
}

# Waits up to $2 seconds until each nginx worker in $1 has exited or calls itself "shutting down":
# from then on nginx gives it no new connection. A reload's master tells its old workers so 100 ms
# after it starts the new ones. Prints handover=late if the wait ran out.
await_retired() {
  [ -n "$1" ] || return 0
  clock; retire_deadline=$(( NOW + $2 ))
  while :; do
    retire_done=yes
    for retire_worker in $1; do
      retire_title=
      { IFS= read -r retire_title < "/proc/$retire_worker/cmdline"; } 2>/dev/null
      case "$retire_title" in *'shutting down'*) ;; 'nginx: worker process'*) retire_done=no; break ;; esac
    done
    [ "$retire_done" = no ] || return 0
    if clock; [ "$NOW" -ge "$retire_deadline" ]; then echo "handover=late"; return 0; fi
    sleep 0.02
  done
}
