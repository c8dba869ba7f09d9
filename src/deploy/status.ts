/** `command: status` on one host: which port serves, what runs on each, is it healthy. Changes nothing. */
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import type { RemoteHost } from '../ssh/transport.js'
import { choosePorts } from './plan.js'
import { type HostReport, timed } from './report.js'
import { inspectHost, probeHealth } from './steps.js'

export async function status(remote: RemoteHost, config: DeployConfig, report: HostReport, log: Log): Promise<void> {
  const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false))
  const { active, idle } = choosePorts(state.include, config.ports)
  const health = await timed(report, 'probe', () => probeHealth({ config, remote, log, report, state }, config.ports))
  report.instances = state.instances.map((instance) => ({
    port: instance.port,
    pid: instance.running ? instance.pid : undefined,
    release: instance.running ? instance.release : undefined,
    running: instance.running,
    healthy: health.get(instance.port) === true,
    active: instance.port === active,
  }))
  report.activePort = active
  report.previousPort = active === undefined ? undefined : idle
  report.release = report.instances.find((i) => i.active)?.release
  report.outcome = 'status'
  const lines = report.instances.map(
    (i) =>
      `  port ${i.port}${i.active ? ' (active)' : ''}: ${i.running ? `release ${i.release ?? 'unknown'}, pid ${i.pid}, ${i.healthy ? 'healthy' : 'NOT healthy'}` : 'nothing running'}`,
  )
  log.info(`${remote.entry.label}: nginx serves ${active === undefined ? 'neither port' : `port ${active}`}\n${lines.join('\n')}`)
}
