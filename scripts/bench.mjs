// Benchmark of the bundled action (dist/index.js) on loopback, with the same real parts as the
// e2e suite: a private sshd and nginx (scripts/lib/target.mjs), the sample JVM service
// (scripts/lib/sample.mjs), steady client load through nginx (scripts/lib/traffic.mjs) and the
// action run as a GitHub runner runs it (scripts/lib/run-action.mjs).
//
// What it measures, in one run (see `--help`):
//   1. failed requests across N deploys (one crashing release, one rollback) under steady load,
//      a new connection per request; then the same with keep-alive connections, against a
//      baseline of N bare `nginx -s reload`s done under the same keep-alive load, spaced alike
//      (and N more, each made as a hand-started JVM turns healthy, as at a deploy's switch);
//   2. deploy time per phase, and the overhead above the service's own start-up time T, with and
//      without load (T timed by hand between the deploys it is compared with), and without load
//      over an SSH connection whose every round trip takes 50 ms (a proxy holds each packet);
//   3. the classic scp + ssh + `nohup java` + `sleep 10` script, as the baseline it replaces;
//   4. the action's peak RSS and its start-up time up to its first SSH packet;
//   5. a small jar against a 40 MB fat jar;
//   6. (as root, with network namespaces) the delta upload over a link shaped to 20 Mbit/s: a full
//      upload of a 40 MB fat jar against the redeploy of its next build (scripts/lib/bench-link.mjs).
//   7. (as root, with network namespaces) a fleet deploy to 1, 4, 8, 16 and 32 hosts, directly and
//      through a bastion, against one host's time (scripts/lib/bench-fleet.mjs).
//   8. a bad release (every 5th request fails) under a plain switch, a 10% canary and a bake: how
//      long it served users before traffic was back on the previous version (scripts/lib/bench-traffic.mjs).
// Targets are reported, never asserted: the exit code is 0 unless the bench itself broke.
// Only 127.0.0.1 is ever contacted, and in section 6 the one address of a network namespace that
// section makes itself (10.213.X.10, see scripts/lib/netns.mjs).
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FLEET_TITLE, runFleetBench } from './lib/bench-fleet.mjs'
import { runLinkBench } from './lib/bench-link.mjs'
import { TRAFFIC_TITLE, runTrafficBench } from './lib/bench-traffic.mjs'
import { namespaceSupport } from './lib/netns.mjs'
import { runAction } from './lib/run-action.mjs'
import { get, startTarget } from './lib/target.mjs'
import { startTrafficProcess } from './lib/traffic-process.mjs'
import { firstHostReport, fmt, median, renderTable } from './lib/bench-report.mjs'
import { LINK_TITLE, summarize } from './lib/bench-summary.mjs'
import { classicScript } from './lib/classic-deploy.mjs'
import { config, flags } from './lib/bench-options.mjs'
import { benchStarted, checkNotAborting, cleanupAll, cleanups, lastLines, log, runProcess } from './lib/bench-process.mjs'
import { ACTION_NODE, Jars, deployPlan, distProvenance, systemSshOptions, timeServiceStartup, trafficSummary } from './lib/bench-parts.mjs'
import { startSshProxy } from './lib/ssh-proxy.mjs'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// Bounds: nothing in here may hang. Each action run, each classic step and the whole bench have a cap.
const RUN_TIMEOUT_MS = 120_000
const CLASSIC_SCP_TIMEOUT_MS = 60_000
const CLASSIC_SSH_TIMEOUT_MS = 200_000 // sleep 10 + 10 tries x 10 s + slack: the script's own worst case
const TRAFFIC_MAX_MS = 600_000
const BENCH_TIMEOUT_MS = 20 * 60_000

/** @typedef {import('./lib/bench-summary.mjs').RunRecord} RunRecord */

// --- the delta upload over a slow link -------------------------------------------------------

/**
 * The link section (scripts/lib/bench-link.mjs), when this process can make network namespaces (root) and
 * --no-link is not given. A failure is returned (and goes to the problems), not thrown; it throws
 * only when the bench is being stopped.
 * @returns {Promise<{ ran: boolean, skipped?: string, error?: string, seconds?: number,
 *   rows?: Array<{ label: string, value: string, target?: string, pass?: boolean }>,
 *   figures?: Record<string, any>, table?: string }>}
 */
async function linkSection() {
  if (flags['no-link']) {
    log(`${LINK_TITLE}: skipped (--no-link)`)
    return { ran: false, skipped: '--no-link' }
  }
  const support = await namespaceSupport()
  if (!support.ok) {
    log(`${LINK_TITLE}: skipped (${support.reason})`)
    return { ran: false, skipped: support.reason }
  }
  checkNotAborting()
  log(`${LINK_TITLE}: full upload vs redeploy of a 40 MB fat jar, and scp, over a link shaped with tc tbf`)
  const started = performance.now()
  /** @param {() => unknown} fn */
  const track = (fn) => {
    cleanups.push(fn)
    return () => {
      const i = cleanups.indexOf(fn)
      if (i >= 0) cleanups.splice(i, 1)
    }
  }
  try {
    const { rows, figures } = await runLinkBench({ log, track })
    const seconds = (performance.now() - started) / 1000
    const table = renderTable(
      ['Metric', 'Value', 'Target', ''],
      rows.map((r) => [r.label, r.value, r.target ?? '', r.pass === undefined ? (r.target ? 'n/a' : '') : r.pass ? 'PASS' : 'MISS']),
    )
    log(`${LINK_TITLE}: done in ${seconds.toFixed(0)} s`)
    return { ran: true, seconds, rows, figures, table: `${LINK_TITLE} (section took ${seconds.toFixed(0)} s):\n${table}` }
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    log(`${LINK_TITLE}: FAILED: ${error}`)
    return { ran: false, error, seconds: (performance.now() - started) / 1000 }
  }
}

/** `--only-link`: the link section alone; prints its table and figures. */
async function linkOnly() {
  log(`bench, link section only (--only-link)`)
  const provenance = await distProvenance()
  log(
    `action: dist/*.js sha256 ${provenance.distSha256.slice(0, 12)}, HEAD ${provenance.head.slice(0, 10)}${provenance.distModified ? ' (dist modified vs HEAD)' : ''}`,
  )
  const link = await linkSection()
  if (link.table) console.log(`\n${link.table}\n`)
  console.log(JSON.stringify({ action: provenance, link }, null, 2))
  if (link.error) throw new Error(`the link section failed: ${link.error.split('\n')[0]}`)
  if (!link.ran) throw new Error(`the link section did not run: ${link.skipped}`)
}

// --- the fleet: stage every host, then switch -------------------------------------------------

/** Registers a cleanup with the bench; returns a function that unregisters it. */
function track(/** @type {() => unknown} */ fn) {
  cleanups.push(fn)
  return () => {
    const i = cleanups.indexOf(fn)
    if (i >= 0) cleanups.splice(i, 1)
  }
}

/**
 * The fleet section (scripts/lib/bench-fleet.mjs), as root with network namespaces, unless
 * --no-fleet. Like the link section, a failure is returned, not thrown.
 * @returns {Promise<{ ran: boolean, skipped?: string, error?: string, seconds?: number, rows?: any[], table?: string }>}
 */
async function fleetSection() {
  if (flags['no-fleet']) {
    log(`${FLEET_TITLE}: skipped (--no-fleet)`)
    return { ran: false, skipped: '--no-fleet' }
  }
  const support = await namespaceSupport()
  if (!support.ok) {
    log(`${FLEET_TITLE}: skipped (${support.reason})`)
    return { ran: false, skipped: support.reason }
  }
  checkNotAborting()
  const started = performance.now()
  try {
    const { rows, table, startDelayMs } = await runFleetBench({
      log,
      track,
      sizes: config.fleetSizes,
      services: config.fleetServices,
      paths: config.fleetPaths,
      stageParallel: config.fleetStageParallel,
    })
    const seconds = (performance.now() - started) / 1000
    log(`${FLEET_TITLE}: done in ${seconds.toFixed(0)} s`)
    const note = `Each service sleeps ${startDelayMs / 1000} s before it opens its port: it waits, it does not compute. The JVM sample still pays each JVM's start-up CPU, all at once, on this machine's ${os.cpus().length} cores; "sh + httpd" (BusyBox's httpd after the same sleep) leaves only the deploy tool's own work and sshd's and nginx's on the hosts, so the targets are checked on it. Each host's nginx gets about 20 requests a second throughout, from request loops that stand for clients on other machines and run at low priority (nice 10); every other input keeps its default.`
    return {
      ran: true,
      seconds,
      rows,
      table: `${FLEET_TITLE} (section took ${seconds.toFixed(0)} s; ${config.fleetStageParallel === undefined ? 'default stage-parallel 32' : `stage-parallel ${config.fleetStageParallel}`}, max-parallel 1):\n${table}\n${note}`,
    }
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    log(`${FLEET_TITLE}: FAILED: ${error}`)
    return { ran: false, error, seconds: (performance.now() - started) / 1000 }
  }
}

/** `--only-fleet`: the fleet section alone; prints its table and figures. */
async function fleetOnly() {
  log(`bench, fleet section only (--only-fleet)`)
  const provenance = await distProvenance()
  log(
    `action: dist/*.js sha256 ${provenance.distSha256.slice(0, 12)}, HEAD ${provenance.head.slice(0, 10)}${provenance.distModified ? ' (dist modified vs HEAD)' : ''}`,
  )
  log(
    `machine: ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )
  const fleet = await fleetSection()
  if (fleet.table) console.log(`\n${fleet.table}\n`)
  console.log(JSON.stringify({ action: provenance, fleet }, null, 2))
  if (fleet.error) throw new Error(`the fleet section failed: ${fleet.error.split('\n')[0]}`)
  if (!fleet.ran) throw new Error(`the fleet section did not run: ${fleet.skipped}`)
}

// --- a bad release: plain switch, canary, bake ---------------------------------------------------

/**
 * The bad-release section (scripts/lib/bench-traffic.mjs), on a loopback target of its own, unless
 * --no-traffic. Like the other sections, a failure is returned, not thrown.
 * @returns {Promise<{ ran: boolean, skipped?: string, error?: string, seconds?: number, rows?: any[], runs?: any[], table?: string }>}
 */
async function trafficSection() {
  if (flags['no-traffic']) {
    log(`${TRAFFIC_TITLE}: skipped (--no-traffic)`)
    return { ran: false, skipped: '--no-traffic' }
  }
  checkNotAborting()
  const started = performance.now()
  try {
    const { rows, records, table } = await runTrafficBench({ log, track, runs: config.trafficRuns })
    const seconds = (performance.now() - started) / 1000
    log(`${TRAFFIC_TITLE}: done in ${seconds.toFixed(0)} s`)
    return { ran: true, seconds, rows, runs: records, table: `${TRAFFIC_TITLE} (section took ${seconds.toFixed(0)} s):\n${table}` }
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    log(`${TRAFFIC_TITLE}: FAILED: ${error}`)
    return { ran: false, error, seconds: (performance.now() - started) / 1000 }
  }
}

/** `--only-traffic`: the bad-release section alone; prints its table and figures. */
async function trafficOnly() {
  log(`bench, bad-release section only (--only-traffic)`)
  const provenance = await distProvenance()
  log(
    `action: dist/*.js sha256 ${provenance.distSha256.slice(0, 12)}, HEAD ${provenance.head.slice(0, 10)}${provenance.distModified ? ' (dist modified vs HEAD)' : ''}`,
  )
  log(
    `machine: ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )
  const traffic = await trafficSection()
  console.log(JSON.stringify({ action: provenance, traffic }, null, 2))
  if (traffic.table) console.log(`\n${traffic.table}\n`)
  if (traffic.error) throw new Error(`the bad-release section failed: ${traffic.error.split('\n')[0]}`)
  if (!traffic.ran) throw new Error(`the bad-release section did not run: ${traffic.skipped}`)
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const startedAtIso = new Date().toISOString()
  /** @type {string[]} */
  const problems = []
  /** @type {RunRecord[]} */
  const runs = []
  /** @type {Array<{ at: string, load1: number }>} */
  const loadSamples = [{ at: 'start', load1: os.loadavg()[0] }]
  /** Figures that explain where time goes on this host; see the diagnostics table. */
  const diagnostics = {
    /** @type {number[]} */ sshTrueMs: [],
    /** @type {number[]} */ procNetTcpEntries: [],
    /** @type {number[]} */ procNetTcpGrepMs: [],
    /** @type {number[]} */ ssFilterMs: [],
    /** @type {number[]} */ shTrueMs: [],
    /** @type {number[]} */ scpFatMs: [],
    /** @type {number[]} */ bareNodeMs: [],
  }

  log(`bench: ${JSON.stringify({ ...config, healthInterval: config.healthInterval ?? 'default (0.5)' })}`)
  const provenance = await distProvenance()
  log(
    `action: dist/*.js sha256 ${provenance.distSha256.slice(0, 12)}, HEAD ${provenance.head.slice(0, 10)}${provenance.distModified ? ' (dist modified vs HEAD)' : ''}`,
  )
  log(
    `machine: ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )

  const wsRoot = await mkdtemp(path.join(os.tmpdir(), 'zdd-bench-ws-'))
  cleanups.push(() => rm(wsRoot, { recursive: true, force: true }))
  const jars = new Jars(wsRoot)

  // Versions: every deploy gets its own jar (its own sha256), so every deploy uploads.
  const plan = deployPlan(config.deploys)
  /** @param {string} prefix */
  const phaseVersions = (prefix) =>
    plan.map((kind, i) => (kind === 'rollback' ? '' : `${prefix}${i + 1}${kind === 'crash' ? '-crash' : ''}`))
  const versionsA = phaseVersions('a')
  const versionsB = phaseVersions('b')
  const smallVersions = Array.from({ length: config.smallDeploys }, (_, i) => `s${i + 1}`)
  const fatVersions = Array.from({ length: config.fatDeploys }, (_, i) => `f${i + 1}`)
  const roundTripVersions = Array.from({ length: config.roundTripDeploys }, (_, i) => `r${i + 1}`)
  const classicVersions = Array.from({ length: config.classic }, (_, i) => `c${i + 1}`)
  const smallSpecs = ['w0', ...versionsA, ...versionsB, ...smallVersions, ...roundTripVersions, ...classicVersions]
    .filter(Boolean)
    .map((version) => ({ version }))

  log(`building ${smallSpecs.length} small jars and ${fatVersions.length} fat jar(s) of ${config.fatBytes / 1024 / 1024} MiB`)
  await jars.build(smallSpecs, 3)
  await jars.build(
    fatVersions.map((version) => ({ version, padBytes: config.fatBytes })),
    1,
  )
  const smallJarBytes = (await stat(jars.get('w0').jarPath)).size
  const fatJarBytes = (await stat(jars.get(fatVersions[0]).jarPath)).size
  log(`jars ready: small ${smallJarBytes} B, fat ${fatJarBytes} B`)

  // A deploy host is a server: a plain login shell and an init that reaps orphans. A developer
  // machine's root may run pyenv and more in ~/.bashrc (0.5 s per login here), which would be
  // measured as the action's overhead. As root the target gets mount and PID namespaces with a
  // home of its own; --this-login-shell measures against this machine's own account instead.
  const hostLike = process.getuid?.() === 0 && !flags['this-login-shell']
  const machineDir = hostLike ? path.join(os.tmpdir(), `zdd-bench-host-${process.pid}`) : undefined
  log(`starting the target (sshd + nginx on 127.0.0.1${hostLike ? ', host-like: own home and init' : ", this machine's login shell"})`)
  const target = await startTarget(machineDir ? { machineDir } : {})
  cleanups.push(() => target.stop())
  if (machineDir) cleanups.push(() => rm(machineDir, { recursive: true, force: true }))
  /** Paths as the host sees them (the same as ours unless the target has a machine of its own). */
  const onHost = target.remote ?? { dir: target.dir, deployDir: target.deployDir, includePath: target.includePath }
  log(`target in ${target.dir}: ssh :${target.sshPort}, nginx :${target.nginxPort}, app ports ${target.appPorts.join('/')}`)

  const proxy = await startSshProxy(target.sshPort)
  cleanups.push(() => proxy.close())
  // A host further away than loopback: every packet of the SSH connection waits half the round trip.
  const farProxy = await startSshProxy(target.sshPort, { oneWayDelayMs: config.roundTripMs / 2 })
  cleanups.push(() => farProxy.close())
  // known_hosts names the host with its port: the same lines, for the proxy's port.
  const knownHostsVia = (/** @type {{ port: number }} */ p) => target.knownHosts.split(`]:${target.sshPort} `).join(`]:${p.port} `)
  const proxyKnownHosts = knownHostsVia(proxy)

  const envBase = `SAMPLE_START_DELAY_MS=${config.startDelayMs}`

  /**
   * Inputs for a run against the target, like test/e2e/support.ts, but with the action's own
   * default health-interval unless --health-interval says otherwise.
   * The SSH port is the timing proxy's, so known_hosts names the host with that port.
   * @param {Record<string, string>} extra
   */
  const inputsFor = (extra) => ({
    host: target.host,
    port: proxy.port,
    username: target.user,
    'private-key': target.privateKey,
    'known-hosts': proxyKnownHosts,
    artifact: 'build/libs/*.jar',
    'app-name': 'sample',
    'deploy-dir': onHost.deployDir,
    ports: target.appPorts.join(','),
    'nginx-include': onHost.includePath,
    'nginx-test-command': target.nginxTestCommand,
    'nginx-reload-command': target.nginxReloadCommand,
    'health-timeout': '30',
    'stop-timeout': '5',
    env: envBase,
    ...(config.healthInterval !== undefined ? { 'health-interval': config.healthInterval } : {}),
    ...extra,
  })

  /** What nginx serves right now (first line), on a fresh connection. */
  const served = () =>
    get(`${target.url}/`, { timeoutMs: 3000 }).then(
      (r) => `${r.status} ${r.body.split('\n')[0]}`,
      (err) => `error ${err.message}`,
    )

  /**
   * One run of the action, measured, checked against what the kind of run should do.
   * Every run connects through the timing proxy (one more loopback hop, negligible), so each
   * one tells its start-up time to the first SSH byte.
   * @param {{ label: string, kind: 'deploy' | 'crash' | 'rollback', version: string, jar?: string,
   *   load: string, phaseStart: number, far?: boolean }} o
   *   far: through the proxy that adds config.roundTripMs to every round trip.
   * @returns {Promise<RunRecord>}
   */
  const actionRun = async (o) => {
    checkNotAborting()
    const workspace = o.version ? jars.get(o.version).workspace : jars.get('w0').workspace
    const via = o.far ? farProxy : proxy
    /** @type {Record<string, string>} */
    const extra = o.far ? { port: String(farProxy.port), 'known-hosts': knownHostsVia(farProxy) } : {}
    if (o.kind === 'rollback') extra.command = 'rollback'
    if (o.kind === 'crash') extra.env = `${envBase}\nSAMPLE_MODE=crash` // the release exits at once
    const before = o.kind === 'crash' ? await served() : undefined
    via.arm()
    const startOffsetMs = performance.now() - o.phaseStart
    /** @type {import('node:child_process').ChildProcess | undefined} */
    let child
    // If the bench is interrupted, the action's process must not outlive it.
    const killChild = () => child?.exitCode === null && child.signalCode === null && child.kill('SIGKILL')
    cleanups.push(killChild)
    const r = await runAction({
      inputs: inputsFor(extra),
      workspace,
      measure: true,
      timeoutMs: RUN_TIMEOUT_MS,
      ownSession: true,
      onSpawn: (c) => (child = c),
    }).finally(() => cleanups.splice(cleanups.indexOf(killChild), 1))
    const endOffsetMs = performance.now() - o.phaseStart
    const timing = via.take()
    const report = firstHostReport(r.outputs)
    const now = await served()
    let asExpected = false
    if (o.kind === 'deploy') asExpected = r.code === 0 && report?.outcome === 'deployed' && now.startsWith(`200 version=${o.version} `)
    if (o.kind === 'rollback') asExpected = r.code === 0 && report?.outcome === 'rolled-back' && now.startsWith('200 ')
    if (o.kind === 'crash') asExpected = r.code !== 0 && report?.outcome === 'failed' && now === before
    /** @type {RunRecord} */
    const rec = {
      label: o.label,
      kind: o.kind,
      jar: o.jar ?? 'small',
      load: o.load,
      asExpected,
      code: r.code,
      timedOut: r.timedOut,
      durationMs: r.durationMs,
      peakRssKb: r.peakRssKb,
      cpuMs: r.cpuMs,
      outcome: report?.outcome,
      phases: report?.phases ?? {},
      uploadedBytes: Number(r.outputs['uploaded-bytes'] ?? 0),
      release: report?.release,
      error: report?.error ?? (r.code !== 0 ? lastLines(r.stdout + r.stderr) : undefined),
      served: now,
      firstSshByteMs: timing.firstByteAt !== undefined ? timing.firstByteAt - r.spawnedAt : undefined,
      acceptMs: timing.acceptAt !== undefined ? timing.acceptAt - r.spawnedAt : undefined,
      startOffsetMs,
      endOffsetMs,
    }
    runs.push(rec)
    const ph = rec.phases
    log(
      `  ${rec.label.padEnd(10)} ${rec.kind.padEnd(8)} ${asExpected ? 'ok ' : 'UNEXPECTED'} exit=${rec.code} ${fmt(rec.durationMs / 1000)} s` +
        ` (upload ${fmt(ph.upload)}, start ${fmt(ph.start)}, switch ${fmt(ph.switch)})` +
        ` rss ${rec.peakRssKb ? (rec.peakRssKb / 1024).toFixed(0) : '?'} MB cpu ${fmt((rec.cpuMs ?? NaN) / 1000)} s` +
        (rec.firstSshByteMs !== undefined ? ` first-ssh-byte ${rec.firstSshByteMs.toFixed(0)} ms` : '') +
        ` -> ${now}`,
    )
    if (!asExpected) {
      problems.push(
        `${rec.label} (${rec.kind}) did not go as expected: exit ${rec.code}${rec.timedOut ? ' (timed out)' : ''}, outcome ${rec.outcome}, nginx serves "${now}"${rec.error ? `: ${rec.error}` : ''}`,
      )
    }
    return rec
  }

  // 0. a warm-up deploy: nginx needs a live upstream before any load starts, and the first run
  //    pays cold caches (disk, JIT of the JVM's own classes). Not counted.
  log('warm-up deploy (not counted)')
  await actionRun({ label: 'w0', kind: 'deploy', version: 'w0', load: 'none', phaseStart: performance.now() })

  // 1. the service's own start-up time T (java -jar by hand, health polled every 20 ms): measured
  //    between the deploys it is compared with, under the same load at the same time, since the
  //    load a JVM meets drifts from one minute to the next.
  /** @type {number[]} */
  const startupIdleMs = []
  /** @type {number[]} */
  const startupLoadMs = []
  /** @param {number[]} into @param {string} what */
  const timeStartup = async (into, what) => {
    into.push(await timeServiceStartup(jars.get('w0').jarPath))
    log(`  T by hand, ${what} #${into.length}: ${into.at(-1)?.toFixed(0)} ms`)
  }

  /**
   * N deploys (incl. crash and rollback) back to back under steady load.
   * @param {'new-connection' | 'keep-alive'} load
   * @param {string[]} versions
   * @param {string} prefix
   * @param {() => Promise<void>} [whileLoaded] runs after the deploys, before the load stops
   * @param {(run: RunRecord) => Promise<void>} [afterEach] runs after each deploy, under the load
   */
  const loadPhase = async (load, versions, prefix, whileLoaded, afterEach) => {
    loadSamples.push({ at: `${load} deploys`, load1: os.loadavg()[0] })
    log(`${load} load: ${plan.length} runs (${plan.join(', ')}) under ${config.concurrency} request loops`)
    const traffic = await startTrafficProcess({
      url: target.url,
      concurrency: config.concurrency,
      keepAlive: load === 'keep-alive',
      maxDurationMs: TRAFFIC_MAX_MS,
      timeoutMs: 10_000,
    })
    cleanups.push(() => traffic.stop())
    const phaseStart = performance.now()
    /** @type {RunRecord[]} */
    const phaseRuns = []
    try {
      for (let i = 0; i < plan.length; i++) {
        phaseRuns.push(
          await actionRun({
            label: `${prefix}${i + 1}${plan[i] === 'crash' ? '-crash' : ''}`,
            kind: plan[i],
            version: versions[i],
            load,
            phaseStart,
          }),
        )
        await afterEach?.(phaseRuns[phaseRuns.length - 1])
      }
      loadSamples.push({ at: `${load} deploys, end`, load1: os.loadavg()[0] })
      await whileLoaded?.()
    } finally {
      await traffic.stop()
    }
    const stats = await traffic.stop() // the same settled result
    const trafficMs = performance.now() - phaseStart
    // The deploys' span (without the diagnostics): the baseline replays it.
    const durationMs = phaseRuns.length ? phaseRuns[phaseRuns.length - 1].endOffsetMs : trafficMs
    log(`  ${load}: ${stats.failed} failed of ${stats.total} requests in ${(trafficMs / 1000).toFixed(1)} s`)
    return { runs: phaseRuns, traffic: trafficSummary(stats, trafficMs), durationMs }
  }

  // 2. failed requests with a new connection per request. While that load still runs, a few
  //    figures that explain where a deploy's time goes on this host (see `diagnostics`).
  const phaseA = await loadPhase(
    'new-connection',
    versionsA,
    'a',
    async () => {
      log('diagnostics under the same load: ssh login, listening-socket lookup')
      const sshArgs = [...systemSshOptions(target), '-p', String(target.sshPort), `${target.user}@127.0.0.1`, 'true']
      for (let i = 0; i < 2; i++) {
        const r = await runProcess('ssh', sshArgs, { timeoutMs: 30_000, ownSession: true })
        if (r.code === 0) diagnostics.sshTrueMs.push(r.ms)
      }
      // What a full scan of both kernel tables (every socket, TIME_WAIT included) for a listener
      // costs here, against ss, which filters in the kernel: port_in_use reads neither in full.
      const hex = target.appPorts[0].toString(16).toUpperCase().padStart(4, '0')
      const grep = `grep -h -E '^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6`
      for (let i = 0; i < 3; i++) {
        const count = await runProcess('sh', ['-c', 'cat /proc/net/tcp /proc/net/tcp6 | wc -l'], { timeoutMs: 30_000 })
        diagnostics.procNetTcpEntries.push(Number(count.stdout.trim()))
        diagnostics.procNetTcpGrepMs.push((await runProcess('sh', ['-c', grep], { timeoutMs: 30_000 })).ms)
        diagnostics.ssFilterMs.push(
          (await runProcess('sh', ['-c', `ss -Htn state listening 'sport = :${target.appPorts[0]}'`], { timeoutMs: 30_000 })).ms,
        )
        diagnostics.shTrueMs.push((await runProcess('sh', ['-c', 'true'], { timeoutMs: 30_000 })).ms)
      }
      log(
        `  ssh true ${fmt(median(diagnostics.sshTrueMs), 0)} ms; /proc/net/tcp{,6}: ${median(diagnostics.procNetTcpEntries)} lines, grep ${fmt(median(diagnostics.procNetTcpGrepMs), 0)} ms vs ss ${fmt(median(diagnostics.ssFilterMs), 0)} ms`,
      )
    },
    async (run) => {
      if (run.kind === 'deploy' && startupLoadMs.length < config.startupRuns) await timeStartup(startupLoadMs, 'under load')
    },
  )
  if (phaseA.traffic.failed > 0)
    problems.push(
      `new-connection load saw ${phaseA.traffic.failed} failed requests: ${JSON.stringify(phaseA.traffic.failures.slice(0, 5))}`,
    )

  // 3. the same with keep-alive connections, then the baseline: bare reloads, spaced alike.
  const phaseB = await loadPhase('keep-alive', versionsB, 'b')

  /**
   * Bare reloads under the same keep-alive load, as `schedule` times them.
   * @param {(reload: () => Promise<void>) => Promise<void>} schedule
   */
  const keepAliveReloads = async (schedule) => {
    const traffic = await startTrafficProcess({
      url: target.url,
      concurrency: config.concurrency,
      keepAlive: true,
      maxDurationMs: TRAFFIC_MAX_MS,
      timeoutMs: 10_000,
    })
    cleanups.push(() => traffic.stop())
    // On a host-like target, the reload runs inside the host's namespaces, as on the host.
    const inHost = target.machinePid ? ['nsenter', '--target', String(target.machinePid), '--net', '--mount', '--pid', '--'] : []
    const [cmd, ...args] = [...inHost, 'sh', '-c', target.nginxReloadCommand]
    let reloads = 0
    let reloadErrors = 0
    const start = performance.now()
    try {
      await schedule(async () => {
        reloads++
        if ((await runProcess(cmd, args, { timeoutMs: 10_000 })).code !== 0) reloadErrors++
      })
    } finally {
      await traffic.stop()
    }
    const stats = await traffic.stop() // the same settled result
    const durationMs = performance.now() - start
    log(
      `  ${stats.failed} failed of ${stats.total} requests in ${(durationMs / 1000).toFixed(1)} s (${reloads} reloads${reloadErrors ? `, ${reloadErrors} failed` : ''})`,
    )
    if (reloadErrors) problems.push(`${reloadErrors} of the bare reloads failed`)
    return { reloads, reloadErrors, traffic: trafficSummary(stats, durationMs) }
  }

  loadSamples.push({ at: 'keep-alive baseline', load1: os.loadavg()[0] })
  log(`keep-alive baseline: ${plan.length} bare "nginx -s reload" at the moments the deploys above ended, same load`)
  const baseline = await keepAliveReloads(async (reload) => {
    const start = performance.now()
    for (const rec of phaseB.runs) {
      const wait = start + rec.endOffsetMs - performance.now()
      if (wait > 0) await sleep(wait)
      await reload()
    }
    const rest = start + phaseB.durationMs - performance.now()
    if (rest > 0) await sleep(rest)
  })

  // How many idle connections a reload catches mid-request depends on what else the machine does
  // at that moment, and at a deploy's switch a new JVM has just started. The same bare reloads,
  // made when a hand-started JVM first answers its health check, show what that alone does.
  loadSamples.push({ at: 'keep-alive baseline, starting JVM', load1: os.loadavg()[0] })
  log(`keep-alive baseline with a starting JVM: ${plan.length} bare reloads, each as a hand-started JVM turns healthy`)
  const startingJvmBaseline = await keepAliveReloads(async (reload) => {
    for (let i = 0; i < plan.length; i++) await timeServiceStartup(jars.get('w0').jarPath, reload)
  })

  // 4./5. no load: small and fat jars through the timing proxy (start-up to first SSH byte, RSS).
  loadSamples.push({ at: 'no-load deploys', load1: os.loadavg()[0] })
  for (let i = 0; i < 3; i++) {
    const r = await runProcess(ACTION_NODE, ['-e', '0'], { timeoutMs: 30_000 })
    if (r.code === 0) diagnostics.bareNodeMs.push(r.ms)
  }
  log(`bare "node -e 0" (the action's Node 24): ${fmt(median(diagnostics.bareNodeMs), 0)} ms`)
  log(`no load: ${config.smallDeploys} small-jar deploy(s), then ${config.fatDeploys} fat-jar deploy(s)`)
  for (const v of smallVersions) {
    await actionRun({ label: v, kind: 'deploy', version: v, load: 'none', phaseStart: performance.now() })
    await timeStartup(startupIdleMs, 'idle')
  }
  for (const v of fatVersions)
    await actionRun({ label: v, kind: 'deploy', version: v, jar: 'fat', load: 'none', phaseStart: performance.now() })
  log(`no load, SSH through a proxy adding a ${config.roundTripMs} ms round trip: ${config.roundTripDeploys} small-jar deploy(s)`)
  for (const v of roundTripVersions)
    await actionRun({
      label: v,
      kind: 'deploy',
      version: v,
      load: `none, ${config.roundTripMs} ms round trip`,
      phaseStart: performance.now(),
      far: true,
    })
  {
    // For the upload phase: the same 40 MB to the same host with the system OpenSSH scp.
    const diagDir = path.join(target.dir, 'diag')
    await mkdir(diagDir, { recursive: true })
    const r = await runProcess(
      'scp',
      [
        '-q',
        ...systemSshOptions(target),
        '-P',
        String(target.sshPort),
        jars.get(fatVersions[0]).jarPath,
        `${target.user}@127.0.0.1:${path.join(onHost.dir, 'diag')}/fat.jar`,
      ],
      { timeoutMs: CLASSIC_SCP_TIMEOUT_MS },
    )
    if (r.code === 0) diagnostics.scpFatMs.push(r.ms)
    await rm(diagDir, { recursive: true, force: true })
    log(`  scp of the 40 MB jar with the system client: ${fmt(r.ms / 1000)} s${r.code === 0 ? '' : ` (failed: ${lastLines(r.stderr, 2)})`}`)
  }

  // 6. the classic script, under the same new-connection load.
  /** @type {Array<{ version: string, ok: boolean, totalMs: number, scpMs: number, sshMs: number, switchLagMs?: number, served: string, output: string }>} */
  const classicRuns = []
  /** @type {ReturnType<typeof trafficSummary> | undefined} */
  let classicTraffic
  if (config.classic > 0) {
    log(`classic scp + ssh script: ${config.classic} deploy(s) under ${config.concurrency} new-connection loops (~11 s each by design)`)
    await mkdir(path.join(target.dir, 'classic'), { recursive: true })
    const classicDir = path.join(onHost.dir, 'classic')
    loadSamples.push({ at: 'classic', load1: os.loadavg()[0] })
    const sshOpts = systemSshOptions(target)
    const traffic = await startTrafficProcess({
      url: target.url,
      concurrency: config.concurrency,
      keepAlive: false,
      maxDurationMs: TRAFFIC_MAX_MS,
      timeoutMs: 10_000,
    })
    cleanups.push(() => traffic.stop())
    const start = performance.now()
    try {
      for (const version of classicVersions) {
        const { jarPath } = jars.get(version)
        const remoteJar = path.join(classicDir, path.basename(jarPath))
        const scp = await runProcess(
          'scp',
          ['-q', ...sshOpts, '-P', String(target.sshPort), jarPath, `${target.user}@127.0.0.1:${remoteJar}`],
          { timeoutMs: CLASSIC_SCP_TIMEOUT_MS, ownSession: true },
        )
        let ssh = { code: /** @type {number | null} */ (null), stdout: '', stderr: 'not run: scp failed', ms: 0, timedOut: false }
        if (scp.code === 0) {
          const script = classicScript({
            include: onHost.includePath,
            ports: target.appPorts,
            jar: remoteJar,
            logFile: path.join(classicDir, 'nohup.out'),
            reload: target.nginxReloadCommand,
            startDelayMs: config.startDelayMs,
          })
          ssh = await runProcess('ssh', [...sshOpts, '-p', String(target.sshPort), `${target.user}@127.0.0.1`, 'sh -s'], {
            input: script,
            timeoutMs: CLASSIC_SSH_TIMEOUT_MS,
            ownSession: true,
          })
        }
        // The script returns right after `nginx -s reload`, which returns before nginx's new
        // workers take over: note how long nginx keeps serving the old version after that.
        const returned = performance.now()
        let now = await served()
        while (!now.startsWith(`200 version=${version} `) && performance.now() - returned < 10_000) {
          await sleep(20)
          now = await served()
        }
        const switchLagMs = now.startsWith(`200 version=${version} `) ? performance.now() - returned : undefined
        const ok = scp.code === 0 && ssh.code === 0 && switchLagMs !== undefined
        const rec = {
          version,
          ok,
          totalMs: scp.ms + ssh.ms,
          scpMs: scp.ms,
          sshMs: ssh.ms,
          switchLagMs,
          served: now,
          output: lastLines(`${scp.stderr}\n${ssh.stdout}\n${ssh.stderr}`, 10),
        }
        classicRuns.push(rec)
        log(
          `  classic ${version}: ${ok ? 'ok ' : 'FAILED'} ${fmt(rec.totalMs / 1000)} s (scp ${fmt(scp.ms / 1000)}, ssh ${fmt(ssh.ms / 1000)}); nginx served it ${fmt(switchLagMs, 0)} ms after the script returned -> ${now}`,
        )
        if (!ok)
          problems.push(
            `classic deploy ${version} failed: scp exit ${scp.code}, ssh exit ${ssh.code}${ssh.timedOut ? ' (timed out)' : ''}, nginx serves "${now}"\n${rec.output}`,
          )
      }
    } finally {
      const stats = await traffic.stop()
      classicTraffic = trafficSummary(stats, performance.now() - start)
    }
    log(`  classic: ${classicTraffic.failed} failed of ${classicTraffic.total} requests`)
  }

  // 7. the delta upload over a 20 Mbit/s link (network namespaces; as root only).
  loadSamples.push({ at: 'link', load1: os.loadavg()[0] })
  const link = await linkSection()
  if (link.error) problems.push(`${LINK_TITLE} failed: ${link.error}`)
  for (const r of link.rows ?? []) if (r.pass === false) problems.push(`${LINK_TITLE}: ${r.label.trim()} = ${r.value}, target ${r.target}`)

  // 8. a fleet deploy to 1, 4, 8, 16 and 32 hosts (network namespaces; as root only).
  loadSamples.push({ at: 'fleet', load1: os.loadavg()[0] })
  const fleet = await fleetSection()
  if (fleet.error) problems.push(`${FLEET_TITLE} failed: ${fleet.error}`)
  for (const r of fleet.rows ?? [])
    if (!r.pass)
      problems.push(
        `${FLEET_TITLE}: ${r.n} hosts ${r.viaBastion ? 'via bastion' : 'direct'}: ${r.ratio.toFixed(2)}x, ${r.failed} failed requests`,
      )

  // 9. a bad release under a plain switch, a 10% canary and a bake (loopback).
  loadSamples.push({ at: 'traffic', load1: os.loadavg()[0] })
  const trafficControl = await trafficSection()
  if (trafficControl.error) problems.push(`${TRAFFIC_TITLE} failed: ${trafficControl.error}`)
  for (const r of trafficControl.rows ?? [])
    for (const [kind, pass] of Object.entries(r.pass ?? {}))
      if (pass === false) problems.push(`${TRAFFIC_TITLE}: ${kind}: ${r.label.trim()} = ${r.values[kind]}, target ${r.target}`)

  const { table, result } = summarize({
    runs,
    plan,
    phaseA,
    phaseB,
    baseline,
    startingJvmBaseline,
    classicRuns,
    classicTraffic,
    startupLoadMs,
    startupIdleMs,
    diagnostics,
    loadSamples,
    link,
    trafficControl,
    problems,
    config,
    provenance,
    startedAtIso,
    smallJarBytes,
    fatJarBytes,
    wallSeconds: (performance.now() - benchStarted) / 1000,
  })
  console.log(`\n${table}\n`)
  if (fleet.table) console.log(`${fleet.table}\n`)
  Object.assign(result, { fleet })

  const outDir = path.join(repoRoot, 'bench', 'results')
  await mkdir(outDir, { recursive: true })
  const stamp = startedAtIso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const text = JSON.stringify(result, null, 2) + '\n'
  await writeFile(path.join(outDir, `${stamp}.json`), text)
  await writeFile(path.join(outDir, 'latest.json'), text)
  log(`wrote bench/results/${stamp}.json and bench/results/latest.json`)
}

const watchdog = setTimeout(() => {
  log(`the bench ran longer than ${BENCH_TIMEOUT_MS / 60_000} min: giving up`)
  void cleanupAll().finally(() => process.exit(1))
}, BENCH_TIMEOUT_MS)

let exitCode = 0
try {
  if (flags['only-link']) await linkOnly()
  else if (flags['only-fleet']) await fleetOnly()
  else if (flags['only-traffic']) await trafficOnly()
  else await main()
} catch (err) {
  exitCode = 1
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`)
} finally {
  log('cleaning up')
  await cleanupAll()
  clearTimeout(watchdog)
}
process.exit(exitCode)
