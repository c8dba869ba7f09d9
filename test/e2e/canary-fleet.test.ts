// A canary on a fleet of three hosts, end to end: each host a machine of its own (network, mount and
// PID namespaces, as in fleet.test.ts), with the same inputs for all, and clients through every
// host's nginx. Every host moves to each step together; the analysis adds all hosts up; when one
// host's release fails its users, every host goes back.
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { flippedBack, startTraffic } from '../../scripts/lib/traffic.mjs'
import { type Machines, startMachines } from './machines.js'
import { type ActionRun, type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const support: { ok: boolean; reason?: string } = await namespaceSupport()
if (!support.ok) console.warn(`test/e2e/canary-fleet.test.ts skipped: ${support.reason}`)

describe.skipIf(!support.ok)(`a canary on a fleet of three hosts${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let machines: Machines
  let hosts: any[] = []

  beforeAll(async () => {
    machines = await startMachines(3, 'canary-fleet')
    hosts = machines.hosts
  })

  afterAll(async () => {
    await machines?.stop()
    await removeWorkspaces()
  })

  /** The same inputs for every host, as they are for real hosts. */
  const fleetInputs = (extra: Inputs = {}): Inputs =>
    machines.fleetInputs({
      'max-parallel': '3',
      'canary-key': '$http_x_client',
      // Read by the sample from the release directory: <deploy-dir>/sample-mode, a file of each host's own.
      env: 'SAMPLE_MODE_FILE=../../sample-mode',
      ...extra,
    })
  const served = async (h: any) => {
    const response = await get(`${h.url}/`)
    return `${response.status} ${String(response.body).split('\n')[0]}`
  }
  const reportOf = (result: ActionRun) => JSON.parse(result.outputs.report ?? '[]')
  const clients = () => hosts.map((h) => startTraffic({ url: h.url, clientKeys: 30, pauseMs: 250 }))

  it('a good release through a 30% canary: every host on each step together, the figures added up, then all on it', async () => {
    const first = await runAction({ inputs: fleetInputs(), workspace: await workspaceWithJar('1') })
    expect(first.code, why(first)).toBe(0)
    const loops = clients()
    await sleep(500)
    const result = await runAction({
      inputs: fleetInputs({ 'canary-steps': '30', 'canary-interval': 3 }),
      workspace: await workspaceWithJar('2'),
    })
    const stats = await Promise.all(loops.map((loop) => loop.stop()))
    expect(result.code, why(result)).toBe(0)
    for (const s of stats) {
      expect(s.failed, JSON.stringify(s.failures)).toBe(0)
      expect(flippedBack(s)).toEqual([])
    }
    expect(result.outputs.canary).toBe('promoted,promoted,promoted')
    for (const h of hosts) expect(await served(h)).toBe('200 version=2 port=8081')
    const report = reportOf(result)
    for (const r of report) {
      const [step] = r.traffic
      expect(step).toMatchObject({ step: 'canary 30%', verdict: 'pass' })
      // The step's figures add every host up; each host has its own too.
      expect(step.figures.new.requests).toBe(report.reduce((sum: number, h: any) => sum + h.traffic[0].hostFigures.new.requests, 0))
      expect(step.hostFigures.new.requests).toBeGreaterThan(0)
    }
    expect(result.stdout).toMatch(/Phases: stage [\d.]+ s, canary [\d.]+ s, switch [\d.]+ s\./)
  })

  it("one host's release fails every 5th request: the analysis of all hosts catches it, and every host goes back", async () => {
    // Same inputs and jar everywhere; only host 2's own file makes its instance flaky.
    await writeFile(path.join(hosts[1].deployDir, 'sample-mode'), 'flaky\n')
    const loops = clients()
    await sleep(500)
    const result = await runAction({
      inputs: fleetInputs({ 'canary-steps': '20', 'canary-interval': 20 }),
      workspace: await workspaceWithJar('3'),
    })
    const stats = await Promise.all(loops.map((loop) => loop.stop()))
    expect(result.code, why(result)).not.toBe(0)
    // Only host 2's users met errors, and only the release's own 500s.
    expect(stats[0].failed + stats[2].failed, JSON.stringify([stats[0].failures, stats[2].failures])).toBe(0)
    expect(stats[1].failures.every((f: any) => f.status === 500)).toBe(true)
    expect(result.outputs['rolled-back']).toBe('true,true,true')
    expect(result.outputs['active-port']).toBe('8081,8081,8081')
    for (const h of hosts) {
      expect(await served(h)).toBe('200 version=2 port=8081')
      expect(await readFile(h.includePath, 'utf8')).toBe('set $service_url http://127.0.0.1:8081;\n')
    }
    const report = reportOf(result)
    expect(report.map((r: any) => r.outcome)).toEqual(['failed', 'failed', 'failed'])
    const [step] = report[0].traffic
    expect(step).toMatchObject({ step: 'canary 20%', verdict: 'fail' })
    expect(step.hostFigures.new.errors).toBe(0)
    expect(report[1].traffic[0].hostFigures.new.errors).toBeGreaterThan(0)
    const error = report[0].error as string
    expect(error).toMatch(
      /^canary 20%: the new version failed its analysis after .* over max-error-rate 1%\. new \(port 8082\): .*; previous \(port 8081\): /,
    )
    expect(error).toContain('Every host is back on its previous instance')
  })
})
