// The bench's process plumbing: its log, child processes with hard deadlines, and the cleanup
// that stops everything it started, whatever happens.
import { spawn } from 'node:child_process'
import net from 'node:net'

export const benchStarted = performance.now()

/** @param {string} message */
export function log(message) {
  const t = ((performance.now() - benchStarted) / 1000).toFixed(1).padStart(6)
  console.log(`[${t}s] ${message}`)
}

/** @returns {Promise<number>} a port free right now on 127.0.0.1 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address())
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Runs a program with a hard deadline; never rejects. ownSession gives it a session of its own,
 * for a client that would run on a machine of its own (see run-action.mjs).
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ input?: string, timeoutMs: number, env?: NodeJS.ProcessEnv, ownSession?: boolean }} options
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, ms: number, timedOut: boolean }>}
 */
export function runProcess(cmd, args, { input, timeoutMs, env, ownSession = false }) {
  if (aborting) return Promise.resolve({ code: null, stdout: '', stderr: 'not run: the bench is being stopped', ms: 0, timedOut: false })
  return new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env, detached: ownSession })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      resolve({ code: null, stdout, stderr: stderr + String(err), ms: performance.now() - started, timedOut })
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: performance.now() - started, timedOut })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input ?? '')
  })
}

/** @param {string} text */
export function lastLines(text, n = 6) {
  return text.trim().split('\n').slice(-n).join('\n')
}

// Cleanup: what the bench started is stopped in reverse order, at the end or on SIGINT/SIGTERM.

/** @type {Array<() => Promise<unknown> | unknown>} */
export const cleanups = []
/** @type {Promise<void> | undefined} */
let cleaning
/** Set once cleanup has begun: nothing new may start after that. */
let aborting = false
export function checkNotAborting() {
  if (aborting) throw new Error('the bench is being stopped')
}
export function cleanupAll() {
  aborting = true
  cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn()
      } catch {
        // best effort: keep cleaning the rest
      }
    }
  })()
  return cleaning
}
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`)
    void cleanupAll().finally(() => process.exit(130))
  })
}
