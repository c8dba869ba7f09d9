# launch.sh: what the unit zdd-<app-name>@<port>.service runs, with its port as $1 (written to
# run/launch after lib.sh, with LAUNCH_DEPLOY_DIR set). It starts the release recorded for the port
# in its directory, with the settings of run/<port>.conf and the release's env file, its output
# appended to logs/<port>.log, and records itself (record_instance) at every start. It stays the
# unit's main process: it exits with the start command's status when that fails, and when the
# command returns 0 and leaves processes in the unit's cgroup, it waits while any of them lives
# and exits 1 once they are all gone (so that systemd starts it again). Exits 97 when a directory
# is missing, 98 when the settings cannot be read.

# The cgroup.procs file of this unit's cgroup (name=systemd on a legacy or hybrid host, the
# unified one otherwise) in LAUNCH_PROCS; status 1 when this is not a unit's cgroup.
launch_cgroup() {
  LAUNCH_PROCS=
  while IFS= read -r launch_line; do
    case "$launch_line" in
      *:name=systemd:*.service) launch_try="/sys/fs/cgroup/systemd${launch_line#*:name=systemd:}" ;;
      0::*.service)
        launch_try="/sys/fs/cgroup${launch_line#0::}"
        [ -r "$launch_try/cgroup.procs" ] || launch_try="/sys/fs/cgroup/unified${launch_line#0::}" ;;
      *) continue ;;
    esac
    if [ -r "$launch_try/cgroup.procs" ]; then LAUNCH_PROCS=$launch_try/cgroup.procs; return 0; fi
  done < /proc/self/cgroup
  return 1
}

# Status 0 while a process other than this one is in the unit's cgroup (builtins only).
launch_others() {
  launch_other=
  while read -r launch_pid; do [ "$launch_pid" = "$$" ] || launch_other=yes; done < "$LAUNCH_PROCS"
  [ -n "$launch_other" ]
}

cd -- "$LAUNCH_DEPLOY_DIR" || exit 97
exec < /dev/null >> "logs/$1.log" 2>&1
# The session's environment, then this instance's settings (which win over the session's).
# shellcheck disable=SC1090 # the port's settings, written by the start script
. "./run/$1.conf" || exit 98
PORT=$1
record_instance "$PORT" "$$"
echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting release $RELEASE on port $PORT (systemd)"
cd -P -- "releases/$RELEASE" || exit 97
ARTIFACT="$PWD/$FILE_NAME"
SERVER_PORT=$PORT
export PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS
# shellcheck disable=SC1091 # the release's env file, written by finalize-release.sh
. ./env || exit 98
sh -c "$START_COMMAND"
launch_status=$?
[ "$launch_status" = 0 ] || exit "$launch_status"
launch_cgroup && launch_others || exit 0
echo "--- the start command returned and left the service running in the background: waiting while it runs"
while launch_others; do sleep 1; done
echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) every process the start command left has ended: exit 1, so that systemd starts it again"
exit 1
