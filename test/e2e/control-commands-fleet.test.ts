// promote, maintenance and live on a fleet of two hosts, each a machine of its own (network, mount
// and PID namespaces, as in fleet.test.ts) with the same inputs for all, and clients through every
// host's nginx: every host is promoted, put in maintenance and back, each on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { answers } from './held-canary.js'
import { type Machines, startMachines } from './machines.js'
import { type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const support: { ok: boolean; reason?: string } = await namespaceSupport()
if (!support.ok) console.warn(`test/e2e/control-commands-fleet.test.ts skipped: ${support.reason}`)

describe.skipIf(!support.ok)(`the control commands on a fleet of two hosts${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let machines: Machines
  let hosts: any[] = []

  beforeAll(async () => {
    machines = await startMachines(2, 'control-fleet')
    hosts = machines.hosts
  })

  afterAll(async () => {
    await machines?.stop()
    await removeWorkspaces()
  })

  const fleetInputs = (extra: Inputs = {}): Inputs => machines.fleetInputs(extra)
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
