/** `command: status` on one host: which port serves, what runs on each, is it healthy. Changes nothing. */
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import type { RemoteHost } from '../ssh/transport.js'
import { describeEntry, readHistory } from './history.js'
import { choosePorts } from './plan.js'
import { type HostReport, timed } from './report.js'
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
  report.outcome = 'status'
  const lines = report.instances.map(
    (i) =>
      `  port ${i.port}${i.active ? ' (active)' : ''}: ${i.running ? `release ${i.release ?? 'unknown'}, pid ${i.pid}, ${i.healthy ? 'healthy' : 'NOT healthy'}` : 'nothing running'}` +
      (i.unit ? `; unit ${i.unit} ${i.unitState}, ${i.restarts ?? 'unknown'} restart${i.restarts === 1 ? '' : 's'}` : ''),
  )
  log.info(
    `${remote.entry.label}: nginx serves ${active === undefined ? 'neither port' : `port ${active}`}; supervisor: ${report.supervisor}\n${lines.join('\n')}`,
  )
  log.info(
    report.history.length === 0
      ? 'Deploy history: empty.'
      : `Deploy history (newest last):\n${report.history.map((entry) => `  ${describeEntry(entry)}`).join('\n')}`,
  )
}
