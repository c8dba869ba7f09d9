// Steady client load through nginx while a deploy runs. Zero downtime means every
// single request here succeeds, so each failure is recorded with enough detail to debug.
import http from 'node:http'

const MAX_FAILURES_KEPT = 50
const BODY_EXCERPT = 200

/**
 * @typedef {{ at: number, error?: string, status?: number, body?: string }} Failure
 * @typedef {{ total: number, failed: number, failures: Failure[], bodies: Record<string, number>,
 *   clients: Record<string, string[]> }} TrafficStats
 *   clients (with clientKeys): for each client key, the versions that answered it, in order, each
 *   once per change ("version=1", "version=2"); a 5xx body that names a version counts as that version.
 */

/**
 * The version in a sample's body ("version=2 port=8082", "error: flaky version=2 port=8082").
 * @param {string} body
 */
export function versionOf(body) {
  return /version=(\S+)/.exec(body)?.[0]
}

/**
 * The share (0..1) of the clients whose latest answer came from `version` ("version=2").
 * @param {TrafficStats} stats
 * @param {string} version
 */
export function shareOn(stats, version) {
  const keys = Object.keys(stats.clients)
  if (keys.length === 0) return 0
  return keys.filter((key) => stats.clients[key].at(-1) === version).length / keys.length
}

/**
 * The clients that went back to a version they had left: a sticky split never does this.
 * @param {TrafficStats} stats
 * @returns {string[]}
 */
export function flippedBack(stats) {
  return Object.entries(stats.clients)
    .filter(([, seen]) => new Set(seen).size < seen.length)
    .map(([key, seen]) => `${key}: ${seen.join(' -> ')}`)
}

/**
 * @param {{ url: string, path?: string, concurrency?: number, keepAlive?: boolean,
 *   maxDurationMs?: number, timeoutMs?: number, pauseMs?: number, clientKeys?: number }} options
 *   keepAlive false opens a new TCP connection per request (what most probes do);
 *   true reuses pooled connections, which is harsher on a reload (idle sockets get closed).
 *   pauseMs: each loop waits this long after each answer, so that a loop's load is the same
 *   however many run on the machine (0: the next request goes at once).
 *   clientKeys: that many loops (instead of concurrency), loop i sending "X-Client: client-<i>" on
 *   each request (for a canary split on $http_x_client), each recording which version answered it.
 * @returns {{ snapshot(): TrafficStats, stop(): Promise<TrafficStats> }}
 */
export function startTraffic({
  url,
  path = '/',
  concurrency = 4,
  keepAlive = false,
  maxDurationMs = 600_000,
  timeoutMs = 15_000,
  pauseMs = 0,
  clientKeys = 0,
}) {
  const target = new URL(path, url)
  const loopCount = clientKeys > 0 ? clientKeys : concurrency
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: loopCount }) : undefined
  const started = Date.now()
  let stopped = false

  /** @type {TrafficStats} */
  const stats = { total: 0, failed: 0, failures: [], bodies: {}, clients: {} }

  /** @param {string | undefined} client @param {string} body */
  const seenBy = (client, body) => {
    const version = versionOf(body)
    if (client === undefined || version === undefined) return
    const seen = (stats.clients[client] ??= [])
    if (seen.at(-1) !== version) seen.push(version)
  }

  /** @param {Omit<Failure, 'at'>} f */
  const fail = (f) => {
    stats.failed++
    if (stats.failures.length < MAX_FAILURES_KEPT) stats.failures.push({ at: Date.now() - started, ...f })
  }

  /** @param {string} [client] @returns {Promise<void>} */
  const once = (client) =>
    new Promise((resolve) => {
      let settled = false
      /** @param {() => void} record */
      const settle = (record) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        stats.total++
        record()
        resolve()
      }
      const headers = client === undefined ? {} : { 'X-Client': client }
      const req = http.get(target, { agent: agent ?? false, headers }, (res) => {
        /** @type {Buffer[]} */
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          settle(() => {
            seenBy(client, body)
            if (status >= 200 && status < 300) {
              const key = body.split('\n')[0]
              stats.bodies[key] = (stats.bodies[key] ?? 0) + 1
            } else {
              fail({ status, body: body.slice(0, BODY_EXCERPT) })
            }
          })
        })
        // A reset mid-body is a failure even though the status line arrived.
        res.on('error', (err) => settle(() => fail({ error: String(err.message), status: res.statusCode })))
        res.on('aborted', () => settle(() => fail({ error: 'response aborted', status: res.statusCode })))
      })
      // Hard deadline per request: a hung upstream must show up as a failure, not a stall.
      const timer = setTimeout(() => {
        settle(() => fail({ error: `timeout after ${timeoutMs} ms` }))
        req.destroy()
      }, timeoutMs)
      req.on('error', (err) => settle(() => fail({ error: `${/** @type {any} */ (err).code ?? ''} ${err.message}`.trim() })))
    })

  /** @param {unknown} _ @param {number} i */
  const loop = async (_, i) => {
    const client = clientKeys > 0 ? `client-${i}` : undefined
    while (!stopped && Date.now() - started < maxDurationMs) {
      await once(client)
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  }
  const loops = Array.from({ length: loopCount }, loop)

  /** @returns {TrafficStats} */
  const snapshot = () => ({
    total: stats.total,
    failed: stats.failed,
    failures: stats.failures.map((f) => ({ ...f })),
    bodies: { ...stats.bodies },
    clients: Object.fromEntries(Object.entries(stats.clients).map(([key, seen]) => [key, [...seen]])),
  })

  /** @type {Promise<TrafficStats> | undefined} */
  let stopping
  return {
    snapshot,
    stop() {
      stopped = true
      stopping ??= Promise.all(loops).then(() => {
        agent?.destroy()
        return snapshot()
      })
      return stopping
    },
  }
}

/**
 * nginx's MurmurHash2 (ngx_murmur_hash2), which split_clients hashes its key with.
 * @param {string} text
 * @returns {number}
 */
export function murmurHash2(text) {
  const data = Buffer.from(text)
  let len = data.length
  let h = len >>> 0
  let i = 0
  while (len >= 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, 0x5bd1e995)
    k ^= k >>> 24
    k = Math.imul(k, 0x5bd1e995)
    h = Math.imul(h, 0x5bd1e995) ^ k
    i += 4
    len -= 4
  }
  if (len === 3) h ^= data[i + 2] << 16
  if (len >= 2) h ^= data[i + 1] << 8
  if (len >= 1) h = Math.imul(h ^ data[i], 0x5bd1e995)
  h ^= h >>> 13
  h = Math.imul(h, 0x5bd1e995)
  h ^= h >>> 15
  return h >>> 0
}

/**
 * The client keys of startTraffic's `clientKeys` loops that `split_clients "<key>" { <percent>% ...; * ...; }`
 * puts on its first side: the first percent of the 32-bit hash space.
 * @param {number} clientKeys
 * @param {number} percent
 * @returns {string[]}
 */
export function firstSideClients(clientKeys, percent) {
  const bound = Math.floor((percent * 100 * 0xffffffff) / 10000)
  return Array.from({ length: clientKeys }, (_, i) => `client-${i}`).filter((key) => murmurHash2(key) < bound)
}
