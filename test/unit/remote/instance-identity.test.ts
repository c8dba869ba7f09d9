/**
 * Which process is ours: a pid file is believed only for the process it recorded (pids are
 * reused), health counts only when our instance is the one listening, and a detached instance
 * keeps none of the session's pipes open. Run by a local `sh` in temporary directories.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { DeployConfig } from '../../../src/config/inputs.js'
import { readHostState } from '../../../src/deploy/host-state.js'
import type { HostReport } from '../../../src/deploy/report.js'
import { type HostRun, startAndCheckHealth } from '../../../src/deploy/steps.js'
import { inspectScript } from '../../../src/remote/host.js'
import { INSTANCE_EXIT, freePortScript, startScript, stopScript } from '../../../src/remote/instance.js'
import { shellScript } from '../../../src/remote/quote.js'
import { SHELL_LIB } from '../../../src/remote/shell-lib.js'
import { RemoteCommandError, type RemoteHost } from '../../../src/ssh/transport.js'
import {
  LocalShell,
  cleanUpAfterAll,
  freePort,
  isRunning,
  makeRelease,
  runScript,
  startParams,
  startTimeOf,
  tempDir,
  track,
  trackGroup,
  waitUntil,
} from './local-host.js'

cleanUpAfterAll()

const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()

/** A process that is not an instance: `sleep`, leading its own process group, in `cwd`. */
async function unrelatedProcess(cwd = tmpdir(), argv = ['sleep', '60']): Promise<number> {
  const child = spawn(argv[0], argv.slice(1), { cwd, detached: true, stdio: 'ignore' })
  const pid = track(child.pid)
  await waitUntil(() => startTimeOf(pid) !== undefined)
  return pid
}

/** run/<port>.pid and run/<port>.release as a start wrote them; `identity` false: as earlier versions did (pid only). */
function record(deployDir: string, port: number, pid: number, release: string | undefined, identity: string | false): void {
  writeFileSync(join(deployDir, 'run', `${port}.pid`), identity === false ? `${pid}\n` : `${pid}\n${identity}\n`)
  if (release) writeFileSync(join(deployDir, 'run', `${port}.release`), `${release}\n`)
}

const identityOf = (pid: number) => `boot=${BOOT_ID} start=${startTimeOf(pid)}`

describe.concurrent('instance identity, run by a local sh', { timeout: 30_000 }, () => {
  describe('find_instance: a pid file is believed only for the process it recorded', () => {
    const findInstance = async (deployDir: string, port: number) =>
      (
        await runScript(
          shellScript(
            { DIR: deployDir, PORT: port },
            `${SHELL_LIB}\ncd -- "$DIR" || exit 9\nif find_instance "$PORT"; then echo "ours=$INSTANCE_PID"; fi\nexit 0`,
          ),
        )
      ).answer.facts

    const cases: Array<{
      name: string
      where: 'release' | 'inside' | 'neighbour' | 'elsewhere'
      identity: (pid: number) => string | false
      release?: string
      argv?: (releaseDir: string) => string[]
      ours: boolean
    }> = [
      { name: 'its recorded identity, in its release directory: ours', where: 'release', identity: identityOf, ours: true },
      {
        name: 'another start time (the pid was reused): stale',
        where: 'release',
        identity: (pid) => `boot=${BOOT_ID} start=${Number(startTimeOf(pid)) - 1}`,
        ours: false,
      },
      {
        name: 'another boot (the host rebooted): stale',
        where: 'release',
        identity: (pid) => `boot=00000000-0000-0000-0000-000000000000 start=${startTimeOf(pid)}`,
        ours: false,
      },
      { name: 'its identity, but not running the release: stale', where: 'elsewhere', identity: identityOf, ours: false },
      { name: 'its identity, in a directory inside its release (httpd -h www): ours', where: 'inside', identity: identityOf, ours: true },
      {
        name: 'its identity, in a release whose name begins with its own (r1 and r10): stale',
        where: 'neighbour',
        identity: identityOf,
        ours: false,
      },
      { name: 'pid only (an earlier version), in its release directory: ours', where: 'release', identity: () => false, ours: true },
      {
        name: 'pid only, elsewhere, with the release directory on its command line: ours',
        where: 'elsewhere',
        identity: () => false,
        argv: (dir) => ['sh', '-c', 'sleep 60; :', join(dir, 'app.jar')],
        ours: true,
      },
      { name: 'pid only, elsewhere: stale', where: 'elsewhere', identity: () => false, ours: false },
      {
        name: 'pid only, and no run/<port>.release to check it against: stale',
        where: 'release',
        identity: () => false,
        release: '',
        ours: false,
      },
    ]
    for (const c of cases) {
      it(c.name, async () => {
        const deployDir = tempDir()
        const port = await freePort()
        const releaseDir = makeRelease(deployDir, 'r1')
        const cwd = {
          release: releaseDir,
          inside: join(releaseDir, 'www'),
          neighbour: makeRelease(deployDir, 'r10'),
          elsewhere: tmpdir(),
        }[c.where]
        if (c.where === 'inside') mkdirSync(cwd)
        const pid = await unrelatedProcess(cwd, c.argv?.(releaseDir))
        record(deployDir, port, pid, c.release ?? 'r1', c.identity(pid))
        const facts = await findInstance(deployDir, port)
        expect(facts).toEqual(c.ours ? { ours: String(pid) } : { stale_pid: `${port} ${pid}` })
        expect(isRunning(pid)).toBe(true)
      })
    }

    it('a pid whose process is gone: neither ours nor stale', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      record(deployDir, port, 999999999, 'r1', `boot=${BOOT_ID} start=1`)
      expect(await findInstance(deployDir, port)).toEqual({})
    })
  })

  // A pid file naming a live process that is not ours, as after a reboot or a long-dead instance:
  // in the format this version writes (identity of the old instance), and in the older one.
  for (const format of ['with identity', 'pid only'] as const) {
    const staleRecord = async (deployDir: string, port: number): Promise<number> => {
      makeRelease(deployDir, 'r1')
      const stranger = await unrelatedProcess()
      record(deployDir, port, stranger, 'r1', format === 'pid only' ? false : `boot=${BOOT_ID} start=1`)
      return stranger
    }

    describe(`a pid file (${format}) naming an unrelated live process`, () => {
      it('free-port: reports it stale, signals nothing, clears the record and frees the port', async () => {
        const deployDir = tempDir()
        const port = await freePort()
        const stranger = await staleRecord(deployDir, port)
        const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
        expect(run.code, run.stdout).toBe(0)
        expect(run.answer.facts).toEqual({ stale_pid: `${port} ${stranger}`, port: 'free' })
        await new Promise((resolve) => setTimeout(resolve, 300))
        expect(isRunning(stranger)).toBe(true)
        expect(readdirSync(join(deployDir, 'run'))).toEqual([])
      })

      it('stop: reports it stale, signals nothing even after the drain, and clears the record', async () => {
        const deployDir = tempDir()
        const port = await freePort()
        const stranger = await staleRecord(deployDir, port)
        const run = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 2 }))
        expect(run.code, run.stdout).toBe(0)
        expect(run.answer.facts).toEqual({ stale_pid: `${port} ${stranger}`, stopped: 'none' })
        await new Promise((resolve) => setTimeout(resolve, 300))
        expect(isRunning(stranger)).toBe(true)
        expect(readdirSync(join(deployDir, 'run'))).toEqual([])
      })

      it('inspect: the port runs nothing of ours, and the record is stale', async () => {
        const deployDir = tempDir()
        const [port, other] = [await freePort(), await freePort()]
        const stranger = await staleRecord(deployDir, port)
        const run = await runScript(
          inspectScript({
            deployDir,
            include: join(deployDir, 'x.inc'),
            ports: [port, other],
            prepare: false,
            checkListeners: true,
            needJava: false,
          }),
        )
        expect(readHostState(run.answer).instances).toEqual([
          { port, pid: stranger, running: false, listening: false, release: 'r1', stalePid: stranger },
          { port: other, pid: undefined, running: false, listening: false, release: undefined },
        ])
        expect(isRunning(stranger)).toBe(true)
        // Inspect changes nothing.
        expect(readdirSync(join(deployDir, 'run')).sort()).toEqual([`${port}.pid`, `${port}.release`])
      })
    })
  }

  describe('health counts only when our instance is the one listening', () => {
    /** Another process answering 200 on `port`: not started by the run. */
    async function strangerServing(port: number): Promise<ChildProcess> {
      const code = `require('http').createServer((q, s) => { s.writeHead(200); s.end('{"status":"UP"}') }).listen(${port}, '127.0.0.1', () => console.log('ready'))`
      const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] })
      track(child.pid)
      await new Promise((resolve) => child.stdout!.once('data', resolve))
      return child
    }

    it('another process answers 2xx on the port while ours runs but does not listen: not healthy, ours stopped, the other named', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const stranger = await strangerServing(port)
      const run = await runScript(startScript(startParams(deployDir, port, { release: 'r1', startCommand: 'exec sleep 60' })))
      const ours = trackGroup(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(INSTANCE_EXIT.notOurs)
      expect(run.answer.facts).toMatchObject({ health: 'not_ours', holder_pid: String(stranger.pid), holder_program: 'node' })
      expect(await waitUntil(() => !isRunning(ours))).toBe(true)
      expect(isRunning(stranger.pid!)).toBe(true)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
    })

    it('the start step says that a process not started by this run holds the port', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const stranger = await strangerServing(port)
      const warnings: string[] = []
      const run: HostRun = {
        config: {
          appName: 'shop',
          javaOpts: '',
          startCommand: 'exec sleep 60',
          health: { path: '/actuator/health', timeoutSeconds: 10, intervalSeconds: 0.1, expect: '' },
          stopTimeoutSeconds: 5,
        } as DeployConfig,
        remote: localRemote(),
        log: { info: () => undefined, warning: (m) => warnings.push(m), group: (_t, work) => work() },
        report: {} as HostReport,
        state: { deployDir } as HostRun['state'],
      }
      const error = await startAndCheckHealth(run, port, 'r1', 'app.jar').catch((e: Error) => e)
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).message).toMatch(
        new RegExp(
          `^health check: .* answered 2xx, but a process not started by this run holds port ${port} \\(pid ${stranger.pid}, node\\)`,
        ),
      )
      expect((error as Error).message).toContain('nginx still serves the old version')
    })

    it('our instance listening through a child of its shell (no exec) is ours: healthy', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const run = await runScript(
        startScript(startParams(deployDir, port, { release: 'r1', startCommand: `${JSON.stringify(process.execPath)} server.js` })),
      )
      track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
    })
  })

  describe("the session's fd 3 (its output pipe) stays with the session", () => {
    /** The pipe the local shell writes its output to, as /proc names it. */
    const outputPipe = (shell: LocalShell) => readlinkSync(`/proc/${shell.pid}/fd/1`)
    const withFd3 = (script: string) => `{\n${script}\n} 3>&1`
    /** Resolves true once the shell's output has ended (every holder of the pipe closed it) within `ms`. */
    const closesWithin = (shell: LocalShell, ms: number) =>
      Promise.race([shell.close().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])

    it('the started instance holds no descriptor of the pipe, and the session ends while it runs', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const shell = new LocalShell()
      const run = await shell.run(withFd3(startScript(startParams(deployDir, port, { release: 'r1' }))))
      const pid = track(Number(run.answer.facts.pid))
      expect(run.answer.facts.health, run.stdout).toBe('ok')
      const pipe = outputPipe(shell)
      expect(pipe).toMatch(/^(pipe|socket):/)
      const held = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === pipe
        } catch {
          return false
        }
      })
      expect(held).toEqual([])
      expect(await closesWithin(shell, 3000)).toBe(true)
      expect(isRunning(pid)).toBe(true)
    })

    it("free-port's watchdog over an instance that lingers does not keep the session open", async () => {
      const deployDir = tempDir()
      const port = await freePort()
      // Like a JVM: on SIGTERM it stops listening, then takes its time (here: forever).
      const code = `const s = require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready')); process.on('SIGTERM', () => { s.close(); setInterval(() => {}, 1000) })`
      const lingering = spawn(process.execPath, ['-e', code], {
        detached: true,
        cwd: makeRelease(deployDir, 'r1'),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      track(lingering.pid)
      await new Promise((resolve) => lingering.stdout!.once('data', resolve))
      record(deployDir, port, lingering.pid!, 'r1', identityOf(lingering.pid!))
      const shell = new LocalShell()
      const run = await shell.run(withFd3(freePortScript({ deployDir, port, stopTimeoutSeconds: 10 })))
      expect(run.answer.facts, run.stdout).toMatchObject({ draining: String(lingering.pid), port: 'free' })
      // The watchdog waits for stop-timeout (10 s); the session must not wait with it.
      expect(await closesWithin(shell, 3000)).toBe(true)
      expect(isRunning(lingering.pid!)).toBe(true)
      expect(await waitUntil(() => !isRunning(lingering.pid!), 15_000)).toBe(true)
    })
  })
})

/** The run's remote host, played by local shells: the scripts run for real, only SSH is left out. */
function localRemote(): RemoteHost {
  return {
    entry: { username: process.env.USER ?? 'root', label: 'local' },
    run: async (script: string, options: { step: string }) => {
      const result = await runScript(script)
      if (result.code !== 0) throw new RemoteCommandError(options.step, result)
      return result
    },
  } as unknown as RemoteHost
}
