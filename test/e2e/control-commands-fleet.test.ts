// promote, maintenance and live on a fleet of two hosts, each a machine of its own (network, mount
// and PID namespaces, as in fleet.test.ts) with the same inputs for all, and clients through every
// host's nginx: every host is promoted, put in maintenance and back, each on its own.
import { execFile as execFileCb } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createLab, namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { answers } from './held-canary.js'
import { type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)

const support: { ok: boolean; reason?: string } = await namespaceSupport()
if (!support.ok) console.warn(`test/e2e/control-commands-fleet.test.ts skipped: ${support.reason}`)

describe.skipIf(!support.ok)(`the control commands on a fleet of two hosts${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let lab: any
  let machineDir = ''
  let keyDir = ''
  let clientKey = ''
  const hosts: any[] = []

  beforeAll(async () => {
    lab = await createLab()
    machineDir = path.join(os.tmpdir(), `zdd-control-fleet-${lab.id}`)
    const back = await lab.segment('back')
    await lab.attachRunner(back)
    const hostNs: Array<{ ns: string; address: string }> = []
    for (const i of [1, 2]) {
      const ns = await lab.namespace(`host${i}`)
      hostNs.push({ ns, address: await lab.attach(ns, back, 10 + i) })
    }
    keyDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-control-fleet-key-'))
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-control-fleet', '-f', path.join(keyDir, 'id_ed25519')])
    clientKey = await readFile(path.join(keyDir, 'id_ed25519'), 'utf8')
    const authorizedKeys = await readFile(path.join(keyDir, 'id_ed25519.pub'), 'utf8')
    const { stdout: javaPath } = await execFile('sh', ['-c', 'command -v java || true'])
    const bin = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    if (javaPath.trim() && !bin.includes(path.dirname(javaPath.trim()))) bin.push(path.dirname(javaPath.trim()))
    const started = await Promise.allSettled(
      hostNs.map(({ ns, address }) =>
        startTarget({
          netns: ns,
          listenAddress: address,
          machineDir,
          sshPort: 22,
          nginxPort: 80,
          appPorts: [8081, 8082],
          authorizedKeys,
          sessionEnv: { PATH: bin.join(':') },
        }),
      ),
    )
    for (const [i, s] of started.entries()) if (s.status === 'fulfilled') hosts[i] = s.value
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
  })

  afterAll(async () => {
    await Promise.allSettled(hosts.filter(Boolean).map((t) => t.stop()))
    await lab?.destroy()
    await Promise.all([machineDir, keyDir].filter(Boolean).map((dir) => rm(dir, { recursive: true, force: true })))
    await removeWorkspaces()
  })

  /** The same inputs for every host, as they are for real hosts. */
  function fleetInputs(extra: Inputs = {}): Inputs {
    const [first] = hosts
    return {
      host: hosts.map((h) => `${h.user}@${h.host}:${h.sshPort}`).join('\n'),
      'private-key': clientKey,
      'known-hosts': hosts.map((h) => h.knownHosts).join(''),
      artifact: 'build/libs/*.jar',
      'app-name': 'sample',
      'deploy-dir': first.remote.deployDir,
      'nginx-include': first.remote.includePath,
      'nginx-http-include': first.remote.httpIncludePath,
      'nginx-test-command': first.nginxTestCommand,
      'nginx-reload-command': first.nginxReloadCommand,
      'health-interval': '0.1',
      'health-timeout': '30',
      'stop-timeout': '5',
      'drain-seconds': '1',
      ...extra,
    }
  }
  const served = async (h: any) => {
    const response = await get(`${h.url}/`)
    return `${response.status} ${String(response.body).split('\n')[0]}`
  }
  const clients = () => hosts.map((h) => startTraffic({ url: h.url, concurrency: 2, pauseMs: 20 }))

  it('a canary held on every host is promoted on every host: 0 failed requests', async () => {
    const first = await runAction({ inputs: fleetInputs(), workspace: await workspaceWithJar('1') })
    expect(first.code, why(first)).toBe(0)
    const held = await runAction({
      inputs: fleetInputs({ 'canary-steps': '50', 'canary-interval': '0' }),
      workspace: await workspaceWithJar('2'),
    })
    expect(held.code, why(held)).toBe(0)
    expect(held.outputs.canary).toBe('held,held')
    const loops = clients()
    const promoted = await runAction({ inputs: fleetInputs({ command: 'promote' }), workspace: await workspaceWithJar('unused') })
    const stats = await Promise.all(loops.map((loop) => loop.stop()))
    expect(promoted.code, why(promoted)).toBe(0)
    expect(promoted.outputs).toMatchObject({ canary: 'promoted,promoted', 'active-port': '8081,8081', 'previous-port': '8082,8082' })
    for (const s of stats) {
      expect(s.failed, JSON.stringify(s.failures)).toBe(0)
      expect(s.total).toBeGreaterThan(10)
    }
    for (const h of hosts) expect(await served(h)).toBe('200 version=2 port=8081')
  })

  it('maintenance on every host, then live on every host', async () => {
    const paused = await runAction({ inputs: fleetInputs({ command: 'maintenance' }), workspace: await workspaceWithJar('unused') })
    expect(paused.code, why(paused)).toBe(0)
    for (const h of hosts)
      expect((await answers(`${h.url}/`, 3)).map((a) => `${a.status} ${a.retryAfter}`)).toEqual(Array(3).fill('503 60'))
    const live = await runAction({ inputs: fleetInputs({ command: 'live' }), workspace: await workspaceWithJar('unused') })
    expect(live.code, why(live)).toBe(0)
    for (const h of hosts) expect(await served(h)).toBe('200 version=2 port=8081')
  })
})
