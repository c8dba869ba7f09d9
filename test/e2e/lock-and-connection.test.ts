// Concurrency and broken connections: the lock serializes runs and survives the runs that die,
// a connection killed mid-upload or mid-deploy leaves nothing half-made, and every connection
// problem is reported in plain words that say what to check.
import { execFile as execFileCb, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, get, inputsFor, removeWorkspaces, run, runAction, served, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Kills the sshd processes serving current connections (not the listener): the network "drops". */
async function dropConnections(target: any): Promise<void> {
  const master = (await readFile(path.join(target.dir, 'sshd.pid'), 'utf8')).trim()
  await execFile('pkill', ['-KILL', '-P', master]).catch(() => undefined)
}

const bootId = async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
const startTimeOf = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Lines of the sshd log that record an authentication attempt. */
async function authAttempts(target: any): Promise<number> {
  const log = await readFile(target.sshdLogPath, 'utf8')
  return log.split('\n').filter((line) => /publickey|password|Accepted|Failed/i.test(line)).length
}

describe('the deploy lock', () => {
  let target: any
  let traffic: any
  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 170_000 })
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('serializes two deploys to the same host started at once; both end consistent', async () => {
    const [a, b] = await Promise.all([
      run(target, await workspaceWithJar('2a'), { env: 'SAMPLE_START_DELAY_MS=1500' }),
      run(target, await workspaceWithJar('2b'), { env: 'SAMPLE_START_DELAY_MS=1500' }),
    ])
    expect(a.code, why(a)).toBe(0)
    expect(b.code, why(b)).toBe(0)
    const waited = [a, b].filter((r) => r.stdout.includes('Waiting for the deploy lock, held by owner='))
    expect(waited).toHaveLength(1)
    // The one that waited ran second: it is what nginx serves, on the port the include names.
    const second = waited[0]
    const version = second === a ? '2a' : '2b'
    expect(await served(target)).toBe(`200 version=${version} port=${second.outputs['active-port']}`)
    expect(second.outputs['previous-port']).toBe((second === a ? b : a).outputs['active-port'])
  })

  it('takes over a lock left by a run that died, with a warning naming it', async () => {
    const dead = spawn('true')
    await new Promise((resolve) => dead.on('exit', resolve))
    await mkdir(path.join(target.deployDir, '.lock'))
    await writeFile(path.join(target.deployDir, '.lock', 'holder'), `${dead.pid} 1 ${await bootId()} -\n`)
    await writeFile(path.join(target.deployDir, '.lock', 'owner'), 'owner=acme/sample-service run 41.1 by someone\n')
    const result = await run(target, await workspaceWithJar('3'))
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain(
      '::warning::Took over a stale deploy lock left by a run that has ended (owner=acme/sample-service run 41.1 by someone',
    )
    expect(result.stdout).toContain('its remote shell is gone.')
    expect(await readdir(target.deployDir)).not.toContain('.lock')
  })

  it('gives up after lock-timeout with a clear error while a live run holds the lock', async () => {
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      await mkdir(path.join(target.deployDir, '.lock'))
      await writeFile(
        path.join(target.deployDir, '.lock', 'holder'),
        `${holder.pid} ${await startTimeOf(holder.pid!)} ${await bootId()} -\n`,
      )
      await writeFile(path.join(target.deployDir, '.lock', 'owner'), 'owner=acme/sample-service run 42.1 by someone\n')
      const include = await readFile(target.includePath, 'utf8')
      const result = await run(target, await workspaceWithJar('4'), { 'lock-timeout': '2' })
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toContain(
        '::error::lock: another deploy holds the lock on this host (owner=acme/sample-service run 42.1 by someone',
      )
      expect(result.stdout).toContain('gave up after lock-timeout (2 s)')
      expect(await readFile(target.includePath, 'utf8')).toBe(include)
    } finally {
      holder.kill('SIGKILL')
      await rm(path.join(target.deployDir, '.lock'), { recursive: true, force: true })
    }
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})

describe('a connection that drops', () => {
  let target: any
  let traffic: any
  let servedBefore: string
  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    servedBefore = await served(target)
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 170_000 })
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('mid-upload: fails in plain words, leaves no partial jar as a release; the next run succeeds', async () => {
    const workspace = await workspaceWithJar('2-big', { padBytes: 32 * 1024 * 1024 })
    const releasesDir = path.join(target.deployDir, 'releases')
    const before = (await readdir(releasesDir)).sort()
    const running = run(target, workspace)
    await waitFor('the upload to start', async () => {
      for (const name of await readdir(releasesDir)) {
        if (!name.startsWith('.partial-')) continue
        const files = await readdir(path.join(releasesDir, name))
        const size = files.length ? ((await stat(path.join(releasesDir, name, files[0])).catch(() => undefined))?.size ?? 0) : 0
        if (size > 0) return true
      }
      return false
    })
    await dropConnections(target)
    const result: ActionRun = await running
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(/::error::.*the SSH connection was lost during upload/)
    expect((await readdir(releasesDir)).filter((name) => !name.startsWith('.')).sort()).toEqual(before)
    expect(await served(target)).toBe(servedBefore)

    const again = await run(target, workspace)
    expect(again.code, why(again)).toBe(0)
    expect(await served(target)).toMatch(/^200 version=2-big /)
    expect((await readdir(releasesDir)).filter((name) => name.startsWith('.'))).toEqual([])
  })

  it('mid-deploy (while the new release starts): fails, nginx stays untouched after the release turns healthy, rollback passes it over; the next run succeeds', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const servedNow = await served(target)
    const running = run(target, await workspaceWithJar('3'), { env: 'SAMPLE_START_DELAY_MS=4000', 'health-timeout': '20' })
    // The idle port's log gains a "starting release" line when the start step begins.
    const idle = include.includes(`:${target.appPorts[0]};`) ? target.appPorts[1] : target.appPorts[0]
    const idleLog = path.join(target.deployDir, 'logs', `${idle}.log`)
    const startsBefore = ((await readFile(idleLog, 'utf8').catch(() => '')).match(/starting release/g) ?? []).length
    await waitFor(
      'the new release to start',
      async () => ((await readFile(idleLog, 'utf8').catch(() => '')).match(/starting release/g) ?? []).length > startsBefore,
    )
    await dropConnections(target)
    const result = await running
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(/::error::.*the SSH connection was lost during start/)
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toBe(servedNow)
    // The start script runs on without the connection. Once the new release answers its health
    // check, nothing may switch to it: the run that asked for it has failed.
    await waitFor(
      'the orphaned release to turn healthy',
      async () => (await get(`http://127.0.0.1:${idle}/actuator/health`).catch(() => undefined))?.status === 200,
    )
    await sleep(2000)
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toBe(servedNow)
    // Nor does rollback take it for the previous version: it starts the one that served before.
    const back = await run(target, await workspaceWithJar('3'), { command: 'rollback' })
    expect(back.code, why(back)).toBe(0)
    expect(back.stdout).toContain('which has never served')
    expect(await served(target)).toMatch(/^200 version=1 /)

    const again = await run(target, await workspaceWithJar('4'))
    expect(again.code, why(again)).toBe(0)
    expect(await served(target)).toMatch(/^200 version=4 /)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })

  it('mid-switch: says so, the switch finishes on the host on its own, and status shows where traffic went', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const idle = include.includes(`:${target.appPorts[0]};`) ? target.appPorts[1] : target.appPorts[0]
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 60_000 })
    // A slow nginx test holds the switch open after the new include is in place: the drop lands there.
    const running = run(target, await workspaceWithJar('5'), { 'nginx-test-command': `sleep 3; ${target.nginxTestCommand}` })
    await waitFor('the switch to write the include', async () => (await readFile(target.includePath, 'utf8')) !== include)
    await dropConnections(target)
    const result = await running
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(/::error::.*the SSH connection was lost during the switch\. The switch finishes on the host on its own/)

    await waitFor('the switch to finish on the host', async () => (await served(target)).startsWith('200 version=5 '))
    const status = await run(target, await workspaceWithJar('5'), { command: 'status' })
    expect(status.code, why(status)).toBe(0)
    expect(status.outputs['active-port']).toBe(String(idle))
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})

describe('connection problems, in plain words', () => {
  let target: any
  let workspace: string
  let keys: string
  beforeAll(async () => {
    target = await startTarget()
    workspace = await workspaceWithJar('1')
    keys = await mkdtemp(path.join(os.tmpdir(), 'zdd-keys-'))
  })
  afterAll(async () => {
    await target?.stop()
    await rm(keys, { recursive: true, force: true })
    await removeWorkspaces()
  })

  const attempt = (extra: Record<string, string | number>) => runAction({ inputs: inputsFor(target, extra), workspace })

  it('port closed: says nothing listens there', async () => {
    const free = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    // (Its retries are reach.test.ts's subject; here only the words.)
    const result = await attempt({ port: free, 'connect-retries': 0 })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(
      `connection refused at 127.0.0.1:${free}: nothing listens there. Check host and port, and that sshd is running.`,
    )
  })

  it('a deploy makes one TCP connection to the host: the one opened while the action loads', async () => {
    // Firewalls and fail2ban count connections; an abandoned early one would show as a [preauth] close.
    let connections = 0
    const counter = net.createServer((client) => {
      connections++
      const upstream = net.connect(target.sshPort, '127.0.0.1')
      client.pipe(upstream).pipe(client)
      for (const s of [client, upstream]) s.on('error', () => (client.destroy(), upstream.destroy()))
    })
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve))
    try {
      const port = (counter.address() as net.AddressInfo).port
      const knownHosts = target.knownHosts.split(`]:${target.sshPort} `).join(`]:${port} `)
      const result = await attempt({ port, 'known-hosts': knownHosts })
      expect(result.code, why(result)).toBe(0)
      expect(result.outputs['active-port']).toMatch(/^\d+$/)
      expect(connections).toBe(1)
    } finally {
      counter.close()
    }
  })

  it('a bad input fails the step at once, though the host is reachable; nothing was said to it', async () => {
    // The action opens the TCP connection while it loads; with a bad input it must neither hang nor talk.
    let received = 0
    let connections = 0
    const listener = net.createServer((socket) => {
      connections++
      socket.on('data', (data) => (received += data.length))
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    try {
      const port = (listener.address() as net.AddressInfo).port
      const result = await runAction({ inputs: inputsFor(target, { port, ports: '8081,8081' }), workspace, timeoutMs: 20_000 })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain('ports: "8081,8081" is not valid')
      expect(result.durationMs).toBeLessThan(5_000)
      expect(connections).toBeLessThanOrEqual(1)
      expect(received).toBe(0)
    } finally {
      listener.close()
    }
  })

  it('timeout: a port that accepts but never speaks SSH fails after connect-timeout', async () => {
    const silent = net.createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as net.AddressInfo).port
      const result = await attempt({ port, 'connect-timeout': '2', 'connect-retries': 0 })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(`no SSH answer from 127.0.0.1:${port} within 2 s (connect-timeout)`)
    } finally {
      silent.close()
    }
  })

  it('key refused: says which user and where the public key must be', async () => {
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'stranger')])
    const result = await attempt({ 'private-key': await readFile(path.join(keys, 'stranger'), 'utf8') })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(
      `the host refused the credentials for user "${target.user}". Check that the private key's public half is in ~${target.user}/.ssh/authorized_keys`,
    )
  })

  it('bad or missing passphrase: says the key could not be decrypted', async () => {
    for (const passphrase of ['wrong horse', '']) {
      const result = await attempt({ 'private-key': target.encryptedKey, passphrase })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(
        'the private key could not be decrypted: the passphrase is missing or wrong. Check the passphrase input.',
      )
    }
    const right = await attempt({ 'private-key': target.encryptedKey, passphrase: target.passphrase })
    expect(right.code, why(right)).toBe(0)
  })

  it('host key mismatch: refused before any credential is sent, showing what the host offers', async () => {
    const attemptsBefore = await authAttempts(target)
    const result = await attempt({ 'known-hosts': '', 'host-fingerprint': `SHA256:${'A'.repeat(43)}` })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('host key mismatch')
    expect(result.stdout).toContain('No credential was sent.')
    for (const fingerprint of target.hostFingerprints) expect(result.stdout).toContain(fingerprint)
    expect(await authAttempts(target)).toBe(attemptsBefore)
  })

  it('no pin at all: refused before authenticating, with every fingerprint and the line to add', async () => {
    const attemptsBefore = await authAttempts(target)
    const result = await attempt({ 'known-hosts': '' })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('refusing to authenticate: no host key is pinned')
    for (const fingerprint of target.hostFingerprints) expect(result.stdout).toContain(fingerprint)
    expect(result.stdout).toMatch(/host-fingerprint: SHA256:/)
    expect(await authAttempts(target)).toBe(attemptsBefore)
  })

  it('accepts a pin of any of the host key types, and hashed known_hosts lines', async () => {
    for (const fingerprint of target.hostFingerprints) {
      const result = await attempt({ 'known-hosts': '', 'host-fingerprint': fingerprint, command: 'status' })
      expect(result.code, why(result)).toBe(0)
    }
    const file = path.join(keys, 'known_hosts')
    await writeFile(file, target.knownHosts)
    await execFile('ssh-keygen', ['-H', '-f', file])
    const hashed = await readFile(file, 'utf8')
    expect(hashed).toMatch(/^\|1\|/m)
    const result = await attempt({ 'known-hosts': hashed, command: 'status' })
    expect(result.code, why(result)).toBe(0)
  })
})

describe.skipIf(process.getuid?.() !== 0)('password authentication (needs root to make a user)', () => {
  let target: any
  let workspace: string
  const user = `zdd-pw-${process.pid}`
  const password = `pw ${process.pid} 'quoted' $x`
  beforeAll(async () => {
    await execFile('useradd', ['--create-home', '--shell', '/bin/sh', user])
    await new Promise<void>((resolve, reject) => {
      const child = spawn('chpasswd', { stdio: ['pipe', 'ignore', 'inherit'] })
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))))
      child.stdin.end(`${user}:${password}\n`)
    })
    target = await startTarget({ passwordAuth: true })
    workspace = await workspaceWithJar('1')
  })
  afterAll(async () => {
    await target?.stop()
    await execFile('userdel', ['--remove', user]).catch(() => undefined)
    await removeWorkspaces()
  })

  it('logs in with a password (no key) and reports status; a wrong password is refused in plain words', async () => {
    const inputs = (pw: string) => ({
      ...inputsFor(target, { command: 'status', username: user, password: pw }),
      'private-key': '',
      'deploy-dir': '',
    })
    const ok = await runAction({ inputs: inputs(password), workspace })
    expect(ok.code, why(ok)).toBe(0)
    expect(JSON.parse(ok.outputs.report)[0]).toMatchObject({ host: `${user}@127.0.0.1:${target.sshPort}`, outcome: 'status' })
    expect(ok.stdout.split('\n')).toContain(`::add-mask::${password}`)

    const wrong = await runAction({ inputs: inputs('not the password'), workspace })
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toContain(`the host refused the credentials for user "${user}"`)
  })
})
