/**
 * The deploy lock (src/remote/lock.ts), run by local shells in temporary directories: several runs
 * on one host, runs that ended, pids that now belong to other processes, runs that went silent.
 */
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hookScript } from '../../../src/remote/hooks.js'
import { LEASE_SECONDS, acquireLockScript, releaseLockScript, renewLeaseScript } from '../../../src/remote/lock.js'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { LocalShell, type Run, cleanUpAfterAll, isRunning, makeRelease, runScript, tempDir, track, waitUntil } from './local-host.js'

cleanUpAfterAll()

const acquire = (deployDir: string, owner: string, timeoutSeconds = 5) =>
  acquireLockScript({ deployDir, owner, since: new Date(), timeoutSeconds })

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const startTimeOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}
const uptime = () => Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]))

/** The `sleep <marker>...` processes running now. */
function sleepers(marker: string): string[] {
  return readdirSync('/proc').filter((entry) => {
    try {
      return /^\d+$/.test(entry) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').startsWith(`sleep\0${marker}`)
    } catch {
      return false
    }
  })
}

/** A pid that no process has any more. */
async function deadPid(): Promise<number> {
  const child = spawn('true')
  await new Promise((resolve) => child.on('exit', resolve))
  return child.pid!
}

/**
 * Leaves a lock as a run leaves it that died holding it: the holder line, and also the `pid` file
 * that the lock's earlier script read, so that the same test runs against both.
 */
function staleLock(deployDir: string, pid: number, { start = '1', boot = bootId, owner = 'owner=dead run' } = {}): void {
  mkdirSync(join(deployDir, '.lock'), { recursive: true })
  writeFileSync(join(deployDir, '.lock', 'holder'), `${pid} ${start} ${boot} -\n`)
  writeFileSync(join(deployDir, '.lock', 'pid'), `${pid}\n`)
  writeFileSync(join(deployDir, '.lock', 'owner'), `${owner}\n`)
}

const holderOf = (deployDir: string) =>
  readFileSync(join(deployDir, '.lock', 'holder'), 'utf8')
    .trim()
    .split(' ')

describe.concurrent('the deploy lock, run by local shells', { timeout: 60_000 }, () => {
  const shells: LocalShell[] = []
  const shell = (options: { detached?: boolean } = {}) => {
    const s = new LocalShell(options)
    shells.push(s)
    return s
  }
  afterAll(async () => {
    await Promise.all(shells.splice(0).map((s) => s.close()))
  })

  it("takes <deploy-dir>/.lock for the session's shell, proves who that is, names its owner, and releases it", async () => {
    const deployDir = join(tempDir(), 'app')
    const session = shell()
    const held = await session.run(acquire(deployDir, 'owner=run 42 by alice'))
    expect(held.code).toBe(0)
    expect(held.answer.facts).toMatchObject({ lock: 'held', deploy_dir: deployDir })
    expect(readFileSync(join(deployDir, '.lock', 'owner'), 'utf8')).toContain('owner=run 42 by alice')
    // pid, its start time (field 22 of /proc/<pid>/stat), this boot's id, and its group (none here:
    // this shell is not the leader of a session of its own, as sshd makes one)
    expect(holderOf(deployDir)).toEqual([String(session.pid), startTimeOf(session.pid), bootId, '-'])
    expect(held.answer.facts.holder_key).toBe(`${session.pid}-${startTimeOf(session.pid)}`)
    const lease = Number(readFileSync(join(deployDir, '.lock', `lease.${held.answer.facts.holder_key}`), 'utf8'))
    expect(Math.abs(lease - uptime())).toBeLessThanOrEqual(10)
    const released = await session.run(releaseLockScript({ deployDir }))
    expect(released.answer.facts.lock).toBe('released')
    expect(existsSync(join(deployDir, '.lock'))).toBe(false)
  })

  it('a shell that leads its own session, as sshd starts it, records that session as the group to end', async () => {
    const deployDir = join(tempDir(), 'app')
    const session = shell({ detached: true })
    await session.run(acquire(deployDir, 'owner=x'))
    expect(holderOf(deployDir)[3]).toBe(String(session.pid))
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
    expect(second.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'ended' })
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

  it('many waiters at a stale lock, many times over: exactly one of them holds it each time', async () => {
    const waiters = 8
    const rounds = 16
    const round = async () => {
      const deployDir = join(tempDir(), 'app')
      staleLock(deployDir, await deadPid())
      const go = join(deployDir, 'go')
      const started = Array.from({ length: waiters }, () => shell())
      // Each shell spins until the start signal, so that all of them reach the stale lock at once.
      const runs = started.map((s, i) => s.run(`while [ ! -e ${go} ]; do sleep 0.005; done\n${acquire(deployDir, `owner=waiter ${i}`, 1)}`))
      await new Promise((r) => setTimeout(r, 300))
      writeFileSync(go, '')
      const results: Run[] = await Promise.all(runs)
      return results.filter((r) => r.answer.lists.lock?.includes('held')).length
    }
    const held: number[] = []
    for (let i = 0; i < rounds; i += 4) held.push(...(await Promise.all([round(), round(), round(), round()])))
    expect(held).toEqual(Array(rounds).fill(1))
  })

  it('a pid that now belongs to another process is no proof of life: stale, and that process is left alone', async () => {
    const deployDir = join(tempDir(), 'app')
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
    track(stranger.pid)
    // The pid runs, but it started at another time than the lock's holder did.
    staleLock(deployDir, stranger.pid!, { start: String(Number(startTimeOf(stranger.pid!)) - 1000) })
    const run = await shell().run(acquire(deployDir, 'owner=new run', 2))
    expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'ended' })
    expect(isRunning(stranger.pid!)).toBe(true)
    stranger.kill('SIGKILL')
  })

  it('a lock from before a reboot is stale, even if its pid and start time run again; that process is left alone', async () => {
    const deployDir = join(tempDir(), 'app')
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
    track(stranger.pid)
    staleLock(deployDir, stranger.pid!, { start: startTimeOf(stranger.pid!), boot: '00000000-0000-0000-0000-000000000000' })
    const run = await shell().run(acquire(deployDir, 'owner=new run', 2))
    expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'rebooted' })
    expect(isRunning(stranger.pid!)).toBe(true)
    stranger.kill('SIGKILL')
  })

  it('a lock without a holder is being made: waited for; after 10 s it is a leftover and taken over', async () => {
    const deployDir = join(tempDir(), 'app')
    mkdirSync(join(deployDir, '.lock'), { recursive: true })
    const young = await shell().run(acquire(deployDir, 'owner=new run', 1))
    expect(young.code).toBe(31)
    const old = (Date.now() - 30_000) / 1000
    utimesSync(join(deployDir, '.lock'), old, old)
    const run = await shell().run(acquire(deployDir, 'owner=new run', 2))
    expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'unfinished' })
  })

  it('a claim left by a waiter that died in the middle of a takeover does not block the next one', async () => {
    const deployDir = join(tempDir(), 'app')
    const pid = await deadPid()
    staleLock(deployDir, pid)
    symlinkSync(`${await deadPid()} 1 ${bootId}`, join(deployDir, `.lock.claim.${pid}-1`))
    const run = await shell().run(acquire(deployDir, 'owner=new run', 3))
    expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'ended' })
  })

  describe('the lease', () => {
    it('a live holder whose lease is renewed keeps its lock; the renewal names the holder, not just any', async () => {
      const deployDir = join(tempDir(), 'app')
      const first = shell()
      const key = (await first.run(acquire(deployDir, 'owner=first run'))).answer.facts.holder_key
      const leaseFile = join(deployDir, '.lock', `lease.${key}`)
      writeFileSync(leaseFile, `${uptime() - 30}\n`)
      const renewed = await runScript(renewLeaseScript({ deployDir, holderKey: key }))
      expect(renewed.answer.facts.lease).toBe('renewed')
      expect(Math.abs(Number(readFileSync(leaseFile, 'utf8')) - uptime())).toBeLessThanOrEqual(10)
      const wrong = await runScript(renewLeaseScript({ deployDir, holderKey: `${first.pid}-1` }))
      expect(wrong.answer.facts.lease).toBe('lost')
      const second = await shell().run(acquire(deployDir, 'owner=second', 1))
      expect(second.code).toBe(31)
    })

    it(`a holder silent for over ${LEASE_SECONDS} s is ended, with what its shell still runs, and its lock taken over`, async () => {
      const deployDir = join(tempDir(), 'app')
      const silent = shell({ detached: true })
      const key = (await silent.run(acquire(deployDir, 'owner=silent run'))).answer.facts.holder_key
      // The silent run's shell is busy with a step (a health wait, say) that would act later.
      const marker = join(deployDir, 'acted')
      const busy = silent.run(`sleep 30; touch ${marker}`)
      busy.catch(() => undefined)
      await waitUntil(() => existsSync(`/proc/${silent.pid}`))
      writeFileSync(join(deployDir, '.lock', `lease.${key}`), `${uptime() - LEASE_SECONDS - 5}\n`)
      const run = await shell().run(acquire(deployDir, 'owner=next run', 10))
      expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'silent' })
      expect(Number(run.answer.facts.stale_silent_for)).toBeGreaterThan(LEASE_SECONDS)
      expect(run.answer.facts.stale_owner).toContain('owner=silent run')
      expect(await waitUntil(() => !isRunning(silent.pid), 5000)).toBe(true)
      // Nothing of the silent run's session is left: no process in its group.
      expect(
        await waitUntil(() => {
          try {
            process.kill(-silent.pid, 0)
            return false
          } catch {
            return true
          }
        }, 5000),
      ).toBe(true)
      // A renewal from the silent run, arriving late, neither renews nor breaks the new holder's lease.
      expect((await runScript(renewLeaseScript({ deployDir, holderKey: key }))).answer.facts.lease).toBe('lost')
      expect((await shell().run(acquire(deployDir, 'owner=third', 1))).code).toBe(31)
      expect(existsSync(marker)).toBe(false)
    })

    it('a silent holder running a hook (in a session of its own): the hook is ended too, with its children', async () => {
      const deployDir = join(tempDir(), 'app')
      const silent = shell({ detached: true })
      const key = (await silent.run(acquire(deployDir, 'owner=silent run'))).answer.facts.holder_key
      const release = '20260101-000000-aaaaaaaa'
      makeRelease(deployDir, release)
      const marker = `33${Math.floor(Math.random() * 1e6)}`
      const acted = join(deployDir, 'hook-acted')
      const hook = hookScript({
        deployDir,
        release,
        fileName: 'app.jar',
        appName: 'shop',
        javaOpts: '',
        name: 'pre-switch',
        command: `sleep ${marker} & sh -c 'sleep ${marker}1'; touch ${acted}`,
        port: 8082,
        previousPort: 8081,
        runCommand: 'deploy',
        timeoutSeconds: 600,
      })
      silent.run(hook).catch(() => undefined)
      expect(await waitUntil(() => sleepers(marker).length === 2, 5000)).toBe(true)
      writeFileSync(join(deployDir, '.lock', `lease.${key}`), `${uptime() - LEASE_SECONDS - 5}\n`)
      const run = await shell().run(acquire(deployDir, 'owner=next run', 20))
      expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'silent' })
      expect(await waitUntil(() => sleepers(marker).length === 0, 3000)).toBe(true)
      expect(existsSync(acted)).toBe(false)
    })

    it('a silent holder that is not the leader of its session is ended by its process tree', async () => {
      const deployDir = join(tempDir(), 'app')
      const silent = shell()
      const key = (await silent.run(acquire(deployDir, 'owner=silent run'))).answer.facts.holder_key
      const busy = silent.run(`sleep 30`)
      busy.catch(() => undefined)
      writeFileSync(join(deployDir, '.lock', `lease.${key}`), `${uptime() - LEASE_SECONDS - 5}\n`)
      const run = await shell().run(acquire(deployDir, 'owner=next run', 10))
      expect(run.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'silent' })
      expect(await waitUntil(() => !isRunning(silent.pid), 5000)).toBe(true)
      // The test process shares that shell's process group: it was not signalled, or this would not run.
      expect(process.pid).toBeGreaterThan(0)
    })
  })
})

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)
const SHELLS: Array<[string, string[]]> = [
  ['dash', ['dash']],
  ['bash --posix', ['bash', '--posix']],
  ...(BUSYBOX ? [['busybox ash', [BUSYBOX, 'ash']] as [string, string[]]] : []),
]

/**
 * A PATH directory whose `mkdir` (after making .lock) or `ln` (before linking .lock/holder) stops
 * itself, the first time, and with it the script that waits on it, until the test sends SIGCONT;
 * its pid goes to `<dir>/paused`.
 */
function pausingPath(step: 'mkdir' | 'ln'): string {
  const bin = tempDir('zdd-pause-')
  const real = (tool: string) => ['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find(existsSync)!
  // Once only: a later attempt (after the taker lets go) runs through.
  const pause = `[ -e ${bin}/paused ] || { echo $$ > ${bin}/paused.tmp && mv ${bin}/paused.tmp ${bin}/paused && kill -STOP $$; }`
  const wrapper =
    step === 'mkdir'
      ? `#!/bin/sh\n${real('mkdir')} "$@" || exit\n[ "$*" != .lock ] || { ${pause}; }\n`
      : `#!/bin/sh\ncase "$*" in *.lock/holder) ${pause} ;; esac\nexec ${real('ln')} "$@"\n`
  writeFileSync(join(bin, step), wrapper)
  chmodSync(join(bin, step), 0o755)
  return bin
}

describe.concurrent('a run whose mkdir made the lock, then stalled', { timeout: 30_000 }, () => {
  for (const [name, command] of SHELLS) {
    for (const step of ['mkdir', 'ln'] as const) {
      const where = step === 'mkdir' ? 'right after its mkdir' : 'before it links its holder'
      it(`${name}: stopped ${where} until its lock is judged unfinished and taken over, it never shares the lock`, async () => {
        const deployDir = join(tempDir(), 'app')
        mkdirSync(deployDir)
        const bin = pausingPath(step)
        const slow = spawn(command[0], [...command.slice(1), '-c', acquire(deployDir, 'owner=slow run', 20)], {
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        track(slow.pid)
        let out = ''
        slow.stdout.setEncoding('utf8').on('data', (text: string) => (out += text))
        const ended = new Promise<void>((resolve) => slow.on('close', () => resolve()))
        expect(await waitUntil(() => existsSync(join(bin, 'paused')), 5000)).toBe(true)
        const paused = Number(readFileSync(join(bin, 'paused'), 'utf8'))
        // What over 10 s stopped looks like to the others: a lock without a holder, made long ago.
        const old = (Date.now() - 30_000) / 1000
        utimesSync(join(deployDir, '.lock'), old, old)
        const taker = new LocalShell()
        try {
          const took = await taker.run(acquire(deployDir, 'owner=taker', 3))
          expect(took.answer.facts).toMatchObject({ lock: 'held', stale_reason: 'unfinished' })
          process.kill(paused, 'SIGCONT')
          await new Promise((resolve) => setTimeout(resolve, 800))
          expect(parseAnswer(out).lists.lock ?? []).not.toContain('held')
          expect(holderOf(deployDir)[0]).toBe(String(taker.pid))
          expect(readFileSync(join(deployDir, '.lock', 'owner'), 'utf8')).toContain('owner=taker')
          // Once the taker lets go, the slow run gets the lock as any waiter does.
          await taker.run(releaseLockScript({ deployDir }))
          await ended
          expect(parseAnswer(out).facts.lock).toBe('held')
        } finally {
          await taker.close()
          slow.kill('SIGKILL')
        }
      })
    }
  }
})
