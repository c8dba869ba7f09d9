// The bad-release section of the bench: a release that answers UP on its health path and still
// fails every 5th request to / (the sample's SAMPLE_MODE=flaky), deployed over a good one while
// clients with their own keys go through nginx the whole time:
//   - plainly (no canary, no bake): what users meet when nothing but the health check judges it,
//     counted for WINDOW_SECONDS after the switch, then a good release is deployed again;
//   - with a 10% canary (`canary-key: $http_x_client`), whose interval is long enough that the
//     analysis decides, not the clock;
//   - with a bake of the same length, without a canary.
// For each: how long the bad version answered users (from the clients' side: its first answer to
// its last), how long after it had met analysis-min-requests answers, when the include went back on
// the host, what the action's own message says, and the failed requests users met.
// Target (issue "traffic control"): back on the previous version within 5 s of meeting enough traffic.
import { readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt, median, renderTable } from './bench-report.mjs'
import { startClientsProcess } from './bench-clients.mjs'
import { runAction } from './run-action.mjs'
import { buildSampleJar } from './sample.mjs'
import { get, startTarget } from './target.mjs'

export const TRAFFIC_TITLE = 'A bad release (every 5th request fails): plain switch, 10% canary, bake'
/** Clients, each with its own key, each asking PAUSE_MS after its answer: about 400 requests a second. */
export const CLIENTS = 100
const PAUSE_MS = 250
const MIN_REQUESTS = 20
const CANARY_PERCENT = 10
/** Long enough that only the analysis ends a canary step or a bake early. */
const WATCH_SECONDS = 30
/** Failed requests are compared over this long from the bad version's first answer. */
export const WINDOW_SECONDS = 10
/** Back on the previous version within this long of the bad version meeting MIN_REQUESTS. */
export const TARGET_SECONDS = 5
const RUN_TIMEOUT_MS = 180_000

/** @typedef {'plain' | 'canary' | 'bake'} Kind */
const KINDS = /** @type {Kind[]} */ (['plain', 'canary', 'bake'])
const KIND_TITLES = { plain: 'Plain switch', canary: `${CANARY_PERCENT}% canary`, bake: 'Bake' }

/**
 * The figures of one run from its pieces: what the clients saw, when the include changed on the
 * host, and the action's outputs. Pure, for the unit of a run.
 * @param {{ kind: Kind, version: string, code: number | null, outputs: Record<string, string>,
 *   stdout: string, clients: import('./bench-clients.mjs').ClientStats, began?: number, back?: number,
 *   stillServing: boolean }} p
 *   stillServing: nginx still answered with the bad version at the end (then it served users for
 *   as long as the clients asked, which says nothing).
 */
export function runFigures({ kind, version, code, outputs, stdout, clients, began, back, stillServing }) {
  /** @type {any} */
  let report
  try {
    report = JSON.parse(outputs.report ?? '[]')[0]
  } catch {
    report = undefined
  }
  const message = String(report?.error ?? '') || stdout
  const number = (/** @type {RegExp} */ re, i = 1) => {
    const m = re.exec(message)
    return m ? Number(m[i]) : undefined
  }
  const bad = clients.versions[`version=${version}`] ?? { at: [], failedAt: [] }
  const firstBad = bad.at[0]
  const lastBad = bad.at.at(-1)
  const enoughAt = bad.at[MIN_REQUESTS - 1]
  const inWindow = (/** @type {number} */ t) => firstBad !== undefined && t >= firstBad && t < firstBad + WINDOW_SECONDS * 1000
  return {
    kind,
    version,
    code,
    rolledBack: outputs['rolled-back'] === 'true',
    outcome: report?.outcome,
    stillServing,
    /** The clients' view: the bad version's first and last answer, and its MIN_REQUESTS-th. */
    servedSeconds: !stillServing && firstBad !== undefined && lastBad !== undefined ? (lastBad - firstBad) / 1000 : undefined,
    afterEnoughSeconds: !stillServing && enoughAt !== undefined && lastBad !== undefined ? (lastBad - enoughAt) / 1000 : undefined,
    badAnswers: bad.at.length,
    badFailed: bad.failedAt.length,
    clientsMet: Object.values(clients.clients).filter((seen) => seen.includes(`version=${version}`)).length,
    /** The host's view: the include that began the exposure, to the plain include on the previous port. */
    includeSeconds: began !== undefined && back !== undefined ? (back - began) / 1000 : undefined,
    /** The action's own figures, from its message. */
    verdictAfterSeconds: number(/failed its analysis after (\d+(?:\.\d+)?) s/),
    backAfterVerdictSeconds: number(/(\d+(?:\.\d+)?) s after the verdict/),
    backAfterStartSeconds: number(/s after the verdict and (\d+(?:\.\d+)?) s after the/),
    newRequests: number(/new \(port \d+\): (\d+) requests?/),
    newErrorRate: number(/new \(port \d+\): \d+ requests?, (\d+(?:\.\d+)?)% 5xx/),
    previousRequests: number(/previous \(port \d+\): (\d+) requests?/),
    message: message.split('\n').find((line) => /analysis|failed|error/i.test(line))?.slice(0, 600),
    failedInWindow: clients.failedAt.filter(inWindow).length,
    totalInWindow: clients.answeredAt.filter(inWindow).length,
    failed: clients.failed,
    total: clients.total,
    failures: clients.failures.slice(0, 3),
  }
}

/** @typedef {ReturnType<typeof runFigures>} TrafficRun */

/**
 * @param {{ log: (message: string) => void, track: (cleanup: () => unknown) => () => void, runs?: number }} options
 */
export async function runTrafficBench({ log, track, runs = 3 }) {
  // As root, a host-like target (its own home and init), as the bench's main target is: this
  // machine's ~/.bashrc would otherwise run at each of the action's logins.
  const machineDir = process.getuid?.() === 0 ? path.join(os.tmpdir(), `zdd-bench-traffic-${process.pid}`) : undefined
  const target = await startTarget(machineDir ? { machineDir } : {})
  track(() => target.stop())
  if (machineDir) track(() => rm(machineDir, { recursive: true, force: true }))
  /** Paths as the host sees them (the same as ours unless the target is a machine of its own). */
  const onHost = target.remote
  const httpInclude = onHost.httpIncludePath
  const [portA, portB] = target.appPorts
  log(`${TRAFFIC_TITLE}: target ssh :${target.sshPort}, nginx :${target.nginxPort}, ${CLIENTS} clients, http-level file ${httpInclude}`)

  const wsRoot = path.join(target.dir, 'workspaces')
  /** @param {string} version */
  const workspace = async (version) => {
    const ws = path.join(wsRoot, version)
    await buildSampleJar({ outDir: path.join(ws, 'build', 'libs'), version, fileName: 'sample.jar' })
    return ws
  }
  /** @param {Record<string, string | number>} extra */
  const inputs = (extra) => ({
    host: target.host,
    port: target.sshPort,
    username: target.user,
    'private-key': target.privateKey,
    'known-hosts': target.knownHosts,
    artifact: 'build/libs/*.jar',
    'app-name': 'sample',
    'deploy-dir': onHost.deployDir,
    ports: `${portA},${portB}`,
    'nginx-include': onHost.includePath,
    'nginx-http-include': httpInclude,
    'nginx-test-command': target.nginxTestCommand,
    'nginx-reload-command': target.nginxReloadCommand,
    'canary-key': '$http_x_client',
    'analysis-min-requests': MIN_REQUESTS,
    'health-timeout': '30',
    'stop-timeout': '5',
    // The previous instance's drain comes after traffic is back: it only lengthens the run.
    'drain-seconds': '1',
    ...extra,
  })
  const served = () =>
    get(`${target.url}/`, { timeoutMs: 3000 }).then(
      (r) => `${r.status} ${r.body.split('\n')[0]}`,
      (err) => `error ${err.message}`,
    )

  let good = 0
  /** A good release, not measured: the one the bad release is deployed over. */
  const deployGood = async () => {
    const version = `good${++good}`
    const r = await runAction({ inputs: inputs({}), workspace: await workspace(version), timeoutMs: RUN_TIMEOUT_MS, ownSession: true })
    const now = await served()
    if (r.code !== 0 || !now.startsWith(`200 version=${version} `))
      throw new Error(`the good release ${version} did not deploy (exit ${r.code}, nginx serves "${now}"):\n${lastLines(r.stdout)}`)
    return version
  }

  log(`${TRAFFIC_TITLE}: a good release first (not measured)`)
  let goodVersion = await deployGood()
  /** @type {TrafficRun[]} */
  const records = []
  for (let round = 1; round <= runs; round++) {
    for (const kind of KINDS) {
      const version = `bad-${kind}${round}`
      const ws = await workspace(version)
      const previousPort = Number(/port=(\d+)/.exec(await served())?.[1])
      const extra = {
        env: 'SAMPLE_MODE=flaky',
        ...(kind === 'canary' ? { 'canary-steps': String(CANARY_PERCENT), 'canary-interval': WATCH_SECONDS } : {}),
        ...(kind === 'bake' ? { 'bake-seconds': WATCH_SECONDS } : {}),
      }
      const newPort = previousPort === portA ? portB : portA
      // The include's mode that begins the bad version's exposure.
      const enters = kind === 'canary' ? /^# zero-downtime-deploy: canary/m : kind === 'bake' ? /^# zero-downtime-deploy: observed/m : plainOn(newPort)
      const clients = await startClientsProcess({ url: target.url, clients: CLIENTS, pauseMs: PAUSE_MS })
      const untrack = track(() => clients.stop())
      const include = watchInclude(target.includePath)
      /** @type {any} */
      let r
      /** @type {import('./bench-clients.mjs').ClientStats} */
      let stats
      /** @type {boolean} */
      let stillServing
      try {
        await sleep(1000)
        r = await runAction({ inputs: inputs(extra), workspace: ws, timeoutMs: RUN_TIMEOUT_MS, ownSession: true })
        // The clients go on for the window from the bad version's first answer (a plain switch
        // leaves it serving that long), and a moment more for the last answers.
        const began = include.when(enters) ?? Date.now()
        await sleep(Math.max(1500, began + (WINDOW_SECONDS + 1.5) * 1000 - Date.now()))
        stillServing = (await served()).includes(` version=${version} `)
      } finally {
        await include.stop()
        stats = await clients.stop()
        untrack()
      }
      const began = include.when(enters)
      const back = began === undefined ? undefined : include.when(plainOn(previousPort), began)
      const record = runFigures({ kind, version, code: r.code, outputs: r.outputs, stdout: r.stdout, clients: stats, began, back, stillServing })
      records.push(record)
      log(
        `${TRAFFIC_TITLE}: ${kind} #${round}: exit ${r.code}, rolled-back ${record.rolledBack}; bad version served ${fmt(record.servedSeconds)} s (${fmt(record.afterEnoughSeconds)} s after its ${MIN_REQUESTS}th answer), include back after ${fmt(record.includeSeconds)} s; action: verdict after ${fmt(record.verdictAfterSeconds, 1)} s, back ${fmt(record.backAfterVerdictSeconds, 1)} s later; ${record.failedInWindow} of ${record.totalInWindow} failed in ${WINDOW_SECONDS} s, ${record.failed} of ${record.total} in all; ${record.clientsMet} clients met it; load ${os.loadavg()[0].toFixed(1)}`,
      )
      if (kind !== 'plain' && !record.rolledBack)
        log(`${TRAFFIC_TITLE}: not rolled back:\n${lastLines(r.stdout)}`)
      // The next run starts from a good release again.
      const now = await served()
      if (!now.startsWith(`200 version=${goodVersion} `)) goodVersion = await deployGood()
    }
  }
  const rows = rowsOf(records)
  return { rows, records, table: tableOf(rows) }
}

/** The end of an action's log, without the runner's mask commands (they carry the key). */
function lastLines(/** @type {string} */ text) {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .slice(-25)
    .join('\n')
}

/** The include's text when it plainly sends everything to `port`. */
function plainOn(/** @type {number} */ port) {
  return new RegExp(`^(?![\\s\\S]*zero-downtime-deploy:)[\\s\\S]*127\\.0\\.0\\.1:${port};`)
}

/** The include's texts over time, polled every 20 ms: when each began. */
function watchInclude(/** @type {string} */ file) {
  /** @type {Array<{ at: number, text: string }>} */
  const seen = []
  let stopped = false
  const polling = (async () => {
    while (!stopped) {
      const text = await readFile(file, 'utf8').catch(() => '')
      if (seen.at(-1)?.text !== text) seen.push({ at: Date.now(), text })
      await sleep(20)
    }
  })()
  return {
    /** When the include first matched `pattern`, at or after `after`. */
    when: (/** @type {RegExp} */ pattern, after = 0) => seen.find((s) => s.at >= after && pattern.test(s.text))?.at,
    stop: async () => {
      stopped = true
      await polling
    },
  }
}

/**
 * One row per figure, a value per kind of run (medians over the runs), with the target's verdict.
 * @param {TrafficRun[]} records
 */
export function rowsOf(records) {
  /** @param {Kind} kind */
  const of = (kind) => records.filter((r) => r.kind === kind)
  /** @param {(r: TrafficRun) => number | undefined} pick @param {Kind} kind */
  const med = (pick, kind) => median(of(kind).map(pick).filter((x) => x !== undefined && !Number.isNaN(x)).map(Number))
  /** @param {(r: TrafficRun) => number | undefined} pick @param {Kind} kind @param {number} [digits] */
  const spreadText = (pick, kind, digits = 2) => {
    const xs = of(kind)
      .map(pick)
      .filter((x) => x !== undefined && !Number.isNaN(x))
      .map(Number)
    if (xs.length === 0) return '-'
    return xs.length === 1 ? fmt(xs[0], digits) : `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)})`
  }
  /** @param {Kind} kind @param {(r: TrafficRun) => number} a @param {(r: TrafficRun) => number} b */
  const sums = (kind, a, b) =>
    `${of(kind).reduce((s, r) => s + a(r), 0)} of ${of(kind).reduce((s, r) => s + b(r), 0)}${of(kind).length > 1 ? ` (${fmt(med(a, kind), 0)} a run)` : ''}`
  /**
   * @param {string} label @param {(kind: Kind) => string} value
   * @param {{ target?: string, pass?: (kind: Kind) => boolean | undefined }} [check]
   */
  const row = (label, value, check = {}) => ({
    label,
    values: Object.fromEntries(KINDS.map((k) => [k, of(k).length ? value(k) : '-'])),
    target: check.target,
    pass: check.pass ? Object.fromEntries(KINDS.map((k) => [k, of(k).length ? check.pass?.(k) : undefined])) : undefined,
  })
  const backInTime = (/** @type {Kind} */ k) => {
    if (k === 'plain') return undefined
    const rolled = of(k).every((r) => r.rolledBack)
    const m = med((r) => r.afterEnoughSeconds, k)
    return rolled && m !== undefined && m <= TARGET_SECONDS
  }
  return [
    row('Runs; failed with rolled-back true', (k) => `${of(k).length}; ${of(k).filter((r) => r.code !== 0 && r.rolledBack).length}`),
    row('Bad version served users, s (clients: its first answer to its last)', (k) => {
      const still = of(k).filter((r) => r.stillServing).length
      if (k === 'plain') return `until the next deploy (${WINDOW_SECONDS} s here)`
      if (still === of(k).length) return 'still served at the end'
      return `${spreadText((r) => r.servedSeconds, k)}${still ? `; ${still} run(s) still on it at the end` : ''}`
    }),
    row(
      `  of which after its ${MIN_REQUESTS}th answer (analysis-min-requests), s`,
      (k) => (k === 'plain' ? '-' : spreadText((r) => r.afterEnoughSeconds, k)),
      { target: `<= ${TARGET_SECONDS}`, pass: backInTime },
    ),
    row('Include on the host: canary/observed to the previous port, s', (k) => (k === 'plain' ? '-' : spreadText((r) => r.includeSeconds, k))),
    row("Action's message: verdict after, s", (k) => (k === 'plain' ? '-' : spreadText((r) => r.verdictAfterSeconds, k, 1))),
    row("Action's message: back after the verdict, s", (k) => (k === 'plain' ? '-' : spreadText((r) => r.backAfterVerdictSeconds, k, 1))),
    row("Action's message: back after the step began (canary) or the switch (bake), s", (k) =>
      k === 'plain' ? '-' : spreadText((r) => r.backAfterStartSeconds, k, 1),
    ),
    row("Action's figures for the new instance: requests, 5xx %", (k) =>
      k === 'plain' ? '-' : `${fmt(med((r) => r.newRequests, k), 0)}, ${fmt(med((r) => r.newErrorRate, k), 1)}%`,
    ),
    row(`Clients (of ${CLIENTS}) that met the bad version`, (k) => fmt(med((r) => r.clientsMet, k), 0)),
    row(`Failed requests in the ${WINDOW_SECONDS} s from its first answer, all runs`, (k) => sums(k, (r) => r.failedInWindow, (r) => r.totalInWindow)),
    row('Failed requests during the whole run, all runs', (k) => sums(k, (r) => r.failed, (r) => r.total)),
  ]
}

/** @param {ReturnType<typeof rowsOf>} rows */
export function tableOf(rows) {
  return renderTable(
    ['Figure (median, min-max)', ...KINDS.map((k) => KIND_TITLES[k]), 'Target'],
    rows.map((r) => [
      r.label,
      ...KINDS.map((k) => {
        const pass = r.pass?.[k]
        return `${r.values[k]}${pass === undefined ? '' : pass ? ' PASS' : ' MISS'}`
      }),
      r.target ?? '',
    ]),
  )
}
