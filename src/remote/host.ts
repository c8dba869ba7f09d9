/** The inspection of the host's state (the deploy lock is in lock.ts). */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'
import { RELEASE_STATE_FILE } from './release.js'
import { SYSTEMCTL_LIB } from './systemd.js'

export interface InspectParams {
  deployDir: string
  include: string
  ports: [number, number]
  /** Create the layout and clear upload leftovers (not in dry-run and status, which change nothing). */
  prepare: boolean
  /**
   * Report whether something listens on each port (for a plan or a status). A deploy need not
   * know: freeing the idle port finds and names whatever holds it, and the kernel's tables are
   * costly to read (see port_in_use).
   */
  checkListeners: boolean
  /** Check that `java` is on PATH (when the start command runs java). */
  needJava: boolean
  /** Names the app's systemd units, whose state is reported when the host runs systemd. */
  appName: string
}

/**
 * One round trip that tells everything a run needs to decide: who we are, which tools exist,
 * whether the deploy dir is writable and has room, the releases, what runs on each port, and the
 * include's text.
 */
export function inspectScript(p: InspectParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      INCLUDE: p.include,
      PORT_A: p.ports[0],
      PORT_B: p.ports[1],
      PREPARE: p.prepare ? 1 : 0,
      CHECK_LISTENERS: p.checkListeners ? 1 : 0,
      NEED_JAVA: p.needJava ? 1 : 0,
      APP_NAME: p.appName,
    },
    `${SHELL_LIB}
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
  set -- \${usage##*
}
  [ $# -ge 4 ] && echo "free_kb=$4"
else
  echo "deploy_dir_exists=no"
fi
for dir in "$DEPLOY_DIR"/releases/*/; do
  [ -d "$dir" ] || continue
  name=\${dir%/}; name=\${name##*/}
  # The app runs in its release dir and may write files there: the jar's name is recorded.
  file=
  [ ! -r "$dir.artifact" ] || read -r file < "$dir.artifact"
  if [ -z "$file" ]; then
    for entry in "$dir"*; do
      [ -f "$entry" ] || continue
      case "\${entry##*/}" in sha256|env) ;; *.jar) file=\${entry##*/}; break ;; *) [ -n "$file" ] || file=\${entry##*/} ;; esac
    done
  fi
  sha=
  [ ! -r "$dir/sha256" ] || read -r sha < "$dir/sha256"
  echo "release=$name \${sha:--} $file"
  release_state=
  [ ! -r "$dir${RELEASE_STATE_FILE}" ] || read -r release_state < "$dir${RELEASE_STATE_FILE}"
  [ "$release_state" != new ] || echo "never_served=$name"
done
# In the deploy dir, where the instance records are read (find_instance), in a subshell: the
# include's path may be relative to the home directory.
(
  records=
  ! cd -- "$DEPLOY_DIR" 2>/dev/null || records=yes
  for port in "$PORT_A" "$PORT_B"; do
    release= state=stopped RECORDED_PID=
    if [ -n "$records" ]; then
      [ ! -r "run/$port.release" ] || read -r release < "run/$port.release"
      ! find_instance "$port" || state=running
    fi
    listening=-
    if [ "$CHECK_LISTENERS" = 1 ]; then listening=no; ! port_in_use "$port" || listening=yes; fi
    echo "instance=$port \${RECORDED_PID:--} $state $listening \${release:--}"
  done
)
# Supervision: systemd runs when its runtime dir exists; a user's units need lingering.
user=\${USER:-$(id -un 2>/dev/null)}
echo "user=$user"
if [ -d /run/systemd/system ]; then
  echo "systemd=yes"
  if [ -e "/var/lib/systemd/linger/$user" ]; then echo "linger=yes"; else echo "linger=no"; fi
  if [ "\${uid:-}" = 0 ]; then UNIT_SCOPE=system; else UNIT_SCOPE=user; fi
  UNIT_RUNTIME_DIR="/run/user/$uid" UNIT_TEMPLATE="zdd-$APP_NAME@.service" UNIT_DEPLOY_DIR=$DEPLOY_DIR
${SYSTEMCTL_LIB.trim()}
  if unit_installed; then
    for port in "$PORT_A" "$PORT_B"; do
      # The unit of another deploy-dir of the app on this port (its drop-in names that one) is not ours to report.
      unit_ours "zdd-$APP_NAME@$port.service" || continue
      props=$(unit_ctl show -p ActiveState -p SubState -p UnitFileState -p NRestarts "zdd-$APP_NAME@$port.service" 2>/dev/null) || {
        echo "units=unreachable"; break
      }
      active=- sub=- file=- restarts=-
      while IFS== read -r key value; do
        case "$key" in
          ActiveState) active=\${value:--} ;;
          SubState) sub=\${value:--} ;;
          UnitFileState) file=\${value:--} ;;
          NRestarts) restarts=\${value:--} ;;
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
  while IFS= read -r line || [ -n "$line" ]; do printf '%s\\n' "$line"; done < "$INCLUDE"
else
  echo "include=absent"
fi`,
  )
}
