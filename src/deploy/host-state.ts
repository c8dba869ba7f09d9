/** The host as the inspect script saw it, typed. */
import type { Log } from '../log.js'
import type { RemoteAnswer } from '../remote/protocol.js'
import type { ReleaseOnHost } from './plan.js'

export interface StoredRelease extends ReleaseOnHost {
  /** The jar's file name inside the release directory. */
  fileName: string
  /** No switch to it has succeeded yet (its run failed or was cut off): not a version to go back to. */
  neverServed: boolean
}

export interface InstanceState {
  port: number
  pid?: number
  /** Our recorded process (group) is alive, and proven to be ours (not a reused pid). */
  running: boolean
  /** The pid file names a live process that is not our instance: a stale record, never signalled. */
  stalePid?: number
  /** Something listens on the port (ours or not); undefined when not looked at (a deploy does not). */
  listening?: boolean
  release?: string
}

/** The state of the app's systemd unit on one port, as systemctl show reports it. */
export interface UnitState {
  port: number
  /** active, activating, inactive, failed, ... */
  active: string
  /** running, auto-restart, dead, ... */
  sub: string
  /** enabled, disabled, ... */
  fileState: string
  /** How often systemd restarted it since it was last started (systemd 235 and later). */
  restarts?: number
}

export interface HostState {
  isRoot: boolean
  uid?: number
  /** The remote user's name. */
  user: string
  /** The host runs systemd (/run/systemd/system exists). */
  systemd: boolean
  /** Lingering is enabled for the remote user (only known where systemd runs). */
  linger: boolean
  /** The app's units, one per port, when its template unit is installed. */
  units: UnitState[]
  home: string
  http: 'curl' | 'wget' | 'none'
  /** The host has `base64`, so a small upload can travel inside a script (see INLINE_UPLOAD_MAX_BYTES). */
  base64: boolean
  javaFound?: boolean
  writable?: boolean
  deployDirExists: boolean
  freeBytes?: number
  releases: StoredRelease[]
  instances: InstanceState[]
  include?: string
  /** Absolute path of the deploy dir on the host. */
  deployDir: string
}

export function readHostState(answer: RemoteAnswer): HostState {
  const { facts, lists } = answer
  const neverServed = new Set(lists.never_served ?? [])
  const releases = (lists.release ?? []).map((line) => {
    const [name, sha256, ...file] = line.split(' ')
    return { name, sha256: sha256 === '-' ? '' : sha256, fileName: file.join(' '), neverServed: neverServed.has(name) }
  })
  const stale = new Map((lists.stale_pid ?? []).map((line) => line.split(' ').map(Number) as [number, number]))
  const instances = (lists.instance ?? []).map((line): InstanceState => {
    const [port, pid, state, listening, release] = line.split(' ')
    const stalePid = stale.get(Number(port))
    return {
      port: Number(port),
      pid: pid === '-' ? undefined : Number(pid),
      running: state === 'running',
      listening: listening === 'yes' ? true : listening === 'no' ? false : undefined,
      release: release === '-' || release === undefined ? undefined : release,
      ...(stalePid === undefined ? {} : { stalePid }),
    }
  })
  const units = (lists.unit ?? []).map((line): UnitState => {
    const [port, active, sub, fileState, restarts] = line.split(' ')
    return { port: Number(port), active, sub, fileState, restarts: /^\d+$/.test(restarts ?? '') ? Number(restarts) : undefined }
  })
  return {
    isRoot: facts.uid === '0',
    uid: /^\d+$/.test(facts.uid ?? '') ? Number(facts.uid) : undefined,
    user: facts.user ?? '',
    systemd: facts.systemd === 'yes',
    linger: facts.linger === 'yes',
    units,
    home: facts.home ?? '',
    http: (facts.http ?? 'none') as HostState['http'],
    base64: facts.base64 === 'yes',
    javaFound: facts.java === undefined ? undefined : facts.java === 'yes',
    writable: facts.writable === undefined ? undefined : facts.writable === 'yes',
    deployDirExists: facts.deploy_dir_exists === 'yes',
    freeBytes: facts.free_kb === undefined ? undefined : Number(facts.free_kb) * 1024,
    releases,
    instances,
    deployDir: facts.deploy_dir ?? '',
    include: facts.include === 'present' ? (answer.sections.include ?? '') : undefined,
  }
}

export function instanceOn(state: HostState, port: number | undefined): InstanceState | undefined {
  return state.instances.find((i) => i.port === port)
}

/** The release recorded on each port, by port. */
export function releaseOn(state: HostState): (port: number | undefined) => string | undefined {
  return (port) => instanceOn(state, port)?.release
}

/**
 * Warns of each stale instance record a script reported (its `stale_pid=<port> <pid>` lines): a pid
 * file naming a live process that is not the instance it recorded. Records the inspection in
 * `known` already reported are not repeated.
 */
export function warnStaleRecords(log: Log, lines: string[] | undefined, known?: HostState): void {
  for (const line of lines ?? []) {
    const [port, pid] = line.split(' ').map(Number)
    if (known && instanceOn(known, port)?.stalePid === pid) continue
    log.warning(
      `Port ${port}: run/${port}.pid names pid ${pid}, but that process is not the instance this action started there (the instance has ended and its pid was reused, or the host rebooted). The record is stale; pid ${pid} was not signalled.`,
    )
  }
}
