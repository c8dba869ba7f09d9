/** The deploy history kept on each host: who deployed what, when, and how it ended. */
import { hostname } from 'node:os'
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import { appendHistoryScript, readHistoryScript } from '../remote/hooks.js'
import type { RemoteHost } from '../ssh/transport.js'
import type { HostReport } from './report.js'

/** One line of `<deploy-dir>/history`. */
export interface HistoryEntry {
  /** UTC, ISO 8601, when the run on this host ended. */
  time: string
  owner: { repository: string; run: string; actor: string; runner: string }
  command: string
  release: string | null
  sha256: string | null
  ports: { before: number | null; after: number | null }
  outcome: string
  seconds: number
  /** The step that failed, when the run failed. */
  step?: string
}

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
    release: report.release ?? null,
    sha256: report.sha256 ?? null,
    ports: { before: report.previousPort ?? null, after: report.activePort ?? null },
    outcome: report.outcome,
    seconds: report.durationSeconds,
  }
  if (report.failedStep) entry.step = report.failedStep
  return entry
}

/**
 * Whether a run leaves a line in the history: deploys and rollbacks, failed, stopped because another
 * host failed, or not; never a look (status, logs, dry-run).
 */
export function keepsHistory(config: DeployConfig, report: HostReport): boolean {
  return (report.command === 'deploy' || report.command === 'rollback') && !config.dryRun
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

/** One line a history entry, for the job log. */
export function describeEntry(entry: HistoryEntry): string {
  const who = [entry.owner.actor, entry.owner.repository && `${entry.owner.repository}${entry.owner.run ? ` run ${entry.owner.run}` : ''}`]
    .filter(Boolean)
    .join(', ')
  const ports = `${entry.ports.before ?? '-'} -> ${entry.ports.after ?? '-'}`
  const failed = entry.step ? ` at ${entry.step}` : ''
  return `${entry.time}  ${entry.command} ${entry.outcome}${failed}  release ${entry.release ?? '-'}  ports ${ports}  ${entry.seconds.toFixed(1)} s${who ? `  by ${who}` : ''}`
}
