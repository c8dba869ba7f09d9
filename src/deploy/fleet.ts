/**
 * A run across the listed hosts: `max-parallel` at a time, each host finished before the next wave.
 * If a host fails, no further host is touched and the hosts this run switched are switched back.
 */
import { describeArtifact, findArtifact, type Artifact } from '../artifact.js'
import type { HostEntry } from '../config/hosts.js'
import type { DeployConfig } from '../config/inputs.js'
import { type Log, actionsLog } from '../log.js'
import { RemoteHost } from '../ssh/transport.js'
import { deploy } from './deploy.js'
import { type HostReport, emptyReport, timed } from './report.js'
import { rollback } from './rollback.js'
import { status } from './status.js'

export interface RunResult {
  reports: HostReport[]
  artifact?: Artifact
  /** The first failure, for setFailed. */
  error?: string
}

interface Target {
  entry: HostEntry
  log: Log
  connect: () => Promise<RemoteHost>
}

async function onHost(
  target: Target,
  config: DeployConfig,
  command: DeployConfig['command'],
  artifact: Promise<Artifact> | undefined,
): Promise<HostReport> {
  const report = emptyReport(target.entry.label, command)
  const started = performance.now()
  let remote: RemoteHost | undefined
  try {
    remote = await timed(report, 'connect', () => target.connect())
    if (command === 'deploy') await deploy(remote, config, await (artifact as Promise<Artifact>), report, target.log)
    else if (command === 'rollback') await rollback(remote, config, report, target.log)
    else await status(remote, config, report, target.log)
  } catch (error) {
    report.outcome = 'failed'
    report.error = error instanceof Error ? error.message : String(error)
  } finally {
    remote?.close()
    report.durationSeconds = Math.round((performance.now() - started) / 10) / 100
  }
  return report
}

export async function runOnFleet(config: DeployConfig, workspace: string): Promise<RunResult> {
  // Finding the file is part of checking the inputs; hashing a large jar overlaps the SSH handshake.
  const artifactPath = config.command === 'deploy' ? await findArtifact(config.artifact, workspace) : undefined
  const artifact = artifactPath ? describeArtifact(artifactPath) : undefined
  artifact?.catch(() => undefined)
  let bastion: Promise<RemoteHost> | undefined
  const viaBastion = config.proxy
    ? async (entry: HostEntry) => {
        const proxy = config.proxy!
        bastion ??= RemoteHost.connect({
          entry: proxy.entry,
          auth: proxy.auth,
          hostKeys: proxy.hostKeys,
          connectTimeoutSeconds: config.connectTimeoutSeconds,
        })
        const jump = await bastion
        return () => jump.forward(entry.host, entry.port)
      }
    : undefined
  const several = config.hosts.length > 1
  const targets: Target[] = config.hosts.map((entry) => ({
    entry,
    log: actionsLog(several ? entry.label : ''),
    connect: async () =>
      RemoteHost.connect({
        entry,
        auth: config.auth,
        hostKeys: config.hostKeys,
        connectTimeoutSeconds: config.connectTimeoutSeconds,
        openSocket: viaBastion ? await viaBastion(entry) : undefined,
      }),
  }))

  const reports: HostReport[] = []
  let error: string | undefined
  try {
    for (let i = 0; i < targets.length; i += config.maxParallel) {
      const wave = targets.slice(i, i + config.maxParallel)
      const results = await Promise.all(wave.map((target) => onHost(target, config, config.command, artifact)))
      reports.push(...results)
      const failed = results.find((r) => r.outcome === 'failed')
      if (!failed) continue
      error = several ? `${failed.host}: ${failed.error}` : failed.error
      for (const target of targets.slice(i + config.maxParallel)) {
        reports.push({
          ...emptyReport(target.entry.label, config.command),
          outcome: 'skipped',
          error: 'not touched: an earlier host failed',
        })
      }
      if (config.command !== 'status' && !config.dryRun) await revertSwitchedHosts(targets, reports, config)
      break
    }
  } finally {
    if (bastion) (await bastion.catch(() => undefined))?.close()
  }
  return { reports, artifact: await artifact?.catch(() => undefined), error }
}

/** After a failure, puts every host this run switched back on its previous port. */
async function revertSwitchedHosts(targets: Target[], reports: HostReport[], config: DeployConfig): Promise<void> {
  for (const report of reports) {
    if (report.outcome !== 'deployed' && report.outcome !== 'rolled-back') continue
    const target = targets.find((t) => t.entry.label === report.host)!
    target.log.warning(`Switching ${report.host} back to port ${report.previousPort}, so that the fleet stays on one version.`)
    const back = await onHost(target, config, 'rollback', undefined)
    if (back.outcome === 'rolled-back') {
      report.outcome = 'reverted'
      report.rolledBack = true
      report.activePort = back.activePort
      report.release = back.release
    } else {
      report.error = `switching back failed: ${back.error}`
    }
  }
}
