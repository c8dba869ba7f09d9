/** The analysis of a step (src/deploy/analysis.ts): figures from what nginx saw, and the verdict. */
import { describe, expect, it } from 'vitest'
import { type Figures, TrafficTally, figuresText, judge } from '../../src/deploy/analysis.js'
import type { TrafficSample } from '../../src/remote/traffic.js'

const NEW = 8082
const PREVIOUS = 8081
const thresholds = { maxErrorRate: 1, maxP99Ms: 0, minRequests: 20 }

function tally(...hosts: TrafficSample[][]): Figures {
  const t = new TrafficTally(NEW, PREVIOUS)
  for (const samples of hosts) t.add(samples)
  return t.figures()
}

describe('TrafficTally', () => {
  it('counts requests, 5xx (nginx 502/504 included) and statuses per side; other ports and none reached are left out', () => {
    const figures = tally([
      { port: NEW, status: 200, ms: 10, count: 190 },
      { port: NEW, status: 500, ms: 5, count: 5 },
      { port: NEW, status: 502, ms: 0, count: 3 },
      { port: NEW, status: 504, ms: 60000, count: 2 },
      { port: NEW, status: 404, ms: 2, count: 7 },
      { port: PREVIOUS, status: 200, ms: 4, count: 800 },
      { port: 0, status: 503, ms: 0, count: 50 },
      { port: 9000, status: 500, ms: 1, count: 9 },
    ])
    expect(figures.new).toMatchObject({
      port: NEW,
      requests: 207,
      errors: 10,
      statuses: { '200': 190, '404': 7, '500': 5, '502': 3, '504': 2 },
    })
    expect(figures.previous).toMatchObject({ port: PREVIOUS, requests: 800, errors: 0, statuses: { '200': 800 }, p99Ms: 4 })
  })

  it('p99 is the nearest rank of the histogram: 1 slow request in 100 is the p99, 1 in 101 is not', () => {
    expect(
      tally([
        { port: NEW, status: 200, ms: 3, count: 99 },
        { port: NEW, status: 200, ms: 400, count: 1 },
      ]).new.p99Ms,
    ).toBe(3)
    expect(
      tally([
        { port: NEW, status: 200, ms: 3, count: 98 },
        { port: NEW, status: 200, ms: 400, count: 2 },
      ]).new.p99Ms,
    ).toBe(400)
    expect(tally([]).new.p99Ms).toBeUndefined()
  })

  it('adds up hosts exactly: the p99 of all requests, not of any one host', () => {
    const slowHost = [{ port: NEW, status: 200, ms: 900, count: 4 }]
    const fastHost = [{ port: NEW, status: 200, ms: 2, count: 296 }]
    // On its own the slow host's p99 is 900 ms and the fast host's 2 ms; together 4 of 300 are slow.
    const both = tally(slowHost, fastHost, [{ port: NEW, status: 200, ms: 2, count: 0 }])
    expect(both.new).toMatchObject({ requests: 300, p99Ms: 900 })
    // 3 of 300: the 297th fastest is the p99.
    expect(
      tally(
        slowHost.map((s) => ({ ...s, count: 3 })),
        [{ ...fastHost[0], count: 297 }],
      ).new.p99Ms,
    ).toBe(2)
  })
})

describe('judge', () => {
  it('too few requests to the new side is no verdict yet, whatever they answered', () => {
    expect(judge(tally([{ port: NEW, status: 500, ms: 1, count: 19 }]), thresholds)).toEqual({ kind: 'too-few' })
    expect(judge(tally([]), { ...thresholds, minRequests: 0 })).toEqual({ kind: 'too-few' })
  })

  it('fails once the 5xx rate is over max-error-rate, passes at it', () => {
    const at = tally([
      { port: NEW, status: 200, ms: 1, count: 99 },
      { port: NEW, status: 502, ms: 0, count: 1 },
    ])
    expect(judge(at, thresholds)).toEqual({ kind: 'pass' })
    const over = tally([
      { port: NEW, status: 200, ms: 1, count: 80 },
      { port: NEW, status: 500, ms: 1, count: 20 },
    ])
    expect(judge(over, thresholds)).toEqual({
      kind: 'fail',
      reason: '20.0% of the requests to the new instance answered 5xx, over max-error-rate 1%',
    })
  })

  it("judges the new side alone: the previous side's errors do not fail it", () => {
    const figures = tally([
      { port: NEW, status: 200, ms: 1, count: 50 },
      { port: PREVIOUS, status: 500, ms: 1, count: 50 },
    ])
    expect(judge(figures, thresholds)).toEqual({ kind: 'pass' })
  })

  it('fails on p99 over max-p99-ms, and leaves p99 alone when max-p99-ms is 0', () => {
    const slow = tally([{ port: NEW, status: 200, ms: 400, count: 30 }])
    expect(judge(slow, { ...thresholds, maxP99Ms: 250 })).toEqual({
      kind: 'fail',
      reason: "the new instance's p99 is 400 ms, over max-p99-ms 250",
    })
    expect(judge(slow, { ...thresholds, maxP99Ms: 400 })).toEqual({ kind: 'pass' })
    expect(judge(slow, thresholds)).toEqual({ kind: 'pass' })
  })
})

describe('figuresText', () => {
  it('gives requests, 5xx rate with the 5xx statuses, p99 and other statuses for both sides', () => {
    const figures = tally([
      { port: NEW, status: 200, ms: 12, count: 200 },
      { port: NEW, status: 500, ms: 3, count: 50 },
      { port: PREVIOUS, status: 200, ms: 4, count: 990 },
      { port: PREVIOUS, status: 404, ms: 1, count: 10 },
    ])
    expect(figuresText(figures)).toBe(
      'new (port 8082): 250 requests, 20.0% 5xx (500: 50), p99 12 ms; previous (port 8081): 1000 requests, 0.0% 5xx, p99 4 ms, other statuses 404: 10',
    )
    expect(figuresText(tally([]))).toBe('new (port 8082): no requests; previous (port 8081): no requests')
  })
})
