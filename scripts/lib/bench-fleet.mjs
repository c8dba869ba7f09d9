// The fleet section of the bench: a deploy to N = 1, 4, 8, 16 and 32 hosts, each a machine of its
// own (network, mount and PID namespaces, its own sshd and nginx), directly and through a bastion,
// with request loops through every host's nginx all along. With default settings (stage-parallel 32,
// max-parallel 1) a fleet deploy should take at most 2x the time of one host at N = 8, 3x at N = 16
// and 2.5x at N = 32 (a fleet of 32 stages in one round, 16 in one round as well).
//
// The service waits rather than computes while it starts (SAMPLE_START_DELAY_MS: it sleeps before
// it opens its port, as a Spring context waiting on its database would): 16 JVMs doing a real
// start-up's work on 2 shared cores would time the machine, not the deploy. The JVM's own start-up
// CPU (tiny here: a JDK-only service, C1 only) is still paid once per host, at the same moment.
// Every other input keeps its default (health-interval 0.5 s among them), as a user's would.
//
// Topology (X and Y are free /24s of 10.213.0.0/16, picked at run time; see netns.mjs):
//   front 10.213.X.0/24   runner .1, bastion .10
//   back  10.213.Y.0/24   runner .1, bastion .10, host i at .(10 + i)
// Needs root, iproute2, the OpenSSH client and server, nginx and a JDK.
import { execFile as execFileCb } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { fmt, median, renderTable } from './bench-report.mjs'
import { createLab } from './netns.mjs'
import { runAction } from './run-action.mjs'
import { buildSampleJar } from './sample.mjs'
import { startTarget } from './target.mjs'
import { startTrafficProcess } from './traffic-process.mjs'

const execFile = promisify(execFileCb)

export const FLEET_TITLE = 'Fleet deploy: stage every host, then switch in waves'
export const FLEET_SIZES = [1, 4, 8, 16, 32]
/**
 * The JVM sample stops at 16 hosts: 32 JVMs starting at once on the machine's shared cores would
 * time the machine, and add a minute and a half to the section for rows that are for reference.
 */
const JVM_MOST_HOSTS = 16
/** Most a fleet of N may take, as a multiple of one host's deploy, with default settings. */
export const FLEET_TARGETS = /** @type {Record<number, number>} */ ({ 8: 2, 16: 3, 32: 2.5 })
/** How long the sample service sleeps before it opens its port. */
export const FLEET_START_DELAY_MS = 1500

/**
 * Each host's request loop waits this long after each answer: about 20 requests a second per host,
 * a load that stays the same per host however many hosts there are. Loops that never paused would
 * share the machine's cores out among themselves (16 of them, with the services and nginx behind
 * them, took both cores), and time the machine, not the deploy.
 */
export const TRAFFIC_PAUSE_MS = 50
/**
 * The request loops stand for a fleet's clients, which run on other machines: at normal priority,
 * their own CPU (a quarter of a core for 32 hosts' loops) would come out of the hosts' share on
 * this machine's cores, the deploy's work among it, as it never does on a fleet. At nice 10 they
 * give way when the cores are busy; each host's nginx and service still answer every request at
 * normal priority, as a host's do while it is deployed.
 */
export const TRAFFIC_NICE = 10
const RUN_TIMEOUT_MS = 240_000
/**
 * Each size's row is the median of this many runs, in rounds (1, 4, 8, 16, 32, then again): on
 * shared cores one run's time moves by a tenth or more, and a machine that slows for a while slows
 * every size alike. One host's median is what every ratio divides by.
 */
const RUNS_PER_SIZE = 3
const TARGETS_AT_ONCE = 4

/**
 * @param {{ log: (message: string) => void, track: (cleanup: () => unknown) => () => void,
 *   sizes?: number[], startDelayMs?: number, services?: string[], paths?: string[], stageParallel?: number }} options
 */
export async function runFleetBench({
  log,
  track,
  sizes,
  startDelayMs = FLEET_START_DELAY_MS,
  services = ['jvm', 'shell'],
  paths = ['direct', 'bastion'],
  stageParallel,
}) {
  /** The sizes deployed for a service: all that were asked for, or the defaults for it. */
  const sizesOf = (/** @type {string} */ service) => sizes ?? FLEET_SIZES.filter((n) => service !== 'jvm' || n <= JVM_MOST_HOSTS)
  const most = Math.max(...services.flatMap(sizesOf))
  const lab = await createLab()
  track(() => lab.destroy())
  const machineDir = path.join(os.tmpdir(), `zdd-bench-fleet-${lab.id}`)
  track(() => rm(machineDir, { recursive: true, force: true }))
  const front = await lab.segment('front')
  const back = await lab.segment('back')
  await lab.attachRunner(front)
  await lab.attachRunner(back)
  const bastionNs = await lab.namespace('bastion')
  await lab.attach(bastionNs, front, 10)
  await lab.attach(bastionNs, back, 10)
  /** @type {Array<{ ns: string, address: string }>} */
  const places = []
  for (let i = 1; i <= most; i++) {
    const ns = await lab.namespace(`h${i}`)
    places.push({ ns, address: await lab.attach(ns, back, 10 + i) })
  }

  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-bench-fleet-key-'))
  track(() => rm(keyDir, { recursive: true, force: true }))
  await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-bench-fleet', '-f', path.join(keyDir, 'id_ed25519')])
  const clientKey = await readFile(path.join(keyDir, 'id_ed25519'), 'utf8')
  const authorizedKeys = await readFile(path.join(keyDir, 'id_ed25519.pub'), 'utf8')
  const { stdout: javaPath } = await execFile('sh', ['-c', 'command -v java || true'])
  const javaDir = javaPath.trim() ? path.dirname(javaPath.trim()) : ''
  const PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(javaDir ? [javaDir] : [])].join(':')

  log(`${FLEET_TITLE}: starting ${most} hosts and a bastion (sshd + nginx each, in namespaces)`)
  /** @type {any[]} */
  const hosts = []
  const queue = [...places.entries()]
  await Promise.all(
    Array.from({ length: TARGETS_AT_ONCE }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [i, { ns, address }] = next
        const host = await startTarget({
          netns: ns,
          listenAddress: address,
          machineDir,
          sshPort: 22,
          nginxPort: 80,
          appPorts: [8081, 8082],
          authorizedKeys,
          sessionEnv: { PATH },
        })
        track(() => host.stop())
        hosts[i] = host
      }
    }),
  )
  const bastion = await startTarget({ netns: bastionNs, listenAddress: front.address(10), sshPort: 22, authorizedKeys })
  track(() => bastion.stop())

  const wsRoot = await mkdtemp(path.join(os.tmpdir(), 'zdd-bench-fleet-ws-'))
  track(() => rm(wsRoot, { recursive: true, force: true }))
  /** @param {string} version */
  const workspace = async (version) => {
    const ws = path.join(wsRoot, version)
    await buildSampleJar({ outDir: path.join(ws, 'build', 'libs'), version, fileName: 'sample.jar' })
    return ws
  }

  /** @param {number} n @param {boolean} viaBastion @param {'jvm' | 'shell'} [service] */
  const inputs = (n, viaBastion, service = 'jvm') => {
    const chosen = hosts.slice(0, n)
    const [first] = chosen
    return {
      host: chosen.map((h) => `${h.user}@${h.host}:${h.sshPort}`).join('\n'),
      'private-key': clientKey,
      'known-hosts': chosen.map((h) => h.knownHosts).join('') + (viaBastion ? bastion.knownHosts : ''),
      artifact: 'build/libs/*.jar',
      'app-name': 'sample',
      'deploy-dir': first.remote.deployDir,
      'nginx-include': first.remote.includePath,
      'nginx-test-command': first.nginxTestCommand,
      'nginx-reload-command': first.nginxReloadCommand,
      'health-timeout': '90',
      'stop-timeout': '5',
      'connect-timeout': '30',
      env: `SAMPLE_START_DELAY_MS=${startDelayMs}`,
      // A small heap and the C1 compiler only: start-up CPU stays small beside the wait.
      'java-opts': '-Xmx48m -XX:+UseSerialGC -XX:TieredStopAtLevel=1',
      // No JVM at all: the same wait, then BusyBox's httpd serves the release's files. What is
      // left is the deploy tool's own work, and sshd's and nginx's on the hosts.
      ...(service === 'shell'
        ? {
            'start-command': `mkdir -p www/actuator && echo "version=$RELEASE" > www/index.html && echo UP > www/actuator/health && sleep ${startDelayMs / 1000} && exec busybox httpd -f -p "127.0.0.1:$PORT" -h www`,
          }
        : {}),
      ...(stageParallel === undefined ? {} : { 'stage-parallel': String(stageParallel) }),
      ...(viaBastion ? { 'proxy-host': bastion.host, 'proxy-port': bastion.sshPort, 'proxy-username': bastion.user } : {}),
    }
  }

  /** @type {any[]} */
  const records = []
  for (const service of /** @type {Array<'jvm' | 'shell'>} */ (services)) {
    // Two deploys of this service to every host first (not measured), so that both ports run it,
    // as on a user's host after a few deploys: the version that serves and the warm one that the
    // stage stops. Otherwise the service measured before would still serve on some hosts (a JVM
    // answering the requests and compiling while the waiting service is timed) and be stopped.
    const serviceMost = Math.max(...sizesOf(service))
    for (const round of [1, 2]) {
      log(`${FLEET_TITLE}: ${service}: deploy ${round} of 2 to all ${serviceMost} hosts (not measured), so both ports run it`)
      const warm = await runAction({ inputs: inputs(serviceMost, false, service), workspace: await workspace(`w${round}-${service}`), timeoutMs: RUN_TIMEOUT_MS })
      if (warm.code !== 0) throw new Error(`a first fleet deploy failed (exit ${warm.code}):\n${warm.stdout.split('\n').slice(-30).join('\n')}`)
    }
  for (const viaBastion of paths.map((p) => p === 'bastion')) {
    for (const n of Array.from({ length: RUNS_PER_SIZE }, () => sizesOf(service)).flat()) {
      const version = `${service === 'jvm' ? '' : 's'}${viaBastion ? 'b' : 'd'}${n}-${records.length}`
      const ws = await workspace(version)
      const traffic = await startTrafficProcess(
        hosts.slice(0, n).map((h) => ({ url: h.url, concurrency: 1, pauseMs: TRAFFIC_PAUSE_MS })),
        { nice: TRAFFIC_NICE },
      )
      /** @type {any} */
      let run
      /** @type {any[]} */
      let stats
      try {
        run = await runAction({ inputs: inputs(n, viaBastion, service), workspace: ws, measure: true, ownSession: true, timeoutMs: RUN_TIMEOUT_MS })
      } finally {
        stats = await traffic.stop()
      }
      const report = JSON.parse(run.outputs.report ?? '[]')
      const phases = /Phases: stage ([\d.]+) s, switch ([\d.]+) s\./.exec(run.stdout)
      const one = report[0]?.phases ?? {}
      const record = {
        service,
        n,
        viaBastion,
        code: run.code,
        seconds: run.durationMs / 1000,
        // One host prints no phase line: its stage is its steps up to a healthy instance.
        stageSeconds: phases ? Number(phases[1]) : ['connect', 'lock', 'inspect', 'upload', 'start'].reduce((s, p) => s + (one[p] ?? 0), 0),
        switchSeconds: phases ? Number(phases[2]) : (one.switch ?? NaN),
        peakRssMb: run.peakRssKb ? run.peakRssKb / 1024 : NaN,
        actionCpuSeconds: (run.cpuMs ?? NaN) / 1000,
        /** Each phase's median over the hosts, in seconds: where a host's time went. */
        hostPhases: Object.fromEntries(
          ['connect', 'lock', 'inspect', 'upload', 'stop_idle', 'start', 'wait', 'switch', 'cleanup'].map((p) => [
            p,
            median(report.map((/** @type {any} */ r) => r.phases?.[p] ?? 0)),
          ]),
        ),
        requests: stats.reduce((s, x) => s + x.total, 0),
        failed: stats.reduce((s, x) => s + x.failed, 0),
        failedHosts: stats.flatMap((x, i) => (x.failed > 0 ? [`${hosts[i].host}: ${x.failed} ${JSON.stringify(x.failures.slice(0, 2))}`] : [])),
        outcomes: report.map((/** @type {any} */ r) => r.outcome),
        /** Every host's phases, in seconds, as the action reported them. */
        hostReports: report.map((/** @type {any} */ r) => ({ host: r.host, phases: r.phases })),
      }
      records.push(record)
      log(
        `${FLEET_TITLE}: ${service}, N=${n}${viaBastion ? ' via bastion' : ''}: exit ${run.code}, ${fmt(record.seconds)} s (stage ${fmt(record.stageSeconds)}, switch ${fmt(record.switchSeconds)}), rss ${fmt(record.peakRssMb, 0)} MB, cpu ${fmt(record.actionCpuSeconds)} s, ${record.failed} of ${record.requests} requests failed; median by host ${JSON.stringify(record.hostPhases)}; load ${os.loadavg()[0].toFixed(1)}`,
      )
      if (run.code !== 0) log(`${FLEET_TITLE}: the deploy failed:\n${run.stdout.split('\n').slice(-30).join('\n')}`)
    }
  }
  }

  /** The runs of one size, path and service, as one row: medians of the times, all the requests. */
  const rowsOf = () => {
    /** @type {Map<string, any[]>} */
    const groups = new Map()
    for (const r of records) {
      const key = `${r.service} ${r.viaBastion} ${r.n}`
      groups.set(key, [...(groups.get(key) ?? []), r])
    }
    return [...groups.values()].map((runs) => ({
      ...runs[0],
      runs: runs.length,
      code: runs.find((r) => r.code !== 0)?.code ?? 0,
      seconds: median(runs.map((r) => r.seconds)),
      stageSeconds: median(runs.map((r) => r.stageSeconds)),
      switchSeconds: median(runs.map((r) => r.switchSeconds)),
      peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
      requests: runs.reduce((sum, r) => sum + r.requests, 0),
      failed: runs.reduce((sum, r) => sum + r.failed, 0),
    }))
  }
  const rows = rowsOf().map((r, _, all) => {
    const base = all.find((b) => b.service === r.service && b.viaBastion === r.viaBastion && b.n === 1)
    const ratio = base ? r.seconds / base.seconds : NaN
    // The targets are for a service that waits while it starts: the JVM rows also time every JVM's
    // start-up CPU on the machine's shared cores, which a fleet's hosts each have of their own.
    const target = r.service === 'shell' ? FLEET_TARGETS[r.n] : undefined
    return {
      ...r,
      ratio,
      target,
      pass: r.code === 0 && r.failed === 0 && (target === undefined || ratio <= target),
    }
  })
  const table = renderTable(
    ['Service', 'Hosts', 'Path', 'Deploy s', 'vs 1 host', 'Target', 'Stage s', 'Switch s', 'Peak RSS MB', 'Failed requests', ''],
    rows.map((r) => [
      r.service === 'jvm' ? 'JVM sample' : 'sh + httpd',
      r.runs > 1 ? `${r.n} (median of ${r.runs})` : String(r.n),
      r.viaBastion ? 'bastion' : 'direct',
      fmt(r.seconds),
      `${fmt(r.ratio)}x`,
      r.target ? `<= ${r.target}x` : '',
      fmt(r.stageSeconds),
      fmt(r.switchSeconds),
      fmt(r.peakRssMb, 0),
      `${r.failed} of ${r.requests}`,
      r.pass ? 'PASS' : 'MISS',
    ]),
  )
  return { rows, table, startDelayMs }
}
