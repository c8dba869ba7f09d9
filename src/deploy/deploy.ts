/** `command: deploy` on one host: the SPEC's steps 3 to 11, in order. */
import type { Artifact } from '../artifact.js'
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import type { RemoteHost } from '../ssh/transport.js'
import { instanceOn } from './host-state.js'
import { choosePorts, releaseName, releasesToPrune } from './plan.js'
import { unitName } from '../remote/systemd.js'
import { supervisionOf } from './supervision.js'
import { type HostReport, timed } from './report.js'
import {
  type HostRun,
  StepError,
  checkHostReady,
  checkSupervision,
  freeIdlePort,
  inspectHost,
  lockAndInspect,
  pruneReleases,
  startAndCheckHealth,
  stopInstance,
  switchTraffic,
  uploadRelease,
} from './steps.js'

export async function deploy(remote: RemoteHost, config: DeployConfig, artifact: Artifact, report: HostReport, log: Log): Promise<void> {
  report.sha256 = artifact.sha256
  if (config.dryRun) return planDeploy(remote, config, artifact, report, log)
  remote.warmUp()

  const { lock, state } = await lockAndInspect(remote, config, report, log)
  try {
    checkHostReady(state, remote, artifact)
    const run: HostRun = { config, remote, log, report, state }
    checkSupervision(run)
    const { active, idle } = choosePorts(state.include, config.ports)
    // Until the switch, the outputs describe what serves: the old port and release.
    report.activePort = active
    report.previousPort = active
    report.release = instanceOn(state, active)?.release

    // The idle port is freed while the jar travels: one waits on a JVM's shutdown, the other on the
    // wire (SFTP runs beside the shell session). The idle instance serves no traffic; if the
    // upload fails, the active one still serves, and rollback restarts the previous release.
    const freeing = timed(report, 'stop_idle', () => freeIdlePort(run, idle))
    freeing.catch(() => undefined)
    const { release, uploadedBytes } = await timed(report, 'upload', () => log.group('Upload', () => uploadRelease(run, artifact)))
    report.uploadedBytes = uploadedBytes
    await freeing
    await timed(report, 'start', () =>
      log.group(`Start ${release} on port ${idle}`, () => startAndCheckHealth(run, idle, release, artifact.fileName)),
    )
    // Sent only now, a round trip after the start's answer, and never queued behind it: a queued
    // switch would still run on the host after the connection was lost (a cancelled run, or a
    // rolling deploy that is putting the other hosts back).
    try {
      await timed(report, 'switch', () => log.group(`Switch nginx to port ${idle}`, () => switchTraffic(run, idle, release)))
    } catch (error) {
      // Traffic stays on (or went back to) the old port: the new instance must not linger. Once a
      // reload may have taken effect, even in part, nginx workers that are shutting down may still
      // send it requests: drain them first, as stop-previous does.
      const drainSeconds = error instanceof StepError && error.afterReload ? config.drainSeconds : 0
      if (drainSeconds > 0) log.info(`Draining port ${idle} for ${drainSeconds} s (drain-seconds) before stopping the new instance.`)
      await stopInstance(run, idle, drainSeconds).catch(() => undefined)
      throw error
    }
    report.activePort = idle
    report.release = release

    if (config.stopPrevious && active !== undefined) {
      await timed(report, 'stop_previous', () =>
        log.group(`Stop the previous instance on port ${active}`, () => stopInstance(run, active, config.drainSeconds)),
      )
    }
    const warm = config.stopPrevious ? undefined : instanceOn(state, active)?.release
    const pruning = timed(report, 'cleanup', () => pruneReleases(run, release, warm ? [warm] : []))
    // The release follows the prune at once, and runs whatever the prune's outcome.
    void lock.release()
    const pruned = await pruning
    if (pruned.length > 0) log.info(`Pruned releases: ${pruned.join(', ')}`)
    report.outcome = 'deployed'
  } finally {
    await lock.release()
  }
}

/** dry-run: inspect and print what a deploy would do; change nothing on the host. */
async function planDeploy(remote: RemoteHost, config: DeployConfig, artifact: Artifact, report: HostReport, log: Log): Promise<void> {
  const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false))
  checkHostReady(state, remote, artifact)
  const { active, idle } = choosePorts(state.include, config.ports)
  const reuse = state.releases.find((r) => r.sha256 === artifact.sha256 && r.fileName === artifact.fileName)
  const release = reuse?.name ?? releaseName(artifact.sha256, new Date())
  const idleInstance = instanceOn(state, idle)
  const supervision = supervisionOf(config.supervisor, config.appName, state)
  if (supervision.refusal) throw new StepError('inspect', supervision.refusal)
  if (supervision.warning) log.warning(supervision.warning)
  const activeRelease = instanceOn(state, active)?.release
  const plan = [
    active === undefined
      ? `nginx's include (${config.nginx.include}) names neither port yet; port ${idle} will be the first to serve`
      : `nginx serves port ${active} (release ${activeRelease ?? 'unknown'})`,
    reuse
      ? `reuse release ${release}, already on the host: upload nothing`
      : `upload ${artifact.fileName} (${artifact.size} bytes; only the chunks no kept release has, when they have chunk lists) as release ${release}`,
    idleInstance?.running
      ? `stop the instance on idle port ${idle} (pid ${idleInstance.pid}, release ${idleInstance.release ?? 'unknown'})`
      : `port ${idle} is idle${idleInstance?.listening ? ', but something listens there and will be stopped' : ''}`,
    `start ${release} on port ${idle} ${supervision.start ? `as systemd unit ${unitName(config.appName, idle)}, enabled,` : 'detached,'} and check http://127.0.0.1:${idle}${config.health.path} for up to ${config.health.timeoutSeconds} s`,
    `point ${config.nginx.include} at port ${idle}, test nginx, reload${config.verifyUrl ? `, verify ${config.verifyUrl}` : ''}`,
    config.stopPrevious && active !== undefined
      ? `stop the instance on port ${active} after ${config.drainSeconds} s`
      : `keep the instance on port ${active ?? '-'} warm for rollback`,
  ]
  const doomed = releasesToPrune([...state.releases, { name: release, sha256: artifact.sha256 }], config.keepReleases, [
    release,
    ...(activeRelease ? [activeRelease] : []),
  ])
  plan.push(doomed.length > 0 ? `prune releases ${doomed.join(', ')}` : 'prune nothing')
  log.info(`Dry run: nothing will change. The plan for ${remote.entry.label}:\n${plan.map((line, i) => `  ${i + 1}. ${line}`).join('\n')}`)
  report.plan = plan
  report.activePort = active
  report.previousPort = active
  report.release = release
  report.outcome = 'dry-run'
}
