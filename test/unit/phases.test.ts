import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { type PhaseWork, inPool, runPhases, wavesOf } from '../../src/deploy/phases.js'

/** A fleet of pretend hosts: records every call in order, fails where told. */
function fakeFleet(options: { failStage?: number[]; failSwitch?: number[]; failFinish?: number[]; stageMs?: (i: number) => number } = {}) {
  const events: string[] = []
  let staging = 0
  let mostStaging = 0
  const work: PhaseWork<{ host: number }> = {
    async stage(i) {
      events.push(`stage ${i}`)
      staging++
      mostStaging = Math.max(mostStaging, staging)
      await sleep(options.stageMs?.(i) ?? 5)
      staging--
      if (options.failStage?.includes(i)) throw new Error(`host ${i} unhealthy`)
      events.push(`staged ${i}`)
      return { host: i }
    },
    async switch(staged, i) {
      expect(staged.host).toBe(i)
      events.push(`switch ${i}`)
      await sleep(1)
      if (options.failSwitch?.includes(i)) throw new Error(`host ${i} switch refused`)
    },
    async switchBack(_staged, i) {
      events.push(`switchBack ${i}`)
    },
    async unstage(_staged, i) {
      events.push(`unstage ${i}`)
    },
    async finish(_staged, i) {
      events.push(`finish ${i}`)
      if (options.failFinish?.includes(i)) throw new Error(`host ${i} prune failed`)
    },
    onWave(wave, indices) {
      events.push(`wave ${wave}: ${indices.join(',')}`)
    },
  }
  return { work, events, mostStaging: () => mostStaging }
}

const positions = (events: string[], prefix: string) => events.flatMap((e, i) => (e.startsWith(prefix) ? [i] : []))

describe('wavesOf and inPool', () => {
  it('cuts the hosts into waves of max-parallel, in host order', () => {
    expect(wavesOf(5, 1)).toEqual([[0], [1], [2], [3], [4]])
    expect(wavesOf(5, 2)).toEqual([[0, 1], [2, 3], [4]])
    expect(wavesOf(3, 10)).toEqual([[0, 1, 2]])
    expect(wavesOf(0, 1)).toEqual([])
  })

  it('runs at most `limit` at once and starts nothing once told to stop', async () => {
    let running = 0
    let most = 0
    const ran: number[] = []
    await inPool(
      10,
      3,
      async (i) => {
        running++
        most = Math.max(most, running)
        ran.push(i)
        await sleep(5)
        running--
      },
      () => ran.length < 7,
    )
    expect(most).toBe(3)
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
})

describe('runPhases', () => {
  it('stages every host (stage-parallel at a time) before the first switch, switches wave after wave, finishes last', async () => {
    const fleet = fakeFleet({ stageMs: (i) => 5 + ((i * 7) % 4) })
    const outcome = await runPhases(6, { stageParallel: 4, maxParallel: 2 }, fleet.work)
    expect(outcome.failed).toBeUndefined()
    expect(outcome.fates).toEqual(Array(6).fill('deployed'))
    expect(fleet.mostStaging()).toBe(4)
    const { events } = fleet
    const lastStaged = Math.max(...positions(events, 'staged '))
    expect(Math.min(...positions(events, 'switch '))).toBeGreaterThan(lastStaged)
    expect(events.filter((e) => e.startsWith('wave') || e.startsWith('switch '))).toEqual([
      'wave 0: 0,1',
      'switch 0',
      'switch 1',
      'wave 1: 2,3',
      'switch 2',
      'switch 3',
      'wave 2: 4,5',
      'switch 4',
      'switch 5',
    ])
    expect(Math.min(...positions(events, 'finish '))).toBeGreaterThan(Math.max(...positions(events, 'switch ')))
    expect(positions(events, 'finish ')).toHaveLength(6)
  })

  it('a host that fails to stage: no host is switched, every staged host is unstaged, the rest never start', async () => {
    // Host 1 fails quickly; hosts 0, 2 and 3 are staging at that moment and finish; 4 and 5 never start.
    const fleet = fakeFleet({ failStage: [1], stageMs: (i) => (i === 1 ? 2 : 20) })
    const outcome = await runPhases(6, { stageParallel: 4, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toEqual({ index: 1, phase: 'stage' })
    expect(String(outcome.errors.get(1))).toContain('host 1 unhealthy')
    expect(outcome.fates).toEqual(['unstaged', 'stage-failed', 'unstaged', 'unstaged', 'not-staged', 'not-staged'])
    expect(fleet.events.filter((e) => /^(switch|wave|finish)/.test(e))).toEqual([])
    expect(fleet.events.filter((e) => e.startsWith('unstage')).sort()).toEqual(['unstage 0', 'unstage 2', 'unstage 3'])
    expect(fleet.events).not.toContain('stage 4')
    expect(outcome.switchSeconds).toBe(0)
  })

  it('a switch that fails in the second wave puts the first wave (and its own wave) back, and unstages the rest', async () => {
    const fleet = fakeFleet({ failSwitch: [3] })
    const outcome = await runPhases(6, { stageParallel: 10, maxParallel: 2 }, fleet.work)
    expect(outcome.failed).toEqual({ index: 3, phase: 'switch' })
    expect(outcome.fates).toEqual(['reverted', 'reverted', 'reverted', 'switch-failed', 'unstaged', 'unstaged'])
    const { events } = fleet
    // Wave 3 never began; nothing was finished (stop-previous runs only once every host is switched).
    expect(events).not.toContain('wave 2: 4,5')
    expect(events.filter((e) => e.startsWith('finish'))).toEqual([])
    expect(events.filter((e) => e.startsWith('switchBack')).sort()).toEqual(['switchBack 0', 'switchBack 1', 'switchBack 2'])
    // The failed host's own new instance is stopped too.
    expect(events.filter((e) => e.startsWith('unstage')).sort()).toEqual(['unstage 3', 'unstage 4', 'unstage 5'])
  })

  it('one host is a fleet of one: stage, switch, finish', async () => {
    const fleet = fakeFleet()
    const outcome = await runPhases(1, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.fates).toEqual(['deployed'])
    expect(fleet.events).toEqual(['stage 0', 'staged 0', 'wave 0: 0', 'switch 0', 'finish 0'])
  })

  it('a finish that fails is named; the other hosts finish', async () => {
    const fleet = fakeFleet({ failFinish: [1] })
    const outcome = await runPhases(3, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.fates).toEqual(['deployed', 'finish-failed', 'deployed'])
    expect(outcome.failed).toEqual({ index: 1, phase: 'finish' })
  })
})
