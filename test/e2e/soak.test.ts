// The soak, in the suite's budget: deploys under traffic cut off at random moments (SIGKILL of the
// action, a network that goes silent), some racing a second deploy, each followed by a deploy that
// must succeed; after every round nginx serves the follow-up, at most two instances run, no partial
// upload and no lock past its lease is left; rollback works at the end; no request fails.
// ZDD_SOAK_SEED replays a run, ZDD_SOAK_ROUNDS sets the rounds; `npm run soak` runs the full count.
import { describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper shared with scripts/soak.mjs
import { formatSummary, runSoak } from '../../scripts/lib/soak.mjs'

/** Few rounds here, one of them a network cut (its follow-up waits out the lease, about a minute). */
const ROUNDS = Number(process.env.ZDD_SOAK_ROUNDS ?? 5)
const SEED = process.env.ZDD_SOAK_SEED ? Number(process.env.ZDD_SOAK_SEED) : Math.floor(Math.random() * 2 ** 31)

describe('the soak: deploys cut off at random moments', () => {
  it(`${ROUNDS} rounds leave the host as a correct deploy does, with 0 failed requests`, async () => {
    console.log(`soak seed ${SEED} (replay: ZDD_SOAK_SEED=${SEED} ZDD_SOAK_ROUNDS=${ROUNDS})`)
    const result = await runSoak({ seed: SEED, rounds: ROUNDS, stopOnViolation: true, log: (line: string) => console.log(line) })
    const summary = formatSummary(result)
    console.log(summary)
    expect(result.violations, summary).toEqual([])
    expect(result.traffic.failed).toBe(0)
    expect(result.traffic.total).toBeGreaterThan(0)
  }, 900_000)
})
