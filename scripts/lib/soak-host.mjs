// What the soak checks on a target after each round, read from outside the deploy (from /proc and
// the deploy dir, never from the action's own pid files), and how it cuts a run off: a seeded
// random source, SIGKILL, and a network cut that drops every packet of one connection.
import { execFile as execFileCb } from 'node:child_process'
import { readdir, readFile, readlink, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const execFile = promisify(execFileCb)

/**
 * A small seeded generator (mulberry32): the same seed gives the same rounds.
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function seededRandom(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * @typedef {{ pid: number, ppid: number, command: string, cwd: string }} AppInstance
 */

/** @param {string} file */
const readOr = (file) => readFile(file, 'utf8').catch(() => '')

/**
 * Every live JVM that runs this deploy dir's service: a process whose executable (or argv[0]) is
 * `java` and whose working dir is inside `<deployDir>/releases/`, or whose command line names the
 * deploy dir. The action's pid files are not consulted: an instance it lost track of must count too.
 * @param {string} deployDir
 * @returns {Promise<AppInstance[]>}
 */
export async function appInstances(deployDir) {
  const root = path.resolve(deployDir)
  const releases = `${path.join(root, 'releases')}/`
  /** @type {AppInstance[]} */
  const found = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    const stat = await readOr(`/proc/${pid}/stat`)
    if (!stat) continue
    // After the command name (which may hold spaces and parentheses): state, then ppid.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (state === 'Z' || state === 'X') continue
    const argv = (await readOr(`/proc/${pid}/cmdline`)).split('\0').filter((a) => a !== '')
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '')
    const isJava = path.basename(exe) === 'java' || path.basename(argv[0] ?? '') === 'java'
    if (!isJava) continue
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
    const ours = cwd.startsWith(releases) || argv.some((a) => a === root || a.startsWith(`${root}/`) || a.includes(`=${root}/`))
    if (ours) found.push({ pid, ppid: Number(ppid), command: argv.join(' '), cwd })
  }
  return found
}

/** @param {AppInstance} p */
export const describeInstance = (p) => `pid ${p.pid} (parent ${p.ppid}) cwd ${p.cwd}: ${p.command}`

/**
 * Partial uploads left in `<deployDir>/releases` (`.partial-*`).
 * @param {string} deployDir
 * @returns {Promise<string[]>}
 */
export async function partialUploads(deployDir) {
  const names = await readdir(path.join(deployDir, 'releases')).catch(() => /** @type {string[]} */ ([]))
  return names.filter((n) => n.startsWith('.partial-'))
}

/**
 * The deploy lock as it stands: absent, or held with the age of its last lease renewal (seconds on
 * the host's uptime clock, the clock the lock script uses; this host is the same kernel). A lock
 * without a lease file counts from its directory's last change.
 * @param {string} deployDir
 * @returns {Promise<{ held: false } | { held: true, holder: string, silentSeconds: number }>}
 */
export async function lockState(deployDir) {
  const lockDir = path.join(deployDir, '.lock')
  const dirStat = await stat(lockDir).catch(() => undefined)
  if (!dirStat) return { held: false }
  const holder = (await readOr(path.join(lockDir, 'holder'))).trim()
  const [pid, start] = holder.split(' ')
  const uptime = Number((await readOr('/proc/uptime')).split(' ')[0])
  const renewed = Number((await readOr(path.join(lockDir, `lease.${pid}-${start ?? ''}`))).trim())
  const silentSeconds = holder && renewed > 0 ? Math.floor(uptime) - renewed : Math.round((Date.now() - dirStat.mtimeMs) / 1000)
  return { held: true, holder: holder || '(none written)', silentSeconds }
}

/**
 * Watches the lock while a round runs, for the longest it was seen unrenewed: a lock may go silent
 * (its run was cut off), but a waiting run must take it over soon after its lease has run out.
 * @param {string} deployDir
 * @param {number} [everyMs]
 * @returns {{ stop(): Promise<{ silentSeconds: number, holder: string }> }}
 */
export function watchLock(deployDir, everyMs = 500) {
  let worst = { silentSeconds: 0, holder: '' }
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const state = await lockState(deployDir)
      if (state.held && state.silentSeconds > worst.silentSeconds) worst = { silentSeconds: state.silentSeconds, holder: state.holder }
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
      return worst
    },
  }
}

/**
 * The source port of `pid`'s established connection to host:port, once there is one. Polls until
 * `gaveUp()` says to stop (the run has ended).
 * @param {number} pid
 * @param {string} host
 * @param {number} port
 * @param {() => boolean} gaveUp
 * @returns {Promise<string | undefined>}
 */
async function connectionPort(pid, host, port, gaveUp) {
  while (!gaveUp()) {
    const { stdout } = await execFile('ss', ['-Htnp', 'state', 'established'])
    const line = stdout.split('\n').find((l) => l.includes(`${host}:${port} `) && l.includes(`pid=${pid},`))
    const local = new RegExp(`:(\\d+)\\s+\\S+:${port}\\s`).exec(line ?? '')?.[1]
    if (local) return local
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return undefined
}

/**
 * Makes the host's namespace drop every packet of `pid`'s SSH connection, both ways, as a network
 * that goes silent does: no FIN, no RST. The rules live in the host's namespace only. Waits for
 * the connection if the run has not opened it yet.
 * @param {{ pid: number, hostNs: string, host: string, sshPort: number, gaveUp: () => boolean }} options
 * @returns {Promise<(() => Promise<void>) | undefined>} lets the packets through again; undefined
 *   when the run ended before it had a connection to cut
 */
export async function cutConnection({ pid, hostNs, host, sshPort, gaveUp }) {
  const port = await connectionPort(pid, host, sshPort, gaveUp)
  if (!port) return undefined
  const rules = [
    ['INPUT', '-p', 'tcp', '--dport', String(sshPort), '--sport', port, '-j', 'DROP'],
    ['OUTPUT', '-p', 'tcp', '--sport', String(sshPort), '--dport', port, '-j', 'DROP'],
  ]
  for (const rule of rules) await execFile('ip', ['netns', 'exec', hostNs, 'iptables', '-I', ...rule])
  return async () => {
    for (const rule of rules) await execFile('ip', ['netns', 'exec', hostNs, 'iptables', '-D', ...rule]).catch(() => undefined)
  }
}
