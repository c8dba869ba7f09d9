/** `command: logs` on one host: the last lines of each instance's log, the active one first. Changes nothing. */
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import { readLogsScript } from '../remote/hooks.js'
import type { RemoteHost } from '../ssh/transport.js'
import { instanceOn } from './host-state.js'
import { maskLine } from './hooks.js'
import { choosePorts } from './plan.js'
import { type HostReport, timed } from './report.js'
import { inspectHost } from './steps.js'

export async function logs(remote: RemoteHost, config: DeployConfig, report: HostReport, log: Log, secrets: string[]): Promise<void> {
  const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false))
  const { active, idle } = choosePorts(state.include, config.ports)
  const order = active === undefined ? config.ports : [active, idle]
  const result = await timed(report, 'probe', () =>
    remote.run(readLogsScript({ deployDir: state.deployDir, ports: order, lines: config.logLines }), { step: 'logs' }),
  )
  for (const port of order) {
    const instance = instanceOn(state, port)
    const role = port === active ? 'active' : 'idle'
    const what = instance?.running ? `release ${instance.release ?? 'unknown'}, running (pid ${instance.pid})` : 'not running'
    const text = result.answer.sections[`log_${port}`] ?? ''
    // Masked in one pass over the whole text, not line by line: up to 100k lines per port.
    const body = text === '' ? '(the log is empty or absent)' : maskLine(text, secrets)
    await log.group(`Port ${port} (${role}): ${what}; last ${config.logLines} lines of ${state.deployDir}/logs/${port}.log`, async () =>
      log.info(body),
    )
  }
  report.activePort = active
  report.previousPort = active === undefined ? undefined : idle
  report.release = instanceOn(state, active ?? -1)?.release
  report.outcome = 'logs'
}
