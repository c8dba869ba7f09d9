/**
 * Freeing a port, starting a release and checking its health, stopping it (src/remote/instance.ts),
 * run by a local `sh` in temporary directories: what they do on a host, without SSH.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { readHostState } from '../../../src/deploy/host-state.js'
import { inspectScript } from '../../../src/remote/host.js'
import { INSTANCE_EXIT, PORT_HELD_EXIT, freePortScript, probeScript, startScript, stopScript } from '../../../src/remote/instance.js'
import { shellQuote } from '../../../src/remote/quote.js'
import {
  runScript,
  tempDir,
  track,
  trackGroup,
  isRunning,
  waitUntil,
  freePort,
  portIsFree,
  listener,
  makeRelease,
  startParams,
  startTimeOf,
  cleanUpAfterAll,
  NODE_APP,
  userlandWithout,
} from './local-host.js'

cleanUpAfterAll()

/**
 * Puts in `bin` a wrapper for `program` (when the host has it) that notes each call, then runs the
 * real one. Returns how many times it was called so far, or undefined without the program.
 */
function countCalls(bin: string, program: string): (() => number) | undefined {
  const real = execFileSync('sh', ['-c', `command -v ${program} || true`], { encoding: 'utf8' }).trim()
  if (!real) return undefined
  const calls = join(bin, `${program}-calls`)
  writeFileSync(join(bin, program), `#!/bin/sh\necho called >> ${shellQuote(calls)}\nexec ${shellQuote(real)} "$@"\n`, { mode: 0o755 })
  return () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0)
}

describe.concurrent('instance scripts, run by a local sh', { timeout: 30_000 }, () => {
  describe('freePortScript', () => {
    it('a free port: port=free', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 2 }))
      expect(run.code).toBe(0)
      expect(run.answer.facts).toEqual({ port: 'free' })
    })

    // These pid files hold only the pid, as earlier versions wrote them: a process that runs in the
    // release directory named by run/<port>.release is still recognised as ours.
    it('our instance (run/<port>.pid) is stopped and its run files removed', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      const ours = await listener(port, { detached: true, cwd: makeRelease(deployDir, 'r1') })
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${ours.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${port}.release`), 'r1\n')
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 5 }))
      expect(run.code, run.stdout).toBe(0)
      // Stopped, or (once its listener closed) left to finish in the background, bounded by stop-timeout.
      expect(run.answer.facts).toMatchObject({ idle_pid: String(ours.pid), port: 'free' })
      expect([run.answer.facts.stopped, run.answer.facts.draining]).toContain(String(ours.pid))
      expect(run.answer.facts.holder_pid).toBeUndefined()
      expect(await waitUntil(() => !isRunning(ours.pid!))).toBe(true)
      expect(readdirSync(join(deployDir, 'run'))).toEqual([])
      expect(await portIsFree(port)).toBe(true)
    })

    it('our instance that closes its listener on SIGTERM but lingers: the port is free at once, the rest is killed at stop-timeout', async () => {
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
      await new Promise<void>((resolve) => lingering.stdout!.once('data', () => resolve()))
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${lingering.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${port}.release`), 'r1\n')
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
      const port = await freePort()
      const stubborn = await listener(port, { detached: true, ignoreTerm: true, cwd: makeRelease(deployDir, 'r1') })
      writeFileSync(join(deployDir, 'run', `${port}.pid`), `${stubborn.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${port}.release`), 'r1\n')
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 1 }))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ idle_pid: String(stubborn.pid), killed: String(stubborn.pid), port: 'free' })
      expect(run.ms).toBeLessThan(8000) // SIGKILL after ~1 s, not a hang
    })

    it('a foreign listener (in no pid file) is named, with its start time, and left alone', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'run'))
      const port = await freePort()
      const foreign = await listener(port)
      const run = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 5 }))
      expect(run.code, run.stdout).toBe(PORT_HELD_EXIT)
      expect(run.answer.facts).toMatchObject({ holder_pid: String(foreign.pid), holder_start: startTimeOf(foreign.pid!) })
      expect(run.answer.facts.holder_command).toMatch(/node -e .*createServer/)
      expect(run.answer.facts.port).toBeUndefined()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(isRunning(foreign.pid!)).toBe(true)
      expect(await portIsFree(port)).toBe(false)
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
      const run = await runScript(
        startScript(startParams(deployDir, port, { javaOpts: '-Xmx64m -Dx="a b"', healthExpect: '"status":"UP"' })),
        { cwd: deployDir },
      )
      const pid = track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
      // The pid, then what makes it this process and no later one with the same pid.
      const [recordedPid, identity] = readFileSync(join(deployDir, 'run', `${port}.pid`), 'utf8').split('\n')
      expect(recordedPid).toBe(String(pid))
      expect(identity).toBe(`boot=${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} start=${startTimeOf(pid)}`)
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
      expect(
        execFileSync('readlink', [`/proc/${pid}/fd/0`])
          .toString()
          .trim(),
      ).toBe('/dev/null')
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

    // Between polls only builtins run: a starting JVM keeps the CPU. The default start command
    // has no exec, so the listener is the child of the process started: watched there too.
    for (const [how, startCommand] of [
      ['execs the app', NODE_APP],
      ['runs the app as its child', `${shellQuote(process.execPath)} server.js`],
    ] as const) {
      it(`a start command that ${how}: a poll as soon as its sockets change, none before`, async () => {
        const deployDir = tempDir()
        const port = await freePort()
        makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['LISTEN_DELAY_MS', '800']])
        // A curl and an ss first on the PATH that note each call, then run the real ones.
        const bin = tempDir('zdd-curl-log-')
        const curlCalls = countCalls(bin, 'curl')!
        const ssCalls = countCalls(bin, 'ss')
        const run = await runScript(startScript(startParams(deployDir, port, { healthIntervalSeconds: 5, startCommand })), {
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        })
        // A healthy start leaves its instance running: its whole group goes once the file is done.
        track(Number(run.answer.facts.pid))
        expect(run.code, run.stdout).toBe(0)
        expect(run.answer.facts.health).toBe('ok')
        // The next tick would have come 5 s after the start.
        expect(run.ms).toBeLessThan(3_000)
        // One once the listener opened, and one more at most for a socket the runtime opens and
        // closes as it starts (Node does, under load); polls every 0.1 s would be 8.
        const polls = curlCalls()
        expect(polls).toBeGreaterThanOrEqual(1)
        expect(polls).toBeLessThanOrEqual(2)
        // A poll the watch calls goes straight to curl: ss runs once, for the check that the
        // listener is this instance's.
        if (ssCalls) expect(ssCalls()).toBe(1)
      })
    }

    // The app a grandchild of the process started: its listener is not among the sockets watched,
    // so the health-interval ticks find it. A tick asks ss whether anything listens yet, and runs
    // curl only once something does: curl costs the host four times as much, twice a second for
    // as long as a JVM takes to start.
    for (const [userland, atMost] of [
      ['with ss', 2],
      ['without ss', Infinity],
    ] as const) {
      it(`ticks before the port listens, ${userland}: curl ${atMost === 2 ? 'only once it listens' : 'at every tick'}`, async () => {
        const deployDir = tempDir()
        const port = await freePort()
        makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['LISTEN_DELAY_MS', '1200']])
        const bin = tempDir('zdd-curl-log-')
        const curlCalls = countCalls(bin, 'curl')!
        const path = atMost === 2 ? process.env.PATH : userlandWithout(['ss'])
        const grandchild = `sh -c ${shellQuote(`${shellQuote(process.execPath)} server.js; exit $?`)}`
        const run = await runScript(startScript(startParams(deployDir, port, { healthIntervalSeconds: 0.2, startCommand: grandchild })), {
          env: { ...process.env, PATH: `${bin}:${path}` },
        })
        track(Number(run.answer.facts.pid))
        expect(run.code, run.stdout).toBe(0)
        expect(run.answer.facts.health).toBe('ok')
        const polls = curlCalls()
        // Five ticks come before the listener, 1.2 s after the start.
        if (atMost === 2) expect(polls).toBeLessThanOrEqual(2)
        else expect(polls).toBeGreaterThanOrEqual(5)
        expect(polls).toBeGreaterThanOrEqual(1)
      })
    }

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
      const run = await runScript(
        startScript(
          startParams(deployDir, port, { release: 'r1', startCommand: NO_EXEC_APP, healthTimeoutSeconds: 1, stopTimeoutSeconds: 2 }),
        ),
      )
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
      expect(run.answer.facts.holder_pid).toBeUndefined()
    })

    it('a start command that forks into the background is tracked by its process group', async () => {
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, 'r1')
      const run = await runScript(
        startScript(startParams(deployDir, port, { release: 'r1', startCommand: `${shellQuote(process.execPath)} server.js & sleep 0.2` })),
      )
      const leader = track(Number(run.answer.facts.pid))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts.health).toBe('ok')
      const seen = JSON.parse(readFileSync(join(deployDir, 'releases', 'r1', 'seen.json'), 'utf8'))
      expect(seen.env.PORT).toBe(String(port))
      const inspected = readHostState(
        (
          await runScript(
            inspectScript({
              deployDir,
              include: join(deployDir, 'x.inc'),
              ports: [port, port + 1],
              prepare: false,
              checkListeners: true,
              needJava: false,
            }),
          )
        ).answer,
      )
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

    it("in a run's session, the health answer is kept in the session's directory, not in run/", async () => {
      const session = tempDir('zdd-session-')
      const env = { ...process.env, ZDD_TMP: session }
      const deployDir = tempDir()
      const port = await freePort()
      makeRelease(deployDir, '20260101-000000-aaaaaaaa')
      const healthy = await runScript(startScript(startParams(deployDir, port)), { env })
      track(Number(healthy.answer.facts.pid))
      expect(healthy.code, healthy.stdout).toBe(0)
      expect(readdirSync(join(deployDir, 'run')).filter((name) => name.includes('health'))).toEqual([])
      expect(readFileSync(join(session, `health-${port}`), 'utf8')).toContain('"status":"UP"')

      const otherPort = await freePort()
      const unhealthy = await runScript(startScript(startParams(deployDir, otherPort, { healthTimeoutSeconds: 2, healthExpect: 'DOWN' })), {
        env,
      })
      trackGroup(Number(unhealthy.answer.facts.pid))
      expect(unhealthy.code).toBe(INSTANCE_EXIT.unhealthy)
      expect(unhealthy.answer.facts.last_body).toContain('"status":"UP"')
      expect(readdirSync(session).filter((name) => name.includes('health'))).toEqual([`health-${port}`])
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
      const inspected = await runScript(
        inspectScript({
          deployDir: join(root, 'app'),
          include: join(root, 'x.inc'),
          ports: [8081, 8082],
          prepare: false,
          checkListeners: true,
          needJava: false,
        }),
        noCurl(),
      )
      expect(inspected.answer.facts.http).toBe('wget')
      const [ok, unhealthy, closed] = [await freePort(), await freePort(), await freePort()]
      for (const [port, status] of [
        [ok, 200],
        [unhealthy, 503],
      ]) {
        const child = spawn(
          process.execPath,
          [
            '-e',
            `require('http').createServer((q, s) => { s.writeHead(${status}); s.end('{"status":"UP"}') }).listen(${port}, '127.0.0.1', () => console.log('ready'))`,
          ],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        )
        track(child.pid)
        await new Promise((resolve) => child.stdout!.once('data', resolve))
      }
      const run = await runScript(
        probeScript({ ports: [ok, unhealthy, closed], healthPath: '/actuator/health', healthExpect: 'UP' }),
        noCurl(),
      )
      expect(run.answer.lists.probe).toEqual([`${ok} 200 ok`, `${unhealthy} 503 fail`, `${closed} 000 fail`])
    })
  })
})
