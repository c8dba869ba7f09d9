/**
 * Finishing a held canary (a deploy with `canary-interval: 0` left a share of clients on the new
 * instance): `command: promote` sends all traffic to the new instance, `command: rollback` sends it
 * all back to the previous one and stops the canary. Either way the include goes back to the plain
 * include for one port, through the switch script (tested, reloaded, put back on failure); the
 * http-level file is left as it is, since the plain include no longer reads its split.
 */
import { type Split, readInclude } from '../remote/traffic.js'
import { canaryToPromote } from './control.js'
import { releaseOn } from './host-state.js'
import { markNeverServed, rejectedRelease, switchInclude } from './include-switch.js'
import { renderInclude } from './plan.js'
import { reportServing, timed } from './report.js'
import { runPostSwitchHook } from './hooks.js'
import { type HostRun, StepError, answersHealth, awaitNginxHandover, stopInstance, switchTraffic } from './steps.js'

/** The split of the canary held on the host, if one is. */
export function heldCanary(run: HostRun): Split | undefined {
  const traffic = readInclude(run.state.include, run.config.ports)
  return traffic.mode === 'canary' ? traffic.split : undefined
}

/** All traffic to `port` (the plain include), or, if nginx does not take it, the canary as it was. */
async function endCanary(run: HostRun, split: Split, port: number, done: string): Promise<void> {
  await timed(run.report, 'switch', () =>
    run.log.group(`Switch nginx to port ${port} for every client`, () =>
      switchInclude(run, {
        content: renderInclude(run.config.nginx.template, port),
        release: releaseOn(run.state)(port),
        verify: true,
        done,
        before: `the canary's split (${split.percent}% of clients to port ${split.newPort})`,
      }),
    ),
  )
}

export async function promote(run: HostRun): Promise<void> {
  const { config, remote, report, log, state } = run
  const releaseOf = releaseOn(state)
  const split = canaryToPromote(readInclude(state.include, config.ports), remote.entry.label, releaseOf, config.ports)
  const { newPort, previousPort } = split
  const release = releaseOf(newPort)
  report.targetRelease = release
  // Until the switch, the outputs describe what the canary falls back to.
  reportServing(report, previousPort, releaseOf(previousPort))
  if (!(await answersHealth(run, newPort))) {
    throw new StepError(
      'promote',
      `the canary on port ${newPort} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${newPort}${config.health.path}); nothing was switched and the canary stays held. Send its clients back with command: rollback.`,
    )
  }
  await endCanary(run, split, newPort, `nginx now sends all traffic to port ${newPort} (release ${release ?? 'unknown'})`)
  report.activePort = newPort
  report.release = release
  // The full switch happens now, not in the deploy that held the canary: so does its check.
  if (release !== undefined) {
    const fileName = state.releases.find((r) => r.name === release)?.fileName ?? ''
    await timed(report, 'post_switch', () =>
      runPostSwitchHook(
        run,
        { name: 'post-switch', release, fileName, port: newPort, previousPort },
        { port: previousPort, release: releaseOf(previousPort) },
        {
          switchTo: async (port, back) => {
            await switchTraffic(run, port, back)
            await markNeverServed(run, rejectedRelease(release, back), 'post-switch')
          },
          stop: (port) => stopInstance(run, port, config.drainSeconds),
        },
      ),
    )
  }
  report.canary = 'promoted'
  if (config.stopPrevious) {
    await timed(report, 'stop_previous', () =>
      log.group(`Stop the previous instance on port ${previousPort}`, () => stopInstance(run, previousPort, config.drainSeconds)),
    )
  } else {
    await awaitNginxHandover(run)
    log.info(`The previous instance on port ${previousPort} stays warm for rollback.`)
  }
  report.outcome = 'promoted'
}

/**
 * `command: rollback` on a host holding a canary: every client back on the previous instance, which
 * served all along, and the canary drained and stopped. Its release stays one that never served.
 */
export async function rollBackHeldCanary(run: HostRun, split: Split): Promise<void> {
  const { config, report, log } = run
  const { newPort, previousPort } = split
  const releaseOf = releaseOn(run.state)
  const release = releaseOf(previousPort)
  reportServing(report, previousPort, release)
  if (!(await answersHealth(run, previousPort))) {
    throw new StepError(
      'rollback',
      `the previous instance on port ${previousPort} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${previousPort}${config.health.path}), so traffic cannot go back to it; nothing was switched and the canary stays held. Promote the canary with command: promote, or bring port ${previousPort} back on the host.`,
    )
  }
  await endCanary(run, split, previousPort, `nginx now sends all traffic back to port ${previousPort} (release ${release ?? 'unknown'})`)
  report.previousPort = newPort
  const canaryRelease = releaseOf(newPort)
  if (config.drainSeconds > 0)
    log.info(
      `Draining port ${newPort} for ${config.drainSeconds} s (drain-seconds) before stopping the canary (release ${canaryRelease ?? 'unknown'}).`,
    )
  await timed(report, 'stop_previous', () =>
    log.group(`Stop the canary on port ${newPort}`, () => stopInstance(run, newPort, config.drainSeconds)),
  )
  // A canary held by an earlier version of the action was marked as served by its step: a later
  // rollback must not take it for a version to go back to.
  await markNeverServed(run, rejectedRelease(canaryRelease, release), 'rollback')
  report.outcome = 'rolled-back'
}
