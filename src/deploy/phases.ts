/**
 * The order of a fleet deploy, apart from what each step does on a host: stage every host (a bounded
 * number at once), then switch them in waves, then finish them. The host work comes in as callbacks,
 * so that this order, and what a failure in each phase leaves, can be checked without hosts.
 *
 * The promises kept here:
 * - no host is switched unless every host staged;
 * - a switch is sent only when its wave begins, so a run that ends early (cancelled, killed) has
 *   switched nothing it had not reached;
 * - a failed switch puts every host this run switched back on its previous instance;
 * - `finish` (stop-previous, prune) runs only once every host is switched;
 * - every staged host ends in exactly one of `finish`, `unstage` or `switchBack`, each of which lets
 *   go of the host (its lock) whatever happens.
 */

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
  /** Switched, then put back on its previous instance because another host's switch failed. */
  | 'reverted'
  | 'revert-failed'

export interface FleetOutcome {
  fates: HostFate[]
  /** Errors by host index: the failure itself, or what went wrong while cleaning up after it. */
  errors: Map<number, unknown>
  /** The host whose failure ended the run, and the phase it failed in. */
  failed?: { index: number; phase: 'stage' | 'switch' | 'finish' }
  stageSeconds: number
  switchSeconds: number
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

  const switchStart = performance.now()
  const switched: number[] = []
  const waves = wavesOf(count, limits.maxParallel)
  for (const [wave, indices] of waves.entries()) {
    work.onWave?.(wave, indices)
    const results = await Promise.allSettled(indices.map((index) => work.switch(staged[index]!, index)))
    for (const [k, result] of results.entries()) {
      const index = indices[k]
      if (result.status === 'fulfilled') switched.push(index)
      else {
        fates[index] = 'switch-failed'
        note(index, result.reason)
        failed ??= { index, phase: 'switch' }
      }
    }
    if (!failed) continue
    // Back to one version: the switched hosts return to their warm previous instance, at once.
    await Promise.all(
      switched.map(async (index) => {
        try {
          await work.switchBack(staged[index]!, index)
          fates[index] = 'reverted'
        } catch (error) {
          fates[index] = 'revert-failed'
          note(index, error)
        }
      }),
    )
    const unswitched = Array.from({ length: count }, (_, i) => i).filter((i) => !switched.includes(i))
    await unstage(unswitched)
    return { fates, errors, failed, stageSeconds, switchSeconds: seconds(switchStart) }
  }
  const switchSeconds = seconds(switchStart)

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
  return { fates, errors, failed, stageSeconds, switchSeconds }
}
