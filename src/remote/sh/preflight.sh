# preflight.sh: dry-run's look at what a deploy will need, one fact per check; it writes, creates
# and reloads nothing (sudo is asked with `sudo -n -l`, which runs nothing). Takes DEPLOY_DIR,
# INCLUDE, PORT_A, PORT_B, START_PROGRAM, TEST_COMMAND and TEST_COMMAND_ROOT (nginx-test-command
# for a user and for root), TEST_SUDO and RELOAD_SUDO (the words after sudo, as shell text, or
# empty), RELOAD_PROGRAM and RELOAD_PROGRAM_ROOT.
# Prints key=value facts, which src/deploy/preflight.ts turns into the checklist, and the last
# lines of nginx -t's output. Exits 0.
pf_uid=$(id -u 2>/dev/null)
if [ "$pf_uid" = 0 ]; then
  TEST_COMMAND=$TEST_COMMAND_ROOT TEST_SUDO='' RELOAD_SUDO='' RELOAD_PROGRAM=$RELOAD_PROGRAM_ROOT
fi

# Prints whether a program is on the PATH: <name>_path=<where> (empty when it is not).
pf_program() {
  pf_where=
  case "$2" in
    */*) [ ! -f "$2" ] || [ ! -x "$2" ] || pf_where=$2 ;;
    *) pf_where=$(command -v "$2" 2>/dev/null) || pf_where= ;;
  esac
  echo "$1_path=$pf_where"
}

# Asks sudo whether it would run the command whose words are the shell text $2, without running it
# (sudo -n -l): <name>_sudo=allowed|refused|missing, then the words, the program's full path first
# (sudo's secure_path usually holds the sbin directories a user's PATH lacks), for the sudoers line.
pf_sudo() {
  pf_name=$1
  set +u
  eval "set -- $2"
  set -u
  [ $# -gt 0 ] || return 0
  if ! command -v sudo > /dev/null 2>&1; then echo "${pf_name}_sudo=missing"
  elif sudo -n -l "$@" > /dev/null 2>&1; then echo "${pf_name}_sudo=allowed"
  else echo "${pf_name}_sudo=refused"; fi
  pf_word=$1
  case "$pf_word" in /*) ;; *) pf_word=$(PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$pf_word" 2>/dev/null) || pf_word=$1 ;; esac
  shift
  echo "${pf_name}_word=$pf_word"
  for pf_word in "$@"; do echo "${pf_name}_word=$pf_word"; done
}

# deploy-dir: writable if it exists (and its releases, run and logs), else creatable in its nearest
# existing parent. Nothing is created.
resolve_deploy_dir
while :; do case "$DEPLOY_DIR" in ?*/) DEPLOY_DIR=${DEPLOY_DIR%/} ;; *) break ;; esac; done
echo "deploy_dir=$DEPLOY_DIR"
pf_room=
if [ -d "$DEPLOY_DIR" ]; then
  echo "deploy_dir_kind=dir"
  pf_room=$DEPLOY_DIR
  for pf_path in "$DEPLOY_DIR" "$DEPLOY_DIR/releases" "$DEPLOY_DIR/run" "$DEPLOY_DIR/logs"; do
    [ -e "$pf_path" ] || continue
    if [ ! -d "$pf_path" ] || [ ! -w "$pf_path" ] || [ ! -x "$pf_path" ]; then echo "deploy_dir_blocked=$pf_path"; break; fi
  done
elif [ -e "$DEPLOY_DIR" ] || [ -L "$DEPLOY_DIR" ]; then
  echo "deploy_dir_kind=other"
else
  echo "deploy_dir_kind=absent"
  pf_parent=$DEPLOY_DIR
  while [ ! -e "$pf_parent" ]; do pf_parent=${pf_parent%/*}; pf_parent=${pf_parent:-/}; done
  echo "deploy_dir_parent=$pf_parent"
  if [ -d "$pf_parent" ]; then
    pf_room=$pf_parent
    if [ -w "$pf_parent" ] && [ -x "$pf_parent" ]; then echo "deploy_dir_parent_kind=writable"; else echo "deploy_dir_parent_kind=readonly"; fi
  else
    echo "deploy_dir_parent_kind=other"
  fi
fi
if [ -n "$pf_room" ]; then
  pf_usage=$(df -Pk "$pf_room" 2>/dev/null)
  # shellcheck disable=SC2086 # splitting df's last line into fields is the point
  set -- ${pf_usage##*
}
  [ $# -lt 4 ] || echo "free_kb=$4"
fi

# The tools: an HTTP client for the health check, and the start command's program.
if command -v curl >/dev/null 2>&1; then echo "http=curl"
elif command -v wget >/dev/null 2>&1; then echo "http=wget"
else echo "http=none"; fi
[ -z "$START_PROGRAM" ] || pf_program start "$START_PROGRAM"

# The include, checked the way the switch (nginx.ts) writes it: beside it and moved into place when
# its directory is writable, in place when only the file is, else with "sudo -n tee <include>".
case "$INCLUDE" in */*) pf_dir=${INCLUDE%/*}; pf_dir=${pf_dir:-/} ;; *) pf_dir=. ;; esac
if [ -d "$pf_dir" ]; then echo "include_dir=yes"; else echo "include_dir=no"; fi
if [ -e "$INCLUDE" ]; then
  echo "include=present"
  if [ -r "$INCLUDE" ]; then echo "include_readable=yes"; else echo "include_readable=no"; fi
else
  echo "include=absent"
fi
if [ -w "$pf_dir" ] && { [ ! -e "$INCLUDE" ] || [ -w "$INCLUDE" ]; }; then
  echo "include_write=user"
elif [ -e "$INCLUDE" ] && [ -w "$INCLUDE" ]; then
  echo "include_write=user"
else
  echo "include_write=sudo"
  # shellcheck disable=SC2034 # read by the sudo command text below, which pf_sudo evaluates
  case "$INCLUDE" in -*) pf_target=./$INCLUDE ;; *) pf_target=$INCLUDE ;; esac
  # As the switch runs it: "tee" found by sudo; its full path for the sudoers line.
  # shellcheck disable=SC2016 # shell text for pf_sudo, which expands it there
  if [ -d "$pf_dir" ]; then pf_sudo tee 'tee "$pf_target"'; fi
fi

# The test changes nothing: it runs as configured. The reload is only asked of sudo, or its program looked for.
pf_test_output=$( (set +u; eval "$TEST_COMMAND") 2>&1 < /dev/null)
# shellcheck disable=SC2181 # the status of the command substitution above, kept apart from its output
if [ $? = 0 ]; then echo "test=ok"; else echo "test=failed"; fi
[ -z "$TEST_SUDO" ] || pf_sudo test "$TEST_SUDO"
[ -z "$RELOAD_SUDO" ] || pf_sudo reload "$RELOAD_SUDO"
[ -z "$RELOAD_PROGRAM" ] || pf_program reload "$RELOAD_PROGRAM"

# What holds each port of the pair: its pid and command line, when the user may see them.
for pf_port in "$PORT_A" "$PORT_B"; do
  if port_in_use "$pf_port"; then
    pf_holder=$(port_holder "$pf_port")
    echo "port=$pf_port ${pf_holder:--}"
    [ -z "$pf_holder" ] || echo "port_command=$pf_port $(tr '\0\n' '  ' < "/proc/$pf_holder/cmdline" 2>/dev/null | cut -c1-2000)"
  else
    echo "port=$pf_port free"
  fi
done
echo "@@test_output"
printf '%s\n' "$pf_test_output" | tail -n 20
