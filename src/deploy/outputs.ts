/** The step's outputs and job summary, from the hosts' reports. */
import * as core from '@actions/core'
import type { RunResult } from './fleet.js'
import type { HistoryEntry } from './history-entry.js'
import { entryOwner, entryServing, entryTarget } from './history.js'
import type { SideFigures } from './analysis.js'
import type { CheckResult, HostReport, Phase } from './report.js'

/**
 * Plain outputs join the hosts' values with commas, in host order. `registered` are the values
 * registered with the runner as secrets, which drops every output that holds one: in the report's
 * texts (an error, a plan line) each is replaced by *** as the log would show it, so that the
 * report still reaches the next job.
 */
export function outputsOf(result: RunResult, registered: string[] = []): Record<string, string> {
  const join = (pick: (r: HostReport) => unknown) => result.reports.map((r) => (pick(r) ?? '') as string).join(',')
  return {
    'active-port': join((r) => r.activePort),
    'previous-port': join((r) => r.previousPort),
    release: join((r) => r.release),
    'artifact-sha256': join((r) => r.sha256 ?? result.artifact?.sha256),
    'uploaded-bytes': join((r) => r.uploadedBytes),
    'duration-seconds': join((r) => r.durationSeconds),
    'rolled-back': join((r) => r.rolledBack),
    // Empty when no host has a canary to speak of, rather than a comma per host.
    canary: result.reports.some((r) => r.canary) ? join((r) => r.canary) : '',
    report: JSON.stringify(result.reports, (_key, value: unknown) => (typeof value === 'string' ? withoutMasks(value, registered) : value)),
  }
}

function withoutMasks(text: string, masks: string[]): string {
  let result = text
  for (const mask of masks) if (result.includes(mask)) result = result.split(mask).join('***')
  return result
}

const PHASES: Phase[] = [
  'connect',
  'lock',
  'inspect',
  'upload',
  'pre_start',
  'stop_idle',
  'start',
  'pre_switch',
  'wait',
  'canary',
  'switch',
  'post_switch',
  'bake',
  'stop_previous',
  'cleanup',
  'probe',
]

export function summaryTable(result: RunResult): string[][] {
  const header = ['Host', 'Outcome', 'Port (previous -> active)', 'Release', 'sha256', 'Uploaded', 'Seconds by phase', 'Total s']
  const rows = result.reports.map((r) => [
    r.host,
    r.outcome,
    `${r.previousPort ?? '-'} -> ${r.activePort ?? '-'}`,
    r.release ?? '-',
    r.sha256 ? r.sha256.slice(0, 12) : '-',
    result.artifact ? `${r.uploadedBytes} of ${result.artifact.size} bytes` : '-',
    PHASES.filter((p) => r.phases[p] !== undefined)
      .map((p) => `${p} ${r.phases[p]!.toFixed(2)}`)
      .join(', '),
    r.durationSeconds.toFixed(2),
  ])
  return [header, ...rows]
}

/** The rows of core.summary.addTable (not exported by name from @actions/core). */
type SummaryRows = Parameters<typeof core.summary.addTable>[0]

export function historyTable(entries: HistoryEntry[]): SummaryRows {
  const header = ['Time (UTC)', 'Command', 'Outcome', 'Failed step', 'Deployed or tried', 'Serving after', 'Ports', 'Seconds', 'By']
  return [
    header.map((data) => ({ data, header: true })),
    ...entries.map((e) => [
      e.time,
      e.command,
      e.outcome,
      e.step ?? '',
      entryTarget(e),
      entryServing(e),
      `${e.ports.before ?? '-'} -> ${e.ports.after ?? '-'}`,
      e.seconds.toFixed(1),
      entryOwner(e),
    ]),
  ]
}

export async function publish(result: RunResult, registered: string[] = []): Promise<void> {
  for (const [name, value] of Object.entries(outputsOf(result, registered))) {
    // The runner would drop it without a word ("Skip output since it may contain secret").
    if (registered.some((mask) => value.includes(mask))) {
      core.warning(`The output ${name} holds a value registered as a secret (from env or java-opts), so the runner withholds it.`)
    }
    core.setOutput(name, value)
  }
  const command = result.reports[0]?.command ?? 'deploy'
  const [header, ...rows] = summaryTable(result)
  const summary = core.summary
    .addHeading(`zero-downtime-deploy: ${command}${result.error ? ' failed' : ''}`, 3)
    .addTable([header.map((data) => ({ data, header: true })), ...rows])
  if (result.error) summary.addCodeBlock(result.error)
  const traffic = trafficTable(result.reports)
  if (traffic) summary.addHeading('Canary and bake: what nginx saw (all hosts added up)', 4).addTable(traffic)
  addChecks(summary, result.reports)
  for (const report of result.reports) {
    if (report.history && report.history.length > 0) {
      summary.addHeading(`Deploy history of ${report.host} (newest last)`, 4).addTable(historyTable(report.history))
    }
    if (report.plan)
      summary.addList(
        report.plan.map((line) => `${report.host}: ${line}`),
        true,
      )
  }
  await summary.write().catch((error: Error) => core.warning(`Could not write the job summary: ${error.message}`))
}

/** A side's figures in a cell: "250 requests, 20.0% 5xx, p99 12 ms". */
export function sideCell(side: SideFigures | undefined): string {
  if (!side || side.requests === 0) return 'no requests'
  const rate = ((side.errors / side.requests) * 100).toFixed(1)
  return `${side.requests} requests, ${rate}% 5xx${side.p99Ms === undefined ? '' : `, p99 ${side.p99Ms} ms`}`
}

/** Each canary step and the bake, as the first host's report has them (they add up every host). */
export function trafficTable(reports: HostReport[]): SummaryRows | undefined {
  const steps = reports.find((r) => r.traffic && r.traffic.length > 0)?.traffic
  if (!steps) return undefined
  const header = ['Step', 'Verdict', 'Seconds', 'New instance', 'Previous instance']
  return [
    header.map((data) => ({ data, header: true })),
    ...steps.map((step) => [
      step.step,
      step.verdict === 'fail' ? `fail: ${step.reason}` : step.verdict === 'too-few' ? 'too few requests to judge' : step.verdict,
      step.seconds.toFixed(1),
      step.figures ? `port ${step.figures.new.port}: ${sideCell(step.figures.new)}` : '-',
      step.figures ? `port ${step.figures.previous.port}: ${sideCell(step.figures.previous)}` : '-',
    ]),
  ]
}

/** One check as a line of a task list: ticked when it passed. */
export function checkLine(c: CheckResult): string {
  return c.ok ? `- [x] **${c.check}**: ${c.note ?? 'ok'}` : `- [ ] **${c.check}**: ${c.problem} Fix: ${c.fix}`
}

/** A fleet's checks, check by check and host by host: ✅ passed, ❌ failed, - not checked (the host could not be reached). */
export function fleetChecksTable(reports: HostReport[]): SummaryRows {
  const names = [...new Set(reports.flatMap((r) => (r.checks ?? []).map((c) => c.check)))]
  const cell = (r: HostReport, name: string) => {
    const found = r.checks?.find((c) => c.check === name)
    return found ? (found.ok ? '✅' : '❌') : '-'
  }
  return [
    ['Check', ...reports.map((r) => r.host)].map((data) => ({ data, header: true })),
    ...names.map((name) => [name, ...reports.map((r) => cell(r, name))]),
  ]
}

/** dry-run: the checklist of one host, or a fleet's table and then every problem with its fix. */
function addChecks(summary: typeof core.summary, reports: HostReport[]): void {
  const checked = reports.filter((r) => r.checks)
  if (checked.length === 0) return
  if (reports.length === 1) {
    summary.addHeading(`Checks on ${reports[0].host}`, 4).addRaw(`\n${reports[0].checks!.map(checkLine).join('\n')}\n`, true)
    return
  }
  summary.addHeading('Checks, host by host', 4).addTable(fleetChecksTable(reports))
  const problems = reports.flatMap((r) =>
    (r.checks ?? []).filter((c) => !c.ok).map((c) => `- ${r.host}, **${c.check}**: ${c.problem} Fix: ${c.fix}`),
  )
  if (problems.length > 0) summary.addRaw(`\n${problems.join('\n')}\n`, true)
}
