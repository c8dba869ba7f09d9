// The delta upload over a slow link, for the bench: a full upload of a ~40 MB fat jar against the
// redeploy of its next build (one class changed, every time stamp new), with the system scp as a
// reference, all over a link shaped to 20 Mbit/s in both directions.
//
// Topology (X is a free /24 of 10.213.0.0/16, picked at run time; see netns.mjs):
//   link 10.213.X.0/24   runner (root namespace) .1, host .10
// The segment's bridge lives in a hub namespace of the lab's own; both of its ports (veth ends the
// lab made: one towards the runner, one towards the host) get a tbf qdisc, so each direction is
// shaped where it leaves the bridge. No qdisc is put on any interface of the root namespace or on
// anything the lab did not make. The host is a machine of its own (startTarget's machineDir): sshd
// on port 22, nginx on 80, app ports 8081/8082, a home of its own (a clean login shell).
// Needs root, iproute2 (ip, tc), the OpenSSH client and server, nginx and a JDK.
import { execFile as execFileCb, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { firstHostReport } from './bench-report.mjs'
import { createLab } from './netns.mjs'
import { runAction } from './run-action.mjs'
import { buildSampleJar, fatJarBuild } from './sample.mjs'
import { get, startTarget } from './target.mjs'

const execFile = promisify(execFileCb)

/** The shaping: the issue's 20 Mbit/s, as a token bucket on each direction's egress port. */
export const LINK = { rateMbit: 20, tbf: ['rate', '20mbit', 'burst', '32kbit', 'latency', '400ms'] }

export const LINK_TARGETS = {
  /** full upload time / delta upload time */
  uploadTimeRatio: 10,
  /** bytes the redeploy sends, % of the jar */
  deltaPercent: 2,
}

// Bounds: every wait below has one.
const SETUP_TIMEOUT_MS = 60_000
const BUILD_TIMEOUT_MS = 180_000
const RUN_TIMEOUT_MS = 240_000 // a full upload takes ~17 s at 20 Mbit/s; this is many times that
const SCP_TIMEOUT_MS = 180_000
const CMD_TIMEOUT_MS = 15_000

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
async function bounded(promise, ms, what) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * @param {string[]} args
 * @returns {Promise<string>} stdout
 */
async function run(/** @type {string} */ cmd, args) {
  try {
    const { stdout } = await execFile(cmd, args, { timeout: CMD_TIMEOUT_MS })
    return stdout
  } catch (err) {
    const e = /** @type {Error & { stderr?: string }} */ (err)
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err })
  }
}

/**
 * Runs a program with a deadline; never rejects.
 * @param {string} cmd
 * @param {string[]} args
 * @param {number} timeoutMs
 * @param {(kill: () => void) => () => void} [track] registers a kill for an interrupted bench
 * @returns {Promise<{ code: number | null, stderr: string, ms: number, timedOut: boolean }>}
 */
function timedProcess(cmd, args, timeoutMs, track) {
  return new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    let timedOut = false
    child.stderr.on('data', (c) => (stderr += c))
    const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')
    const untrack = track?.(kill)
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, timeoutMs)
    const done = (/** @type {number | null} */ code, extra = '') => {
      clearTimeout(timer)
      untrack?.()
      resolve({ code, stderr: stderr + extra, ms: performance.now() - started, timedOut })
    }
    child.once('error', (err) => done(null, String(err)))
    child.once('close', (code) => done(code))
  })
}

/**
 * The bridge ports of the hub, with the tbf statistics of each (bytes and packets sent, drops,
 * overlimits), keyed by direction.
 * @param {string} hub
 * @param {{ toHost: string, toRunner: string }} ports
 */
async function shaperStats(hub, ports) {
  const qdiscs = JSON.parse((await run('tc', ['-n', hub, '-s', '-j', 'qdisc', 'show'])) || '[]')
  /** @param {string} dev */
  const of = (dev) => {
    const q = qdiscs.find((/** @type {any} */ x) => x.dev === dev && x.kind === 'tbf')
    return q ? { bytes: q.bytes, packets: q.packets, drops: q.drops, overlimits: q.overlimits } : undefined
  }
  return { runnerToHost: of(ports.toHost), hostToRunner: of(ports.toRunner) }
}

/**
 * @param {{ bytes: number } | undefined} after
 * @param {{ bytes: number } | undefined} before
 */
const bytesBetween = (after, before) => (after && before ? after.bytes - before.bytes : undefined)

/** @param {number} bytes */
function amount(bytes) {
  return bytes < 10 * 1024 ? `${bytes} B` : bytes < 10 * 1024 * 1024 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** @param {number | undefined} x @param {number} [digits] */
function fmt(x, digits = 2) {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits)
}

/**
 * @typedef {object} LinkRow
 * @property {string} label
 * @property {string} value
 * @property {string} [target]
 * @property {boolean} [pass]
 */

/**
 * Measures a full upload and a delta redeploy of a ~40 MB fat jar over a 20 Mbit/s link, plus scp of
 * the same jar. Everything it makes (namespaces, qdiscs, target, files) is removed before it returns.
 * @param {{ log: (message: string) => void,
 *   track?: (cleanup: () => unknown) => () => void }} options
 *   track: registers a cleanup for when the caller is interrupted (e.g. the bench's SIGINT); returns
 *   a function that unregisters it again.
 * @returns {Promise<{ rows: LinkRow[], figures: Record<string, any> }>}
 */
export async function runLinkBench({ log, track }) {
  await run('tc', ['-V']).catch(() => {
    throw new Error('tc (iproute2) is not available: the link cannot be shaped')
  })

  /** @type {Array<() => Promise<unknown> | unknown>} */
  const cleanups = []
  const untrack = track?.(() => cleanAll())
  /** @type {Promise<void> | undefined} */
  let cleaning
  const cleanAll = () => {
    cleaning ??= (async () => {
      for (const fn of cleanups.splice(0).reverse()) {
        try {
          await bounded(Promise.resolve(fn()), 30_000, 'cleanup')
        } catch {
          // best effort: keep cleaning the rest
        }
      }
    })()
    return cleaning
  }

  try {
    // --- the lab: runner <-> bridge (hub namespace) <-> host namespace ------------------------
    const lab = await bounded(createLab(), SETUP_TIMEOUT_MS, 'creating the lab')
    cleanups.push(() => lab.destroy())
    const machineDir = path.join(os.tmpdir(), `zdd-link-${lab.id}`)
    cleanups.push(() => rm(machineDir, { recursive: true, force: true }))
    const { seg, hostNs, runnerAddress, hostAddress } = await bounded(
      (async () => {
        const s = await lab.segment('link')
        const r = await lab.attachRunner(s)
        const ns = await lab.namespace('host')
        const h = await lab.attach(ns, s, 10)
        return { seg: s, hostNs: ns, runnerAddress: r, hostAddress: h }
      })(),
      SETUP_TIMEOUT_MS,
      'building the lab',
    )

    // Which bridge port leads where: the host's veth names its peer's ifindex (link_index).
    const hubLinks = JSON.parse((await run('ip', ['-n', seg.hub, '-j', 'link', 'show', 'master', 'br0'])) || '[]')
    const hostLink = JSON.parse((await run('ip', ['-n', hostNs, '-j', 'link', 'show'])) || '[]').find((/** @type {any} */ l) => l.ifname !== 'lo')
    const toHostPort = hubLinks.find((/** @type {any} */ l) => l.ifindex === hostLink?.link_index)?.ifname
    const toRunnerPort = hubLinks.find((/** @type {any} */ l) => l.ifname !== toHostPort)?.ifname
    if (hubLinks.length !== 2 || !toHostPort || !toRunnerPort) {
      throw new Error(`expected two bridge ports in ${seg.hub}, one towards the host: ${JSON.stringify(hubLinks.map((/** @type {any} */ l) => l.ifname))}`)
    }
    const ports = { toHost: toHostPort, toRunner: toRunnerPort }
    for (const dev of [ports.toHost, ports.toRunner]) {
      await run('tc', ['-n', seg.hub, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', ...LINK.tbf])
      cleanups.push(() => run('tc', ['-n', seg.hub, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined))
    }
    const qdiscText = (await run('tc', ['-n', seg.hub, 'qdisc', 'show'])).trim().split('\n').filter((l) => l.includes('tbf'))
    log(`link: runner ${runnerAddress} <-> host ${hostAddress} via the bridge in ${seg.hub}, shaped on ${ports.toHost} (to the host) and ${ports.toRunner} (to the runner): ${LINK.tbf.join(' ')}`)

    // --- the host ----------------------------------------------------------------------------
    const PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    const { stdout: javaPath } = await execFile('sh', ['-c', 'command -v java || true'], { timeout: CMD_TIMEOUT_MS })
    const javaDir = javaPath.trim() ? path.dirname(javaPath.trim()) : ''
    if (javaDir && !PATH.includes(javaDir) && /^[^\s"'\\]+$/.test(javaDir)) PATH.push(javaDir)
    /** @type {import('./target.mjs').Target | undefined} */
    let target
    cleanups.push(() => target?.stop())
    target = await bounded(
      startTarget({ netns: hostNs, listenAddress: hostAddress, machineDir, sshPort: 22, nginxPort: 80, appPorts: [8081, 8082], sessionEnv: { PATH: PATH.join(':') } }),
      SETUP_TIMEOUT_MS,
      'starting the target',
    )
    const t = target
    log(`link: target ${t.user}@${t.host}:${t.sshPort} (machine dir ${machineDir}), nginx :${t.nginxPort}`)

    // --- the jars: v1 and the next build (one class changed, every time stamp new) -----------
    const wsRoot = await mkdtemp(path.join(os.tmpdir(), 'zdd-link-ws-'))
    cleanups.push(() => rm(wsRoot, { recursive: true, force: true }))
    /** @param {number} n */
    const build = async (n) => {
      const workspace = path.join(wsRoot, `v${n}`)
      const outDir = path.join(workspace, 'build', 'libs')
      await mkdir(outDir, { recursive: true })
      const jar = await bounded(
        buildSampleJar({ outDir, fileName: 'shop.jar', ...fatJarBuild(n) }),
        BUILD_TIMEOUT_MS,
        `building jar v${n}`,
      )
      return { workspace, jar, bytes: (await stat(jar)).size }
    }
    log('link: building the 40 MB fat jar v1 and v2 (stored libraries; v2: one class changed, new time stamps)')
    const v1 = await build(1)
    const v2 = await build(2)
    log(`link: jars ready: v1 ${v1.bytes} B, v2 ${v2.bytes} B`)

    const inputs = {
      host: `${t.user}@${t.host}:${t.sshPort}`,
      'private-key': t.privateKey,
      'known-hosts': t.knownHosts,
      artifact: 'build/libs/*.jar',
      'app-name': 'sample',
      'deploy-dir': t.remote.deployDir,
      ports: t.appPorts.join(','),
      'nginx-include': t.remote.includePath,
      'nginx-test-command': t.nginxTestCommand,
      'nginx-reload-command': t.nginxReloadCommand,
      'health-interval': '0.1',
      'health-timeout': '30',
      'stop-timeout': '5',
      'connect-timeout': '10',
    }
    const served = () =>
      get(`${t.url}/`, { timeoutMs: 5000 }).then(
        (r) => `${r.status} ${r.body.split('\n')[0]}`,
        (err) => `error ${err.message}`,
      )

    /**
     * One deploy, measured: the report's upload phase, uploaded-bytes and what crossed the shaper.
     * @param {string} name
     * @param {{ workspace: string, bytes: number }} jar
     * @param {string} version
     */
    const deploy = async (name, jar, version) => {
      const before = await shaperStats(seg.hub, ports)
      /** @type {import('node:child_process').ChildProcess | undefined} */
      let child
      const untrackChild = track?.(() => child?.exitCode === null && child.signalCode === null && child.kill('SIGKILL'))
      const r = await runAction({ inputs, workspace: jar.workspace, measure: true, timeoutMs: RUN_TIMEOUT_MS, onSpawn: (c) => (child = c) }).finally(() => untrackChild?.())
      const after = await shaperStats(seg.hub, ports)
      const report = firstHostReport(r.outputs)
      const now = await served()
      const ok = r.code === 0 && report?.outcome === 'deployed' && now.startsWith(`200 version=${version} `)
      const uploadS = typeof report?.phases?.upload === 'number' ? report.phases.upload : undefined
      const uploadedBytes = r.outputs['uploaded-bytes'] !== undefined && r.outputs['uploaded-bytes'] !== '' ? Number(r.outputs['uploaded-bytes']) : undefined
      const rec = {
        ok,
        code: r.code,
        timedOut: r.timedOut,
        outcome: report?.outcome,
        served: now,
        jarBytes: jar.bytes,
        uploadS,
        uploadedBytes,
        percentOfJar: uploadedBytes !== undefined ? (100 * uploadedBytes) / jar.bytes : undefined,
        durationMs: r.durationMs,
        phases: report?.phases ?? {},
        peakRssKb: r.peakRssKb,
        sentLine: /Sent [^\n]*jar[^\n]*/.exec(r.stdout)?.[0],
        shapedBytes: { runnerToHost: bytesBetween(after.runnerToHost, before.runnerToHost), hostToRunner: bytesBetween(after.hostToRunner, before.hostToRunner) },
        shaperDrops: { runnerToHost: (after.runnerToHost?.drops ?? 0) - (before.runnerToHost?.drops ?? 0), hostToRunner: (after.hostToRunner?.drops ?? 0) - (before.hostToRunner?.drops ?? 0) },
        error: ok ? undefined : report?.error ?? `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-8).join('\n'),
      }
      log(
        `link: ${name}: ${ok ? 'ok' : 'UNEXPECTED'} exit=${r.code} ${fmt(r.durationMs / 1000)} s, upload ${fmt(uploadS)} s, uploaded-bytes ${uploadedBytes ?? '-'}` +
          ` (${fmt(rec.percentOfJar)}% of the jar); through the shaper ${rec.shapedBytes.runnerToHost ?? '-'} B to the host, ${rec.shapedBytes.hostToRunner ?? '-'} B back -> ${now}` +
          (rec.sentLine ? `\n          ${rec.sentLine}` : ''),
      )
      return rec
    }

    // (a) a full upload: v1 to the fresh host, nothing to diff against.
    const full = await deploy('full upload (v1 to a fresh host)', v1, '1')
    // (b) the redeploy: v2, a delta against v1's release.
    const delta = await deploy('redeploy (v2, delta)', v2, '2')

    // (c) scp of the same jar over the same link, with the system client.
    const sshOpts = ['-F', '/dev/null', '-i', t.privateKeyPath, '-o', `UserKnownHostsFile=${t.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR']
    const beforeScp = await shaperStats(seg.hub, ports)
    const scpRun = await timedProcess('scp', ['-q', ...sshOpts, '-P', String(t.sshPort), v1.jar, `${t.user}@${t.host}:${path.join(t.remote.dir, 'scp-reference.jar')}`], SCP_TIMEOUT_MS, track)
    const afterScp = await shaperStats(seg.hub, ports)
    await rm(path.join(t.dir, 'scp-reference.jar'), { force: true })
    const scp = {
      ok: scpRun.code === 0,
      code: scpRun.code,
      timedOut: scpRun.timedOut,
      seconds: scpRun.ms / 1000,
      shapedBytesToHost: bytesBetween(afterScp.runnerToHost, beforeScp.runnerToHost),
      error: scpRun.code === 0 ? undefined : scpRun.stderr.trim().split('\n').slice(-3).join('\n'),
    }
    log(`link: scp of v1 with the system client: ${scp.ok ? 'ok' : 'FAILED'} ${fmt(scp.seconds)} s${scp.error ? ` (${scp.error})` : ''}`)

    // --- figures -----------------------------------------------------------------------------
    const ratio = full.ok && delta.ok && full.uploadS !== undefined && delta.uploadS ? full.uploadS / delta.uploadS : undefined
    const deltaPercent = delta.ok ? delta.percentOfJar : undefined
    // The shaping check: the full upload's payload rate cannot beat the link's.
    const fullRateMbit = full.ok && full.uploadS && full.uploadedBytes ? (full.uploadedBytes * 8) / full.uploadS / 1e6 : undefined
    const scpRateMbit = scp.ok ? (v1.bytes * 8) / scp.seconds / 1e6 : undefined
    const lineRateSeconds = (v1.bytes * 8) / (LINK.rateMbit * 1e6)
    const shaped = fullRateMbit !== undefined ? fullRateMbit <= LINK.rateMbit : undefined

    /** @type {LinkRow[]} */
    const rows = [
      { label: `Full upload: v1 to a fresh host, upload phase, s`, value: full.ok ? fmt(full.uploadS) : `failed: ${full.outcome ?? `exit ${full.code}`}` },
      { label: `  uploaded-bytes`, value: full.uploadedBytes !== undefined ? `${amount(full.uploadedBytes)} (${fmt(full.percentOfJar, 1)}%)` : '-' },
      { label: `  payload rate (shaping check; ${fmt(lineRateSeconds, 1)} s at line rate), Mbit/s`, value: fmt(fullRateMbit, 1), target: `<= ${LINK.rateMbit}`, pass: shaped },
      { label: `Redeploy: v2 (one class changed, new time stamps), upload phase, s`, value: delta.ok ? fmt(delta.uploadS) : `failed: ${delta.outcome ?? `exit ${delta.code}`}` },
      { label: `  uploaded-bytes, % of the jar`, value: delta.uploadedBytes !== undefined ? `${amount(delta.uploadedBytes)} (${fmt(delta.percentOfJar)}%)` : '-', target: `<= ${LINK_TARGETS.deltaPercent}%`, pass: deltaPercent !== undefined ? deltaPercent <= LINK_TARGETS.deltaPercent : undefined },
      {
        label: `  bytes through the shaper to the host (SSH, plan and chunk list included)`,
        value: delta.shapedBytes.runnerToHost !== undefined ? `${amount(delta.shapedBytes.runnerToHost)} (${fmt((100 * delta.shapedBytes.runnerToHost) / v2.bytes)}%)` : '-',
      },
      { label: `Full / redeploy upload time`, value: ratio !== undefined ? `${fmt(ratio, 1)}x` : '-', target: `>= ${LINK_TARGETS.uploadTimeRatio}x`, pass: ratio !== undefined ? ratio >= LINK_TARGETS.uploadTimeRatio : undefined },
      { label: `Deploy wall time (action process), full / redeploy, s`, value: `${fmt(full.durationMs / 1000)} / ${fmt(delta.durationMs / 1000)}` },
      { label: `scp of the same jar, system OpenSSH client, s (reference)`, value: scp.ok ? `${fmt(scp.seconds)} (${fmt(scpRateMbit, 1)} Mbit/s)` : `failed: ${scp.error ?? `exit ${scp.code}`}` },
    ]

    const figures = {
      link: { rateMbit: LINK.rateMbit, tbf: LINK.tbf.join(' '), runnerAddress, hostAddress, hub: seg.hub, ports, qdiscs: qdiscText },
      jarBytes: { v1: v1.bytes, v2: v2.bytes },
      lineRateSeconds,
      full,
      delta,
      scp,
      uploadTimeRatio: ratio,
      deltaPercent,
      fullPayloadRateMbit: fullRateMbit,
      scpPayloadRateMbit: scpRateMbit,
      shapingEffective: shaped,
      targets: LINK_TARGETS,
    }
    return { rows, figures }
  } finally {
    await cleanAll()
    untrack?.()
  }
}
