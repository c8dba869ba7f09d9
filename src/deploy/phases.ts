/**
 * The order of a fleet deploy, apart from what each step does on a host: stage every host (a bounded
 * number at once), then take every host through each canary step together (watching the traffic of
 * all of them), then switch them in waves, then watch them bake, then finish them. The host work comes in as callbacks,
 * so that this order, and what a failure in each phase leaves, can be checked without hosts.
 *
 * The promises kept here:
 * - no host is switched (nor put on a canary step) unless every host staged;
 * - every host is on a canary step before that step is watched, and the next step (or the switch)
 *   begins only once the step passed;
 * - a step, a switch or a bake that fails puts every host that may send the new version traffic back
 *   on its previous instance: after a canary, that is every host;
 * - a held canary (canary-interval 0) ends the run with every host on the first step, nothing
 *   stopped, each host let go;
 * - a switch is sent only when its wave begins, so a run that ends early (cancelled, killed) has
 *   switched nothing it had not reached;
 * - a failed switch puts every host this run switched back on its previous instance;
 * - `finish` (stop-previous, prune) runs only once every host is switched;
 * - every staged host ends in exactly one of `finish`, `unstage`, `switchBack` or `leaveHeld`, each
 *   of which lets go of the host (its lock) whatever happens.
 */

/** Traffic control's part of the order (SPEC "Traffic control"). */
export interface TrafficWork<S> {
  /** The canary's percentages, a step each, in order; empty for no canary. */
  steps: number[]
  /** canary-interval 0: the run ends once every host is on the first step. */
  hold: boolean
  /** Puts host `index` on canary step `step` (from 0); on failure it serves what it served before. */
  toStep(staged: S, index: number, step: number): Promise<void>
  /** Watches step `step` on every host at once; throws when the new version fails its analysis. */
  watchStep(step: number): Promise<void>
  /** Watches the new version with all the traffic, once every host is switched; throws as watchStep. */
  bake?(): Promise<void>
  /** A held canary: lets go of the host, with nothing stopped. */
  leaveHeld(staged: S, index: number): Promise<void>
}

export interface PhaseWork<S> {
  /** Gets host `index` ready to serve the new version without serving it; throws on failure. */
  stage(index: number): Promise<S>
  /** Points host `index` at its staged instance; on failure the host still (or again) serves its old one. */
  switch(staged: S, index: number): Promise<void>
  /** Puts a switched host back on its previous instance. */
  switchBack(staged: S, index: number): Promise<void>
  /** Stops a staged, unswitched host's new instance and lets go of the host. */
  unstage(staged: S, index: number): Promise<void>
  /** After every host is switched: stop-previous, prune, let go of the host. */
  finish(staged: S, index: number): Promise<void>
  /** Called once every host is staged, before the first wave, with the phase's seconds. */
  onStaged?(seconds: number): void
  /** Called when wave `wave` (from 0) begins, with the hosts it switches. */
  onWave?(wave: number, indices: number[]): void
  /** Asked once every host is staged: traffic control's steps, or none. */
  traffic?(staged: S[]): TrafficWork<S> | undefined
}

export type HostFate =
  /** Staged, switched and finished. */
  | 'deployed'
  /** Switched and serving the new version, but stop-previous or the prune failed. */
  | 'finish-failed'
  | 'stage-failed'
  /** Staged, then its new instance stopped because another host failed: nginx was never touched. */
  | 'unstaged'
  /** Never staged: another host had already failed. */
  | 'not-staged'
  | 'switch-failed'
  /** Switched (or on a canary step), then put back on its previous instance because the fleet failed. */
  | 'reverted'
  | 'revert-failed'
  /** On the first canary step, left there: canary-interval 0. */
  | 'held'

export interface FleetOutcome {
  fates: HostFate[]
  /** Errors by host index: the failure itself, or what went wrong while cleaning up after it. */
  errors: Map<number, unknown>
  /**
   * The host whose failure ended the run, and the phase it failed in; a failed analysis (a canary
   * step's or the bake's) is the whole fleet's, with no host of its own and its `error`.
   */
  failed?: { index: number; phase: 'stage' | 'canary' | 'switch' | 'bake' | 'finish' } | { phase: 'canary' | 'bake'; error: unknown }
  stageSeconds: number
  switchSeconds: number
  /** The canary steps and the bake, in seconds, when there were any. */
  canarySeconds?: number
  bakeSeconds?: number
}

/** Runs `work` for 0..count-1, at most `limit` at once, in index order; `shouldStart` is asked before each. */
export async function inPool(
  count: number,
  limit: number,
  work: (index: number) => Promise<void>,
  shouldStart = () => true,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const index = next++
      if (!shouldStart()) continue
      await work(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), count) }, worker))
}

/** Host indices 0..count-1 in waves of `size`, in host order. */
export function wavesOf(count: number, size: number): number[][] {
  const waves: number[][] = []
  for (let i = 0; i < count; i += Math.max(1, size)) waves.push(Array.from({ length: Math.min(size, count - i) }, (_, k) => i + k))
  return waves
}

const seconds = (since: number) => Math.round(performance.now() - since) / 1000

export async function runPhases<S>(
  count: number,
  limits: { stageParallel: number; maxParallel: number },
  work: PhaseWork<S>,
): Promise<FleetOutcome> {
  const fates: HostFate[] = new Array<HostFate>(count).fill('not-staged')
  const errors = new Map<number, unknown>()
  const staged: Array<S | undefined> = new Array<S | undefined>(count)
  let failed: FleetOutcome['failed']
  const note = (index: number, error: unknown) => {
    if (!errors.has(index)) errors.set(index, error)
  }

  const stageStart = performance.now()
  await inPool(
    count,
    limits.stageParallel,
    async (index) => {
      try {
        staged[index] = await work.stage(index)
      } catch (error) {
        fates[index] = 'stage-failed'
        note(index, error)
        failed ??= { index, phase: 'stage' }
      }
    },
    () => failed === undefined,
  )
  const stageSeconds = seconds(stageStart)
  const unstage = (indices: number[]) =>
    Promise.all(
      indices.map(async (index) => {
        const s = staged[index]
        if (s === undefined) return
        await work.unstage(s, index).catch((error: unknown) => note(index, error))
        if (fates[index] === 'not-staged') fates[index] = 'unstaged'
      }),
    )
  if (failed) {
    await unstage(Array.from({ length: count }, (_, i) => i))
    return { fates, errors, failed, stageSeconds, switchSeconds: 0 }
  }
  work.onStaged?.(stageSeconds)

  const all = Array.from({ length: count }, (_, i) => i)
  /** Hosts that may send the new version traffic: they go back on failure; the others are unstaged. */
  const exposed = new Set<number>()
  const goBack = async (failedHosts: number[]) => {
    await Promise.all(
      [...exposed].map(async (index) => {
        try {
          await work.switchBack(staged[index]!, index)
          if (!failedHosts.includes(index)) fates[index] = 'reverted'
        } catch (error) {
          fates[index] = 'revert-failed'
          note(index, error)
        }
      }),
    )
    await unstage(all.filter((i) => !exposed.has(i)))
  }
  /** Sends every host in `indices` to `move` at once; false (and the fleet put back) if one failed. */
  const moveAll = async (indices: number[], phase: 'canary' | 'switch', move: (index: number) => Promise<void>) => {
    const results = await Promise.allSettled(indices.map((index) => move(index)))
    const failedHosts: number[] = []
    for (const [k, result] of results.entries()) {
      const index = indices[k]
      if (result.status === 'fulfilled') exposed.add(index)
      else {
        fates[index] = 'switch-failed'
        note(index, result.reason)
        failed ??= { index, phase }
        failedHosts.push(index)
      }
    }
    if (failedHosts.length > 0) await goBack(failedHosts)
    return failedHosts.length === 0
  }
  const analysisFailed = async (phase: 'canary' | 'bake', error: unknown) => {
    failed = { phase, error }
    await goBack([])
  }

  const traffic = work.traffic?.(staged as S[])
  let canarySeconds: number | undefined
  if (traffic && traffic.steps.length > 0) {
    const canaryStart = performance.now()
    for (const step of traffic.steps.keys()) {
      if (!(await moveAll(all, 'canary', (index) => traffic.toStep(staged[index]!, index, step))))
        return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) }
      if (traffic.hold) {
        await Promise.all(
          all.map(async (index) => {
            await traffic.leaveHeld(staged[index]!, index).catch((error: unknown) => note(index, error))
            fates[index] = 'held'
          }),
        )
        return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) }
      }
      try {
        await traffic.watchStep(step)
      } catch (error) {
        await analysisFailed('canary', error)
        return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) }
      }
    }
    canarySeconds = seconds(canaryStart)
  }

  const switchStart = performance.now()
  const waves = wavesOf(count, limits.maxParallel)
  for (const [wave, indices] of waves.entries()) {
    work.onWave?.(wave, indices)
    if (!(await moveAll(indices, 'switch', (index) => work.switch(staged[index]!, index))))
      return { fates, errors, failed, stageSeconds, switchSeconds: seconds(switchStart), canarySeconds }
  }
  const switchSeconds = seconds(switchStart)

  let bakeSeconds: number | undefined
  if (traffic?.bake) {
    const bakeStart = performance.now()
    try {
      await traffic.bake()
    } catch (error) {
      await analysisFailed('bake', error)
      return { fates, errors, failed, stageSeconds, switchSeconds, canarySeconds, bakeSeconds: seconds(bakeStart) }
    }
    bakeSeconds = seconds(bakeStart)
  }

  await inPool(count, limits.stageParallel, async (index) => {
    try {
      await work.finish(staged[index]!, index)
      fates[index] = 'deployed'
    } catch (error) {
      fates[index] = 'finish-failed'
      note(index, error)
      failed ??= { index, phase: 'finish' }
    }
  })
  return { fates, errors, failed, stageSeconds, switchSeconds, canarySeconds, bakeSeconds }
}
