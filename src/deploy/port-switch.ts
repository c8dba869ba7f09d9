/**
 * Step 9, the switch of a deploy or a rollback: points the include at `port`, where `release` runs;
 * tests, reloads, confirms the reload, verifies. On a host in maintenance the maintenance include
 * names the new port instead, with the page and Retry-After it had: nginx keeps answering 503 (so
 * a migration can run with no traffic), and the new instance serves once `command: live` runs.
 */
import { readInclude } from '../remote/traffic.js'
import { describeTraffic } from './control.js'
import { releaseOn } from './host-state.js'
import { switchInclude } from './include-switch.js'
import { DEFAULT_MAINTENANCE_PAGE, keepingMaintenancePage, maintenanceInclude, maintenanceTail } from './maintenance-text.js'
import { renderInclude } from './plan.js'
import type { HostRun } from './steps.js'

export async function switchTraffic(run: HostRun, port: number, release: string | undefined): Promise<void> {
  const { config, state, log, remote } = run
  const traffic = readInclude(state.include, config.ports)
  if (traffic.mode !== 'maintenance') {
    return switchInclude(run, {
      content: renderInclude(config.nginx.template, port),
      release,
      verify: true,
      done: `nginx now sends traffic to port ${port}`,
    })
  }
  log.warning(
    `${remote.entry.label} is ${describeTraffic(traffic, releaseOn(state), config.ports)}. It stays in maintenance: port ${port} (release ${release ?? 'unknown'}) serves once command: live runs.`,
  )
  const fresh = maintenanceInclude(config, state.deployDir, port, DEFAULT_MAINTENANCE_PAGE)
  const kept = maintenanceTail(state.include)
  await switchInclude(run, {
    content: kept === undefined ? fresh : keepingMaintenancePage(fresh, kept),
    release,
    // verify-url would meet the 503.
    verify: false,
    done: `nginx still answers 503 to every request (maintenance); port ${port} serves once live`,
  })
}
