// Processes and ports of a local target, seen from outside: free ports, waiting for a listener
// (in this network namespace or another process's), pids from pid files, liveness, and every
// process that runs from a given dir.
import { readdir, readFile, readlink } from 'node:fs/promises'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** @param {string} s */
export function shQuote(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * Reserves `count` distinct free ports. All listeners are held open together so the
 * kernel cannot hand the same port out twice.
 * @param {number} count
 * @returns {Promise<number[]>}
 */
export async function freePorts(count) {
  /** @type {net.Server[]} */
  const servers = []
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer()
      servers.push(srv)
      await new Promise((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(0, '127.0.0.1', () => resolve(undefined))
      })
    }
    return servers.map((s) => /** @type {net.AddressInfo} */ (s.address()).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))))
  }
}

/**
 * Whether a process's network namespace has a TCP listener on `port`, from /proc/<pid>/net/tcp*
 * (which shows the sockets of that process's namespace): works without a route into it.
 * @param {number} pid
 * @param {number} port
 */
async function listensIn(pid, port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  for (const table of ['tcp', 'tcp6']) {
    const lines = (await readOr(`/proc/${pid}/net/${table}`)).split('\n').slice(1)
    // Fields: sl local_address rem_address st ...; st 0A is LISTEN.
    for (const line of lines) {
      const fields = line.trim().split(/\s+/)
      if (fields[1]?.endsWith(hex) && fields[3] === '0A') return true
    }
  }
  return false
}

/**
 * Waits until the daemon whose pid file is `pidFile` listens on `port` in its namespace.
 * @param {string} pidFile
 * @param {number} port
 * @param {number} timeoutMs
 */
export async function waitForListenerOf(pidFile, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const pid = await readPid(pidFile)
    if (pid && (await listensIn(pid, port))) return true
    await sleep(100)
  }
  return false
}

/**
 * The first child process of `parent` (from /proc), waiting up to `timeoutMs` for it.
 * @param {number} parent
 * @param {number} timeoutMs
 * @returns {Promise<number | undefined>}
 */
export async function childOf(parent, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    for (const name of await readdir('/proc').catch(() => /** @type {string[]} */ ([]))) {
      if (!/^\d+$/.test(name)) continue
      const stat = await readOr(`/proc/${name}/stat`)
      if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(name)
    }
    if (!(await isAlive(parent))) return undefined
    await sleep(50)
  }
  return undefined
}

/**
 * @param {number} pid
 * @param {number} port
 * @param {number} timeoutMs
 */
export async function waitForListenerIn(pid, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await listensIn(pid, port)) return true
    if (!(await isAlive(pid))) return false
    await sleep(100)
  }
  return false
}

/**
 * @param {number} port
 * @param {string} [host]
 * @returns {Promise<boolean>}
 */
function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port })
    sock.setTimeout(1000)
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('timeout', () => {
      sock.destroy()
      resolve(false)
    })
    sock.once('error', () => resolve(false))
  })
}

/**
 * @param {number} port
 * @param {number} timeoutMs
 * @param {string} [host]
 * @returns {Promise<boolean>}
 */
export async function waitForPort(port, timeoutMs, host) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await canConnect(port, host)) return true
    await sleep(100)
  }
  return false
}

/** @param {string} file */
export async function readOr(file, fallback = '') {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return fallback
  }
}

/**
 * Alive and not a zombie. PID 1 in some sandboxes never reaps orphans, so a killed
 * daemon can linger as a zombie forever; `kill -0` alone would call it alive.
 * @param {number} pid
 */
export async function isAlive(pid) {
  const stat = await readOr(`/proc/${pid}/stat`)
  if (!stat) return false
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state !== 'Z' && state !== 'X'
}

/**
 * @param {number} pid
 * @param {NodeJS.Signals} signal
 */
export function signal(pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** @param {string} file */
export async function readPid(file) {
  const n = Number.parseInt((await readOr(file)).trim(), 10)
  return Number.isInteger(n) && n > 1 ? n : undefined
}

/**
 * Whether process `pid` has a file open that `inside` accepts.
 * @param {number} pid
 * @param {(path: string) => boolean} inside
 */
async function holdsFileIn(pid, inside) {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => /** @type {string[]} */ ([]))
  for (const fd of fds) if (inside(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) return true
  return false
}

/**
 * Every process that belongs to the target: cwd, executable or command line inside
 * `dir` (sshd, nginx master/workers, deployed JVMs even after they were reparented),
 * plus all descendants of those (sshd session processes and whatever they ran), and whatever
 * holds a file inside `dir` open: an sshd session whose connection went silent outlives the
 * listener it was forked from, reparented, but keeps the target's sshd log open.
 * Never the current process or its ancestors.
 * @param {string} dir
 * @returns {Promise<number[]>}
 */
export async function processesOf(dir) {
  const protectedPids = new Set([process.pid])
  /** @type {Map<number, number>} */
  const parentOf = new Map()
  /** @type {Set<number>} */
  const matched = new Set()
  const entries = await readdir('/proc').catch(() => /** @type {string[]} */ ([]))
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const stat = await readOr(`/proc/${pid}/stat`)
    if (!stat) continue
    parentOf.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    const cmdline = (await readOr(`/proc/${pid}/cmdline`)).split('\0').join(' ')
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '')
    const inside = (/** @type {string} */ p) => p === dir || p.startsWith(dir + '/')
    if (cmdline.includes(dir) || inside(cwd) || inside(exe) || (await holdsFileIn(pid, inside))) matched.add(pid)
  }
  for (let p = parentOf.get(process.pid); p && p > 1; p = parentOf.get(p)) protectedPids.add(p)

  /** @type {Set<number>} */
  const result = new Set()
  for (const pid of parentOf.keys()) {
    for (let p = pid; p && p > 1; p = /** @type {number} */ (parentOf.get(p))) {
      if (matched.has(p)) {
        result.add(pid)
        break
      }
    }
  }
  return [...result].filter((pid) => !protectedPids.has(pid))
}
