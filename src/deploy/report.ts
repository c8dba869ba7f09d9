import type { Command } from '../config/inputs.js'
import type { Figures } from './analysis.js'
import type { HistoryEntry } from './history-entry.js'

/** What a run tells about each host: the facts behind the outputs, the summary and `report`. */

export type Phase =
  | 'connect'
  | 'lock'
  | 'inspect'
  | 'upload'
  | 'pre_start'
  | 'stop_idle'
  | 'start'
  | 'pre_switch'
  /** In a fleet deploy: from the host's end of stage to the start of its switch (the other hosts' stage, the waves before its own). */
  | 'wait'
  | 'switch'
  /** Every canary step, the switches and the watching, from the first step to the last one's end. */
  | 'canary'
  | 'post_switch'
  /** Watching the new instance with all the traffic (bake-seconds). */
  | 'bake'
  | 'stop_previous'
  | 'cleanup'
  | 'probe'

export interface InstanceReport {
  port: number
  pid?: number
  release?: string
  running: boolean
  healthy?: boolean
  active: boolean
  /** The port's systemd unit, when the app's template unit is installed on the host. */
  unit?: string
  /** `active/running, enabled`, `inactive/dead, disabled`, ... */
  unitState?: string
  /** How often systemd restarted the unit since it was last started. */
  restarts?: number
}

/** One check of a dry run: passed (with what was seen), or a problem and the exact fix. */
export interface CheckResult {
  check: string
  ok: boolean
  note?: string
  problem?: string
  fix?: string
}

/** One canary step or the bake: what nginx saw of the new and the previous instance, and the verdict. */
export interface TrafficStepReport {
  /** "canary 10%", "bake". */
  step: string
  seconds: number
  /** `too-few`: fewer requests than analysis-min-requests reached the new instance, so it was not judged. */
  verdict: 'pass' | 'too-few' | 'fail' | 'held'
  /** Why it failed. */
  reason?: string
  /** Every host added up. */
  figures?: Figures
  /** This host's own, in a fleet. */
  hostFigures?: Figures
}

export interface HostReport {
  host: string
  command: Command
  outcome:
    | 'deployed'
    | 'rolled-back'
    | 'promoted'
    | 'maintenance'
    | 'live'
    | 'status'
    | 'logs'
    | 'dry-run'
    | 'failed'
    | 'reverted'
    | 'skipped'
    | 'held'
  activePort?: number
  previousPort?: number
  /** The release that serves (after a failed deploy, still the old one). */
  release?: string
  /** deploy: the artifact's sha256. */
  sha256?: string
  /** deploy: the new release, once uploaded, whether or not it came to serve. */
  targetRelease?: string
  uploadedBytes: number
  /** True when a failure made the action put traffic back. */
  rolledBack: boolean
  durationSeconds: number
  /** Seconds spent in each phase. */
  phases: Partial<Record<Phase, number>>
  instances?: InstanceReport[]
  /** status: `systemd (system units)`, `systemd (user units)` or `none (detached)`. */
  supervisor?: string
  plan?: string[]
  /** dry-run: what the run will need, checked on the host. */
  checks?: CheckResult[]
  error?: string
  /** deploy: `held` when the run ended with a canary in place (canary-interval 0), `promoted` when a canary went to all traffic. */
  canary?: 'held' | 'promoted'
  /** deploy: each canary step and the bake, in order. */
  traffic?: TrafficStepReport[]
  /** The step that failed (lock, upload, start, pre-switch-command, ...), when the run failed. */
  failedStep?: string
  /** status: the newest entries of the host's deploy history, oldest first. */
  history?: HistoryEntry[]
  /** status: what nginx does with the app's traffic (see RoutingReport). */
  routing?: RoutingReport
}

/** What the include on a host says, as status reports it. */
export interface RoutingReport {
  /** plain: all traffic on `port`; canary: split between two ports; maintenance: 503 to everyone, `port` serves once live. */
  mode: 'plain' | 'canary' | 'observed' | 'maintenance'
  port?: number
  /** In words, as the log says it. */
  text: string
  canary?: { percent: number; newPort: number; newRelease?: string; previousPort: number; previousRelease?: string }
}

/** What serves now, in the outputs: `port`, running `release`, is both the active and the previous port until a switch. */
export function reportServing(report: HostReport, port: number | undefined, release: string | undefined): void {
  report.activePort = port
  report.previousPort = port
  report.release = release
}

export function emptyReport(host: string, command: HostReport['command']): HostReport {
  return { host, command, outcome: 'failed', uploadedBytes: 0, rolledBack: false, durationSeconds: 0, phases: {} }
}

/** Runs `work` as a named phase: timed into the report, and grouped in the log. */
export async function timed<T>(report: HostReport, phase: Phase, work: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await work()
  } finally {
    const seconds = (performance.now() - started) / 1000
    report.phases[phase] = Math.round(((report.phases[phase] ?? 0) + seconds) * 1000) / 1000
  }
}
