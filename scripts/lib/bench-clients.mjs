// Clients for the bad-release section of the bench (bench-traffic.mjs): loops through nginx, each
// with a key of its own (X-Client, which a canary's split hashes), a new connection per request,
// noting when each answer came and which version gave it. traffic.mjs counts failures; this keeps
// the moments, so that the bench can tell from the users' side how long a bad version served them.
// They run in a process and a session of their own, as traffic-process.mjs explains.
import { fork } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { versionOf } from './traffic.mjs'

const self = fileURLToPath(import.meta.url)
const MAX_FAILURES_KEPT = 50

/**
 * @typedef {object} Answers what a version gave the clients
 * @property {number[]} at when each of its answers came (epoch ms), in order
 * @property {number[]} failedAt when each of its failed answers (5xx) came
 *
 * @typedef {object} ClientStats
 * @property {number} total
 * @property {number} failed
 * @property {Array<{ at: number, status?: number, error?: string, body?: string }>} failures the first ones
 * @property {number[]} failedAt every failure's moment (epoch ms), those without a version included
 * @property {number[]} answeredAt every request's end (epoch ms), in order
 * @property {Record<string, Answers>} versions by "version=<v>"
 * @property {Record<string, string[]>} clients for each key, the versions that answered it, each once per change
 */

/**
 * @param {{ url: string, clients: number, pauseMs: number, timeoutMs?: number }} options
 * @returns {{ stop(): Promise<ClientStats> }}
 */
export function startClients({ url, clients, pauseMs, timeoutMs = 10_000 }) {
  const target = new URL('/', url)
  let stopped = false
  /** @type {ClientStats} */
  const stats = { total: 0, failed: 0, failures: [], failedAt: [], answeredAt: [], versions: {}, clients: {} }

  /** @param {string} client @param {{ status?: number, body?: string, error?: string }} answer */
  const record = (client, { status, body = '', error }) => {
    const at = Date.now()
    const ok = error === undefined && status !== undefined && status >= 200 && status < 300
    stats.total++
    stats.answeredAt.push(at)
    const version = versionOf(body)
    if (version) {
      const answers = (stats.versions[version] ??= { at: [], failedAt: [] })
      answers.at.push(at)
      if (!ok) answers.failedAt.push(at)
      const seen = (stats.clients[client] ??= [])
      if (seen.at(-1) !== version) seen.push(version)
    }
    if (!ok) {
      stats.failed++
      stats.failedAt.push(at)
      if (stats.failures.length < MAX_FAILURES_KEPT) stats.failures.push({ at, status, ...(error ? { error } : {}), body: body.slice(0, 120) })
    }
  }

  /** @param {string} client @returns {Promise<void>} */
  const once = (client) =>
    new Promise((resolve) => {
      let settled = false
      /** @param {{ status?: number, body?: string, error?: string }} answer */
      const settle = (answer) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        record(client, answer)
        resolve()
      }
      const req = http.get(target, { agent: false, headers: { 'X-Client': client } }, (res) => {
        /** @type {Buffer[]} */
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => settle({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', (err) => settle({ status: res.statusCode, error: err.message }))
        res.on('aborted', () => settle({ status: res.statusCode, error: 'response aborted' }))
      })
      const timer = setTimeout(() => {
        settle({ error: `timeout after ${timeoutMs} ms` })
        req.destroy()
      }, timeoutMs)
      req.on('error', (err) => settle({ error: `${/** @type {any} */ (err).code ?? ''} ${err.message}`.trim() }))
    })

  const loops = Array.from({ length: clients }, async (_, i) => {
    // Spread over the first pause, so that the clients do not ask in step.
    await new Promise((resolve) => setTimeout(resolve, (pauseMs * i) / clients))
    while (!stopped) {
      await once(`client-${i}`)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  })
  return {
    async stop() {
      stopped = true
      await Promise.all(loops)
      return stats
    },
  }
}

/**
 * The clients in a child process of their own; resolves once they run.
 * @param {Parameters<typeof startClients>[0]} options
 * @returns {Promise<{ stop(): Promise<ClientStats> }>}
 */
export async function startClientsProcess(options) {
  const child = fork(self, [JSON.stringify(options)], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(`the clients' process ended (${signal ?? `exit ${code}`})`)))
  /** @param {string} type */
  const next = (type) =>
    Promise.race([
      new Promise((resolve) => child.on('message', (/** @type {any} */ message) => message.type === type && resolve(message))),
      exited.then((why) => Promise.reject(new Error(String(why)))),
    ])
  await next('started')
  /** @type {Promise<ClientStats> | undefined} */
  let stopping
  return {
    stop() {
      stopping ??= (async () => {
        const answer = next('stopped')
        child.send({ type: 'stop' })
        return /** @type {any} */ (await answer).stats
      })()
      return stopping
    },
  }
}

// In the child: ask until told to stop, or until the bench is gone.
if (process.argv[1] === self && process.send) {
  const running = startClients(JSON.parse(process.argv[2]))
  process.on('message', async (/** @type {any} */ message) => {
    if (message.type !== 'stop') return
    const stats = await running.stop()
    process.send?.({ type: 'stopped', stats }, () => process.exit(0))
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'started' })
}
