/**
 * `command: status` on one host: which port serves (or how a held canary splits the clients, or
 * that the host is in maintenance), what runs on each, is it healthy. Changes nothing.
 */
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import type { RemoteHost } from '../ssh/transport.js'
import { readInclude } from '../remote/traffic.js'
import { describeTraffic } from './control.js'
import { instanceOn } from './host-state.js'
import { describeEntry, readHistory } from './history.js'
import { choosePorts } from './plan.js'
import { type HostReport, type RoutingReport, timed } from './report.js'
import { inspectHost, probeHealth } from './steps.js'
import { unitName } from '../remote/systemd.js'
import { supervisionOf } from './supervision.js'

/** How many of the newest history entries status shows for each host. */
export const STATUS_HISTORY_ENTRIES = 10

export async function status(remote: RemoteHost, config: DeployConfig, report: HostReport, log: Log): Promise<void> {
  const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false))
  const { active, idle } = choosePorts(state.include, config.ports)
  // Sent behind the probe, without waiting for its answer: one round trip for both.
  const history = readHistory(remote, config, STATUS_HISTORY_ENTRIES)
  history.catch(() => undefined)
  const health = await timed(report, 'probe', () => probeHealth({ config, remote, log, report, state }, config.ports))
  report.history = await history
  const supervision = supervisionOf(config.supervisor, config.appName, state)
  report.supervisor = supervision.start ? `systemd (${supervision.start.scope} units)` : 'none (detached)'
  report.instances = state.instances.map((instance) => {
    const unit = state.units.find((u) => u.port === instance.port)
    return {
      port: instance.port,
      pid: instance.running ? instance.pid : undefined,
      release: instance.running ? instance.release : undefined,
      running: instance.running,
      healthy: health.get(instance.port) === true,
      active: instance.port === active,
      ...(unit
        ? {
            unit: unitName(config.appName, instance.port),
            unitState: `${unit.active}/${unit.sub}, ${unit.fileState}`,
            restarts: unit.restarts,
          }
        : {}),
    }
  })
  report.activePort = active
  report.previousPort = active === undefined ? undefined : idle
  report.release = report.instances.find((i) => i.active)?.release
  const traffic = routingReport(state.include, config.ports, (port) => instanceOn(state, port)?.release)
  report.routing = traffic
  if (traffic.mode === 'canary') report.canary = 'held'
  report.outcome = 'status'
  const lines = report.instances.map(
    (i) =>
      `  port ${i.port}${roleOf(i.port, i.active, traffic)}: ${i.running ? `release ${i.release ?? 'unknown'}, pid ${i.pid}, ${i.healthy ? 'healthy' : 'NOT healthy'}` : 'nothing running'}` +
      (i.unit ? `; unit ${i.unit} ${i.unitState}, ${i.restarts ?? 'unknown'} restart${i.restarts === 1 ? '' : 's'}` : ''),
  )
  log.info(`${remote.entry.label}: ${traffic.text}; supervisor: ${report.supervisor}\n${lines.join('\n')}`)
  log.info(
    report.history.length === 0
      ? 'Deploy history: empty.'
      : `Deploy history (newest last):\n${report.history.map((entry) => `  ${describeEntry(entry)}`).join('\n')}`,
  )
}

/** What the include says, for the report: the mode, the port, and a held canary's split with its releases. */
export function routingReport(
  include: string | undefined,
  ports: [number, number],
  releaseOf: (port: number) => string | undefined,
): RoutingReport {
  const traffic = readInclude(include, ports)
  const text = describeTraffic(traffic, releaseOf, ports)
  if (traffic.mode !== 'canary') return { mode: traffic.mode, port: traffic.port, text }
  const { percent, newPort, previousPort } = traffic.split
  return {
    mode: 'canary',
    port: previousPort,
    text,
    canary: { percent, newPort, newRelease: releaseOf(newPort), previousPort, previousRelease: releaseOf(previousPort) },
  }
}

/** What a port does, after its number in the status log. */
function roleOf(port: number, active: boolean, traffic: RoutingReport): string {
  const canary = traffic.canary
  if (canary?.newPort === port) return ` (canary: ${canary.percent}% of clients)`
  if (canary?.previousPort === port) return ` (active: the other ${Number((100 - canary.percent).toFixed(2))}% of clients)`
  if (!active) return ''
  return traffic.mode === 'maintenance' ? ' (active once live)' : ' (active)'
}
