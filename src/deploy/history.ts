/** The deploy history kept on each host: who deployed what, when, and how it ended. */
import { hostname } from 'node:os'
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import { appendHistoryScript, readHistoryScript } from '../remote/hooks.js'
import type { RemoteHost } from '../ssh/transport.js'
import type { HistoryEntry } from './history-entry.js'
import type { HostReport } from './report.js'

/** The entry for a finished run on one host, from its report and the workflow run's variables. */
export function historyEntry(report: HostReport, env: NodeJS.ProcessEnv = process.env, now = new Date()): HistoryEntry {
  const entry: HistoryEntry = {
    time: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    owner: {
      repository: env.GITHUB_REPOSITORY ?? '',
      run: env.GITHUB_RUN_ID ? `${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? '1'}` : '',
      actor: env.GITHUB_ACTOR ?? '',
      runner: env.RUNNER_NAME ?? hostname(),
    },
    command: report.command,
    ...tried(report),
    serving: report.release ?? null,
    ports: { before: report.previousPort ?? null, after: report.activePort ?? null },
    outcome: report.outcome,
    seconds: report.durationSeconds,
  }
  if (report.failedStep) entry.step = report.failedStep
  return entry
}

/**
 * What the run deployed or tried to, as a pair that belongs together. The report's `release` is what
 * serves (after a failed deploy, the old release) and its `sha256` the artifact's: never paired.
 */
function tried(report: HostReport): Pick<HistoryEntry, 'release' | 'sha256'> {
  if (report.command === 'deploy') return { release: report.targetRelease ?? null, sha256: report.sha256 ?? null }
  // A promote tries the canary's release; maintenance and live change what answers, not the release.
  if (report.command === 'promote') return { release: report.targetRelease ?? null, sha256: null }
  if (report.command === 'maintenance' || report.command === 'live') return { release: null, sha256: null }
  // A rollback's target is known once it is serving; the host keeps no sha256 of it in the report.
  return { release: report.outcome === 'rolled-back' ? (report.release ?? null) : null, sha256: null }
}

/** The commands that change what serves, and so leave a line in the history. */
const RECORDED: readonly HostReport['command'][] = ['deploy', 'rollback', 'promote', 'maintenance', 'live']

/**
 * Whether a run leaves a line in the history: every command that changes what serves, failed,
 * stopped because another host failed, or not; never a look (status, logs, dry-run).
 */
export function keepsHistory(config: DeployConfig, report: HostReport): boolean {
  return RECORDED.includes(report.command) && !config.dryRun
}

/** Appends the run's entry; a history that cannot be written is worth a warning, never a failed run. */
export async function recordHistory(remote: RemoteHost, config: DeployConfig, report: HostReport, log: Log): Promise<void> {
  try {
    await remote.run(appendHistoryScript({ deployDir: config.deployDir, entry: JSON.stringify(historyEntry(report)) }), {
      step: 'history',
    })
  } catch (error) {
    log.warning(`Could not append to the deploy history on ${remote.entry.label}: ${(error as Error).message}`)
  }
}

/** The newest `count` entries of the host's history, oldest first; lines that are not entries are left out. */
export async function readHistory(remote: RemoteHost, config: DeployConfig, count: number): Promise<HistoryEntry[]> {
  const result = await remote.run(readHistoryScript({ deployDir: config.deployDir, lines: count }), { step: 'history' })
  return parseHistory(result.answer.sections.history ?? '')
}

export function parseHistory(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = []
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as HistoryEntry
      if (entry && typeof entry === 'object' && typeof entry.time === 'string') entries.push(entry)
    } catch {
      // a torn or foreign line: not an entry
    }
  }
  return entries
}

/** Who ran it: the actor, the repository and its run. */
export function entryOwner(entry: HistoryEntry): string {
  const { actor, repository, run } = entry.owner
  return [actor, repository && `${repository}${run ? ` run ${run}` : ''}`].filter(Boolean).join(', ')
}

/** The release the run deployed or tried to, with the start of its sha256; `-` when none. */
export function entryTarget(entry: HistoryEntry): string {
  // An older entry names only what served afterwards, in `release`.
  if (entry.serving === undefined) return '-'
  const sha = entry.sha256 ? ` (sha256 ${entry.sha256.slice(0, 12)})` : ''
  return entry.release ? `${entry.release}${sha}` : entry.sha256 ? `an unnamed release${sha}` : '-'
}

/** The release that served once the run was over. */
export function entryServing(entry: HistoryEntry): string {
  return (entry.serving === undefined ? entry.release : entry.serving) ?? '-'
}

/** One line a history entry, for the job log. */
export function describeEntry(entry: HistoryEntry): string {
  const who = entryOwner(entry)
  const ports = `${entry.ports.before ?? '-'} -> ${entry.ports.after ?? '-'}`
  const failed = entry.step ? ` at ${entry.step}` : ''
  const target = entryTarget(entry)
  return `${entry.time}  ${entry.command} ${entry.outcome}${failed}${target === '-' ? '' : `  tried ${target}`}  serving ${entryServing(entry)}  ports ${ports}  ${entry.seconds.toFixed(1)} s${who ? `  by ${who}` : ''}`
}
