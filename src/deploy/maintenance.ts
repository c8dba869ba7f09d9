/**
 * `command: maintenance` and `command: live` on one host (port-switch.ts has what a deploy or a
 * rollback does on a host in maintenance). nginx answers every request through the include with 503 and
 * Retry-After while the instances keep running; live puts traffic back on the instance the
 * maintenance include names.
 */
import { MAINTENANCE_PAGE_EXIT, maintenancePageScript, pageText } from '../remote/maintenance.js'
import { nginxDumpScript, readDumpAnswer, readInclude } from '../remote/traffic.js'
import { RemoteCommandError } from '../ssh/transport.js'
import { liveDecision, portForMaintenance } from './control.js'
import { releaseOn } from './host-state.js'
import { switchInclude } from './include-switch.js'
import {
  DEFAULT_MAINTENANCE_PAGE,
  MAX_PAGE_BYTES,
  MAX_PAGE_WORD_BYTES,
  RETRY_AFTER_SECONDS,
  maintenanceInclude,
  pageWordBytes,
} from './maintenance-text.js'
import { dumpCommand, readNginxDump } from './nginx-dump.js'
import { renderInclude, withoutSudoForRoot } from './plan.js'
import { reportServing, timed } from './report.js'
import { type HostRun, StepError, answersHealth, awaitNginxHandover } from './steps.js'

const SHORTEN = 'keep the page to HTML with inline CSS, and link images and scripts from elsewhere'

/**
 * The add_header directives in force where nginx includes the include (a server's
 * Strict-Transport-Security, say), from `nginx -T`, so that the 503 keeps them. Through sudo only
 * where sudo says it would run it (`sudo -n -l` runs nothing): a command sudo refuses is logged on
 * the host as an incident, and the narrow rules these commands need do not name `nginx -T` (a
 * canary's do). Anything that goes wrong leaves them out; the 503 is what matters.
 */
async function inheritedHeaders(run: HostRun): Promise<string[]> {
  const { config, state, remote, log } = run
  const command = dumpCommand(config.nginx.testCommand)
  if (command === undefined) return []
  const runnable = withoutSudoForRoot(command, state.isRoot)
  const viaSudo = /^\s*sudo\s+-n\s+(.*)$/s.exec(runnable)
  if (/^\s*sudo\s/.test(runnable) && !viaSudo) return []
  const dump = viaSudo ? `sudo -n -l ${viaSudo[1]} > /dev/null 2>&1 && ${runnable}` : runnable
  try {
    const answer = readDumpAnswer((await remote.run(nginxDumpScript(dump), { step: 'maintenance', allowExit: [1] })).answer)
    if (answer.dump === undefined) return []
    const layout = readNginxDump(answer.dump, {
      include: config.nginx.include,
      httpFile: config.traffic.httpInclude,
      compiledAccessLog: answer.httpLogPath,
    })
    return layout.addHeaders ?? []
  } catch (error) {
    log.info(
      `Could not read nginx's add_header directives around the include (${(error as Error).message}); the 503 carries Retry-After alone.`,
    )
    return []
  }
}

/** maintenance-page, read on the host through the connection; the default page when it is empty. */
async function readPage(run: HostRun): Promise<string> {
  const path = run.config.traffic.maintenancePage
  if (path === '') return DEFAULT_MAINTENANCE_PAGE
  try {
    const result = await run.remote.run(maintenancePageScript({ page: path, limit: MAX_PAGE_BYTES }), { step: 'maintenance' })
    return pageText(result.answer.sections.page)
  } catch (error) {
    if (!(error instanceof RemoteCommandError) || error.result.code !== MAINTENANCE_PAGE_EXIT) throw error
    const { facts } = error.result.answer
    const user = run.remote.entry.username
    const why =
      facts.error === 'page_missing'
        ? 'does not exist on the host'
        : facts.error === 'page_not_file'
          ? 'is not a file'
          : facts.error === 'page_unreadable'
            ? `is not readable by user "${user}"`
            : `holds ${facts.size} bytes, and nginx takes at most ${MAX_PAGE_BYTES}: ${SHORTEN}`
    throw new StepError('maintenance', `maintenance-page: "${path}" ${why}. nginx was not touched.`)
  }
}

export async function maintenance(run: HostRun): Promise<void> {
  const { config, remote, report, log, state } = run
  const traffic = readInclude(state.include, config.ports)
  const releaseOf = releaseOn(state)
  const port = portForMaintenance(traffic, remote.entry.label, releaseOf, config.ports)
  reportServing(report, port, releaseOf(port))
  const headers = inheritedHeaders(run)
  headers.catch(() => undefined)
  const content = maintenanceInclude(config, state.deployDir, port, await readPage(run), await headers)
  const wordBytes = pageWordBytes(content)
  if (wordBytes > MAX_PAGE_WORD_BYTES) {
    throw new StepError(
      'maintenance',
      `maintenance-page: "${config.traffic.maintenancePage}" makes ${wordBytes} bytes of nginx text once quoted and escaped (each $ becomes &#36;), and nginx takes at most ${MAX_PAGE_WORD_BYTES}: ${SHORTEN}. nginx was not touched.`,
    )
  }
  await timed(report, 'switch', async () => {
    await log.group('Put nginx in maintenance', () =>
      switchInclude(run, {
        content,
        verify: false,
        done: `nginx now answers 503 (Retry-After ${RETRY_AFTER_SECONDS} s) to every request; the instances keep running, and port ${port} serves once live`,
      }),
    )
    // Once the command is over, no request may reach an instance through an old worker.
    await awaitNginxHandover(run)
  }).catch((error) => {
    throw withPlacementHint(error)
  })
  report.outcome = 'maintenance'
}

/** A `return` outside server and location is what nginx rejects when the include sits at http level. */
function withPlacementHint(error: unknown): unknown {
  if (!(error instanceof StepError) || !/"(return|add_header)" directive is not allowed here/.test(error.message)) return error
  return new StepError(
    error.step,
    `${error.message}\nMaintenance answers from the include itself, so nginx must include nginx-include inside a server or location block.`,
  )
}

export async function live(run: HostRun): Promise<void> {
  const { config, remote, report, log, state } = run
  const traffic = readInclude(state.include, config.ports)
  const releaseOf = releaseOn(state)
  const decision = liveDecision(traffic, remote.entry.label, releaseOf, config.ports)
  if (decision.kind === 'nothing') {
    const port = traffic.mode === 'canary' ? traffic.split.previousPort : traffic.port
    reportServing(report, port, releaseOf(port))
    log.info(decision.note)
    report.outcome = 'live'
    return
  }
  const { port } = decision
  const release = releaseOf(port)
  reportServing(report, port, release)
  // nginx must not move users from a 503 to a 502.
  if (!(await answersHealth(run, port))) {
    throw new StepError(
      'live',
      `port ${port} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${port}${config.health.path}), so nginx stays in maintenance. Deploy, or run command: rollback (either stays in maintenance), then command: live.`,
    )
  }
  await timed(report, 'switch', async () => {
    await log.group(`Put traffic back on port ${port}`, () =>
      switchInclude(run, {
        content: renderInclude(config.nginx.template, port),
        release,
        verify: true,
        done: `nginx now sends traffic to port ${port} again`,
        before: 'the maintenance page',
      }),
    )
    await awaitNginxHandover(run)
  })
  report.outcome = 'live'
}
