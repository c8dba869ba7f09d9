// The lock's lease: a run that goes silent (a runner frozen in place, a network that drops every
// packet without a FIN or RST) hands the lock to the next run within about a minute, and nothing
// of it acts on the host afterwards; a live run keeps its lock through an upload that lasts longer
// than the lease.
import { execFile as execFileCb, type ChildProcess } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createLab, namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { buildSampleJar } from '../../scripts/lib/sample.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, inputsFor, removeWorkspaces, runAction, served, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** The pid of the remote shell that holds the host's lock (undefined while none does). */
async function lockHolder(deployDir: string): Promise<number | undefined> {
  const line = await readFile(path.join(deployDir, '.lock', 'holder'), 'utf8').catch(() => '')
  const pid = Number(line.split(' ')[0])
  return pid > 0 ? pid : undefined
}

const running = (pid: number) =>
  readFile(`/proc/${pid}/stat`, 'utf8').then(
    (stat) => !/^\d+ \(.*\) [ZX] /.test(stat),
    () => false,
  )
/** The live processes (not zombies) of process group `group`. */
async function liveInGroup(group: number): Promise<string[]> {
  const { stdout } = await execFile('ps', ['-e', '-o', 'pid=,pgid=,stat=,args='])
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, pgid, stat]) => pgid === String(group) && pid !== undefined && !stat?.startsWith('Z'))
    .map((fields) => fields.join(' '))
}

/** Starts the action, handing out its process, for tests that freeze it or cut its connection. */
function startRun(
  target: any,
  workspace: string,
  extra: Record<string, string | number>,
): { child: Promise<ChildProcess>; result: Promise<ActionRun> } {
  let handOut: (child: ChildProcess) => void = () => undefined
  const child = new Promise<ChildProcess>((resolve) => (handOut = resolve))
  const result = runAction({ inputs: inputsFor(target, extra), workspace, onSpawn: (c: ChildProcess) => handOut(c), timeoutMs: 600_000 })
  return { child, result }
}

/**
 * Makes the host drop every packet of the action's connection, both ways: no FIN, no RST ever
 * arrives. Returns a function that lets them through again.
 */
async function dropConnection(child: ChildProcess, hostNs: string, hostAddress: string, sshPort: number): Promise<() => Promise<void>> {
  // The connection, as the runner sees it: from the action's process to the host's sshd.
  const { stdout } = await execFile('ss', ['-Htnp', 'state', 'established'])
  const line = stdout.split('\n').find((l) => l.includes(`${hostAddress}:${sshPort} `) && l.includes(`pid=${child.pid},`))
  const port = new RegExp(`:(\\d+)\\s+\\S+:${sshPort}\\s`).exec(line ?? '')?.[1]
  if (!port) {
    child.kill('SIGKILL')
    throw new Error(`no connection of pid ${child.pid} to ${hostAddress}:${sshPort} in\n${stdout}`)
  }
  const rules = [
    ['INPUT', '-p', 'tcp', '--dport', String(sshPort), '--sport', port, '-j', 'DROP'],
    ['OUTPUT', '-p', 'tcp', '--sport', String(sshPort), '--dport', port, '-j', 'DROP'],
  ]
  for (const rule of rules) await execFile('ip', ['netns', 'exec', hostNs, 'iptables', '-I', ...rule])
  return async () => {
    for (const rule of rules) await execFile('ip', ['netns', 'exec', hostNs, 'iptables', '-D', ...rule]).catch(() => undefined)
  }
}

/** Waits until a run's upload is under way (it holds the lock then). */
async function waitForUpload(target: any): Promise<void> {
  const releases = path.join(target.deployDir, 'releases')
  await waitFor('the upload to start', async () => {
    for (const name of (await readdir(releases)).filter((n) => n.startsWith('.partial-'))) {
      for (const file of await readdir(path.join(releases, name)).catch(() => [] as string[])) {
        if (((await stat(path.join(releases, name, file)).catch(() => undefined))?.size ?? 0) > 1024 * 1024) return true
      }
    }
    return false
  })
}

/** Waits until a run has started its release on the idle port: it holds the lock and waits for health. */
async function waitForHealthWait(target: any): Promise<void> {
  const include = await readFile(target.includePath, 'utf8')
  const idle = include.includes(`:${target.appPorts[0]};`) ? target.appPorts[1] : target.appPorts[0]
  const log = path.join(target.deployDir, 'logs', `${idle}.log`)
  const starts = async () => ((await readFile(log, 'utf8').catch(() => '')).match(/starting release/g) ?? []).length
  const before = await starts()
  await waitFor('the release to start', async () => (await starts()) > before)
}

describe('a run frozen while it holds the lock', () => {
  let target: any
  let traffic: any
  beforeAll(async () => {
    target = await startTarget()
    const first = await runAction({ inputs: inputsFor(target), workspace: await workspaceWithJar('1') })
    expect(first.code, why(first)).toBe(0)
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('gives the lock to the next run within about a minute; its remote shell is ended and it never acts again', async () => {
    traffic = startTraffic({ url: target.url, concurrency: 2, maxDurationMs: 400_000 })
    // A service that takes five minutes to start: the frozen run sits in its health wait.
    const frozen = startRun(target, await workspaceWithJar('2-slow'), { env: 'SAMPLE_START_DELAY_MS=300000', 'health-timeout': '400' })
    await waitForHealthWait(target)
    const shell = (await lockHolder(target.deployDir))!
    expect(await running(shell)).toBe(true)
    // sshd makes a session for the shell: its process group is what a takeover ends.
    const group = Number((await readFile(path.join(target.deployDir, '.lock', 'holder'), 'utf8')).split(' ')[3])
    expect(group).toBeGreaterThan(1)
    expect((await liveInGroup(group)).length).toBeGreaterThan(1)
    const child = await frozen.child
    child.kill('SIGSTOP')
    const frozenAt = Date.now()
    try {
      const next = runAction({ inputs: inputsFor(target, { 'lock-timeout': '240' }), workspace: await workspaceWithJar('3') })
      await waitFor('the next run to hold the lock', async () => ((await lockHolder(target.deployDir)) ?? shell) !== shell, 240_000, 100)
      const takeoverSeconds = (Date.now() - frozenAt) / 1000
      console.log(`lock takeover after a frozen run: ${takeoverSeconds.toFixed(1)} s from the freeze to the next run holding the lock`)
      // The lease is 60 s from the frozen run's last renewal, which came at most 10 s before the freeze.
      expect(takeoverSeconds).toBeGreaterThan(45)
      expect(takeoverSeconds).toBeLessThan(90)
      // The frozen run's shell, and what it ran (its health wait), are gone.
      expect(await running(shell)).toBe(false)
      expect(await liveInGroup(group)).toEqual([])

      const result = await next
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout).toMatch(
        /::warning::Took over a stale deploy lock left by a run that has ended \(owner=.*\): nothing was heard from it for \d+ s \(its lease is 60 s\), so its remote shell and what it still ran were ended\./,
      )
      expect(await served(target)).toMatch(/^200 version=3 /)
    } finally {
      child.kill('SIGCONT')
    }
    // Woken up, the frozen run finds its shell gone and fails; nginx stays on what the next run switched to.
    const include = await readFile(target.includePath, 'utf8')
    const woken = await frozen.result
    expect(woken.code, why(woken)).toBe(1)
    expect(woken.stdout).toMatch(/::error::.*(lost the deploy lock|remote shell was ended)/)
    await sleep(2000)
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toMatch(/^200 version=3 /)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  }, 400_000)

  it('a run frozen in its hook: the takeover ends the hook too, with every process it started', async () => {
    const marker = `36${Math.floor(Math.random() * 1e6)}`
    const hooked = () =>
      execFile('pgrep', ['-f', `^sleep ${marker}`]).then(
        ({ stdout }) => stdout.trim().split('\n'),
        () => [] as string[],
      )
    const frozen = startRun(target, await workspaceWithJar('4-hook'), {
      'pre-start-command': `sleep ${marker} & sleep ${marker}1; touch "$RELEASE_DIR/hook-finished"`,
      'hook-timeout': '600',
    })
    await waitFor('the hook to run', async () => (await hooked()).length === 2)
    const shell = (await lockHolder(target.deployDir))!
    const child = await frozen.child
    child.kill('SIGSTOP')
    try {
      const next = await runAction({ inputs: inputsFor(target, { 'lock-timeout': '240' }), workspace: await workspaceWithJar('5') })
      expect(next.code, why(next)).toBe(0)
      expect(await running(shell)).toBe(false)
      // The hook ran in a session of its own: it is gone all the same.
      expect(await hooked()).toEqual([])
      expect(await served(target)).toMatch(/^200 version=5 /)
    } finally {
      child.kill('SIGCONT')
    }
    expect((await frozen.result).code).toBe(1)
  }, 400_000)
})

const support = await namespaceSupport()

describe.skipIf(!support.ok)('over a real network: a slow link, and one that drops every packet', () => {
  // Every link of the lab is shaped to this rate in both directions (a token bucket on each of the
  // bridge's ports, as the bench shapes its link): a 24 MB upload takes about 70 s.
  const RATE = ['rate', '3mbit', 'burst', '32kbit', 'latency', '400ms']
  let lab: any
  let target: any
  let hostAddress: string
  let hostNs: string
  let traffic: any
  beforeAll(async () => {
    lab = await createLab()
    const segment = await lab.segment('lease')
    await lab.attachRunner(segment)
    hostNs = await lab.namespace('host')
    hostAddress = await lab.attach(hostNs, segment, 10)
    const { stdout } = await execFile('ip', ['-n', segment.hub, '-j', 'link', 'show', 'master', 'br0'])
    for (const port of JSON.parse(stdout) as Array<{ ifname: string }>) {
      await execFile('tc', ['-n', segment.hub, 'qdisc', 'replace', 'dev', port.ifname, 'root', 'tbf', ...RATE])
    }
    target = await startTarget({ netns: hostNs, listenAddress: hostAddress })
    const first = await runAction({ inputs: inputsFor(target), workspace: await workspaceWithJar('1') })
    expect(first.code, why(first)).toBe(0)
  }, 180_000)
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await lab?.destroy()
    await removeWorkspaces()
  })

  it('an upload longer than the lease keeps the lock: the next run waits and does not take over', async () => {
    const big = await workspaceWithJar('2-big', { padBytes: 24 * 1024 * 1024 })
    const slow = runAction({ inputs: inputsFor(target), workspace: big })
    await waitForUpload(target)
    // The same jar: once the lock is free it is on the host already, so this run uploads nothing.
    const next = await runAction({ inputs: inputsFor(target, { 'lock-timeout': '300' }), workspace: big })
    const first = await slow
    expect(first.code, why(first)).toBe(0)
    const upload = JSON.parse(first.outputs.report)[0].phases.upload
    console.log(`upload over the shaped link: ${upload} s; the second run waited ${JSON.parse(next.outputs.report)[0].phases.lock} s`)
    expect(upload).toBeGreaterThan(60)
    expect(next.code, why(next)).toBe(0)
    expect(next.stdout).toContain('Waiting for the deploy lock, held by owner=')
    expect(next.stdout).not.toContain('Took over')
    expect(next.stdout).toContain('already holds this artifact')
  }, 400_000)

  it('a run whose packets are all dropped fails in plain words in about 25 s; the next run takes over within about a minute', async () => {
    traffic = startTraffic({ url: target.url, concurrency: 2, maxDurationMs: 300_000 })
    const silenced = startRun(target, await workspaceWithJar('3-slow'), { env: 'SAMPLE_START_DELAY_MS=300000', 'health-timeout': '400' })
    await waitForHealthWait(target)
    const shell = (await lockHolder(target.deployDir))!
    const child = await silenced.child
    const restore = await dropConnection(child, hostNs, hostAddress, target.sshPort)
    const droppedAt = Date.now()
    try {
      const next = runAction({ inputs: inputsFor(target, { 'lock-timeout': '240' }), workspace: await workspaceWithJar('4') })
      const result = await silenced.result
      const failedAfter = (Date.now() - droppedAt) / 1000
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toMatch(
        new RegExp(`::error::.*lost the connection to ${hostAddress.replace(/\./g, '\\.')}: no answer for \\d+ s .*during start`),
      )
      expect(failedAfter).toBeLessThan(45)

      await waitFor('the next run to hold the lock', async () => ((await lockHolder(target.deployDir)) ?? shell) !== shell, 240_000, 100)
      const takeoverSeconds = (Date.now() - droppedAt) / 1000
      console.log(
        `silent network: the silenced run failed after ${failedAfter.toFixed(1)} s; the next run held the lock ${takeoverSeconds.toFixed(1)} s after the drop`,
      )
      expect(takeoverSeconds).toBeGreaterThan(45)
      expect(takeoverSeconds).toBeLessThan(90)
      expect(await running(shell)).toBe(false)
      const after = await next
      expect(after.code, why(after)).toBe(0)
      expect(after.stdout).toContain('::warning::Took over a stale deploy lock left by a run that has ended (')
      expect(await served(target)).toMatch(/^200 version=4 /)
    } finally {
      await restore()
    }
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  }, 400_000)

  it('a connection that goes silent in the middle of an upload fails in plain words, in about 25 s', async () => {
    // A jar whose bytes no release on the host has: the whole of it goes up.
    const workspace = await workspaceWithJar('5')
    await buildSampleJar({
      outDir: path.join(workspace, 'build', 'libs'),
      version: '5',
      fileName: 'sample-5.jar',
      libs: [{ name: 'other.jar', bytes: 24 * 1024 * 1024 }],
    })
    const uploading = startRun(target, workspace, {})
    await waitForUpload(target)
    const restore = await dropConnection(await uploading.child, hostNs, hostAddress, target.sshPort)
    const droppedAt = Date.now()
    try {
      const result = await uploading.result
      const failedAfter = (Date.now() - droppedAt) / 1000
      console.log(`silent network during an upload: the run failed after ${failedAfter.toFixed(1)} s`)
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toMatch(/::error::.*lost the connection to .*: no answer for \d+ s .*during upload/)
      expect(failedAfter).toBeLessThan(45)
    } finally {
      await restore()
    }
  }, 200_000)
})
