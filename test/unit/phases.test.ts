import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { type PhaseWork, type TrafficWork, inPool, runPhases, wavesOf } from '../../src/deploy/phases.js'

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

/** Traffic control's part: canary steps, a watch per step, a bake; what fails where. */
function withTraffic(
  fleet: ReturnType<typeof fakeFleet>,
  options: {
    steps?: number[]
    hold?: boolean
    bake?: boolean
    failWatch?: number
    failBake?: boolean
    failStep?: { host: number; step: number }
  } = {},
) {
  const { events } = fleet
  const traffic: TrafficWork<{ host: number }> = {
    steps: options.steps ?? [],
    hold: options.hold ?? false,
    async toStep(_staged, i, step) {
      events.push(`step ${step} ${i}`)
      if (options.failStep?.host === i && options.failStep.step === step) throw new Error(`host ${i} refused step ${step}`)
    },
    async watchStep(step) {
      events.push(`watch ${step}`)
      if (options.failWatch === step) throw new Error(`step ${step}: 20% 5xx`)
    },
    bake: options.bake
      ? async () => {
          events.push('bake')
          if (options.failBake) throw new Error('bake: p99 too high')
        }
      : undefined,
    async leaveHeld(_staged, i) {
      events.push(`held ${i}`)
    },
  }
  fleet.work.traffic = () => traffic
  return fleet
}

describe('runPhases with canary steps and a bake', () => {
  it('every host takes each step before it is watched; the switch waves follow the last step; the bake follows the waves; finish comes last', async () => {
    const fleet = withTraffic(fakeFleet(), { steps: [10, 50], bake: true })
    const outcome = await runPhases(3, { stageParallel: 10, maxParallel: 2 }, fleet.work)
    expect(outcome.failed).toBeUndefined()
    expect(outcome.fates).toEqual(['deployed', 'deployed', 'deployed'])
    expect(fleet.events.filter((e) => !e.startsWith('stage'))).toEqual([
      'step 0 0',
      'step 0 1',
      'step 0 2',
      'watch 0',
      'step 1 0',
      'step 1 1',
      'step 1 2',
      'watch 1',
      'wave 0: 0,1',
      'switch 0',
      'switch 1',
      'wave 1: 2',
      'switch 2',
      'bake',
      'finish 0',
      'finish 1',
      'finish 2',
    ])
    expect(outcome.canarySeconds).toBeGreaterThanOrEqual(0)
    expect(outcome.bakeSeconds).toBeGreaterThanOrEqual(0)
  })

  it('a failed verdict in a step sends every host back; no later step, switch or finish', async () => {
    const fleet = withTraffic(fakeFleet(), { steps: [10, 50], failWatch: 0 })
    const outcome = await runPhases(3, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toMatchObject({ phase: 'canary' })
    expect(String((outcome.failed as { error: unknown }).error)).toContain('20% 5xx')
    expect(outcome.fates).toEqual(['reverted', 'reverted', 'reverted'])
    const after = fleet.events.slice(fleet.events.indexOf('watch 0') + 1)
    expect(after.sort()).toEqual(['switchBack 0', 'switchBack 1', 'switchBack 2'])
  })

  it('a failed bake sends every host back, and nothing is finished (the previous instances stay warm)', async () => {
    const fleet = withTraffic(fakeFleet(), { bake: true, failBake: true })
    const outcome = await runPhases(2, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toMatchObject({ phase: 'bake' })
    expect(outcome.fates).toEqual(['reverted', 'reverted'])
    expect(fleet.events.filter((e) => e.startsWith('finish'))).toEqual([])
    expect(fleet.events.slice(fleet.events.indexOf('bake') + 1).sort()).toEqual(['switchBack 0', 'switchBack 1'])
  })

  it('a host that fails to take the first step: the hosts on it go back, it and the rest are unstaged', async () => {
    const fleet = withTraffic(fakeFleet(), { steps: [10], failStep: { host: 1, step: 0 } })
    const outcome = await runPhases(3, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toEqual({ index: 1, phase: 'canary' })
    expect(outcome.fates).toEqual(['reverted', 'switch-failed', 'reverted'])
    expect(fleet.events.filter((e) => e.startsWith('switchBack')).sort()).toEqual(['switchBack 0', 'switchBack 2'])
    expect(fleet.events.filter((e) => e.startsWith('unstage'))).toEqual(['unstage 1'])
    expect(fleet.events).not.toContain('watch 0')
  })

  it('after a canary, a switch that fails in a wave sends every host back, the failed one too (it is still on the split)', async () => {
    const fleet = withTraffic(fakeFleet({ failSwitch: [1] }), { steps: [10] })
    const outcome = await runPhases(3, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toEqual({ index: 1, phase: 'switch' })
    expect(outcome.fates).toEqual(['reverted', 'switch-failed', 'reverted'])
    expect(fleet.events.filter((e) => e.startsWith('switchBack')).sort()).toEqual(['switchBack 0', 'switchBack 1', 'switchBack 2'])
    expect(fleet.events.filter((e) => e.startsWith('unstage'))).toEqual([])
  })

  it('a held canary: every host on the first step, then let go; nothing watched, switched, stopped or finished', async () => {
    const fleet = withTraffic(fakeFleet(), { steps: [10], hold: true, bake: true })
    const outcome = await runPhases(2, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toBeUndefined()
    expect(outcome.fates).toEqual(['held', 'held'])
    expect(fleet.events.filter((e) => !e.startsWith('stage'))).toEqual(['step 0 0', 'step 0 1', 'held 0', 'held 1'])
  })

  it('a host that fails to stage: no step is taken', async () => {
    const fleet = withTraffic(fakeFleet({ failStage: [0] }), { steps: [10], bake: true })
    const outcome = await runPhases(2, { stageParallel: 10, maxParallel: 1 }, fleet.work)
    expect(outcome.failed).toEqual({ index: 0, phase: 'stage' })
    expect(fleet.events.filter((e) => /^(step|watch|bake|switch)/.test(e))).toEqual([])
  })
})
