/**
 * Supervision by systemd: the template unit `zdd-<app-name>@.service` (instance = port), the
 * launcher it runs (src/remote/sh/launch.sh), and the shell functions that drive systemctl
 * (src/remote/sh/systemctl.sh). Pure text builders: the scripts of instance.ts and host.ts take
 * these in.
 *
 * The unit file holds no value of the service's environment: the launcher reads the release and
 * the start command, java-opts and PATH from `run/<port>.conf` and the env entries from the
 * release's `env`, both of mode 0600, as a detached start does.
 */
import { shellAssignments, shellQuote } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'
import { LAUNCH_SH, SYSTEMCTL_SH } from './sh/generated.js'

/** A system unit (as root) or a unit of the user's own manager (which needs lingering). */
export type UnitScope = 'system' | 'user'

/** Where and how the host's units for this app live; absent on a host without usable systemd. */
export interface UnitTarget {
  scope: UnitScope
  appName: string
  /** The user's runtime dir (`/run/user/<uid>`), where `systemctl --user` finds its manager. */
  runtimeDir: string
  /** The deploy-dir (absolute) whose instances these are: its drop-ins name it, and only its units are retired. */
  deployDir: string
}

export function templateName(appName: string): string {
  return `zdd-${appName}@.service`
}

export function unitName(appName: string, port: number): string {
  return `zdd-${appName}@${port}.service`
}

/** The instance's drop-in, relative to the unit directory: systemd reads it for that port's instance only. */
export function dropInPath(appName: string, port: number): string {
  return `${unitName(appName, port)}.d/zdd.conf`
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

/** The drop-in's command line: it names the deploy-dir, so it also tells which deploy-dir owns a port's unit. */
export function execStartLine(deployDir: string): string {
  return `ExecStart=/bin/sh ${systemdWord(`${deployDir}/run/launch`)} %i`
}

/**
 * The template unit, the same for every deploy-dir of the app. Production and staging of one
 * repository share the app-name, so they share this file: anything of one deploy-dir in it (the
 * launcher's path, the stop timeout) would be rewritten by the other's deploy, and the other's
 * instances would start the wrong launcher after a crash or at boot. So the template names no
 * deploy-dir and has no ExecStart: each port's instance gets its own from its drop-in
 * (`dropInText`), which the deploy of that port's deploy-dir writes. The unit keeps the name
 * `zdd-<app-name>@<port>.service` that the README documents (a hash of the deploy-dir in the
 * name would have renamed every unit of an upgraded host), and two deploy-dirs cannot share a
 * port, so they never share an instance. An instance without a drop-in cannot start (systemd
 * refuses a service without ExecStart) rather than start another deploy-dir's release.
 *
 * `Restart=on-failure` brings an instance back after a crash; a JVM that ends on SIGTERM exits
 * 143, which is a clean stop, not a failure. `systemctl stop` sends SIGTERM to every process of
 * the instance, then SIGKILL after the drop-in's TimeoutStopSec.
 */
export function unitFileText(p: { appName: string; scope: UnitScope }): string {
  return [
    '# Written by zero-downtime-deploy on every start; edits here are overwritten.',
    '# Each instance runs what its drop-in zdd-<app-name>@<port>.service.d/zdd.conf names.',
    '[Unit]',
    `Description=${p.appName} on port %i (zero-downtime-deploy)`,
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    'Restart=on-failure',
    'RestartSec=1',
    'SuccessExitStatus=143',
    'KillMode=control-group',
    'KillSignal=SIGTERM',
    '',
    '[Install]',
    `WantedBy=${p.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n')
}

/**
 * One port's drop-in: its deploy-dir's launcher and stop timeout, and the deploy-dir in a comment
 * line that the shell reads as it is (see unit_ours): a deploy stops only units that name its
 * own. The empty `ExecStart=` first
 * clears a command line the template may still carry (one written by an earlier version of the
 * action, for whichever deploy-dir deployed last).
 */
export function dropInText(p: { deployDir: string; stopTimeoutSeconds: number }): string {
  return [
    '# Written by zero-downtime-deploy on every start of this port; edits here are overwritten.',
    `# deploy-dir: ${p.deployDir}`,
    '[Service]',
    'ExecStart=',
    execStartLine(p.deployDir),
    `TimeoutStopSec=${Math.ceil(p.stopTimeoutSeconds)}`,
    '',
  ].join('\n')
}

/**
 * What the unit runs: the release recorded for port $1, in its directory, with the session's
 * environment as a detached start has it, its output appended to `logs/<port>.log`. It records
 * itself (the unit's main pid, with its identity: see record_instance) at every start, so that a
 * restart after a crash or a reboot keeps `run/<port>.pid` true for inspect, rollback and status.
 *
 * The start command is not exec'd: one that puts the service in the background (`nohup java ...
 * &`, `catalina.sh start`) returns at once, and systemd would take the main process's exit for the
 * end of the service and stop what it left behind. So the launcher stays the unit's main process:
 * it exits with the start command's status when that fails (a crash: Restart=on-failure), and
 * when the command returns 0 and left processes in the unit's cgroup, it waits while any of them
 * lives and exits with an error once they are all gone, so that a crashed background service comes
 * back too. A command that returns 0 and leaves nothing is a clean stop. The health wait watches
 * this pid; a service left in the background keeps its session (the unit's, whose leader this is),
 * which is how the health wait tells its listener is ours.
 */
export function launcherText(deployDir: string): string {
  return `#!/bin/sh
# Written by zero-downtime-deploy: the unit zdd-<app-name>@<port>.service runs this with its port.
set -u
${shellAssignments({ LAUNCH_DEPLOY_DIR: deployDir })}
${SHELL_LIB.trim()}
${LAUNCH_SH}`
}

/**
 * The last part of `run/<port>.conf`: what the launcher needs to start this instance. The start
 * script puts the session's exported environment (see unit_environment) before it, since a unit
 * inherits none of it, and writes the file with mode 0600.
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
    UNIT_DEPLOY_DIR: target?.deployDir ?? '',
  }
}

/** Shell functions for the unit of one port (variables from `unitVars`): src/remote/sh/systemctl.sh. */
export const SYSTEMCTL_LIB = SYSTEMCTL_SH
