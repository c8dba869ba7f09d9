/**
 * A run across the listed hosts. A deploy goes in two phases (src/deploy/phases.ts): every host is
 * staged, `stage-parallel` at a time, and only then switched, `max-parallel` at a time. `status`,
 * `rollback` and dry runs reach `stage-parallel` hosts at a time. One host is a fleet of one.
 */
import * as core from '@actions/core'
import { describeArtifact, findArtifact, type Artifact } from '../artifact.js'
import type { HostEntry } from '../config/hosts.js'
import { type DeployConfig, secretsOf } from '../config/inputs.js'
import { FleetWarnings, type Log, actionsLog, hostLog } from '../log.js'
import { ConnectionError } from '../ssh/errors.js'
import { connectJumpChain, hostEndpoint } from '../ssh/reach.js'
import { RemoteCommandError, RemoteHost } from '../ssh/transport.js'
import {
  type StagedHost,
  canaryStepHost,
  finishHost,
  leaveHeldHost,
  planDeploy,
  stageHost,
  switchBackHost,
  switchHost,
  unstageHost,
} from './deploy.js'
import { promote } from './held-canary.js'
import { keepsHistory, recordHistory } from './history.js'
import { maskLine } from './hooks.js'
import { holdLockUntilLetGo, letGoOfLock } from './lock.js'
import { logs } from './logs.js'
import { live, maintenance } from './maintenance.js'
import { fleetChecklistText } from './preflight.js'
import { type HostFate, inPool, runPhases } from './phases.js'
import { type HostReport, emptyReport, timed } from './report.js'
import { rollback } from './rollback.js'
import { status } from './status.js'
import { StepError, underLock } from './steps.js'
import { trafficWork } from './traffic-flow.js'

export interface RunResult {
  reports: HostReport[]
  artifact?: Artifact
  /** The first failure, for setFailed. */
  error?: string
  /** A deploy's phases, in seconds, when it got that far (canary and bake when there were any). */
  phases?: { stage: number; switch: number; canary?: number; bake?: number }
}

interface Target {
  entry: HostEntry
  log: Log
  /** Prints the host's lines held since the last flush, as one group (a fleet's hosts only). */
  flush: (title: string) => void
  connect: () => Promise<RemoteHost>
  report: HostReport
  started: number
  settled?: boolean
  remote?: RemoteHost
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Stops the host's clock: the run on it is over, whatever came of it. */
function settle(target: Target): void {
  if (target.settled) return
  target.settled = true
  target.report.durationSeconds = Math.round((performance.now() - target.started) / 10) / 100
}

/** Leaves the run's line in the host's history (once its outcome is known), then closes its connection. */
async function conclude(target: Target, config: DeployConfig): Promise<void> {
  settle(target)
  const remote = target.remote
  target.remote = undefined
  if (!remote) return
  await leaveHost(remote, config, target.report, target.log)
}

/**
 * The run's last words on a host: its history line, written while it still holds the host's lock
 * (kept since the connect, see holdLockUntilLetGo), so that no other run appends or trims the
 * history meanwhile; then the lock is let go and the connection closed.
 */
export async function leaveHost(remote: RemoteHost, config: DeployConfig, report: HostReport, log: Log): Promise<void> {
  try {
    if (keepsHistory(config, report)) await recordHistory(remote, config, report, log)
    await letGoOfLock(remote)
  } finally {
    remote.close()
  }
}

/** The step a run failed at, for the history: the SPEC's step names, or where the connection was lost. */
function failedStep(error: unknown): string {
  if (error instanceof StepError || error instanceof RemoteCommandError) return error.step
  if (error instanceof ConnectionError) return 'connection'
  return 'unknown'
}

async function connected(target: Target): Promise<RemoteHost> {
  if (!target.remote) {
    target.remote = await timed(target.report, 'connect', () => target.connect())
    holdLockUntilLetGo(target.remote)
  }
  return target.remote
}

/** status, rollback, promote, maintenance, live and dry runs: each host on its own, `stage-parallel` at a time. */
async function eachHost(targets: Target[], config: DeployConfig, artifact: Promise<Artifact> | undefined): Promise<string | undefined> {
  let firstFailure: Target | undefined
  await inPool(targets.length, config.stageParallel, async (index) => {
    const target = targets[index]
    const { report, log } = target
    try {
      const remote = await connected(target)
      if (config.command === 'deploy') await planDeploy(remote, config, await artifact!, report, log)
      else if (config.command === 'rollback') await underLock(remote, config, report, log, rollback)
      else if (config.command === 'logs') await logs(remote, config, report, log, secretsOf(config))
      else if (config.command === 'status') await status(remote, config, report, log)
      else if (config.command === 'promote') await underLock(remote, config, report, log, promote)
      else if (config.command === 'maintenance') await underLock(remote, config, report, log, maintenance)
      else if (config.command === 'live') await underLock(remote, config, report, log, live)
      else throw new StepError(config.command, `command ${config.command} is not known`)
    } catch (error) {
      report.outcome = 'failed'
      report.error = errorText(error)
      report.failedStep = failedStep(error)
      firstFailure ??= target
    } finally {
      await conclude(target, config)
      target.flush(`${config.command}: ${report.outcome} (${report.durationSeconds.toFixed(2)} s)`)
    }
  })
  const several = targets.length > 1
  const dryRun = config.command === 'deploy'
  if (dryRun && several) core.info(`Checks, host by host:\n${fleetChecklistText(targets.map((t) => t.report))}`)
  if (!firstFailure) return undefined
  // A dry run reports every host's problems at once, not just the first host's.
  if (dryRun && several)
    return targets
      .filter((t) => t.report.outcome === 'failed')
      .map((t) => `${t.entry.label}: ${t.report.error}`)
      .join('\n')
  return several ? `${firstFailure.entry.label}: ${firstFailure.report.error}` : firstFailure.report.error
}

/** What each fate means in the host's report. */
function recordFate(target: Target, fate: HostFate, error: unknown, cause: string): void {
  const { report } = target
  if (error !== undefined) {
    report.error = errorText(error)
    report.failedStep = failedStep(error)
  }
  switch (fate) {
    case 'deployed':
      report.outcome = 'deployed'
      break
    case 'reverted':
      report.outcome = 'reverted'
      break
    case 'held':
      report.outcome = 'held'
      break
    case 'unstaged':
      report.outcome = 'skipped'
      report.error ??= `staged, then stopped: ${cause}; nginx was not touched`
      break
    case 'not-staged':
      report.outcome = 'skipped'
      report.error ??= `not touched: ${cause}`
      break
    case 'revert-failed':
      report.outcome = 'failed'
      report.error = `switching back failed: ${report.error}`
      break
    default:
      report.outcome = 'failed'
  }
}

/** A deploy: stage every host, then switch in waves, then finish (see phases.ts). */
async function deployFleet(
  targets: Target[],
  config: DeployConfig,
  artifact: Promise<Artifact>,
): Promise<Pick<RunResult, 'error' | 'phases'>> {
  const several = targets.length > 1
  const stagedAt: number[] = []
  // Traffic control's steps, once every host is staged (see traffic-flow.ts).
  const flow = trafficWork(config, targets, {
    toStep: async (staged, percent, index, held) => {
      try {
        await canaryStepHost(staged, percent, { held })
        targets[index].flush(
          `canary ${percent}%: split between ports ${staged.idle} (new) and ${staged.active} (${targets[index].report.phases.switch} s)`,
        )
      } catch (error) {
        targets[index].flush(`canary ${percent}%: FAILED; nginx serves what it served before`)
        throw error
      }
    },
    leaveHeld: async (staged, index) => {
      try {
        await leaveHeldHost(staged)
      } finally {
        settle(targets[index])
        targets[index].flush(`canary held: ports ${staged.idle} (new) and ${staged.active} both serve; nothing was stopped`)
      }
    },
  })
  const outcome = await runPhases<StagedHost>(targets.length, config, {
    stage: async (index) => {
      const target = targets[index]
      try {
        const staged = await stageHost(await connected(target), config, await artifact, target.report, target.log)
        stagedAt[index] = performance.now()
        target.flush(`stage: release ${staged.release} healthy on port ${staged.idle} (${sumOf(target.report, STAGE)} s)`)
        return staged
      } catch (error) {
        target.flush(`stage: FAILED (${sumOf(target.report, STAGE)} s)`)
        throw error
      }
    },
    onStaged: (seconds) => {
      if (several) core.info(`Stage: all ${targets.length} hosts staged in ${seconds.toFixed(2)} s; nginx untouched so far.`)
    },
    onWave: (wave, indices) => {
      if (!several) return
      const now = performance.now()
      for (const index of indices) targets[index].report.phases.wait = Math.round(now - stagedAt[index]) / 1000
      core.info(
        `Switch: wave ${wave + 1} of ${Math.ceil(targets.length / config.maxParallel)}: ${indices.map((i) => targets[i].entry.label).join(', ')}`,
      )
    },
    traffic: flow.work,
    switch: async (staged, index) => {
      try {
        await switchHost(staged, { observed: flow.bakes() })
        targets[index].flush(`switch: serves release ${staged.release} on port ${staged.idle} (${targets[index].report.phases.switch} s)`)
      } catch (error) {
        targets[index].flush('switch: FAILED; nginx serves the old port')
        throw error
      }
    },
    switchBack: async (staged, index) => {
      try {
        await switchBackHost(staged, flow.backReason())
      } finally {
        settle(targets[index])
        targets[index].flush(`switch back to port ${staged.active ?? '-'}: ${targets[index].report.rolledBack ? 'done' : 'FAILED'}`)
      }
    },
    unstage: async (staged, index) => {
      try {
        await unstageHost(staged)
      } finally {
        settle(targets[index])
        targets[index].flush(`stop the staged instance on port ${staged.idle}`)
      }
    },
    finish: async (staged, index) => {
      try {
        await finishHost(staged)
      } finally {
        settle(targets[index])
        targets[index].flush(`finish (${sumOf(targets[index].report, ['stop_previous', 'cleanup'])} s)`)
      }
    },
  })

  const failure = outcome.failed
  const failedHost = failure && 'index' in failure ? targets[failure.index] : undefined
  const cause =
    failure?.phase === 'stage'
      ? `${failedHost!.entry.label} failed to stage`
      : failure?.phase === 'switch' || (failure?.phase === 'canary' && failedHost)
        ? `${failedHost!.entry.label} failed to switch`
        : 'an earlier host failed'
  const analysisError = failure && 'error' in failure ? failure.error : undefined
  const analysisText = analysisError === undefined ? undefined : flow.failureText(analysisError, outcome)
  for (const [index, target] of targets.entries()) {
    settle(target)
    const hostError = outcome.errors.get(index)
    recordFate(target, outcome.fates[index], hostError ?? analysisError, cause)
    if (analysisText !== undefined && hostError === undefined) {
      // The whole fleet failed the analysis: every host's report tells it, with where traffic is now.
      target.report.outcome = 'failed'
      target.report.error = analysisText
    }
    flow.record(target.report, index, outcome)
  }
  await Promise.all(targets.map((target) => conclude(target, config)))
  const phases = {
    stage: outcome.stageSeconds,
    ...(outcome.canarySeconds === undefined ? {} : { canary: outcome.canarySeconds }),
    switch: outcome.switchSeconds,
    ...(outcome.bakeSeconds === undefined ? {} : { bake: outcome.bakeSeconds }),
  }
  if (several)
    core.info(
      `Phases: ${Object.entries(phases)
        .map(([name, seconds]) => `${name} ${seconds.toFixed(2)} s`)
        .join(', ')}.`,
    )
  if (analysisText !== undefined) return { phases, error: analysisText }
  if (!failedHost) return { phases }
  const error = failedHost.report.error ?? 'failed'
  return { phases, error: several ? `${failedHost.entry.label}: ${error}` : error }
}

const STAGE = ['connect', 'lock', 'inspect', 'upload', 'start'] as const
/** Seconds of the named phases of a host (the idle port is freed during the upload, so it is left out). */
function sumOf(report: HostReport, phases: readonly (keyof HostReport['phases'])[]): string {
  return phases.reduce((sum, phase) => sum + (report.phases[phase] ?? 0), 0).toFixed(2)
}

/** The bastion failed: the first host carries its error, and no host was reached. */
function noBastion(targets: Target[], error: string): Pick<RunResult, 'error'> {
  for (const [index, target] of targets.entries()) {
    settle(target)
    target.report.outcome = index === 0 ? 'failed' : 'skipped'
    target.report.error = index === 0 ? error : 'not touched: the bastion could not be reached'
  }
  return { error: targets.length > 1 ? `${targets[0].entry.label}: ${error}` : error }
}

export async function runOnFleet(config: DeployConfig, workspace: string): Promise<RunResult> {
  // Finding the file is part of checking the inputs; hashing a large jar overlaps the SSH handshake.
  // Hashed once for the whole fleet, as is its chunk list (delta-upload.ts).
  const artifactPath = config.command === 'deploy' ? await findArtifact(config.artifact, workspace) : undefined
  const artifact = artifactPath ? describeArtifact(artifactPath) : undefined
  artifact?.catch(() => undefined)
  // Every host behind the jump hosts is reached over the last one's connection. Connected first:
  // a jump host that fails fails the run once, before any host is reached.
  const mask = (text: string) => maskLine(text, secretsOf(config))
  const bastion =
    config.jumpHosts.length > 0 ? connectJumpChain(config, config.jumpHosts, { warn: (message) => core.warning(message), mask }) : undefined
  bastion?.catch(() => undefined)
  const several = config.hosts.length > 1
  const warnings = new FleetWarnings()
  const targets: Target[] = config.hosts.map((entry) => {
    // One host keeps the log as it always was: a group per step, printed as it happens.
    const fleetLog = several ? hostLog(entry.label, warnings) : undefined
    const log = fleetLog ?? actionsLog()
    return {
      entry,
      log,
      flush: (title: string) => fleetLog?.flush(title),
      report: emptyReport(entry.label, config.command),
      started: performance.now(),
      connect: async () =>
        RemoteHost.connect(hostEndpoint(config, entry, bastion && (await bastion), { warn: (message) => log.warning(message), mask })),
    }
  })

  let result: Pick<RunResult, 'error' | 'phases'>
  try {
    const bastionError =
      bastion &&
      (await bastion.then(
        () => undefined,
        (error: unknown) => errorText(error),
      ))
    result = bastionError
      ? noBastion(targets, bastionError)
      : config.command === 'deploy' && !config.dryRun
        ? await deployFleet(targets, config, artifact!)
        : { error: await eachHost(targets, config, artifact) }
  } finally {
    for (const target of targets) target.remote?.close()
    if (bastion) (await bastion.catch(() => undefined))?.close()
    warnings.summarize()
  }
  return { reports: targets.map((t) => t.report), artifact: await artifact?.catch(() => undefined), ...result }
}
