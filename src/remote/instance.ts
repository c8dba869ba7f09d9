/** Scripts that run the service: free a port, start a release there, check its health, stop it. */
import { shellScript } from './quote.js'
import { FREE_PORT_SH, PROBE_SH, REPORT_HOLDER_SH, START_SH, STOP_SH, TAKE_OVER_SH } from './sh/generated.js'
import { SHELL_LIB } from './shell-lib.js'
import { SYSTEMCTL_LIB, type UnitTarget, dropInText, instanceConfText, launcherText, unitFileText, unitVars } from './systemd.js'

export interface FreePortParams {
  deployDir: string
  port: number
  stopTimeoutSeconds: number
  /** The host's systemd, when usable: a unit of this app on the port is stopped and disabled first. */
  unit?: UnitTarget
}

/** Exit codes of the instance scripts, so the client can tell the failures apart. */
export const INSTANCE_EXIT = { portBusy: 50, startFailed: 51, exited: 52, unhealthy: 53, notOurs: 54 } as const

/**
 * freePortScript's exit when a process this action did not start holds the port: it is named
 * (`holder_pid`, `holder_start`, `holder_command`) and left alone. Whether it is this service after
 * all (a JVM of a script-era deploy, see same-service.ts) the client decides; only then does it
 * send `takeOverScript`.
 */
export const PORT_HELD_EXIT = 58

/**
 * Frees a port: stops our instance there (SIGTERM, SIGKILL after the timeout; once it has closed
 * its listener it may finish in the background, still bounded by the timeout), and confirms that
 * nothing listens any more. Any other process listening there is never signalled: it is named, and
 * the script exits with PORT_HELD_EXIT.
 */
export function freePortScript(p: FreePortParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      PORT: p.port,
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      ...unitVars(p.unit, p.port),
      EXIT_PORT_BUSY: INSTANCE_EXIT.portBusy,
      EXIT_START_FAILED: INSTANCE_EXIT.startFailed,
      EXIT_PORT_HELD: PORT_HELD_EXIT,
    },
    `${SHELL_LIB}${SYSTEMCTL_LIB}${REPORT_HOLDER_SH}\n${FREE_PORT_SH}`,
  )
}

/**
 * Takes the port over from a JVM of a script-era deploy that freePortScript named (pid and start
 * time) and the client judged to be this service: SIGTERM to that process alone (its group may be
 * an old deploy script's shell), SIGKILL after the timeout, each only while the pid still names the
 * process that was judged. Then it confirms that nothing listens any more; if something does, it
 * is named as freePortScript names it.
 */
export function takeOverScript(p: { port: number; pid: number; startTime: string; stopTimeoutSeconds: number }): string {
  return shellScript(
    {
      PORT: p.port,
      TAKEN_PID: p.pid,
      TAKEN_START: p.startTime,
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      EXIT_PORT_BUSY: INSTANCE_EXIT.portBusy,
    },
    `${SHELL_LIB}${REPORT_HOLDER_SH}\n${TAKE_OVER_SH}`,
  )
}

export interface StartParams {
  deployDir: string
  port: number
  release: string
  fileName: string
  appName: string
  javaOpts: string
  startCommand: string
  healthUrl: string
  healthExpect: string
  healthTimeoutSeconds: number
  healthIntervalSeconds: number
  stopTimeoutSeconds: number
  /** For the line that marks the start in the port's log. */
  startedAt: Date
  /** Start it as the port's instance of the app's systemd unit, enabled; otherwise detached. */
  unit?: UnitTarget
}

/**
 * Starts the release on a free port, detached from the session (stdin from /dev/null, output
 * appended to the port's log), and polls its health until it answers 2xx while the process this
 * run started is alive. On failure the new instance is stopped again and the log tail returned,
 * so a failed start never leaves anything running.
 */
export function startScript(p: StartParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      PORT: p.port,
      RELEASE: p.release,
      FILE_NAME: p.fileName,
      APP_NAME: p.appName,
      JAVA_OPTS: p.javaOpts,
      START_COMMAND: p.startCommand,
      HEALTH_URL: p.healthUrl,
      HEALTH_EXPECT: p.healthExpect,
      HEALTH_TIMEOUT: Math.ceil(p.healthTimeoutSeconds),
      HEALTH_INTERVAL: p.healthIntervalSeconds,
      HEALTH_INTERVAL_CS: Math.max(1, Math.round(p.healthIntervalSeconds * 100)),
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      STARTED_AT: p.startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
      ...unitVars(p.unit, p.port),
      // The drop-in this start writes names p.deployDir: its own unit is then always ours to retire.
      UNIT_DEPLOY_DIR: p.deployDir,
      UNIT_TEXT: p.unit ? unitFileText({ appName: p.appName, scope: p.unit.scope }) : '',
      UNIT_DROPIN_TEXT: p.unit ? dropInText({ deployDir: p.deployDir, stopTimeoutSeconds: p.stopTimeoutSeconds }) : '',
      LAUNCHER_TEXT: p.unit ? launcherText(p.deployDir) : '',
      CONF_TEXT: p.unit ? instanceConfText(p) : '',
      EXIT_START_FAILED: INSTANCE_EXIT.startFailed,
      EXIT_EXITED: INSTANCE_EXIT.exited,
      EXIT_UNHEALTHY: INSTANCE_EXIT.unhealthy,
      EXIT_NOT_OURS: INSTANCE_EXIT.notOurs,
    },
    `${SHELL_LIB}${SYSTEMCTL_LIB}\n${START_SH}`,
  )
}

/** One health probe of each given port: `probe=<port> <http status> <ok|fail>`. */
export function probeScript(p: { ports: number[]; healthPath: string; healthExpect: string }): string {
  return shellScript({ PORTS: p.ports.join(' '), HEALTH_PATH: p.healthPath, HEALTH_EXPECT: p.healthExpect }, `${SHELL_LIB}\n${PROBE_SH}`)
}

/**
 * Waits `drainSeconds`, then stops the instance on `port` (SIGTERM, SIGKILL after the timeout). Its
 * unit, if any, is stopped and disabled, so that a reboot does not bring it back.
 */
export function stopScript(p: {
  deployDir: string
  port: number
  drainSeconds: number
  stopTimeoutSeconds: number
  unit?: UnitTarget
}): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      PORT: p.port,
      DRAIN: p.drainSeconds,
      STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
      ...unitVars(p.unit, p.port),
    },
    `${SHELL_LIB}${SYSTEMCTL_LIB}\n${STOP_SH}`,
  )
}
