# inspect.sh: one round trip that tells a run everything it needs to decide. Takes DEPLOY_DIR,
# INCLUDE, PORT_A, PORT_B, PREPARE (1: create the layout, clear upload leftovers),
# CHECK_LISTENERS (1: tell whether something listens on each port), NEED_JAVA (1: look for java),
# APP_NAME and RELEASE_STATE_FILE.
# Prints key=value lines: deploy_dir, uid, home, http, base64, java, writable, deploy_dir_exists,
# free_kb, release= and never_served= per release, instance= per port, user, systemd, linger,
# unit= per port (or units=unreachable), include; then, when the include exists, its text after
# a line "@@include". Exits 0.
resolve_deploy_dir
echo "deploy_dir=$DEPLOY_DIR"
uid=
while read -r key value _; do [ "$key" = Uid: ] && uid=$value && break; done 2>/dev/null < /proc/self/status
[ -n "$uid" ] || uid=$(id -u)
echo "uid=$uid"
echo "home=$HOME"
if command -v curl >/dev/null 2>&1; then echo "http=curl"
elif command -v wget >/dev/null 2>&1; then echo "http=wget"
else echo "http=none"; fi
# Small uploads travel base64-encoded inside a script when the host can decode them.
if command -v base64 >/dev/null 2>&1; then echo "base64=yes"; fi
if [ "$NEED_JAVA" = 1 ]; then
  if command -v java >/dev/null 2>&1; then echo "java=yes"; else echo "java=no"; fi
fi
if [ "$PREPARE" = 1 ]; then
  if { [ -d "$DEPLOY_DIR/releases" ] && [ -d "$DEPLOY_DIR/run" ] && [ -d "$DEPLOY_DIR/logs" ] ||
    mkdir -p -- "$DEPLOY_DIR/releases" "$DEPLOY_DIR/run" "$DEPLOY_DIR/logs" 2>/dev/null; } && [ -w "$DEPLOY_DIR" ]; then
    echo "writable=yes"
    for partial in "$DEPLOY_DIR"/releases/.partial-*; do
      [ ! -e "$partial" ] || rm -rf -- "$partial" 2>/dev/null
    done
  else
    echo "writable=no"
  fi
fi
if [ -d "$DEPLOY_DIR" ]; then
  echo "deploy_dir_exists=yes"
  usage=$(df -Pk "$DEPLOY_DIR" 2>/dev/null)
  # shellcheck disable=SC2086 # splitting df's last line into fields is the point
  set -- ${usage##*
}
  [ $# -ge 4 ] && echo "free_kb=$4"
else
  echo "deploy_dir_exists=no"
fi
for dir in "$DEPLOY_DIR"/releases/*/; do
  [ -d "$dir" ] || continue
  name=${dir%/}; name=${name##*/}
  # The app runs in its release dir and may write files there: the jar's name is recorded.
  file=
  [ ! -r "$dir.artifact" ] || read -r file < "$dir.artifact"
  if [ -z "$file" ]; then
    for entry in "$dir"*; do
      [ -f "$entry" ] || continue
      case "${entry##*/}" in sha256|env) ;; *.jar) file=${entry##*/}; break ;; *) [ -n "$file" ] || file=${entry##*/} ;; esac
    done
  fi
  sha=
  [ ! -r "$dir/sha256" ] || read -r sha < "$dir/sha256"
  echo "release=$name ${sha:--} $file"
  release_state=
  [ ! -r "$dir$RELEASE_STATE_FILE" ] || read -r release_state < "$dir$RELEASE_STATE_FILE"
  [ "$release_state" != new ] || echo "never_served=$name"
done
# In the deploy dir, where the instance records are read (find_instance), in a subshell: the
# include's path may be relative to the home directory.
(
  records=
  ! cd -- "$DEPLOY_DIR" 2>/dev/null || records=yes
  for port in "$PORT_A" "$PORT_B"; do
    release='' state=stopped RECORDED_PID=
    if [ -n "$records" ]; then
      [ ! -r "run/$port.release" ] || read -r release < "run/$port.release"
      ! find_instance "$port" || state=running
    fi
    listening=-
    if [ "$CHECK_LISTENERS" = 1 ]; then listening=no; ! port_in_use "$port" || listening=yes; fi
    echo "instance=$port ${RECORDED_PID:--} $state $listening ${release:--}"
  done
)
# Supervision: systemd runs when its runtime dir exists; a user's units need lingering.
user=${USER:-$(id -un 2>/dev/null)}
echo "user=$user"
if [ -d /run/systemd/system ]; then
  echo "systemd=yes"
  if [ -e "/var/lib/systemd/linger/$user" ]; then echo "linger=yes"; else echo "linger=no"; fi
  # shellcheck disable=SC2034 # read by the functions of systemctl.sh, included below
  if [ "${uid:-}" = 0 ]; then UNIT_SCOPE=system; else UNIT_SCOPE=user; fi
  # shellcheck disable=SC2034 # read by the functions of systemctl.sh, included below
  UNIT_RUNTIME_DIR="/run/user/$uid" UNIT_TEMPLATE="zdd-$APP_NAME@.service" UNIT_DEPLOY_DIR=$DEPLOY_DIR
# include: systemctl.sh
  if unit_installed; then
    for port in "$PORT_A" "$PORT_B"; do
      # The unit of another deploy-dir of the app on this port (its drop-in names that one) is not ours to report.
      unit_ours "zdd-$APP_NAME@$port.service" || continue
      props=$(unit_ctl show -p ActiveState -p SubState -p UnitFileState -p NRestarts "zdd-$APP_NAME@$port.service" 2>/dev/null) || {
        echo "units=unreachable"; break
      }
      active=- sub=- file=- restarts=-
      while IFS='=' read -r key value; do
        case "$key" in
          ActiveState) active=${value:--} ;;
          SubState) sub=${value:--} ;;
          UnitFileState) file=${value:--} ;;
          NRestarts) restarts=${value:--} ;;
        esac
      done <<EOF
$props
EOF
      echo "unit=$port $active $sub $file $restarts"
    done
  fi
else
  echo "systemd=no"
fi
if [ -f "$INCLUDE" ]; then
  echo "include=present"
  echo "@@include"
  while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done < "$INCLUDE"
else
  echo "include=absent"
fi
