// The bench's bad-release figures: what the clients saw and what the action said, made into the rows
// the bench prints. The bench reports these figures, so a wrong one would mislead whoever reads it.
import { describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper of the bench
import { TARGET_SECONDS, WINDOW_SECONDS, rowsOf, runFigures } from '../../scripts/lib/bench-traffic.mjs'

const T0 = 1_800_000_000_000

/** Clients' stats: the good version answers every 10 ms throughout, the bad one from `from` to `to` (ms after T0), every 5th failing, every 20 ms. */
function clients(from: number, to: number, end = 15_000) {
  const good = { at: [] as number[], failedAt: [] as number[] }
  const bad = { at: [] as number[], failedAt: [] as number[] }
  const answeredAt: number[] = []
  const failedAt: number[] = []
  for (let t = 0; t < end; t += 10) {
    answeredAt.push(T0 + t)
    good.at.push(T0 + t)
  }
  let n = 0
  for (let t = from; t <= to; t += 20) {
    answeredAt.push(T0 + t)
    bad.at.push(T0 + t)
    if (++n % 5 === 0) {
      bad.failedAt.push(T0 + t)
      failedAt.push(T0 + t)
    }
  }
  answeredAt.sort((a, b) => a - b)
  return {
    total: answeredAt.length,
    failed: failedAt.length,
    failures: [],
    failedAt,
    answeredAt,
    versions: { 'version=good1': good, 'version=bad-canary1': bad },
    clients: { 'client-0': ['version=good1'], 'client-1': ['version=good1', 'version=bad-canary1', 'version=good1'] },
  }
}

const message =
  'canary 10%: the new version failed its analysis after 0.6 s: 20.0% of the requests to the new instance answered 5xx, over max-error-rate 1%. ' +
  'new (port 8082): 25 requests, 20.0% 5xx (500: 5), p99 3 ms; previous (port 8081): 190 requests, 0.0% 5xx, p99 2 ms. ' +
  'Traffic is back on the previous instance (port 8081), 0.2 s after the verdict and 0.9 s after the step began; the new instance was drained and stopped.'

function rolledBack(from: number, to: number) {
  return runFigures({
    kind: 'canary',
    version: 'bad-canary1',
    code: 1,
    outputs: { 'rolled-back': 'true', report: JSON.stringify([{ outcome: 'failed', error: message }]) },
    stdout: '',
    clients: clients(from, to),
    began: T0 + from - 40,
    back: T0 + to - 100,
    stillServing: false,
  })
}

describe("the bench's bad-release figures", () => {
  it("time the bad version from the clients' answers, and read the action's own figures from its message", () => {
    const run = rolledBack(1000, 2000)
    expect(run.servedSeconds).toBeCloseTo(1.0)
    // The 20th answer of the bad version came 19 x 20 ms after its first.
    expect(run.afterEnoughSeconds).toBeCloseTo(0.62)
    expect(run.includeSeconds).toBeCloseTo(0.94)
    expect(run).toMatchObject({
      rolledBack: true,
      outcome: 'failed',
      verdictAfterSeconds: 0.6,
      backAfterVerdictSeconds: 0.2,
      backAfterStartSeconds: 0.9,
      newRequests: 25,
      newErrorRate: 20,
      previousRequests: 190,
      badAnswers: 51,
      badFailed: 10,
      clientsMet: 1,
    })
    // The window counts from the bad version's first answer, for WINDOW_SECONDS.
    expect(run.failedInWindow).toBe(10)
    expect(run.totalInWindow).toBe(51 + (WINDOW_SECONDS * 1000) / 10)
  })

  it('say nothing of how long a bad version served when it still served at the end', () => {
    const run = runFigures({
      kind: 'bake',
      version: 'bad-canary1',
      code: 0,
      outputs: { 'rolled-back': 'false', report: '[]' },
      stdout: '',
      clients: clients(1000, 15_000),
      stillServing: true,
    })
    expect(run.servedSeconds).toBeUndefined()
    expect(run.afterEnoughSeconds).toBeUndefined()
    expect(run.verdictAfterSeconds).toBeUndefined()
    const rows = rowsOf([run])
    const row = rows.find((r: any) => r.label.includes('after its 20th answer'))
    expect(row.pass.bake).toBe(false)
    expect(rows.find((r: any) => r.label.startsWith('Bad version served')).values.bake).toBe('still served at the end')
  })

  it(`meet the target when the median run is back within ${TARGET_SECONDS} s of the 20th answer, and every run rolled back`, () => {
    const runs = [rolledBack(1000, 2000), rolledBack(1000, 9000), rolledBack(1000, 3000)]
    const row = rowsOf(runs).find((r: any) => r.label.includes('after its 20th answer'))
    expect(row.values.canary).toBe('1.62 (0.62-7.62)')
    expect(row.pass.canary).toBe(true)
    const slow = rowsOf([rolledBack(1000, 9000), rolledBack(1000, 8000), rolledBack(1000, 2000)]).find((r: any) =>
      r.label.includes('after its 20th answer'),
    )
    expect(slow.pass.canary).toBe(false)
    const runsRow = rowsOf(runs).find((r: any) => r.label.startsWith('Runs;'))
    expect(runsRow.values).toMatchObject({ plain: '-', canary: '3; 3', bake: '-' })
  })
})
