// The bench's request loops (traffic.mjs) in a process and a session of their own. In the bench's
// own process they would share its event loop with what it times (the SSH proxy the action
// connects through, the health polls of a hand-started JVM), and Linux, which shares the CPU out
// between sessions first, would count them and the bench as one.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { startTraffic } from './traffic.mjs'

const self = fileURLToPath(import.meta.url)

/**
 * Starts the loops in a child process and resolves once they run. With an array of options (one
 * per host of a fleet), one process runs them all and `stop` answers with one stats per entry.
 * `nice` (1 to 19) lowers the loops' share of a busy machine: that of their session, which Linux
 * weighs against the other sessions as it would a process of that nice value against others.
 * @param {Parameters<typeof startTraffic>[0] | Array<Parameters<typeof startTraffic>[0]>} options
 * @param {{ nice?: number }} [settings]
 * @returns {Promise<{ stop(): Promise<any> }>}
 */
export async function startTrafficProcess(options, { nice = 0 } = {}) {
  const child = fork(self, [JSON.stringify(options), String(nice)], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(`the request loops' process ended (${signal ?? `exit ${code}`})`)))
  /** @param {string} type */
  const next = (type) =>
    Promise.race([
      new Promise((resolve) => child.on('message', (/** @type {any} */ message) => message.type === type && resolve(message))),
      exited.then((why) => Promise.reject(new Error(String(why)))),
    ])
  await next('started')
  /** @type {Promise<import('./traffic.mjs').TrafficStats> | undefined} */
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

// In the child: run the loops until told to stop, or until the bench is gone.
if (process.argv[1] === self && process.send) {
  const options = JSON.parse(process.argv[2])
  const nice = Number(process.argv[3] ?? 0)
  if (nice > 0) lowerPriority(nice)
  const several = Array.isArray(options)
  const loops = (several ? options : [options]).map((o) => startTraffic(o))
  process.on('message', async (/** @type {any} */ message) => {
    if (message.type !== 'stop') return
    const all = await Promise.all(loops.map((loop) => loop.stop()))
    const stats = several ? all : all[0]
    process.send?.({ type: 'stopped', stats }, () => process.exit(0))
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'started' })
}

/**
 * Where Linux groups processes by session for the CPU (autogroups, on by default), a process's own
 * nice value weighs only against its own session's: the session's is what counts against the
 * hosts' sshd, shells and nginx. Elsewhere, the process's.
 * @param {number} nice
 */
function lowerPriority(nice) {
  try {
    writeFileSync('/proc/self/autogroup', String(nice))
  } catch {
    os.setPriority(nice)
  }
}
