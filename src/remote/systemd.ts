/**
 * Supervision by systemd: the template unit `zdd-<app-name>@.service` (instance = port), the
 * launcher it runs, and the shell functions that drive systemctl. Pure text builders: the scripts
 * in instance.ts and host.ts splice these in.
 *
 * The unit file holds no value of the service's environment: the launcher reads the release and
 * the start command, java-opts and PATH from `run/<port>.conf` and the env entries from the
 * release's `env`, both of mode 0600, as a detached start does.
 */
import { shellQuote } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'

/** A system unit (as root) or a unit of the user's own manager (which needs lingering). */
export type UnitScope = 'system' | 'user'

/** Where and how the host's units for this app live; absent on a host without usable systemd. */
export interface UnitTarget {
  scope: UnitScope
  appName: string
  /** The user's runtime dir (`/run/user/<uid>`), where `systemctl --user` finds its manager. */
  runtimeDir: string
}

export function templateName(appName: string): string {
  return `zdd-${appName}@.service`
}

export function unitName(appName: string, port: number): string {
  return `zdd-${appName}@${port}.service`
}

/** The directory the unit file goes to, as the shell on the host spells it. */
export function unitDirectory(scope: UnitScope): string {
  return scope === 'system' ? '/etc/systemd/system' : '$HOME/.config/systemd/user'
}

/**
 * One word of a unit file's command line: in double quotes, with `\` and `"` escaped as systemd
 * unquotes them, and `%` and `$` doubled, since systemd expands specifiers and variables there.
 */
export function systemdWord(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new Error('a value for a unit file contains a line break or NUL byte')
  return `"${value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, '%%')
    .replace(/\$/g, '$$$$')}"`
}

/**
 * The template unit. `Restart=on-failure` brings an instance back after a crash; a JVM that ends
 * on SIGTERM exits 143, which is a clean stop, not a failure. `systemctl stop` sends SIGTERM to
 * every process of the instance, then SIGKILL after stop-timeout.
 */
export function unitFileText(p: { appName: string; deployDir: string; stopTimeoutSeconds: number; scope: UnitScope }): string {
  return [
    '# Written by zero-downtime-deploy on every start; edits here are overwritten.',
    '[Unit]',
    `Description=${p.appName} on port %i (zero-downtime-deploy)`,
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=/bin/sh ${systemdWord(`${p.deployDir}/run/launch`)} %i`,
    'Restart=on-failure',
    'RestartSec=1',
    'SuccessExitStatus=143',
    'KillMode=control-group',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${Math.ceil(p.stopTimeoutSeconds)}`,
    '',
    '[Install]',
    `WantedBy=${p.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n')
}

/**
 * What the unit runs: the release recorded for port $1, in its directory, with the same
 * environment as a detached start, its output appended to `logs/<port>.log`. It records itself
 * (the unit's main pid, with its identity: see record_instance) at every start, so that a restart
 * after a crash or a reboot keeps `run/<port>.pid` true for inspect, rollback and status.
 */
export function launcherText(deployDir: string): string {
  return `#!/bin/sh
# Written by zero-downtime-deploy: the unit zdd-<app-name>@<port>.service runs this with its port.
set -u
${SHELL_LIB.trim()}

PORT=$1
cd -- ${shellQuote(deployDir)} || exit 97
exec < /dev/null >> "logs/$PORT.log" 2>&1
. "./run/$PORT.conf" || exit 98
record_instance "$PORT" "$$"
echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting release $RELEASE on port $PORT (systemd)"
cd -P -- "releases/$RELEASE" || exit 97
ARTIFACT="$PWD/$FILE_NAME"
SERVER_PORT=$PORT
export PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS
. ./env || exit 98
exec sh -c "$START_COMMAND"
`
}

/**
 * The first part of `run/<port>.conf`: what the launcher needs to start this instance. The start
 * script appends the session's PATH and HOME (a unit does not get them), and writes it with mode 0600.
 */
export function instanceConfText(p: {
  release: string
  fileName: string
  appName: string
  javaOpts: string
  startCommand: string
}): string {
  const lines: Array<[string, string]> = [
    ['RELEASE', p.release],
    ['FILE_NAME', p.fileName],
    ['APP_NAME', p.appName],
    ['JAVA_OPTS', p.javaOpts],
    ['START_COMMAND', p.startCommand],
  ]
  return lines.map(([name, value]) => `${name}=${shellQuote(value)}\n`).join('')
}

/** The variables SYSTEMCTL_LIB reads, for a script about `port` (empty values: no usable systemd). */
export function unitVars(target: UnitTarget | undefined, port: number): Record<string, string> {
  return {
    UNIT_SCOPE: target?.scope ?? '',
    UNIT_TEMPLATE: target ? templateName(target.appName) : '',
    UNIT: target ? unitName(target.appName, port) : '',
    UNIT_RUNTIME_DIR: target?.runtimeDir ?? '',
  }
}

/**
 * Shell functions for the unit of one port (variables from `unitVars`). Static text.
 */
export const SYSTEMCTL_LIB = `
case "$UNIT_SCOPE" in
  system) UNIT_DIR=/etc/systemd/system ;;
  user) UNIT_DIR="$HOME/.config/systemd/user" ;;
  *) UNIT_DIR= ;;
esac

# systemctl for the unit's scope: the system manager as root, the user's own manager otherwise,
# reached through XDG_RUNTIME_DIR (which a session without PAM does not set).
unit_ctl() {
  if [ "$UNIT_SCOPE" = user ]; then
    XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-$UNIT_RUNTIME_DIR} systemctl --user "$@"
  else
    systemctl "$@"
  fi
}

# Status 0 when this app's template unit is installed.
unit_installed() { [ -n "$UNIT_DIR" ] && [ -f "$UNIT_DIR/$UNIT_TEMPLATE" ]; }

# Stops the port's unit (SIGTERM, SIGKILL after its TimeoutStopSec) and disables it, so that a
# reboot does not bring it back. Prints unit_stopped=<unit> when it was enabled or running.
unit_retire() {
  unit_installed || return 0
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
`
