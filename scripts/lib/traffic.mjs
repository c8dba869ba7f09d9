// Steady client load through nginx while a deploy runs. Zero downtime means every
// single request here succeeds, so each failure is recorded with enough detail to debug.
import http from 'node:http'

const MAX_FAILURES_KEPT = 50
const BODY_EXCERPT = 200

/**
 * @typedef {{ at: number, error?: string, status?: number, body?: string }} Failure
 * @typedef {{ total: number, failed: number, failures: Failure[], bodies: Record<string, number> }} TrafficStats
 */

/**
 * @param {{ url: string, path?: string, concurrency?: number, keepAlive?: boolean,
 *   maxDurationMs?: number, timeoutMs?: number, pauseMs?: number }} options
 *   keepAlive false opens a new TCP connection per request (what most probes do);
 *   true reuses pooled connections, which is harsher on a reload (idle sockets get closed).
 *   pauseMs: each loop waits this long after each answer, so that a loop's load is the same
 *   however many run on the machine (0: the next request goes at once).
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
}) {
  const target = new URL(path, url)
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : undefined
  const started = Date.now()
  let stopped = false

  /** @type {TrafficStats} */
  const stats = { total: 0, failed: 0, failures: [], bodies: {} }

  /** @param {Omit<Failure, 'at'>} f */
  const fail = (f) => {
    stats.failed++
    if (stats.failures.length < MAX_FAILURES_KEPT) stats.failures.push({ at: Date.now() - started, ...f })
  }

  /** @returns {Promise<void>} */
  const once = () =>
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
      const req = http.get(target, { agent: agent ?? false }, (res) => {
        /** @type {Buffer[]} */
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          settle(() => {
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

  const loop = async () => {
    while (!stopped && Date.now() - started < maxDurationMs) {
      await once()
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  }
  const loops = Array.from({ length: concurrency }, loop)

  /** @returns {TrafficStats} */
  const snapshot = () => ({
    total: stats.total,
    failed: stats.failed,
    failures: stats.failures.map((f) => ({ ...f })),
    bodies: { ...stats.bodies },
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
