// Reaching hosts the runner cannot reach directly, with real OpenSSH on both ends: a proxy-command
// (OpenSSH's own `ssh -W %h:%p bastion`), a chain of two jump hosts, IPv6 everywhere (known-hosts
// in `[addr]:port` form, plain and hashed), and connections retried while sshd comes up, but never
// for refused credentials. Each machine is a network namespace (scripts/lib/netns.mjs):
//
//   front  10.213.F.0/24 + fd00:213:F'::/64   runner .1, jump1 .10
//   mid    10.213.M.0/24 + fd00:213:M'::/64   jump1 .10, jump2 .20, hostA .11
//   back   10.213.B.0/24 + fd00:213:B'::/64   jump2 .20, hostB .12 (IPv6 only)
//
// jump1 is a deploy target as well (reached directly, over IPv6). The runner reaches jump1 only.
import { execFile as execFileCb } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createLab, execIn, namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import { type ActionRun, type Inputs, inputsFor, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)

const support: { ok: boolean; reason?: string } = await namespaceSupport()
if (!support.ok) console.warn(`test/e2e/reach.test.ts skipped: ${support.reason}`)

/** 'connected', or the error code of a TCP connect from the runner. */
function tcpConnect(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (outcome: string) => {
      socket.destroy()
      resolve(outcome)
    }
    socket.setTimeout(timeoutMs, () => done('timeout'))
    socket.once('connect', () => done('connected'))
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message))
  })
}

/** known_hosts name of an address and port, as ssh-keyscan writes it. */
const knownName = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`)
/** The target's known_hosts lines, naming it by `address` (one it also listens on). */
const knownHostsAt = (target: any, address: string) =>
  target.knownHosts
    .trim()
    .split('\n')
    .map((line: string) => `${knownName(address, target.sshPort)} ${line.split(' ').slice(1).join(' ')}`)
    .join('\n') + '\n'
/** Processes of the runner whose command line matches `pattern` (not this check's own). */
const runnerProcesses = async (pattern: RegExp) => {
  const { stdout } = await execFile('ps', ['-eo', 'pid=,args='])
  return stdout.split('\n').filter((line) => pattern.test(line))
}
const errorLine = (result: ActionRun) => result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
const warnings = (result: ActionRun) => result.stdout.split('\n').filter((line) => line.startsWith('::warning::'))
const loginsOf = async (target: any) => ((await readFile(target.sshdLogPath, 'utf8')).match(/Accepted publickey/g) ?? []).length
const authAttemptsOf = async (target: any) =>
  (await readFile(target.sshdLogPath, 'utf8')).split('\n').filter((line) => /publickey|password|Accepted|Failed|Postponed/i.test(line))
    .length

describe.skipIf(!support.ok)(`reaching hosts${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let lab: any
  let front: any
  let mid: any
  let back: any
  let jump1: any
  let jump2: any
  let hostA: any
  let hostB: any
  let keyDir = ''
  let keyPath = ''
  let clientKey = ''
  /** A key no host takes. */
  let strangerKey = ''
  let sshKnownHosts = ''
  let workspace = ''

  beforeAll(async () => {
    lab = await createLab()
    front = await lab.segment('front', { ipv6: true })
    mid = await lab.segment('mid', { ipv6: true })
    back = await lab.segment('back', { ipv6: true })
    await lab.attachRunner(front)
    const [j1, j2, a, b] = await Promise.all(['jump1', 'jump2', 'hosta', 'hostb'].map((key) => lab.namespace(key)))
    await lab.attach(j1, front, 10)
    await lab.attach(j1, mid, 10)
    await lab.attach(j2, mid, 20)
    await lab.attach(j2, back, 20)
    await lab.attach(a, mid, 11)
    await lab.attach(b, back, 12)

    keyDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-reach-key-'))
    keyPath = path.join(keyDir, 'id_ed25519')
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-reach', '-f', keyPath])
    clientKey = await readFile(keyPath, 'utf8')
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', path.join(keyDir, 'stranger')])
    strangerKey = await readFile(path.join(keyDir, 'stranger'), 'utf8')
    const authorizedKeys = await readFile(`${keyPath}.pub`, 'utf8')
    // Ports other than 22, so that every known_hosts line reads [addr]:port.
    const started = await Promise.allSettled([
      startTarget({ netns: j1, listenAddress: front.address6(10), sshdAlsoListens: [front.address(10)], authorizedKeys }),
      startTarget({ netns: j2, listenAddress: mid.address(20), authorizedKeys }),
      startTarget({ netns: a, listenAddress: mid.address(11), sshdAlsoListens: [mid.address6(11)], authorizedKeys }),
      startTarget({ netns: b, listenAddress: back.address6(12), authorizedKeys }),
    ])
    ;[jump1, jump2, hostA, hostB] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined))
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    // The OpenSSH client's own known_hosts, for the jump host it reaches in a proxy-command.
    sshKnownHosts = path.join(keyDir, 'known_hosts')
    await writeFile(sshKnownHosts, knownHostsAt(jump1, front.address(10)) + jump1.knownHosts)
    workspace = await workspaceWithJar('1')
  })

  afterAll(async () => {
    await Promise.allSettled([jump1, jump2, hostA, hostB].filter(Boolean).map((t) => t.stop()))
    await lab?.destroy()
    if (keyDir) await rm(keyDir, { recursive: true, force: true })
    await removeWorkspaces()
  })

  /** Inputs for `target` named by `address`, pinned by known_hosts lines for that name. */
  const inputsAt = (target: any, address: string, extra: Inputs = {}): Inputs =>
    inputsFor(target, {
      host: address.includes(':') ? `[${address}]` : address,
      'private-key': clientKey,
      'known-hosts': knownHostsAt(target, address),
      'connect-timeout': '10',
      ...extra,
    })
  /** `ssh -W` through jump1, with the OpenSSH client's own key and known_hosts: what a user writes. */
  const sshVia = (forward: string) =>
    `ssh -i ${keyPath} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${sshKnownHosts} -p ${jump1.sshPort} -W ${forward} ${jump1.user}@${front.address(10)}`
  const servedInside = async (target: any) => {
    const { stdout } = await execIn(target.netns, 'curl', ['-s', '-m', '5', `${target.url}/`])
    return stdout.split('\n')[0]
  }

  it('the runner reaches jump1, over IPv4 and IPv6, and no other machine', async () => {
    expect(await tcpConnect(front.address(10), jump1.sshPort)).toBe('connected')
    expect(await tcpConnect(front.address6(10), jump1.sshPort)).toBe('connected')
    for (const address of [mid.address(11), mid.address6(11), mid.address(20), back.address6(12)]) {
      expect(['EHOSTUNREACH', 'ENETUNREACH'], address).toContain(await tcpConnect(address, 22, 1000))
    }
  })

  describe('proxy-command', () => {
    it('ssh -W %h:%p through a bastion: deploys to a host the runner cannot reach, pinned as usual; nothing left running', async () => {
      const logins = await loginsOf(hostA)
      const result = await runAction({ inputs: inputsAt(hostA, mid.address(11), { 'proxy-command': sshVia('%h:%p') }), workspace })
      expect(result.code, why(result)).toBe(0)
      expect(await servedInside(hostA)).toBe(`version=1 port=${result.outputs['active-port']}`)
      // One login on the host, from the bastion's side of the hosts' segment.
      expect(await loginsOf(hostA)).toBe(logins + 1)
      const lines = (await readFile(hostA.sshdLogPath, 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey'))
      expect(lines.at(-1)).toContain(`from ${mid.address(10)} `)
      expect(await runnerProcesses(/ssh -i .* -W /)).toEqual([])
    })

    it('an IPv6 host: %h is the bare address ([%h]:%p for ssh -W), known-hosts hashed', async () => {
      const file = path.join(keyDir, 'hashed')
      await writeFile(file, knownHostsAt(hostA, mid.address6(11)))
      await execFile('ssh-keygen', ['-H', '-f', file])
      const hashed = await readFile(file, 'utf8')
      expect(hashed).toMatch(/^\|1\|/)
      const result = await runAction({
        inputs: inputsAt(hostA, mid.address6(11), { 'proxy-command': sshVia('"[%h]:%p"'), 'known-hosts': hashed, command: 'status' }),
        workspace,
      })
      expect(result.code, why(result)).toBe(0)
      expect(JSON.parse(result.outputs.report)[0].host).toBe(`${hostA.user}@[${mid.address6(11)}]:${hostA.sshPort}`)
      expect(await runnerProcesses(/ssh -i .* -W /)).toEqual([])
    })

    it('a wrong pin: refused before any credential is sent, showing what the host offers', async () => {
      const attempts = await authAttemptsOf(hostA)
      const wrongPin = `SHA256:${createHash('sha256').update('not hostA').digest('base64').replace(/=+$/, '')}`
      const result = await runAction({
        inputs: inputsAt(hostA, mid.address(11), { 'proxy-command': sshVia('%h:%p'), 'known-hosts': '', 'host-fingerprint': wrongPin }),
        workspace,
      })
      expect(result.code).toBe(1)
      expect(errorLine(result), why(result)).toContain(`${hostA.user}@${mid.address(11)}:${hostA.sshPort}: host key mismatch`)
      expect(result.stdout).toContain('No credential was sent.')
      for (const fingerprint of hostA.hostFingerprints) expect(result.stdout).toContain(fingerprint)
      expect(warnings(result)).toEqual([])
      expect(await authAttemptsOf(hostA)).toBe(attempts)
      expect(await runnerProcesses(/ssh -i .* -W /)).toEqual([])
    })

    it('a command that exits at once: named, with its stderr, tried again once (connect-retries: 1)', async () => {
      const command = "sh -c 'echo connecting to %h >&2; echo no route >&2; exit 1'"
      const result = await runAction({
        inputs: inputsAt(hostA, mid.address(11), { 'proxy-command': command, 'connect-retries': '1' }),
        workspace,
      })
      expect(result.code).toBe(1)
      // The host, quoted where it stands: inside '...', the quote is closed, the value quoted, and reopened.
      const shown = `sh -c 'echo connecting to ''${mid.address(11)}'' >&2; echo no route >&2; exit 1'`
      const said = `the proxy-command ${JSON.stringify(shown)} exited with code 1 before the SSH handshake. Its last lines on stderr:%0A  connecting to ${mid.address(11)}%0A  no route`
      expect(errorLine(result), why(result)).toContain(
        `${hostA.user}@${mid.address(11)}:${hostA.sshPort}: ${said} (tried 2 times: connect-retries is 1)`,
      )
      expect(warnings(result)).toHaveLength(1)
      expect(warnings(result)[0]).toContain(`${said} Try 1 of 2; trying again in 1 s.`)
      expect(result.durationMs).toBeLessThan(6_000)
    })

    it('a fleet: one proxy command per host, each host pinned on its own', async () => {
      const seen = path.join(keyDir, 'proxied')
      const result = await runAction({
        inputs: inputsAt(hostA, mid.address(11), {
          command: 'status',
          host: `${mid.address(11)}:${hostA.sshPort}, ${front.address(10)}:${jump1.sshPort}`,
          'known-hosts': knownHostsAt(hostA, mid.address(11)) + knownHostsAt(jump1, front.address(10)),
          'proxy-command': `echo %h:%p >> ${seen}; exec ${sshVia('%h:%p')}`,
        }),
        workspace,
      })
      expect(result.code, why(result)).toBe(0)
      expect(JSON.parse(result.outputs.report).map((row: any) => row.outcome)).toEqual(['status', 'status'])
      const started = (await readFile(seen, 'utf8')).split('\n').filter(Boolean).sort()
      expect(started).toEqual([`${front.address(10)}:${jump1.sshPort}`, `${mid.address(11)}:${hostA.sshPort}`].sort())
      expect(await runnerProcesses(/ssh -i .* -W /)).toEqual([])
    })

    it('cancelled (SIGTERM to the action) while the command runs: nothing of it is left running', async () => {
      const marker = `${process.pid}${Date.now() % 100000}`
      let action: any
      const running = runAction({
        inputs: inputsAt(hostA, mid.address(11), { 'proxy-command': `sleep 1${marker}; sleep 2${marker} # %h` }),
        workspace,
        onSpawn: (child: any) => (action = child),
      })
      const deadline = Date.now() + 15_000
      while ((await runnerProcesses(new RegExp(`sleep 1${marker}$`))).length === 0) {
        if (Date.now() > deadline) throw new Error('the proxy command never started')
        await sleep(50)
      }
      action.kill('SIGTERM')
      const result = await running
      expect(result.code).toBeNull()
      await sleep(200)
      expect(await runnerProcesses(new RegExp(`sleep [12]${marker}`))).toEqual([])
    })
  })

  describe('jump hosts', () => {
    it('a chain of two: the target (IPv6 only) is reached through jump1, then jump2, each hop pinned by known-hosts', async () => {
      const logins = await Promise.all([jump1, jump2, hostB].map(loginsOf))
      const hops = `${jump1.user}@[${front.address6(10)}]:${jump1.sshPort},${jump2.user}@${mid.address(20)}:${jump2.sshPort}`
      const result = await runAction({
        inputs: inputsAt(hostB, back.address6(12), {
          'proxy-host': hops,
          'known-hosts': [jump1.knownHosts, jump2.knownHosts, knownHostsAt(hostB, back.address6(12))].join(''),
        }),
        workspace,
      })
      expect(result.code, why(result)).toBe(0)
      expect(await servedInside(hostB)).toBe(`version=1 port=${result.outputs['active-port']}`)
      expect(await Promise.all([jump1, jump2, hostB].map(loginsOf))).toEqual(logins.map((n) => n + 1))
      const lines = (await readFile(hostB.sshdLogPath, 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey'))
      expect(lines.at(-1)).toContain(`from ${back.address6(20)} `)
    })

    it('a chain whose second hop does not match its pin: refused there, before credentials, naming that hop', async () => {
      const attempts = await authAttemptsOf(jump2)
      const hops = `${jump1.user}@${front.address(10)}:${jump1.sshPort},${jump2.user}@${mid.address(20)}:${jump2.sshPort}`
      const result = await runAction({
        inputs: inputsAt(hostB, back.address6(12), {
          command: 'status',
          'proxy-host': hops,
          'known-hosts': knownHostsAt(jump1, front.address(10)),
          'proxy-host-fingerprint': `SHA256:${'A'.repeat(43)}`,
        }),
        workspace,
      })
      expect(result.code).toBe(1)
      expect(errorLine(result), why(result)).toContain(`${jump2.user}@${mid.address(20)}:${jump2.sshPort}: host key mismatch`)
      expect(await authAttemptsOf(jump2)).toBe(attempts)
    })

    it('a jump host whose sshd is down for a moment: that hop is tried again, with a warning naming it', async () => {
      const pid = Number((await readFile(path.join(jump2.dir, 'sshd.pid'), 'utf8')).trim())
      process.kill(pid, 'SIGTERM')
      await sleep(200)
      const hops = `${jump1.user}@${front.address(10)}:${jump1.sshPort},${jump2.user}@${mid.address(20)}:${jump2.sshPort}`
      const running = runAction({
        inputs: inputsAt(hostB, back.address6(12), {
          command: 'status',
          'proxy-host': hops,
          'known-hosts': [knownHostsAt(jump1, front.address(10)), jump2.knownHosts, hostB.knownHosts].join(''),
        }),
        workspace,
      })
      await sleep(1500)
      await execIn(jump2.netns, '/usr/sbin/sshd', ['-f', path.join(jump2.dir, 'sshd_config'), '-E', jump2.sshdLogPath])
      const result = await running
      expect(result.code, why(result)).toBe(0)
      const retried = warnings(result)
      expect(retried.length, why(result)).toBeGreaterThanOrEqual(1)
      expect(retried[0]).toContain(
        `${mid.address(20)}:${jump2.sshPort}: the jump host ${jump1.user}@${front.address(10)}:${jump1.sshPort} could not open a connection`,
      )
      expect(retried[0]).toContain('Try 1 of 4; trying again in 1 s.')
    })

    it('IPv6 through one bastion, with known-hosts in [addr]:port form', async () => {
      const result = await runAction({
        inputs: inputsAt(hostA, mid.address6(11), {
          command: 'status',
          'proxy-host': `${jump1.user}@[${front.address6(10)}]:${jump1.sshPort}`,
          'known-hosts': jump1.knownHosts + knownHostsAt(hostA, mid.address6(11)),
        }),
        workspace,
      })
      expect(result.code, why(result)).toBe(0)
      expect(jump1.knownHosts).toContain(`[${front.address6(10)}]:${jump1.sshPort} `)
    })
  })

  describe('directly, over IPv6, and connect-retries', () => {
    it('deploys to [addr]:port, pinned by known-hosts in that form', async () => {
      const result = await runAction({ inputs: inputsAt(jump1, front.address6(10)), workspace })
      expect(result.code, why(result)).toBe(0)
      expect(await servedInside(jump1)).toBe(`version=1 port=${result.outputs['active-port']}`)
    })

    it('sshd that comes up 2 s after the run starts: tried again with a warning each time, and the run succeeds', async () => {
      const pid = Number((await readFile(path.join(jump1.dir, 'sshd.pid'), 'utf8')).trim())
      process.kill(pid, 'SIGTERM')
      while ((await tcpConnect(front.address6(10), jump1.sshPort)) === 'connected') await sleep(20)
      const startedAt = Date.now()
      const running = runAction({ inputs: inputsAt(jump1, front.address6(10), { command: 'status' }), workspace })
      await sleep(2000)
      await execIn(jump1.netns, '/usr/sbin/sshd', ['-f', path.join(jump1.dir, 'sshd_config'), '-E', jump1.sshdLogPath])
      const result = await running
      expect(result.code, why(result)).toBe(0)
      const retried = warnings(result)
      expect(retried.length, why(result)).toBeGreaterThanOrEqual(1)
      expect(retried[0]).toContain(
        `${jump1.user}@[${front.address6(10)}]:${jump1.sshPort}: connection refused at [${front.address6(10)}]:${jump1.sshPort}: nothing listens there.`,
      )
      expect(retried[0]).toContain('Try 1 of 4; trying again in 1 s.')
      if (retried[1]) expect(retried[1]).toContain('Try 2 of 4; trying again in 2 s.')
      expect(Date.now() - startedAt).toBeLessThan(10_000)
    })

    it('a host that sheds connections as the MaxStartups of sshd does (closed before the banner, then during the key exchange): tried again', async () => {
      // In front of jump1's sshd: the first connection is closed at once, the second once the client
      // has sent its first bytes after the server's banner; the third goes through.
      let accepted = 0
      const front6 = front.address6(10)
      const shedder = net.createServer((client) => {
        accepted++
        client.on('error', () => undefined)
        if (accepted === 1) return client.destroy()
        if (accepted === 2) {
          client.write('SSH-2.0-OpenSSH_9.2\r\n')
          client.once('data', () => setTimeout(() => client.destroy(), 50))
          return
        }
        const upstream = net.connect({ host: front6, port: jump1.sshPort })
        upstream.on('error', () => client.destroy())
        client.pipe(upstream).pipe(client)
      })
      await new Promise<void>((resolve) => shedder.listen(0, '127.0.0.1', resolve))
      try {
        const port = (shedder.address() as net.AddressInfo).port
        const result = await runAction({
          inputs: inputsFor(jump1, {
            command: 'status',
            host: '127.0.0.1',
            port,
            'private-key': clientKey,
            'known-hosts': knownHostsAt(jump1, '127.0.0.1').split(`]:${jump1.sshPort} `).join(`]:${port} `),
          }),
          workspace,
        })
        expect(result.code, why(result)).toBe(0)
        expect(accepted).toBe(3)
        const [first, second] = warnings(result)
        expect(first, why(result)).toContain(`127.0.0.1:${port} closed the connection before the SSH handshake.`)
        expect(first).toContain('Try 1 of 4; trying again in 1 s.')
        expect(second, why(result)).toContain(`127.0.0.1:${port} closed the connection during the SSH key exchange.`)
        expect(second).toContain('Try 2 of 4; trying again in 2 s.')
      } finally {
        shedder.close()
      }
    })

    it('a fleet: each host retries on its own, its warnings named by the host', async () => {
      // Two entries for jump1 (its IPv4 and its IPv6 address): two hosts of a fleet as the action sees them.
      const pid = Number((await readFile(path.join(jump1.dir, 'sshd.pid'), 'utf8')).trim())
      process.kill(pid, 'SIGTERM')
      while ((await tcpConnect(front.address6(10), jump1.sshPort)) === 'connected') await sleep(20)
      const running = runAction({
        inputs: inputsAt(jump1, front.address6(10), {
          command: 'status',
          host: `${front.address(10)}, [${front.address6(10)}]`,
          'known-hosts': knownHostsAt(jump1, front.address(10)) + knownHostsAt(jump1, front.address6(10)),
        }),
        workspace,
      })
      await sleep(1500)
      await execIn(jump1.netns, '/usr/sbin/sshd', ['-f', path.join(jump1.dir, 'sshd_config'), '-E', jump1.sshdLogPath])
      const result = await running
      expect(result.code, why(result)).toBe(0)
      for (const label of [
        `${jump1.user}@${front.address(10)}:${jump1.sshPort}`,
        `${jump1.user}@[${front.address6(10)}]:${jump1.sshPort}`,
      ]) {
        const own = warnings(result).filter((line) => line.startsWith(`::warning::[${label}] ${label}: connection refused`))
        expect(own.length, why(result)).toBeGreaterThanOrEqual(1)
        expect(own[0]).toContain('Try 1 of 4; trying again in 1 s.')
      }
    })

    it('refused credentials: no retry, fails at once', async () => {
      const baseline = await runAction({ inputs: inputsAt(jump1, front.address6(10), { command: 'status' }), workspace })
      expect(baseline.code, why(baseline)).toBe(0)
      const result = await runAction({
        inputs: inputsAt(jump1, front.address6(10), { command: 'status', 'private-key': strangerKey }),
        workspace,
      })
      expect(result.code).toBe(1)
      expect(errorLine(result), why(result)).toContain(`the host refused the credentials for user "${jump1.user}"`)
      expect(warnings(result)).toEqual([])
      // A retry would wait 1 s before its second try; the refusal takes no longer than a whole status run.
      expect(result.durationMs).toBeLessThan(baseline.durationMs + 500)
    })
  })
})
