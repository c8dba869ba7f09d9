/**
 * A local stand-in for a host, for the remote scripts' tests: a shell that runs scripts as the
 * session does, temporary directories, free ports, listeners and a tiny app. Every process a test
 * starts is recorded and killed once its file is done.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import type { StartParams } from '../../../src/remote/instance.js'
import { type RemoteAnswer, parseAnswer } from '../../../src/remote/protocol.js'
import { shellQuote } from '../../../src/remote/quote.js'
import { envFileText } from '../../../src/remote/release.js'

export interface Run {
  code: number | null
  stdout: string
  stderr: string
  answer: RemoteAnswer
  ms: number
}

/**
 * A local stand-in for the run's remote shell: one `sh -s` fed script after script on its stdin,
 * each run as the session runs it, `( script ) < /dev/null`, its end marked by a nonce line.
 */
export class LocalShell {
  readonly child: ChildProcess
  private buffer = ''
  private stderr = ''
  private waiting?: { nonce: string; started: number; resolve: (run: Run) => void }
  private readonly closed: Promise<void>

  /** detached: the shell leads a session of its own, as sshd starts a session's command. */
  constructor(options: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}) {
    this.child = spawn('/bin/sh', ['-s'], {
      cwd: options.cwd ?? tmpdir(),
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    })
    track(this.child.pid)
    this.child.stdin!.on('error', () => undefined)
    this.child.stdout!.setEncoding('utf8') // decodes characters split across chunks
    this.child.stdout!.on('data', (text: string) => {
      this.buffer += text
      this.check()
    })
    this.child.stderr!.setEncoding('utf8')
    this.child.stderr!.on('data', (text: string) => (this.stderr += text))
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()))
  }

  get pid(): number {
    return this.child.pid!
  }

  run(script: string): Promise<Run> {
    if (this.waiting) throw new Error('one script at a time')
    const nonce = randomBytes(8).toString('hex')
    return new Promise((resolve) => {
      this.waiting = { nonce, started: Date.now(), resolve }
      this.stderr = ''
      this.child.stdin!.write(`(\n${script}\n) < /dev/null\nprintf '\\n@@@end:${nonce}:%s\\n' "$?"\n`)
    })
  }

  private check(): void {
    const waiting = this.waiting
    if (!waiting) return
    const end = new RegExp(`\n@@@end:${waiting.nonce}:(\\d+)\n`).exec(this.buffer)
    if (!end) return
    const stdout = this.buffer.slice(0, end.index)
    this.buffer = this.buffer.slice(end.index + end[0].length)
    this.waiting = undefined
    waiting.resolve({ code: Number(end[1]), stdout, stderr: this.stderr, answer: parseAnswer(stdout), ms: Date.now() - waiting.started })
  }

  async close(): Promise<void> {
    this.child.stdin!.end()
    await this.closed
  }
}

/** Runs one script in a fresh local shell. */
export async function runScript(script: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const shell = new LocalShell(options)
  try {
    return await shell.run(script)
  } finally {
    await shell.close()
  }
}

const tempDirs: string[] = []
export function tempDir(prefix = 'zdd-remote-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)))
  tempDirs.push(dir)
  return dir
}

/**
 * Processes the tests started (directly, or through a script that detached them), with their start
 * time: pids are reused quickly on a busy host, and only our own processes may be killed.
 */
const startedPids = new Map<number, string | undefined>()
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
export function track(pid: number | undefined): number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) throw new Error(`not a pid: ${pid}`)
  if (!startedPids.has(pid)) startedPids.set(pid, startTimeOf(pid))
  return pid
}

/** A group leader the script should already have stopped: killed later only if its group outlived it. */
export function trackGroup(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a pid: ${pid}`)
  startedPids.set(pid, GROUP_ONLY)
  return pid
}
const GROUP_ONLY = 'group-only'

function killStarted(): void {
  for (const [pid, started] of startedPids) {
    const now = startTimeOf(pid)
    // Same process (same start time): ours. Gone (or a zombie): a group that still has its id can
    // only be ours, since the kernel does not reuse a pid while a process group is named after it.
    if (started === GROUP_ONLY) {
      if (now === undefined || !isRunning(pid)) {
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          // no such group: the script stopped it, as it should
        }
      }
      continue
    }
    if (now !== undefined && now !== started) continue
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // gone, or not a group leader
      }
    }
  }
  startedPids.clear()
}

/**
 * The processes, other than this one, that run in one of `dirs` (their working directory is there)
 * or name a path in one of them on their command line, and their descendants (nginx's workers, whose
 * titles name nothing). The directories are this file's own temporary ones: whatever runs there was
 * started by its tests, even what no pid of theirs leads to any more (an app a healthy start left
 * running, a start command's child in the background, a hook's guard).
 */
export function processesIn(dirs: readonly string[]): number[] {
  if (dirs.length === 0) return []
  const found = new Set<number>()
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue
    let cwd = ''
    let args = ''
    let parent: number
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      cwd = readlinkSync(`/proc/${pid}/cwd`)
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      continue // gone, or not ours to read
    }
    children.set(parent, [...(children.get(parent) ?? []), pid])
    if (dirs.some((dir) => cwd === dir || cwd.startsWith(`${dir}/`) || args.includes(`${dir}/`))) found.add(pid)
  }
  for (const pid of found) for (const child of children.get(pid) ?? []) found.add(child)
  return [...found]
}

/**
 * Kills each process that runs in `dirs` (see processesIn), itself only: its group may be the test
 * runner's own, as a local shell started in a deploy directory is. Killed processes may have started
 * others meanwhile: it looks again, a few times. Returns the pids it killed.
 */
export function killProcessesIn(dirs: readonly string[]): number[] {
  const killed = new Set<number>()
  for (let round = 0; round < 5; round++) {
    // A process killed a moment ago may not have died yet: it is not killed twice.
    const found = processesIn(dirs).filter((pid) => !killed.has(pid) && isRunning(pid))
    if (found.length === 0) break
    for (const pid of found) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.add(pid)
      } catch {
        // already gone
      }
    }
  }
  return [...killed]
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await condition()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return condition()
}

const handedOut = new Set<number>()
/**
 * A port nothing listens on, never the same twice in this file (tests run concurrently). Some
 * tests' apps listen on the next port as well: that one is free too, or a busy host's other
 * listener there ends the app before its test begins.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort()
    if (handedOut.has(port) || handedOut.has(port + 1) || !(await portIsFree(port + 1))) continue
    handedOut.add(port)
    return port
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A Node process listening on `port`, started by the test itself (in `cwd`: a release directory, say). */
export async function listener(
  port: number,
  options: { detached?: boolean; ignoreTerm?: boolean; cwd?: string } = {},
): Promise<ChildProcess> {
  const code = `${options.ignoreTerm ? "process.on('SIGTERM', () => {});" : ''}require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`
  const child = spawn(process.execPath, ['-e', code], {
    detached: options.detached ?? false,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  track(child.pid)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`listener on ${port} exited with ${code}`)))
  })
  return child
}

/** A tiny HTTP app for start-command: records what it was given, answers /actuator/health. */
const SERVER_JS = `
const fs = require('fs')
const http = require('http')
fs.writeFileSync('seen.json', JSON.stringify({ env: process.env, cwd: process.cwd() }))
console.log('app: listening on ' + process.env.PORT)
const status = Number(process.env.HEALTH_STATUS || 200)
const server = http.createServer((req, res) => {
  if (req.url === '/actuator/health') { res.writeHead(status); res.end('{"status":"UP"}') }
  else { res.writeHead(200); res.end('app on ' + process.env.PORT) }
})
setTimeout(() => server.listen(Number(process.env.PORT), '127.0.0.1'), Number(process.env.LISTEN_DELAY_MS || 0))
`

/** `<deployDir>/releases/<name>/` with a jar, the app and an env file, as finalize leaves it. */
export function makeRelease(deployDir: string, name: string, env: Array<[string, string]> = [], fileName = 'app.jar'): string {
  const dir = join(deployDir, 'releases', name)
  mkdirSync(dir, { recursive: true })
  for (const sub of ['run', 'logs']) mkdirSync(join(deployDir, sub), { recursive: true })
  writeFileSync(join(dir, fileName), 'PK fake jar')
  writeFileSync(join(dir, 'server.js'), SERVER_JS)
  writeFileSync(join(dir, 'env'), envFileText(env, shellQuote), { mode: 0o600 })
  writeFileSync(join(dir, 'sha256'), 'f'.repeat(64) + '\n')
  return dir
}

export const NODE_APP = `exec ${shellQuote(process.execPath)} server.js`

export function startParams(deployDir: string, port: number, overrides: Partial<StartParams> = {}): StartParams {
  return {
    deployDir,
    port,
    release: '20260101-000000-aaaaaaaa',
    fileName: 'app.jar',
    appName: 'shop',
    javaOpts: '',
    startCommand: NODE_APP,
    healthUrl: `http://127.0.0.1:${port}/actuator/health`,
    healthExpect: '',
    healthTimeoutSeconds: 10,
    healthIntervalSeconds: 0.1,
    stopTimeoutSeconds: 5,
    startedAt: new Date('2026-01-01T12:34:56.789Z'),
    ...overrides,
  }
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.zdd-'))
}

/** The switch's temporary files left in `dir` once it has settled: a switch removes its copy of the old include in the background. */
export async function settledLeftovers(dir: string): Promise<string[]> {
  await waitUntil(() => leftovers(dir).length === 0, 2000)
  return leftovers(dir)
}

// Tests run concurrently: what they start is killed once the file is done.

/** Kills what the file's tests started and removes their temporary directories once it is done. */
export function cleanUpAfterAll(): void {
  afterAll(() => {
    killStarted()
    // What the records missed still runs in the file's directories: once they are removed, nothing
    // could tell it from another run's process any more, and it would run on for good.
    killProcessesIn(tempDirs)
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
}

/** A directory of links to every program in /usr/bin but `missing`: a userland without them. */
export function userlandWithout(missing: string[]): string {
  const bin = join(tempDir('zdd-bin-'), 'bin')
  mkdirSync(bin)
  for (const name of readdirSync('/usr/bin')) {
    if (!missing.includes(name)) symlinkSync(join('/usr/bin', name), join(bin, name))
  }
  return bin
}
