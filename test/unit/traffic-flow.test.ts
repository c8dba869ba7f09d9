import { describe, expect, it } from 'vitest'
import type { TrafficConfig } from '../../src/config/traffic-inputs.js'
import { outputsOf, trafficTable } from '../../src/deploy/outputs.js'
import { type HostReport, emptyReport } from '../../src/deploy/report.js'
import { trafficPlan, trafficPlanLines } from '../../src/deploy/traffic-control.js'
import { AnalysisFailure, type WatchedHost, watchTraffic } from '../../src/deploy/watch.js'
import type { TrafficSample } from '../../src/remote/traffic.js'

const traffic = (over: Partial<TrafficConfig> = {}): TrafficConfig => ({
  canarySteps: [],
  canaryIntervalSeconds: 60,
  canaryKey: '$remote_addr',
  bakeSeconds: 0,
  maxErrorRate: 1,
  maxP99Ms: 0,
  minRequests: 20,
  httpInclude: '/etc/nginx/conf.d/zdd-shop.conf',
  maintenancePage: '',
  ...over,
})

describe('trafficPlan', () => {
  it('a step per percentage, each canary-interval long, then the bake', () => {
    expect(trafficPlan(traffic({ canarySteps: [10, 50], canaryIntervalSeconds: 30, bakeSeconds: 120 }))).toEqual({
      canary: [
        { percent: 10, seconds: 30 },
        { percent: 50, seconds: 30 },
      ],
      hold: false,
      bakeSeconds: 120,
    })
  })

  it('canary-interval 0 holds the first step: no later step and no bake', () => {
    expect(trafficPlan(traffic({ canarySteps: [10, 50], canaryIntervalSeconds: 0, bakeSeconds: 120 }))).toEqual({
      canary: [{ percent: 10, seconds: 0 }],
      hold: true,
      bakeSeconds: 0,
    })
  })

  it('a bake alone, and nothing at all', () => {
    expect(trafficPlan(traffic({ bakeSeconds: 60 }))).toEqual({ canary: [], hold: false, bakeSeconds: 60 })
    expect(trafficPlan(traffic())).toEqual({ canary: [], hold: false, bakeSeconds: 0 })
  })

  it("a dry run's plan lines name the share, the key, the time and the thresholds", () => {
    const config = traffic({ canarySteps: [10], canaryIntervalSeconds: 30, bakeSeconds: 60, maxP99Ms: 500, canaryKey: '$cookie_SESSION' })
    const lines = trafficPlanLines(trafficPlan(config), config)
    expect(lines.beforeSwitch).toEqual([
      'send 10% of the clients (by $cookie_SESSION) to the new instance for 30 s, judged on max-error-rate 1% and max-p99-ms 500 once 20 requests reached the new instance; on a failure all traffic goes back',
    ])
    expect(lines.afterSwitch).toEqual([expect.stringMatching(/^bake: watch the new instance with all the traffic for 60 s/)])
    const held = traffic({ canarySteps: [5], canaryIntervalSeconds: 0 })
    expect(trafficPlanLines(trafficPlan(held), held).beforeSwitch[0]).toContain('held until command: promote or command: rollback')
  })
})

/** A host whose traffic log gives `perRead` samples at each read. */
function host(label: string, newPort: number, previousPort: number, perRead: () => TrafficSample[]): WatchedHost & { reads: number } {
  const watched = {
    label,
    newPort,
    previousPort,
    reads: 0,
    read: async () => {
      watched.reads++
      return perRead()
    },
  }
  return watched
}

const thresholds = { maxErrorRate: 1, maxP99Ms: 200, minRequests: 20 }
const quiet = { info: () => undefined, warning: () => undefined }

describe('watchTraffic', () => {
  it('adds up every host (each may serve either port of the pair) and passes a good step at its end', async () => {
    const a = host('a', 8082, 8081, () => [
      { port: 8082, status: 200, ms: 5, count: 5 },
      { port: 8081, status: 200, ms: 4, count: 20 },
    ])
    // Host b serves 8082 and has its new instance on 8081: its new port counts as the first host's new port.
    const b = host('b', 8081, 8082, () => [
      { port: 8081, status: 200, ms: 7, count: 5 },
      { port: 8082, status: 200, ms: 3, count: 20 },
    ])
    const result = await watchTraffic([a, b], { step: 'canary 10%', seconds: 0.2, thresholds, log: quiet, intervalMs: 50 })
    expect(result.verdict).toBe('pass')
    expect(a.reads).toBeGreaterThanOrEqual(3)
    expect(result.figures.new.port).toBe(8082)
    expect(result.figures.new.requests).toBe(10 * a.reads)
    expect(result.figures.previous.requests).toBe(40 * a.reads)
    expect(result.hosts).toHaveLength(2)
    expect(result.hosts![1].new).toMatchObject({ port: 8081, requests: 5 * b.reads })
  })

  it('fails the moment enough requests show too many errors, long before the step would end, with both sides in the error', async () => {
    let reads = 0
    const flaky = host('a', 8082, 8081, () => {
      reads++
      return [
        { port: 8082, status: 200, ms: 5, count: 8 },
        { port: 8082, status: 500, ms: 5, count: 2 },
        { port: 8081, status: 200, ms: 5, count: 90 },
      ]
    })
    const started = performance.now()
    const failing = watchTraffic([flaky], { step: 'canary 10%', seconds: 60, thresholds, log: quiet, intervalMs: 20 })
    await expect(failing).rejects.toBeInstanceOf(AnalysisFailure)
    const error = (await failing.catch((e: unknown) => e)) as AnalysisFailure
    expect(performance.now() - started).toBeLessThan(1000)
    // Judged from the 20th request on: the second read.
    expect(reads).toBe(2)
    expect(error.step).toBe('canary 10%')
    expect(error.result).toMatchObject({ verdict: 'fail', step: 'canary 10%' })
    expect(error.message).toMatch(
      /^canary 10%: the new version failed its analysis after \d+\.\d s: 20\.0% of the requests to the new instance answered 5xx, over max-error-rate 1%\. new \(port 8082\): 20 requests, 20\.0% 5xx \(500: 4\), p99 5 ms; previous \(port 8081\): 180 requests, 0\.0% 5xx, p99 5 ms\.$/,
    )
  })

  it('fails on p99 over max-p99-ms', async () => {
    const slow = host('a', 8082, 8081, () => [{ port: 8082, status: 200, ms: 400, count: 30 }])
    const error = (await watchTraffic([slow], { step: 'bake', seconds: 5, thresholds, log: quiet, intervalMs: 20 }).catch(
      (e: unknown) => e,
    )) as AnalysisFailure
    expect(error.message).toMatch(
      /^bake: the new version failed its analysis after \d+\.\d s: the new instance's p99 is 400 ms, over max-p99-ms 200\./,
    )
  })

  it('a step that ends with fewer requests than the minimum is a warning, and goes on', async () => {
    const warnings: string[] = []
    const few = host('a', 8082, 8081, () => [{ port: 8082, status: 500, ms: 5, count: 1 }])
    const result = await watchTraffic([few], {
      step: 'canary 5%',
      seconds: 0.1,
      thresholds,
      log: { info: () => undefined, warning: (m) => warnings.push(m) },
      intervalMs: 40,
    })
    expect(result.verdict).toBe('too-few')
    expect(warnings).toEqual([
      expect.stringMatching(
        /^Canary 5%: only \d requests? reached the new instance in .* fewer than analysis-min-requests \(20\), so it was not judged; going on\./,
      ),
    ])
  })
})

describe('the canary in the outputs and the summary', () => {
  const figures = {
    new: { port: 8082, requests: 250, errors: 50, statuses: { '200': 200, '500': 50 }, p99Ms: 12 },
    previous: { port: 8081, requests: 2250, errors: 0, statuses: { '200': 2250 }, p99Ms: 9 },
  }
  const report = (over: Partial<HostReport>): HostReport => ({ ...emptyReport('h', 'deploy'), ...over })

  it('output canary: held or promoted per host, empty when no host had a canary', () => {
    expect(outputsOf({ reports: [report({}), report({})] }).canary).toBe('')
    expect(outputsOf({ reports: [report({ canary: 'held' })] }).canary).toBe('held')
    expect(outputsOf({ reports: [report({ canary: 'promoted' }), report({ canary: 'promoted' })] }).canary).toBe('promoted,promoted')
  })

  it("the summary's table: each step's verdict and both sides' figures", () => {
    const rows = trafficTable([
      report({
        traffic: [
          { step: 'canary 10%', seconds: 30, verdict: 'pass', figures: { ...figures, new: { ...figures.new, errors: 0 } } },
          { step: 'bake', seconds: 2.5, verdict: 'fail', reason: '20.0% of the requests ...', figures },
        ],
      }),
    ])!
    expect(rows.slice(1)).toEqual([
      ['canary 10%', 'pass', '30.0', 'port 8082: 250 requests, 0.0% 5xx, p99 12 ms', 'port 8081: 2250 requests, 0.0% 5xx, p99 9 ms'],
      [
        'bake',
        'fail: 20.0% of the requests ...',
        '2.5',
        'port 8082: 250 requests, 20.0% 5xx, p99 12 ms',
        'port 8081: 2250 requests, 0.0% 5xx, p99 9 ms',
      ],
    ])
    expect(trafficTable([report({})])).toBeUndefined()
  })
})
