/**
 * `command: rollback` on one host: back to the warm instance in seconds, or restart the previous
 * release. With a canary held, back to the previous instance, which the canary's marker names (see
 * held-canary.ts). On a host in maintenance it stays in maintenance, naming the port it went back to.
 */
import { heldCanary, rollBackHeldCanary } from './held-canary.js'
import { HookError, runHook, runPostSwitchHook } from './hooks.js'
import { instanceOn } from './host-state.js'
import { choosePorts } from './plan.js'
import { supervisionOf } from './supervision.js'
import { timed } from './report.js'
import {
  type HostRun,
  StepError,
  checkHostReady,
  checkSupervision,
  freeIdlePort,
  answersHealth,
  startAndCheckHealth,
  awaitNginxHandover,
  stopInstance,
  switchTraffic,
} from './steps.js'

export async function rollback(run: HostRun): Promise<void> {
  const { config, remote, report, log, state } = run
  checkHostReady(state, remote)
  const canary = heldCanary(run)
  if (canary) return await rollBackHeldCanary(run, canary)
  checkSupervision(run)
  const { active, idle: other } = choosePorts(state.include, config.ports)
  if (active === undefined) {
    throw new StepError(
      'rollback',
      `${config.nginx.include} names neither port ${config.ports.join(' nor ')}, so there is no active version to roll back from.`,
    )
  }
  report.activePort = active
  report.previousPort = active
  const warm = instanceOn(state, other)
  const warmNeverServed = state.releases.some((r) => r.name === warm?.release && r.neverServed)
  if (warm?.running && warmNeverServed) {
    log.info(
      `Port ${other} runs release ${warm.release}, which has never served: its deploy failed or was cut off. It is not the version to go back to.`,
    )
  }
  const healthy = warm?.running && !warmNeverServed ? await answersHealth(run, other) : false
  let release = warm?.release
  let fileName = state.releases.find((r) => r.name === release)?.fileName ?? ''
  if (healthy) {
    log.info(`Port ${other} runs release ${release ?? 'unknown'} and answers its health check: switching back to it.`)
    const unit = state.units.find((u) => u.port === other)
    if (supervisionOf(config.supervisor, config.appName, state).mode === 'systemd' && unit?.active !== 'active') {
      log.warning(
        `Port ${other} runs detached (it was started before systemd supervision): it will not come back after a crash or a reboot. The next deploy runs it as a systemd unit.`,
      )
    }
  } else {
    const activeRelease = instanceOn(state, active)?.release
    const candidate = [...state.releases]
      .sort((a, b) => b.name.localeCompare(a.name))
      .find((r) => r.name !== activeRelease && r.fileName !== '' && !r.neverServed)
    if (!candidate) {
      throw new StepError(
        'rollback',
        `nothing that has served runs on port ${other}, and the host keeps no release other than the active one (${activeRelease ?? 'unknown'}) that has served, so there is nothing to roll back to.`,
      )
    }
    release = candidate.name
    fileName = candidate.fileName
    log.info(`Nothing healthy runs on port ${other}: starting release ${release} there.`)
    await timed(report, 'stop_idle', () => freeIdlePort(run, other, candidate.fileName))
    await timed(report, 'pre_start', () =>
      runHook(run, { name: 'pre-start', release: candidate.name, fileName, port: other, previousPort: active }),
    ).catch((error) => {
      throw error instanceof HookError ? error.leaving('Nothing was started or switched; the active version still serves.') : error
    })
    await timed(report, 'start', () =>
      log.group(`Start ${release} on port ${other}`, () => startAndCheckHealth(run, other, candidate.name, candidate.fileName)),
    )
  }
  const point = { release: release ?? '', fileName, port: other, previousPort: active }
  if (release !== undefined) {
    try {
      await timed(report, 'pre_switch', () => runHook(run, { name: 'pre-switch', ...point }))
    } catch (error) {
      // What this rollback started goes again; a warm instance that ran before it stays as it was.
      if (!healthy) await stopInstance(run, other, 0).catch(() => undefined)
      const outcome = healthy
        ? 'Nothing was switched; the active version still serves.'
        : `The instance it started on port ${other} was stopped; nothing was switched and the active version still serves.`
      throw error instanceof HookError ? error.leaving(outcome) : error
    }
  }
  await timed(report, 'switch', async () => {
    await log.group(`Switch nginx to port ${other}`, () => switchTraffic(run, other, release))
    await awaitNginxHandover(run)
  })
  report.activePort = other
  report.release = release
  if (release !== undefined) {
    await timed(report, 'post_switch', () =>
      runPostSwitchHook(
        run,
        { name: 'post-switch', ...point },
        { port: active, release: instanceOn(state, active)?.release },
        {
          switchTo: (port, previous) => switchTraffic(run, port, previous),
          stop: healthy ? undefined : (port) => stopInstance(run, port, config.drainSeconds),
        },
      ),
    )
  }
  report.outcome = 'rolled-back'
}
