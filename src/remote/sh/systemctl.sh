# systemctl.sh: shell functions that drive the systemd unit of one port, and UNIT_DIR set for
# them. Takes UNIT_SCOPE (system, user, or empty: no usable systemd), UNIT_TEMPLATE, UNIT,
# UNIT_RUNTIME_DIR and UNIT_DEPLOY_DIR (see unitVars in systemd.ts), and for unit_install
# UNIT_TEXT and UNIT_DROPIN_TEXT. Scripts start with it after lib.sh, or include it where those
# variables are set. Prints nothing of its own.

case "$UNIT_SCOPE" in
  system) UNIT_DIR=/etc/systemd/system ;;
  user) UNIT_DIR="$HOME/.config/systemd/user" ;;
  *) UNIT_DIR= ;;
esac

# systemctl for the unit's scope: the system manager as root, the user's own manager otherwise,
# reached through XDG_RUNTIME_DIR (which a session without PAM does not set).
unit_ctl() {
  if [ "$UNIT_SCOPE" = user ]; then
    XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$UNIT_RUNTIME_DIR} systemctl --user "$@"
  else
    systemctl "$@"
  fi
}

# Status 0 when this app's template unit is installed.
unit_installed() { [ -n "$UNIT_DIR" ] && [ -f "$UNIT_DIR/$UNIT_TEMPLATE" ]; }

# Status 0 when unit $1 is this deploy-dir's: its drop-in names it. A unit without a drop-in was
# started before drop-ins existed, by the deploy-dir whose pair holds its port, as ever.
unit_ours() {
  [ -f "$UNIT_DIR/$1.d/zdd.conf" ] || return 0
  grep -q -x -F -e "# deploy-dir: $UNIT_DEPLOY_DIR" "$UNIT_DIR/$1.d/zdd.conf"
}

# Stops the port's unit (SIGTERM, SIGKILL after its TimeoutStopSec) and disables it, so that a
# reboot does not bring it back. Prints unit_stopped=<unit> when it was enabled or running. The
# unit of another deploy-dir (its drop-in names that one) is never touched: unit_foreign=<unit>.
unit_retire() {
  unit_installed || return 0
  if ! unit_ours "$UNIT"; then echo "unit_foreign=$UNIT"; return 0; fi
  unit_enabled=$(unit_ctl is-enabled "$UNIT" 2>/dev/null)
  unit_active=$(unit_ctl is-active "$UNIT" 2>/dev/null)
  case "$unit_active" in inactive|failed|unknown|'') unit_running= ;; *) unit_running=1 ;; esac
  [ "$unit_active" != failed ] || unit_ctl reset-failed "$UNIT" 2>/dev/null
  [ "$unit_enabled" = enabled ] || [ -n "$unit_running" ] || return 0
  echo "unit_stopped=$UNIT"
  [ "$unit_enabled" != enabled ] || unit_ctl disable --quiet "$UNIT" 2>/dev/null
  [ -z "$unit_running" ] || unit_ctl stop "$UNIT" 2>/dev/null
  return 0
}

# Writes $2 to file $1 unless it already holds exactly that; status 0 when it wrote.
write_changed() {
  if [ -f "$1" ] && [ "$(cat -- "$1")" = "$(printf '%s' "$2")" ]; then return 1; fi
  printf '%s' "$2" > "$1.new" && mv -f -- "$1.new" "$1"
}

# A host upgraded from template units that named one deploy-dir: every enabled instance of the
# app without a drop-in gets one naming the deploy-dir it belongs to, so that it still starts
# after a crash or at boot once the template names none. That deploy-dir is the one its running
# main process works in (the release dir the launcher went to), else the one the old template
# names, if it holds this port's settings. An instance neither tells stays without: it cannot
# start (no ExecStart) until its deploy-dir deploys again, rather than start another's release.
# Sets unit_changed when it wrote one.
unit_adopt() {
  unit_adopt_old=$(sed -n 's/^ExecStart=\/bin\/sh "\([^"\\%$]*\)\/run\/launch" %i$/\1/p' "$UNIT_DIR/$UNIT_TEMPLATE" 2>/dev/null)
  unit_adopt_timeout=$(grep '^TimeoutStopSec=' "$UNIT_DIR/$UNIT_TEMPLATE" 2>/dev/null)
  for unit_adopt_link in "$UNIT_DIR"/*.wants/"${UNIT_TEMPLATE%@.service}"@*.service; do
    unit_adopt_unit=${unit_adopt_link##*/}
    # shellcheck disable=SC2015 # an unlinked instance or one with a drop-in is skipped alike
    [ -L "$unit_adopt_link" ] && [ ! -f "$UNIT_DIR/$unit_adopt_unit.d/zdd.conf" ] || continue
    unit_adopt_port=${unit_adopt_unit##*@}; unit_adopt_port=${unit_adopt_port%.service}
    unit_adopt_dir=
    unit_adopt_pid=$(unit_ctl show -p MainPID "$unit_adopt_unit" 2>/dev/null)
    unit_adopt_pid=${unit_adopt_pid#MainPID=}
    case "$unit_adopt_pid" in ''|0|*[!0-9]*) ;; *)
      unit_adopt_cwd=$(cd -P -- "/proc/$unit_adopt_pid/cwd" 2>/dev/null && pwd) && unit_adopt_dir=${unit_adopt_cwd%/releases/*} ;;
    esac
    [ -n "$unit_adopt_dir" ] && [ -f "$unit_adopt_dir/run/$unit_adopt_port.conf" ] || unit_adopt_dir=$unit_adopt_old
    # shellcheck disable=SC2015 # a cwd that is no deploy-dir, or none, falls back alike
    [ -n "$unit_adopt_dir" ] && [ -f "$unit_adopt_dir/run/$unit_adopt_port.conf" ] || continue
    case "$unit_adopt_dir" in *[\\\"%$]*) continue ;; esac
    mkdir -p -- "$UNIT_DIR/$unit_adopt_unit.d" &&
      printf '%s\n' '# Written by zero-downtime-deploy for an instance started before drop-ins existed.' \
        "# deploy-dir: $unit_adopt_dir" '[Service]' 'ExecStart=' "ExecStart=/bin/sh \"$unit_adopt_dir/run/launch\" %i" \
        "${unit_adopt_timeout:-TimeoutStopSec=30}" > "$UNIT_DIR/$unit_adopt_unit.d/zdd.conf" &&
      echo "unit_adopted=$unit_adopt_unit $unit_adopt_dir" && unit_changed=yes
  done
}

# Installs this port's unit: the template (the same for every deploy-dir), this port's drop-in
# naming this deploy-dir, and drop-ins for instances started before drop-ins existed; reloads
# systemd when any of them changed. Status 1 when a file could not be written, or the port's unit
# is another deploy-dir's (unit_error= says which).
unit_install() {
  mkdir -p -- "$UNIT_DIR/$UNIT.d" || return 1
  # Two deploy-dirs given the same port: the other's enabled or running unit is not taken over.
  if ! unit_ours "$UNIT" && { [ "$(unit_ctl is-enabled "$UNIT" 2>/dev/null)" = enabled ] ||
    [ "$(unit_ctl is-active "$UNIT" 2>/dev/null)" = active ]; }; then
    echo "unit_error=$UNIT runs deploy-dir $(sed -n 's/^# deploy-dir: //p' "$UNIT_DIR/$UNIT.d/zdd.conf"), another deploy-dir of this app on this host: give each deploy-dir ports of its own."
    return 1
  fi
  unit_changed=
  # Before the template is rewritten: the old one may name an instance's deploy-dir.
  unit_adopt
  ! write_changed "$UNIT_DIR/$UNIT_TEMPLATE" "$UNIT_TEXT" || unit_changed=yes
  ! write_changed "$UNIT_DIR/$UNIT.d/zdd.conf" "$UNIT_DROPIN_TEXT" || unit_changed=yes
  [ -f "$UNIT_DIR/$UNIT_TEMPLATE" ] && [ -f "$UNIT_DIR/$UNIT.d/zdd.conf" ] || return 1
  [ -z "$unit_changed" ] || unit_ctl daemon-reload
}

# Prints the session's exported environment as shell commands, for a unit, which inherits none
# of it. Left out is what describes the SSH session itself and would be wrong, or dangling, once
# it ends: SSH_* (the client's address, a forwarded agent's socket), XDG_SESSION_*, XDG_SEAT,
# XDG_VTNR, XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS (the login session's runtime dir, removed
# at logout; a user manager sets its own), and the shell's own PWD, OLDPWD, SHLVL and _. Names
# are read from export -p's lines; a line of a multi-line value that looks like one can only
# unset a variable that is left out anyway.
unit_environment() (
  for unit_env_name in $(export -p | sed -n -e 's/^export \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' -e 's/^declare -x \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p'); do
    case "$unit_env_name" in
      SSH_*|XDG_SESSION_*|XDG_SEAT|XDG_VTNR|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|PWD|OLDPWD|SHLVL|_) unset "$unit_env_name" ;;
    esac
  done
  export -p
)
