/**
 * The remote scripts, run by a local `sh` in a temporary directory: what they do on a host, without
 * SSH. Every process a test starts is recorded and killed afterwards.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { type Server, connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readHostState } from '../../src/deploy/host-state.js'
import { nginxMasterHint, renderInclude } from '../../src/deploy/plan.js'
import { acquireLockScript, inspectScript, releaseLockScript } from '../../src/remote/host.js'
import { INSTANCE_EXIT, type StartParams, freePortScript, probeScript, startScript, stopScript } from '../../src/remote/instance.js'
import { SWITCH_EXIT, type SwitchParams, switchScript } from '../../src/remote/nginx.js'
import { type RemoteAnswer, parseAnswer } from '../../src/remote/protocol.js'
import { shellQuote, shellScript } from '../../src/remote/quote.js'
import { SHELL_LIB } from '../../src/remote/shell-lib.js'
import { envFileText, finalizeReleaseScript, partialDir, pruneScript } from '../../src/remote/release.js'

// ---------------------------------------------------------------------------------------------
// Helpers

interface Run {
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
class LocalShell {
  readonly child: ChildProcess
  private buffer = ''
  private stderr = ''
  private waiting?: { nonce: string; started: number; resolve: (run: Run) => void }
  private readonly closed: Promise<void>

  constructor(options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn('/bin/sh', ['-s'], { cwd: options.cwd ?? tmpdir(), env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
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
async function runScript(script: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const shell = new LocalShell(options)
  try {
    return await shell.run(script)
  } finally {
    await shell.close()
  }
}

const tempDirs: string[] = []
function tempDir(prefix = 'zdd-remote-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)))
  tempDirs.push(dir)
  return dir
}

/**
 * Processes the tests started (directly, or through a script that detached them), with their start
 * time: pids are reused quickly on a busy host, and only our own processes may be killed.
 */
const startedPids = new Map<number, string | undefined>()
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
function track(pid: number | undefined): number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) throw new Error(`not a pid: ${pid}`)
  if (!startedPids.has(pid)) startedPids.set(pid, startTimeOf(pid))
  return pid
}

/** A group leader the script should already have stopped: killed later only if its group outlived it. */
function trackGroup(pid: number): number {
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

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

async function waitUntil(condition: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await condition()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return condition()
}

const handedOut = new Set<number>()
/** A port nothing listens on, never the same twice in this file (tests run concurrently). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort()
    if (handedOut.has(port) || handedOut.has(port + 1)) continue
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

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A Node process listening on `port`, started by the test itself. */
async function listener(port: number, options: { detached?: boolean; ignoreTerm?: boolean } = {}): Promise<ChildProcess> {
  const code = `${options.ignoreTerm ? "process.on('SIGTERM', () => {});" : ''}require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`
  const child = spawn(process.execPath, ['-e', code], { detached: options.detached ?? false, stdio: ['ignore', 'pipe', 'ignore'] })
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
function makeRelease(deployDir: string, name: string, env: Array<[string, string]> = [], fileName = 'app.jar'): string {
  const dir = join(deployDir, 'releases', name)
  mkdirSync(dir, { recursive: true })
  for (const sub of ['run', 'logs']) mkdirSync(join(deployDir, sub), { recursive: true })
  writeFileSync(join(dir, fileName), 'PK fake jar')
  writeFileSync(join(dir, 'server.js'), SERVER_JS)
  writeFileSync(join(dir, 'env'), envFileText(env, shellQuote), { mode: 0o600 })
  writeFileSync(join(dir, 'sha256'), 'f'.repeat(64) + '\n')
  return dir
}

const NODE_APP = `exec ${shellQuote(process.execPath)} server.js`

function startParams(deployDir: string, port: number, overrides: Partial<StartParams> = {}): StartParams {
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

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.zdd-'))
}

// Tests run concurrently: what they start is killed once the file is done.
afterAll(() => {
  killStarted()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------------

// Independent scripts in their own temporary directories: run concurrently, which also keeps the
// file fast while most of them wait on health checks and timeouts.
describe.concurrent('remote scripts, run by a local sh', { timeout: 30_000 }, () => {
  describe('port_in_use', () => {
    it('reads a kernel table only as far as its listening sockets', async () => {
      const dir = tempDir()
      const row = (n: number, port: string, state: string) =>
        `  ${n}: 0100007F:${port} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${1000 + n} 1 0000000000000000 100 0 0 10 0`
      const table = [
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
        row(0, '1F90', '0A'),
        row(1, 'C350', '03'), // a half-open connection, listed among the listeners before Linux 4.4
        row(2, '1F91', '0A'),
        row(3, 'D431', '01'), // the established and TIME_WAIT sockets begin here
        row(4, '1F92', '0A'), // never listed after them; here it shows where reading stopped
      ].join('\n')
      writeFileSync(join(dir, 'tcp'), `${table}\n`)
      const script = shellScript({ TABLE: join(dir, 'tcp') }, `${SHELL_LIB}\nfor port in 8080 8081 8082 8083; do port_hex "$port"; listed_as_listening "$HEX" "$TABLE" && echo "listening=$port"; done; exit 0`)
      expect((await runScript(script)).answer.lists.listening).toEqual(['8080', '8081'])
    })


    it('sees listeners in the IPv4 and IPv6 tables, not a port that only has connections', async () => {
      const servers: Server[] = []
      const listen = (host: string, port = 0) =>
        new Promise<number | undefined>((resolve) => {
          const server = createServer((socket) => socket.on('error', () => undefined))
          server.once('error', () => resolve(undefined)) // no IPv6 here
          server.listen(port, host, () => {
            servers.push(server)
            resolve((server.address() as { port: number }).port)
          })
        })
      try {
        const v4 = await listen('127.0.0.1')
        const v6 = await listen('::1')
        // A connected client: its sockets come after the listeners in the tables, on ports that do not listen.
        const client = connect(v4!, '127.0.0.1')
        await new Promise((resolve) => client.once('connect', resolve))
        const closed = await freePort()
        const ports = [v4!, ...(v6 ? [v6] : []), closed, client.localPort!]
        const run = await runScript(shellScript({ PORTS: ports.join(' ') }, `${SHELL_LIB}\nfor port in $PORTS; do port_in_use "$port" && echo "in_use=$port"; done; exit 0`))
        client.destroy()
        expect(run.answer.lists.in_use).toEqual([String(v4), ...(v6 ? [String(v6)] : [])])
      } finally {
        for (const server of servers) server.close()
      }
    })
  })

  describe('inspectScript', () => {
    const params = (deployDir: string, include: string, ports: [number, number], prepare = true) => ({ deployDir, include, ports, prepare, needJava: false })

    it('on an empty dir with prepare: creates releases/ run/ logs/, include absent, both instances stopped', async () => {
      const root = tempDir()
      const deployDir = join(root, 'apps', 'shop')
      const [a, b] = [await freePort(), await freePort()]
      const run = await runScript(inspectScript(params(deployDir, join(root, 'service-url.inc'), [a, b])))
      expect(run.code, run.stderr).toBe(0)
      for (const sub of ['releases', 'run', 'logs']) expect(statSync(join(deployDir, sub)).isDirectory()).toBe(true)
      expect(run.answer.facts).toMatchObject({ deploy_dir: deployDir, writable: 'yes', deploy_dir_exists: 'yes', include: 'absent', uid: String(process.getuid!()) })
      expect(run.answer.lists.instance).toEqual([`${a} - stopped no -`, `${b} - stopped no -`])
      const state = readHostState(run.answer)
      expect(state).toMatchObject({ deployDir, writable: true, deployDirExists: true, releases: [], include: undefined })
      expect(state.freeBytes).toBeGreaterThan(0)
      expect(['curl', 'wget']).toContain(state.http)
      expect(readdirSync(deployDir).sort()).toEqual(['logs', 'releases', 'run'])
    })

    it('without prepare (dry-run, status) it creates nothing and clears nothing', async () => {
      const root = tempDir()
      const deployDir = join(root, 'apps', 'shop')
      const run = await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082], false)))
      expect(run.code).toBe(0)
      expect(existsSync(deployDir)).toBe(false)
      expect(run.answer.facts.deploy_dir_exists).toBe('no')
      expect(run.answer.facts.writable).toBeUndefined()

      mkdirSync(join(deployDir, 'releases', '.partial-20260101-000000-aaaaaaaa'), { recursive: true })
      await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082], false)))
      expect(existsSync(join(deployDir, 'releases', '.partial-20260101-000000-aaaaaaaa'))).toBe(true)
    })

    it('a relative deploy-dir is under the remote user\'s home', async () => {
      const home = tempDir()
      const run = await runScript(inspectScript(params('apps/shop', join(home, 'x.inc'), [8081, 8082])), { env: { ...process.env, HOME: home } })
      expect(run.answer.facts.deploy_dir).toBe(join(home, 'apps/shop'))
      expect(run.answer.facts.home).toBe(home)
      expect(statSync(join(home, 'apps/shop/releases')).isDirectory()).toBe(true)
    })

    it('the include section is the include file, byte for byte', async () => {
      const root = tempDir()
      const include = join(root, 'conf.d', 'service-url.inc')
      mkdirSync(dirname(include))
      const content = 'set $service_url http://127.0.0.1:8082;\n# ünïcödé ✓ "double" \'single\' $var `tick` \\ back\ttab\r\n\n  last line, no newline'
      writeFileSync(include, content)
      const run = await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))
      expect(run.answer.facts.include).toBe('present')
      expect(run.answer.sections.include).toBe(content)
      expect(readHostState(run.answer).include).toBe(content)
    })

    it('an include ending in newlines: the section is its text without them', async () => {
      const root = tempDir()
      const include = join(root, 'service-url.inc')
      writeFileSync(include, 'set $service_url http://127.0.0.1:8081;\n\n')
      const run = await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))
      expect(run.answer.sections.include).toBe('set $service_url http://127.0.0.1:8081;')
    })

    it('an empty include is present and empty', async () => {
      const root = tempDir()
      const include = join(root, 'service-url.inc')
      writeFileSync(include, '')
      const state = readHostState((await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))).answer)
      expect(state.include).toBe('')
    })

    it('lists the releases with their sha256 and jar, and clears upload leftovers', async () => {
      const root = tempDir()
      const deployDir = join(root, 'app')
      rmSync(join(makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['A', '1']], 'shop-1.0.jar'), 'server.js'))
      const second = makeRelease(deployDir, '20260102-000000-bbbbbbbb', [], 'my shop.jar')
      rmSync(join(second, 'sha256'))
      rmSync(join(second, 'server.js'))
      mkdirSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc'))
      writeFileSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc', 'app.jar'), 'half')
      const run = await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082])))
      const state = readHostState(run.answer)
      expect(state.releases).toEqual([
        { name: '20260101-000000-aaaaaaaa', sha256: 'f'.repeat(64), fileName: 'shop-1.0.jar' },
        { name: '20260102-000000-bbbbbbbb', sha256: '', fileName: 'my shop.jar' },
      ])
      expect(existsSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc'))).toBe(false)
    })

    it('files the app wrote into its release directory (its working directory) are not taken for the jar', async () => {
      // The start command runs in releases/<release>/: apps write logs, pid files, H2 databases there.
      // rollback restarts a release by the file name inspect reports, and a deploy reuses a release
      // only when the names match.
      const root = tempDir()
      const deployDir = join(root, 'app')
      mkdirSync(partialDir(deployDir, 'r1'), { recursive: true })
      writeFileSync(join(partialDir(deployDir, 'r1'), 'shop.jar'), 'jar bytes')
      const finalized = await runScript(finalizeReleaseScript({ deployDir, release: 'r1', fileName: 'shop.jar', sha256: sha256('jar bytes'), uploaded: true, envText: '' }))
      expect(finalized.code).toBe(0)
      writeFileSync(join(deployDir, 'releases', 'r1', 'spring.log'), 'started\n')
      writeFileSync(join(deployDir, 'releases', 'r1', 'application.pid'), '123\n')
      mkdirSync(join(deployDir, 'releases', 'r1', 'tomcat-work'))
      const state = readHostState((await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082])))).answer)
      expect(state.releases).toEqual([{ name: 'r1', sha256: sha256('jar bytes'), fileName: 'shop.jar' }])
    })

    it('reports a running instance from its pid file, and a port something else listens on', async () => {
      const root = tempDir()
      const deployDir = join(root, 'app')
      mkdirSync(join(deployDir, 'run'), { recursive: true })
      const [a, b] = [await freePort(), await freePort()]
      const ours = await listener(a, { detached: true })
      await listener(b)
      writeFileSync(join(deployDir, 'run', `${a}.pid`), `${ours.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${a}.release`), '20260101-000000-aaaaaaaa\n')
      writeFileSync(join(deployDir, 'run', `${b}.pid`), '999999999\n')
      const state = readHostState((await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [a, b])))).answer)
      expect(state.instances).toEqual([
        { port: a, pid: ours.pid, running: true, listening: true, release: '20260101-000000-aaaaaaaa' },
        { port: b, pid: 999999999, running: false, listening: true, release: undefined },
      ])
    })

    it('hostile paths are data, not code', async () => {
      const root = tempDir()
      const deployDir = join(root, "it's $(touch PWNED) `x`")
      const run = await runScript(inspectScript(params(deployDir, join(root, '$(touch PWNED).inc'), [8081, 8082])), { cwd: root })
      expect(run.code).toBe(0)
      expect(run.answer.facts.deploy_dir).toBe(deployDir)
      expect(existsSync(join(root, 'PWNED'))).toBe(false)
      expect(statSync(join(deployDir, 'releases')).isDirectory()).toBe(true)
    })

    it('needJava: reports whether java is on the PATH', async () => {
      const root = tempDir()
      const hasJava = spawnSync('sh', ['-c', 'command -v java']).status === 0
      const run = await runScript(inspectScript({ ...params(join(root, 'app'), join(root, 'x.inc'), [8081, 8082]), needJava: true }))
      expect(readHostState(run.answer).javaFound).toBe(hasJava)
      const noJava = await runScript(inspectScript({ ...params(join(root, 'app'), join(root, 'x.inc'), [8081, 8082]), needJava: true }), {
        env: { ...process.env, PATH: '/nonexistent' },
      })
      // sh itself was found by absolute path; without PATH nothing else is
      expect(noJava.answer.facts.java).toBe('no')
    })
  })

  describe('finalizeReleaseScript', () => {
    const RELEASE = '20260101-000000-3fa2c1d0'
    const JAR = Buffer.from('PK\x03\x04 a jar with bytes \xff\xfe and more'.repeat(100), 'latin1')

    function upload(deployDir: string): void {
      const partial = partialDir(deployDir, RELEASE)
      mkdirSync(partial, { recursive: true })
      writeFileSync(join(partial, 'app.jar'), JAR)
    }

    it('right sha256: the release appears whole, with its sha256 and a 0600 env file holding the env text', async () => {
      const deployDir = tempDir()
      upload(deployDir)
      const envText = envFileText(
        [
          ['DB_PASSWORD', "p@ss'word $(x)"],
          ['URL', 'a=b'],
        ],
        shellQuote,
      )
      const run = await runScript(finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: sha256(JAR), uploaded: true, envText }))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.answer.facts.release).toBe(RELEASE)
      const dir = join(deployDir, 'releases', RELEASE)
      expect(readFileSync(join(dir, 'app.jar'))).toEqual(JAR)
      expect(readFileSync(join(dir, 'sha256'), 'utf8').trim()).toBe(sha256(JAR))
      expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(envText)
      expect(statSync(join(dir, 'env')).mode & 0o777).toBe(0o600)
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([RELEASE])
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(['app.jar', 'env', 'sha256']))
      expect(readdirSync(dir)).not.toContain('.env.new')
    })

    it('wrong sha256: exit 41, the host\'s sha256 reported, and the partial upload removed', async () => {
      const deployDir = tempDir()
      upload(deployDir)
      const run = await runScript(finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: sha256('something else'), uploaded: true, envText: '' }))
      expect(run.code).toBe(41)
      expect(run.answer.facts.error).toBe('sha256_mismatch')
      expect(run.answer.facts.remote_sha256).toBe(sha256(JAR))
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([])
    })

    it('a reused release keeps its jar and gets the new env file, still 0600', async () => {
      const deployDir = tempDir()
      const dir = makeRelease(deployDir, RELEASE, [['OLD', 'old']])
      chmodSync(join(dir, 'env'), 0o644)
      const envText = envFileText([['NEW', 'new value']], shellQuote)
      const run = await runScript(finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: 'unused', uploaded: false, envText }))
      expect(run.code).toBe(0)
      expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(envText)
      expect(statSync(join(dir, 'env')).mode & 0o777).toBe(0o600)
      expect(readFileSync(join(dir, 'app.jar'), 'utf8')).toBe('PK fake jar')
    })

    it('a release whose jar is missing: exit 43', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'releases', RELEASE), { recursive: true })
      const run = await runScript(finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: 'x', uploaded: false, envText: '' }))
      expect(run.code).toBe(43)
      expect(run.answer.facts.error).toBe('release_missing')
    })
  })

  describe('envFileText', () => {
    const HOSTILE: Array<[string, string]> = [
      ['PLAIN', 'value'],
      ['EMPTY', ''],
      ['SPACES', '  two  spaces  '],
      ['QUOTES', `'single' "double" \`back\``],
      ['SUBST', '$(touch PWNED) ${HOME} $HOME'],
      ['ESCAPE', "'\\''; touch PWNED; echo '"],
      ['BACKSLASH', 'C:\\path\\n\\t\\'],
      ['NEWLINE', 'line 1\nline 2\n'],
      ['GLOB', '* ? [a-z]'],
      ['UNICODE', 'héllo ✓ 😀 \u00a0'],
      ['EQ', 'a=b=c'],
      ['HASH', '# not a comment'],
    ]

    it('sourcing the file in sh gives every value back byte for byte, and runs nothing', async () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'env'), envFileText(HOSTILE, shellQuote), { mode: 0o600 })
      for (const [key, value] of HOSTILE) {
        const out = execFileSync('sh', ['-c', `. ./env && printf %s "$${key}"`], { cwd: dir })
        expect(out, key).toEqual(Buffer.from(value))
      }
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)
    })

    it('the values are exported to programs the shell starts', () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'env'), envFileText(HOSTILE, shellQuote))
      const out = execFileSync('sh', ['-c', `. ./env && exec ${shellQuote(process.execPath)} -e 'process.stdout.write(JSON.stringify(process.env))'`], { cwd: dir })
      const env = JSON.parse(out.toString())
      for (const [key, value] of HOSTILE) expect(env[key], key).toBe(value)
    })

    it('no entries: an empty file', () => {
      expect(envFileText([], shellQuote)).toBe('')
    })
  })

  describe('pruneScript', () => {
    it('removes the named releases, but not one a run/*.release file names', async () => {
      const deployDir = tempDir()
      for (const name of ['r1', 'r2', 'r3', 'r4']) makeRelease(deployDir, name)
      writeFileSync(join(deployDir, 'run', '8081.release'), 'r2\n')
      writeFileSync(join(deployDir, 'run', '8082.release'), 'r4\n')
      const run = await runScript(pruneScript({ deployDir, releases: ['r1', 'r2', 'r3', 'not-there', ''] }))
      expect(run.code).toBe(0)
      expect(run.answer.lists.pruned).toEqual(['r1', 'r3'])
      expect(run.answer.lists.kept_running).toEqual(['r2'])
      expect(readdirSync(join(deployDir, 'releases')).sort()).toEqual(['r2', 'r4'])
    })

    it('a release whose name another contains is still pruned (whole-name match)', async () => {
      const deployDir = tempDir()
      for (const name of ['r1', 'r10']) makeRelease(deployDir, name)
      writeFileSync(join(deployDir, 'run', '8081.release'), 'r10\n')
      const run = await runScript(pruneScript({ deployDir, releases: ['r1', 'r10'] }))
      expect(run.answer.lists.pruned).toEqual(['r1'])
      expect(readdirSync(join(deployDir, 'releases'))).toEqual(['r10'])
    })

    it('a missing deploy dir is nothing to prune', async () => {
      const run = await runScript(pruneScript({ deployDir: join(tempDir(), 'nope'), releases: ['r1'] }))
      expect(run.code).toBe(0)
      expect(run.answer.lists.pruned).toBeUndefined()
    })
  })

  describe('freePortScript', () => {
    it('a free port: port=free', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
      expect(run.code).toBe(0)
      expect(run.answer.facts).toEqual({ port: 'free' })
    })

    it('our instance (run/<port>.pid) is stopped and its run files removed', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const ours = await listener(port, { detached: true })
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${ours.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${port}.release`), 'r1\n')
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 5 }))
      expect(run.code, run.stdout).toBe(0)
      // Stopped, or (once its listener closed) left to finish in the background, bounded by stop-timeout.
      expect(run.answer.facts).toMatchObject({ idle_pid: String(ours.pid), port: 'free' })
      expect([run.answer.facts.stopped, run.answer.facts.draining]).toContain(String(ours.pid))
      expect(run.answer.facts.foreign_pid).toBeUndefined()
      expect(await waitUntil(() => !isRunning(ours.pid!))).toBe(true)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
      expect(await portIsFree(port)).toBe(true)
    })

    it('our instance that closes its listener on SIGTERM but lingers: the port is free at once, the rest is killed at stop-timeout', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      // Like a JVM: on SIGTERM it stops listening, then takes its time (here: forever).
      const code = `const s = require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready')); process.on('SIGTERM', () => { s.close(); setInterval(() => {}, 1000) })`
      const lingering = spawn(process.execPath, ['-e', code], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })
      track(lingering.pid)
      await new Promise<void>((resolve) => lingering.stdout!.once('data', () => resolve()))
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${lingering.pid}\n`)
      const started = Date.now()
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ idle_pid: String(lingering.pid), draining: String(lingering.pid), port: 'free' })
      expect(Date.now() - started).toBeLessThan(1500)
      expect(await portIsFree(port)).toBe(true)
      expect(isRunning(lingering.pid!)).toBe(true)
      // The watchdog ends it once stop-timeout has passed.
      expect(await waitUntil(() => !isRunning(lingering.pid!), 6000)).toBe(true)
    })

    it('our instance ignoring SIGTERM is killed after stop-timeout', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const stubborn = await listener(port, { detached: true, ignoreTerm: true })
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${stubborn.pid}\n`)
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 1 }))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ idle_pid: String(stubborn.pid), killed: String(stubborn.pid), port: 'free' })
      expect(run.ms).toBeLessThan(8000) // SIGKILL after ~1 s, not a hang
    })

    it('a foreign listener (in no pid file) is named and stopped', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const foreign = await listener(port)
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 5 }))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.foreign_pid).toBe(String(foreign.pid))
      expect(run.answer.facts.foreign_command).toContain('node')
      expect(run.answer.facts.port).toBe('free')
      expect(await waitUntil(() => !isRunning(foreign.pid!))).toBe(true)
      expect(await portIsFree(port)).toBe(true)
    })

    it('a stale pid file (process gone) is cleared', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      writeFileSync(join(deployDir, 'run', `${port}.pid`), '999999999\n')
      writeFileSync(join(deployDir, 'run', `${port}.release`), 'r1\n')
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
      expect(run.answer.facts).toEqual({ port: 'free' })
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
    })
  })

  describe('startScript', () => {
    it('starts the release detached, with its environment, and reports health=ok', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      const env: Array<[string, string]> = [
        ['SECRET', `it's "quoted" $(touch PWNED) \\ ✓`],
        ['SPACES', '  a  b  '],
      ]
      const dir = makeRelease(deployDir, '20260101-000000-aaaaaaaa', env)
      const run = await runScript(startScript(startParams(deployDir, port, { javaOpts: '-Xmx64m -Dx="a b"', healthExpect: '"status":"UP"' })), { cwd: deployDir })
      const pid = track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
      expect(readFileSync(join(deployDir, 'run', `${port}.pid`), 'utf8').trim()).toBe(String(pid))
      expect(readFileSync(join(deployDir, 'run', `${port}.release`), 'utf8').trim()).toBe('20260101-000000-aaaaaaaa')
      expect(isRunning(pid)).toBe(true)

      const seen = JSON.parse(readFileSync(join(dir, 'seen.json'), 'utf8'))
      expect(seen.cwd).toBe(dir)
      expect(seen.env).toMatchObject({
        PORT: String(port),
        SERVER_PORT: String(port),
        ARTIFACT: join(dir, 'app.jar'),
        APP_NAME: 'shop',
        RELEASE: '20260101-000000-aaaaaaaa',
        JAVA_OPTS: '-Xmx64m -Dx="a b"',
        SECRET: env[0][1],
        SPACES: env[1][1],
      })
      expect(existsSync(join(deployDir, 'PWNED'))).toBe(false)
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)

      // detached: its own session and process group, stdin from /dev/null, output to logs/<port>.log
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const [, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      expect(Number(pgrp)).toBe(pid)
      expect(Number(session)).toBe(pid)
      expect(execFileSync('readlink', [`/proc/${pid}/fd/0`]).toString().trim()).toBe('/dev/null')
      const log = readFileSync(join(deployDir, 'logs', `${port}.log`), 'utf8')
      expect(log).toMatch(/--- 2026-01-01T12:34:56Z starting release 20260101-000000-aaaaaaaa on port/)
      expect(log).toContain(`app: listening on ${port}`)
      expect(readdirSync(join(deployDir, 'run')).sort()).toEqual([`${port}.pid`, `${port}.release`])
    })

    it('a start command that exits: exit 52 at once, the last 50 lines of its log shown, nothing left running', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, '20260101-000000-aaaaaaaa')
      const startCommand = 'i=1; while [ $i -le 80 ]; do echo "line $i"; i=$((i+1)); done; echo "boom: no database at $PORT" >&2; exit 1'
      const run = await runScript(startScript(startParams(deployDir, port, { startCommand, healthTimeoutSeconds: 30 })))
      if (run.answer.facts.pid) trackGroup(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(INSTANCE_EXIT.exited)
      expect(run.answer.facts.health).toBe('exited')
      const log = run.answer.sections.log.split('\n')
      expect(log).toHaveLength(50)
      expect(log[0]).toBe('line 32')
      expect(log[49]).toBe(`boom: no database at ${port}`)
      expect(run.ms).toBeLessThan(10_000) // at once, not after health-timeout (30 s)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
    })

    it('polls at once when the new instance opens its port, not at the next health-interval', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['LISTEN_DELAY_MS', '800']])
      const run = await runScript(startScript(startParams(deployDir, port, { healthIntervalSeconds: 6 })))
      track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
      // The first poll (at the start) finds nothing listening; the next tick would be 6 s later.
      expect(run.ms).toBeLessThan(5_000)
    })

    it('a process that never answers 2xx: exit 53 after health-timeout, the process stopped', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['HEALTH_STATUS', '503']])
      const run = await runScript(startScript(startParams(deployDir, port, { healthTimeoutSeconds: 2 })))
      const pid = trackGroup(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(INSTANCE_EXIT.unhealthy)
      expect(run.answer.facts.health).toBe('timeout')
      expect(run.answer.facts.last_status).toBe('503')
      expect(run.answer.sections.log).toContain(`app: listening on ${port}`)
      expect(run.ms).toBeLessThan(10_000)
      expect(await waitUntil(() => !isRunning(pid))).toBe(true)
      expect(await portIsFree(port)).toBe(true)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
    })

    // The default start-command, `java $JAVA_OPTS -jar ...`, has no `exec`: the app runs as a child
    // of `sh -c`, which leads the process group. Stopping must reach the app, not only that sh.
    const NO_EXEC_APP = `${shellQuote(process.execPath)} server.js`

    it('start command without exec: a failed health check stops the app itself, not only its sh', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1', [['HEALTH_STATUS', '503']])
      const run = await runScript(startScript(startParams(deployDir, port, { release: 'r1', startCommand: NO_EXEC_APP, healthTimeoutSeconds: 1, stopTimeoutSeconds: 2 })))
      trackGroup(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(INSTANCE_EXIT.unhealthy)
      expect(await waitUntil(() => portIsFree(port), 1500)).toBe(true)
    })

    it('start command without exec: stop stops the app with SIGTERM, within the stop timeout', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const start = await runScript(startScript(startParams(deployDir, port, { release: 'r1', startCommand: NO_EXEC_APP })))
      track(Number(start.answer.facts.pid))
      expect(start.answer.facts.health).toBe('ok')
      const stop = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 3 }))
      expect(stop.answer.facts.stopped, stop.stdout).toBe(start.answer.facts.pid)
      expect(stop.answer.facts.killed).toBeUndefined()
      expect(await waitUntil(() => portIsFree(port), 1500)).toBe(true)
    })

    it('start command without exec: freeing the port stops our app as ours, not as a foreign process', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const start = await runScript(startScript(startParams(deployDir, port, { release: 'r1', startCommand: NO_EXEC_APP })))
      track(Number(start.answer.facts.pid))
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ idle_pid: start.answer.facts.pid, port: 'free' })
      expect([run.answer.facts.stopped, run.answer.facts.draining]).toContain(start.answer.facts.pid)
      expect(run.answer.facts.foreign_pid).toBeUndefined()
    })

    it('a start command that forks into the background is tracked by its process group', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const run = await runScript(startScript(startParams(deployDir, port, { release: 'r1', startCommand: `${shellQuote(process.execPath)} server.js & sleep 0.2` })))
      const leader = track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
      const seen = JSON.parse(readFileSync(join(deployDir, 'releases', 'r1', 'seen.json'), 'utf8'))
      expect(seen.env.PORT).toBe(String(port))
      const inspected = readHostState((await runScript(inspectScript({ deployDir, include: join(deployDir, 'x.inc'), ports: [port, port + 1], prepare: false, needJava: false }))).answer)
      expect(inspected.instances[0]).toMatchObject({ port, pid: leader, running: true, listening: true })
      const stop = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 2 }))
      expect(stop.code).toBe(0)
      expect(await waitUntil(() => portIsFree(port), 1500)).toBe(true)
    })

    it('health-expect: a 2xx body without the expected text is not healthy', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, '20260101-000000-aaaaaaaa')
      const run = await runScript(startScript(startParams(deployDir, port, { healthTimeoutSeconds: 4, healthExpect: '"status":"DOWN"' })))
      const pid = trackGroup(Number(run.answer.facts.pid))
      expect(run.code).toBe(INSTANCE_EXIT.unhealthy)
      expect(run.answer.facts.last_status).toBe('200')
      expect(run.answer.facts.last_body).toContain('"status":"UP"')
      expect(await waitUntil(() => !isRunning(pid))).toBe(true)
    })
  })

  describe('probeScript and stopScript', () => {
    it('probe: ok for a healthy port, fail with 000 for a closed one', async () => {
      const deployDir = tempDir()
      const [up, down] = [await freePort(), await freePort()]
      makeRelease(deployDir, 'r1')
      const start = await runScript(startScript(startParams(deployDir, up, { release: 'r1' })))
      track(Number(start.answer.facts.pid))
      expect(start.code).toBe(0)
      const run = await runScript(probeScript({ ports: [up, down], healthPath: '/actuator/health', healthExpect: 'UP' }))
      expect(run.answer.lists.probe).toEqual([`${up} 200 ok`, `${down} 000 fail`])
      const expectMissing = await runScript(probeScript({ ports: [up], healthPath: '/actuator/health', healthExpect: 'DOWN' }))
      expect(expectMissing.answer.lists.probe).toEqual([`${up} 200 fail`])
    })

    it('stop: stops the instance on the port and clears its run files; nothing there is stopped=none', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const start = await runScript(startScript(startParams(deployDir, port, { release: 'r1' })))
      const pid = track(Number(start.answer.facts.pid))
      const run = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 5 }))
      expect(run.answer.facts.stopped).toBe(String(pid))
      expect(await waitUntil(() => !isRunning(pid))).toBe(true)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
      const again = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 5 }))
      expect(again.answer.facts.stopped).toBe('none')
    })
  })

  describe('on a host with wget and no curl', () => {
    let path: string
    beforeAll(() => {
      // PATH: every tool of this machine except curl
      const bin = tempDir('zdd-nocurl-')
      for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
        if (!existsSync(dir)) continue
        for (const name of readdirSync(dir)) {
          if (name === 'curl' || existsSync(join(bin, name))) continue
          symlinkSync(join(dir, name), join(bin, name))
        }
      }
      symlinkSync(process.execPath, join(bin, 'node-for-tests'))
      path = bin
    })
    const noCurl = () => ({ env: { ...process.env, PATH: path } })

    it.skipIf(!existsSync('/usr/bin/wget'))('inspect reports http=wget; probe reads status codes through wget', async () => {
      const root = tempDir()
      const inspected = await runScript(inspectScript({ deployDir: join(root, 'app'), include: join(root, 'x.inc'), ports: [8081, 8082], prepare: false, needJava: false }), noCurl())
      expect(inspected.answer.facts.http).toBe('wget')
      const [ok, unhealthy, closed] = [await freePort(), await freePort(), await freePort()]
      for (const [port, status] of [
        [ok, 200],
        [unhealthy, 503],
      ]) {
        const child = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => { s.writeHead(${status}); s.end('{"status":"UP"}') }).listen(${port}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'ignore'] })
        track(child.pid)
        await new Promise((resolve) => child.stdout!.once('data', resolve))
      }
      const run = await runScript(probeScript({ ports: [ok, unhealthy, closed], healthPath: '/actuator/health', healthExpect: 'UP' }), noCurl())
      expect(run.answer.lists.probe).toEqual([`${ok} 200 ok`, `${unhealthy} 503 fail`, `${closed} 000 fail`])
    })
  })

  describe('acquireLockScript and releaseLockScript', () => {
    const acquire = (deployDir: string, owner: string, timeoutSeconds = 5) => acquireLockScript({ deployDir, owner, since: new Date(), timeoutSeconds })
    const shells: LocalShell[] = []
    const shell = () => {
      const s = new LocalShell()
      shells.push(s)
      return s
    }
    afterAll(async () => {
      await Promise.all(shells.splice(0).map((s) => s.close()))
    })

    it('takes <deploy-dir>/.lock for the session, names its owner, and releases it', async () => {
      const deployDir = join(tempDir(), 'app')
      const session = shell()
      const held = await session.run(acquire(deployDir, 'owner=run 42 by alice'))
      expect(held.code).toBe(0)
      expect(held.answer.facts).toMatchObject({ lock: 'held', deploy_dir: deployDir })
      expect(readFileSync(join(deployDir, '.lock', 'owner'), 'utf8')).toContain('owner=run 42 by alice')
      expect(readFileSync(join(deployDir, '.lock', 'pid'), 'utf8').trim()).toBe(String(session.pid))
      const released = await session.run(releaseLockScript({ deployDir }))
      expect(released.answer.facts.lock).toBe('released')
      expect(existsSync(join(deployDir, '.lock'))).toBe(false)
    })

    it('a second run waits, then gives up after lock-timeout naming the owner (exit 31)', async () => {
      const deployDir = join(tempDir(), 'app')
      const first = shell()
      expect((await first.run(acquire(deployDir, 'owner=first run'))).answer.facts.lock).toBe('held')
      const second = await shell().run(acquire(deployDir, 'owner=second', 1))
      expect(second.code).toBe(31)
      expect(second.answer.facts.lock).toBe('timeout')
      expect(second.answer.lists.lock).not.toContain('held')
      expect(second.answer.facts.owner).toContain('owner=first run')
      expect(second.ms).toBeLessThan(8000)
      expect(readFileSync(join(deployDir, '.lock', 'owner'), 'utf8')).toContain('owner=first run')
    })

    it('another session cannot release a lock it does not hold', async () => {
      const deployDir = join(tempDir(), 'app')
      await shell().run(acquire(deployDir, 'owner=first run'))
      await shell().run(releaseLockScript({ deployDir }))
      expect(existsSync(join(deployDir, '.lock'))).toBe(true)
    })

    it('the waiting run gets the lock as soon as the holder releases it', async () => {
      const deployDir = join(tempDir(), 'app')
      const first = shell()
      await first.run(acquire(deployDir, 'owner=first run'))
      // lock-timeout 60 s: were the release missed, the test would time out
      const waiting = shell().run(acquire(deployDir, 'owner=second run', 60))
      await new Promise((r) => setTimeout(r, 400))
      await first.run(releaseLockScript({ deployDir }))
      const second = await waiting
      expect(second.answer.lists.lock).toEqual(['waiting', 'held'])
      expect(second.answer.facts.stale_owner).toBeUndefined()
    })

    it('a lock whose session has ended is stale: taken over, and its owner named', async () => {
      const deployDir = join(tempDir(), 'app')
      const first = new LocalShell()
      await first.run(acquire(deployDir, 'owner=crashed run'))
      await first.close() // the connection died without releasing the lock
      const second = await shell().run(acquire(deployDir, 'owner=new run', 2))
      expect(second.code).toBe(0)
      expect(second.answer.facts.lock).toBe('held')
      expect(second.answer.facts.stale_owner).toContain('owner=crashed run')
      expect(readFileSync(join(deployDir, '.lock', 'owner'), 'utf8')).toContain('owner=new run')
    })

    it('a deploy-dir that cannot be created: exit 30, naming it', async () => {
      const root = tempDir()
      writeFileSync(join(root, 'file'), '')
      const run = await runScript(acquire(join(root, 'file', 'app'), 'owner=x'))
      expect(run.code).toBe(30)
      expect(run.answer.facts).toMatchObject({ error: 'deploy_dir_unwritable', deploy_dir: join(root, 'file', 'app') })
    })
  })

  // ---------------------------------------------------------------------------------------------

  describe('switchScript with test/reload commands that touch no nginx', () => {
    const base = (include: string, overrides: Partial<SwitchParams> = {}): SwitchParams => ({
      include,
      content: 'set $service_url http://127.0.0.1:8082;',
      testCommand: 'true',
      reloadCommand: 'true',
      masterHint: '',
      verifyUrl: '',
      verifyTimeoutSeconds: 1,
      intervalSeconds: 0.1,
      reloadTimeoutSeconds: 1,
      ...overrides,
    })
    const ODD = Buffer.concat([Buffer.from("set $service_url http://127.0.0.1:8081;\r\n# 'odd' bytes:"), Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x09]), Buffer.from('\n\n  ')])

    function nginxMastersVisible(): boolean {
      return spawnSync('sh', ['-c', "grep -a -l -F 'nginx: master process' /proc/[0-9]*/cmdline"]).stdout.length > 0
    }

    it('success: writes the include (template text and a newline), leaves no temporary files', async (context) => {
      if (nginxMastersVisible()) context.skip() // an nginx on this machine would be watched for the reload
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const run = await runScript(switchScript(base(include)))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ reload: 'unobserved', switched: 'yes' })
      expect(readFileSync(include, 'utf8')).toBe('set $service_url http://127.0.0.1:8082;\n')
      expect(leftovers(dir)).toEqual([])
    })

    it('a failing test command: the old include is restored byte for byte (mode too), exit 61, its output shown', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      chmodSync(include, 0o640)
      const run = await runScript(switchScript(base(include, { testCommand: 'echo "nginx: [emerg] unknown directive" >&2; false' })))
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(run.answer.facts.error).toBe('nginx_test')
      expect(run.answer.sections.test_output).toContain('nginx: [emerg] unknown directive')
      expect(readFileSync(include)).toEqual(ODD)
      expect(statSync(include).mode & 0o777).toBe(0o640)
      expect(leftovers(dir)).toEqual([])
    })

    it('a failing test command with no include before: the include is removed again', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      const run = await runScript(switchScript(base(include, { testCommand: 'false' })))
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(existsSync(include)).toBe(false)
      expect(leftovers(dir)).toEqual([])
    })

    it('the test command sees the new include in place', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const run = await runScript(switchScript(base(include, { testCommand: `grep -q 8082 ${shellQuote(include)}` , reloadCommand: 'exit 3' })))
      // the test passed (it saw 8082), so the reload ran and failed
      expect(run.code).toBe(SWITCH_EXIT.reloadFailed)
    })

    it('a failing reload command: the old include is restored byte for byte, exit 62, its output shown', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const run = await runScript(switchScript(base(include, { reloadCommand: 'echo "reload broke"; exit 1' })))
      expect(run.code).toBe(SWITCH_EXIT.reloadFailed)
      expect(run.answer.facts.error).toBe('reload_failed')
      expect(run.answer.sections.reload_output).toContain('reload broke')
      expect(readFileSync(include)).toEqual(ODD)
      expect(leftovers(dir)).toEqual([])
    })

    it('hostile content and commands are data until the commands run', async () => {
      const dir = tempDir()
      const include = join(dir, "it's $(touch PWNED).inc")
      const content = "set $service_url http://127.0.0.1:8082; # '$(touch PWNED)' `touch PWNED`"
      const run = await runScript(switchScript(base(include, { content, testCommand: 'false' })), { cwd: dir })
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)
    })
  })
})

// A private nginx (if installed): the switch against the real thing, watched through /proc.
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((path) => existsSync(path))

describe.skipIf(!NGINX)('switchScript against a private nginx', { timeout: 30_000 }, () => {
  let dir: string
  let include: string
  let nginxPort: number
  let backends: number[]
  let nginxArgs: string
  const backendProcesses: ChildProcess[] = []
  const template = 'set $service_url http://127.0.0.1:{port};'

  /** One request through nginx, on a fresh connection. */
  function viaNginx(): Promise<string> {
    return new Promise((resolve) => {
      const request = get({ host: '127.0.0.1', port: nginxPort, path: '/', agent: false }, (response) => {
        let body = ''
        response.on('data', (chunk) => (body += chunk))
        response.on('end', () => resolve(`${response.statusCode} ${body}`))
      })
      request.on('error', (error) => resolve(`no answer: ${error.message}`))
    })
  }

  const params = (port: number, overrides: Partial<SwitchParams> = {}): SwitchParams => {
    const reloadCommand = `${NGINX} ${nginxArgs} -s reload`
    return {
      include,
      content: renderInclude(template, port),
      testCommand: `${NGINX} ${nginxArgs} -t`,
      reloadCommand,
      masterHint: nginxMasterHint(reloadCommand),
      verifyUrl: '',
      verifyTimeoutSeconds: 2,
      intervalSeconds: 0.1,
      reloadTimeoutSeconds: 5,
      ...overrides,
    }
  }

  beforeAll(async () => {
    dir = tempDir('zdd-nginx-')
    include = join(dir, 'conf.d', 'service-url.inc')
    mkdirSync(dirname(include))
    mkdirSync(join(dir, 'logs'))
    nginxPort = await freePort()
    backends = [await freePort(), await freePort()]
    for (const port of backends) {
      const child = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => s.end('backend ${port}')).listen(${port}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'ignore'] })
      await new Promise((resolve) => child.stdout!.once('data', resolve))
      backendProcesses.push(child) // they live for the whole describe; killed in afterAll
    }
    writeFileSync(include, `${renderInclude(template, backends[0])}\n`)
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp-body; proxy_temp_path ${dir}/tmp-proxy; fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi; scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen 127.0.0.1:${nginxPort};
    location / { include ${include}; proxy_pass $service_url; }
  }
}
`,
    )
    nginxArgs = `-p ${dir}/ -c ${dir}/nginx.conf -e ${dir}/logs/error.log`
    execFileSync(NGINX!, nginxArgs.split(' '), { stdio: 'ignore' })
    expect(await waitUntil(() => existsSync(join(dir, 'nginx.pid')))).toBe(true)
  })

  afterAll(() => {
    try {
      const master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim())
      if (master > 0) process.kill(master, 'SIGQUIT')
    } catch {
      // not started
    }
    for (const child of backendProcesses) child.kill('SIGKILL')
  })

  it('switches traffic to the other port, and sees the reload taken', async () => {
    expect(await viaNginx()).toBe(`200 backend ${backends[0]}`)
    const run = await runScript(switchScript(params(backends[1])))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', switched: 'yes' })
    expect(await viaNginx()).toBe(`200 backend ${backends[1]}`)
    expect(readFileSync(include, 'utf8')).toBe(`${renderInclude(template, backends[1])}\n`)
    expect(leftovers(dirname(include))).toEqual([])
  })

  it('nginx -t rejecting the new include: the old one is back byte for byte and traffic never moved', async () => {
    const before = readFileSync(include)
    const served = await viaNginx()
    const run = await runScript(switchScript(params(backends[0], { content: 'this is not nginx configuration;' })))
    expect(run.code).toBe(SWITCH_EXIT.testFailed)
    expect(run.answer.sections.test_output).toMatch(/unknown directive|emerg/)
    expect(readFileSync(include)).toEqual(before)
    expect(await viaNginx()).toBe(served)
    expect(leftovers(dirname(include))).toEqual([])
  })

  it('verify-url answering 2xx: verify=ok', async () => {
    const target = readFileSync(include, 'utf8').includes(`:${backends[0]};`) ? backends[1] : backends[0]
    const run = await runScript(switchScript(params(target, { verifyUrl: `http://127.0.0.1:${nginxPort}/` })))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ verify: 'ok', switched: 'yes' })
    expect(await viaNginx()).toBe(`200 backend ${target}`)
  })

  it('verify-url failing after the switch: the old include is put back, nginx reloaded, exit 64', async () => {
    const before = readFileSync(include)
    const served = await viaNginx()
    const deadPort = await freePort()
    const run = await runScript(switchScript(params(deadPort, { verifyUrl: `http://127.0.0.1:${nginxPort}/`, verifyTimeoutSeconds: 1 })))
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.verifyFailed)
    expect(run.answer.facts).toMatchObject({ verify: 'failed', verify_status: '502', rolled_back: 'yes' })
    expect(readFileSync(include)).toEqual(before)
    expect(await viaNginx()).toBe(served)
    expect(leftovers(dirname(include))).toEqual([])
  })
})
