/**
 * The decisions of the traffic-control commands (promote, rollback of a held canary, maintenance,
 * live, and a deploy meeting either), from what the include on a host says. Pure: the commands in
 * held-canary.ts and maintenance.ts act on them.
 */
import type { DeployConfig } from '../config/inputs.js'
import { watchesTraffic } from '../config/traffic-inputs.js'
import { type IncludeState, type Split, readInclude } from '../remote/traffic.js'
import { type HostState, releaseOn } from './host-state.js'
import { StepError } from './step-error.js'

/** The releases that run on each port, for messages; absent when unknown. */
export type ReleaseOf = (port: number) => string | undefined

const named = (port: number, releaseOf: ReleaseOf) => `port ${port} (release ${releaseOf(port) ?? 'unknown'})`

/** What nginx does with the app's traffic on a host, in words: "nginx sends all traffic to port 8081". */
export function describeTraffic(traffic: IncludeState, releaseOf: ReleaseOf, ports: [number, number]): string {
  switch (traffic.mode) {
    case 'canary': {
      const { percent, newPort, previousPort } = traffic.split
      return `a canary is held: nginx sends ${percent}% of clients to ${named(newPort, releaseOf)} and the rest to ${named(previousPort, releaseOf)}`
    }
    case 'maintenance':
      return traffic.port === undefined
        ? 'in maintenance: nginx answers 503 to every request, and its include names neither port'
        : `in maintenance: nginx answers 503 to every request; ${named(traffic.port, releaseOf)} serves once live`
    case 'observed':
    case 'plain':
      return traffic.port === undefined
        ? `nginx's include names neither port ${ports[0]} nor ${ports[1]}`
        : `nginx sends all traffic to ${named(traffic.port, releaseOf)}`
  }
}

/** Both ways out of a held canary, as every refusal that meets one names them. */
const FINISH_CANARY = '`command: promote` sends all traffic to the new instance, `command: rollback` sends it all back to the previous one'

/**
 * What a deploy may not start on, checked on the inspection under the lock, before anything is
 * uploaded: a held canary (the deploy would replace one of the two instances that serve), and,
 * with a canary or a bake, a host in maintenance (no client reaches an instance to be watched).
 */
export function refuseDeploy(state: HostState, config: Pick<DeployConfig, 'ports' | 'traffic'>, host: string): void {
  const traffic = readInclude(state.include, config.ports)
  const releaseOf = releaseOn(state)
  if (traffic.mode === 'canary') {
    const { percent, newPort, previousPort } = traffic.split
    throw new StepError(
      'inspect',
      `a canary is held on ${host}: ${percent}% of clients go to ${named(newPort, releaseOf)}, the rest to ${named(previousPort, releaseOf)}. Finish it before deploying: ${FINISH_CANARY}. Nothing was uploaded or started.`,
    )
  }
  if (traffic.mode === 'maintenance' && watchesTraffic(config.traffic)) {
    throw new StepError(
      'inspect',
      `${host} is ${describeTraffic(traffic, releaseOf, config.ports)}, so no client reaches an instance and a canary or a bake has nothing to watch. Deploy without canary-steps and bake-seconds (the host stays in maintenance, with the new instance active once live), or run command: live first. Nothing was uploaded or started.`,
    )
  }
}

/** promote: the held canary's split, or a refusal saying what the host does instead. */
export function canaryToPromote(traffic: IncludeState, host: string, releaseOf: ReleaseOf, ports: [number, number]): Split {
  if (traffic.mode === 'canary') return traffic.split
  throw new StepError('promote', `no canary is held on ${host}; nothing to promote (${describeTraffic(traffic, releaseOf, ports)}).`)
}

/** maintenance: the port that serves once live, or a refusal. */
export function portForMaintenance(traffic: IncludeState, host: string, releaseOf: ReleaseOf, ports: [number, number]): number {
  if (traffic.mode === 'canary') {
    throw new StepError(
      'maintenance',
      `${describeTraffic(traffic, releaseOf, ports)} on ${host}. Finish it before maintenance: ${FINISH_CANARY}.`,
    )
  }
  if (traffic.port === undefined) {
    throw new StepError(
      'maintenance',
      `${describeTraffic(traffic, releaseOf, ports)} on ${host}, so no instance would serve once live. Deploy first.`,
    )
  }
  return traffic.port
}

export type LiveDecision = { kind: 'switch'; port: number } | { kind: 'nothing'; note: string }

/** live: the port to put traffic back on; nothing to do when the host is not in maintenance. */
export function liveDecision(traffic: IncludeState, host: string, releaseOf: ReleaseOf, ports: [number, number]): LiveDecision {
  if (traffic.mode !== 'maintenance') {
    const finish = traffic.mode === 'canary' ? ` To finish the canary: ${FINISH_CANARY}.` : ''
    return {
      kind: 'nothing',
      note: `${host} is not in maintenance (${describeTraffic(traffic, releaseOf, ports)}); nothing to do.${finish}`,
    }
  }
  if (traffic.port === undefined) {
    throw new StepError(
      'live',
      `${host} is in maintenance, but its include names neither port ${ports[0]} nor ${ports[1]}, so it cannot tell which instance to put traffic back on. Deploy, or run command: rollback, to choose one (either stays in maintenance), then command: live.`,
    )
  }
  return { kind: 'switch', port: traffic.port }
}
