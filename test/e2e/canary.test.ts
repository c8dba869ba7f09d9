// Canary steps and the bake, end to end on one host: real nginx, real JVMs, clients that each carry
// their own key (X-Client, hashed by split_clients) through nginx the whole time. A good release
// goes through a 20% canary to all traffic; releases that fail every 5th request, or take 400 ms,
// are caught by what nginx saw and traffic goes back to the previous version; a held canary ends
// the run with both versions serving; an http-level file nginx does not read is refused before
// anything starts.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { firstSideClients, flippedBack, shareOn, startTraffic } from '../../scripts/lib/traffic.mjs'
import { trafficLogPath } from '../../src/remote/traffic.js'
import { type ActionRun, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

/** Clients, each with its own key: 100 keys put the hash's spread at ±4 points (one sigma) around a step's share. */
const CLIENTS = 100

/** The include's texts over time, polled every 20 ms: when each mode began. */
function watchInclude(file: string) {
  const seen: { at: number; text: string }[] = []
  let stopped = false
  const polling = (async () => {
    while (!stopped) {
      const text = await readFile(file, 'utf8').catch(() => '')
      if (seen.at(-1)?.text !== text) seen.push({ at: performance.now(), text })
      await sleep(20)
    }
  })()
  return {
    seen,
    /** When the include first matched `pattern` (at or after `after`). */
    when: (pattern: RegExp, after = 0) => seen.find((s) => s.at >= after && pattern.test(s.text))?.at,
    stop: async () => {
      stopped = true
      await polling
    },
  }
}

describe('canary steps and the bake on one host', () => {
  let target: any
  let traffic: any
  let ports: [number, number]
  const inputs = () => ({
    'canary-key': '$http_x_client',
    'nginx-http-include': target.httpIncludePath,
    'drain-seconds': 1,
  })
  const clients = () => startTraffic({ url: target.url, clientKeys: CLIENTS, pauseMs: 250 })
  /** Releases of the sample that answer UP on their health path and still fail their users. */
  let good: string
  let flaky: string

  beforeAll(async () => {
    target = await startTarget()
    ports = target.appPorts
    good = await workspaceWithJar('2')
    flaky = await workspaceWithJar('3')
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    expect(await served(target)).toBe(`200 version=1 port=${ports[1]}`)
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('a good release through a 20% then a 50% canary: the hashed share of clients on it at each step, none flips back, then all of them, 0 failed requests', async () => {
    const accessLogLines = async () => (await readFile(target.nginxAccessLogPath, 'utf8')).split('\n').length - 1
    const logged = await accessLogLines()
    // What an earlier run left in the traffic log: a run starts the log afresh, never reading these,
    // and the log never holds more than one run's lines.
    const trafficLog = trafficLogPath(target.deployDir)
    await writeFile(trafficLog, `1765000000.000|500|127.0.0.1:1|0.001|zdd\n`.repeat(1000))
    traffic = clients()
    await sleep(500)
    const include = watchInclude(target.includePath)
    const during: Record<number, any> = {}
    const sampling = (async () => {
      for (const percent of [20, 50]) {
        // Sampled once the split has served every client a few times (each asks every ~250 ms).
        while (!include.when(new RegExp(`canary ${percent}%`))) await sleep(20)
        await sleep(1500)
        during[percent] = traffic.snapshot()
      }
    })()
    const result = await run(target, good, { ...inputs(), 'canary-steps': '20,50', 'canary-interval': 2.5 })
    await sampling
    await include.stop()
    if (process.env.ZDD_VERBOSE === '1') console.log(`${result.stdout}\n${result.summary}`)
    await sleep(500)
    const stats = await traffic.stop()
    traffic = undefined
    expect(result.code, why(result)).toBe(0)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    // The user's own access log recorded every request, through the canary include too.
    expect(await accessLogLines()).toBe(logged + stats.total)
    const runLines = (await readFile(trafficLog, 'utf8')).split('\n').filter(Boolean)
    expect(runLines.some((line) => line.includes('|127.0.0.1:1|'))).toBe(false)
    expect(runLines.length).toBeGreaterThan(0)
    expect(runLines.length).toBeLessThanOrEqual(stats.total)

    // The share on the new version during each step: exactly the clients that nginx's MurmurHash2
    // puts in the first 20% (then 50%) of its space (22, then 57 of these 100 keys), each within
    // two sigmas of a binomial spread with 100 keys (20 ± 8 and 50 ± 10 points).
    const onNew = (snapshot: any) =>
      Object.entries(snapshot.clients as Record<string, string[]>)
        .filter(([, seen]) => seen.at(-1) === 'version=2')
        .map(([key]) => key)
        .sort()
    expect(onNew(during[20])).toEqual(firstSideClients(CLIENTS, 20).sort())
    expect(Math.abs(shareOn(during[20], 'version=2') * 100 - 20)).toBeLessThanOrEqual(8)
    expect(onNew(during[50])).toEqual(firstSideClients(CLIENTS, 50).sort())
    expect(Math.abs(shareOn(during[50], 'version=2') * 100 - 50)).toBeLessThanOrEqual(10)
    // Sticky: every client on the new version at 20% is still there at 50%; no client ever went
    // back to version 1; at the end, all of them are on version 2.
    expect(onNew(during[50])).toEqual(expect.arrayContaining(onNew(during[20])))
    expect(flippedBack(stats)).toEqual([])
    expect(shareOn(stats, 'version=2')).toBe(1)

    expect(result.outputs.canary).toBe('promoted')
    expect(result.outputs['rolled-back']).toBe('false')
    expect(result.outputs['active-port']).toBe(String(ports[0]))
    expect(await served(target)).toBe(`200 version=2 port=${ports[0]}`)
    // The include is the plain one again; the http-level file maps everyone to the new port.
    expect(await readFile(target.includePath, 'utf8')).toBe(`set $service_url http://127.0.0.1:${ports[0]};\n`)
    expect(await readFile(target.httpIncludePath, 'utf8')).toContain(`* ${ports[0]};`)

    const [report] = JSON.parse(result.outputs.report)
    expect(report.traffic.map((s: any) => [s.step, s.verdict])).toEqual([
      ['canary 20%', 'pass'],
      ['canary 50%', 'pass'],
    ])
    const [step] = report.traffic
    expect(step.seconds).toBeGreaterThanOrEqual(2.5)
    expect(step.figures.new).toMatchObject({ port: ports[0], errors: 0 })
    expect(step.figures.new.requests).toBeGreaterThan(20)
    expect(step.figures.previous).toMatchObject({ port: ports[1], errors: 0 })
    // Roughly the share of the clients, in requests too.
    const share = step.figures.new.requests / (step.figures.new.requests + step.figures.previous.requests)
    expect(share).toBeGreaterThan(0.1)
    expect(share).toBeLessThan(0.35)
    expect(Object.keys(report.phases)).toEqual(expect.arrayContaining(['canary', 'switch']))
    expect(result.stdout).toMatch(/Canary 20% passed after \d+\.\d s: new \(port \d+\): \d+ requests, 0\.0% 5xx/)
    expect(result.summary).toContain('Canary and bake')
    expect(result.summary).toContain('canary 20%')
  })

  /** Runs the flaky release with `extra`, and how long from `entered` (the include's mode that begins the watch) to the plain include on the previous port. */
  async function caught(extra: Record<string, string | number>, entered: RegExp) {
    traffic = clients()
    await sleep(500)
    const previous = Number((await served(target)).match(/port=(\d+)/)![1])
    const include = watchInclude(target.includePath)
    const result = await run(target, flaky, { ...inputs(), env: 'SAMPLE_MODE=flaky', ...extra })
    if (process.env.ZDD_VERBOSE === '1') console.log(`${result.stdout}\n${result.summary}`)
    await include.stop()
    const stats = await traffic.stop()
    traffic = undefined
    const began = include.when(entered)
    const back = include.when(new RegExp(`^set \\$service_url http://127\\.0\\.0\\.1:${previous};\\n$`), began)
    expect(began, JSON.stringify(include.seen)).toBeDefined()
    expect(back, JSON.stringify(include.seen)).toBeDefined()
    return { result, stats, previous, seconds: (back! - began!) / 1000 }
  }

  function expectBack(result: ActionRun, previous: number, stats: any) {
    expect(result.code, why(result)).not.toBe(0)
    expect(result.outputs['rolled-back']).toBe('true')
    expect(result.outputs['active-port']).toBe(String(previous))
    expect(result.outputs.canary).toBe('')
    // Users met only the release's own 500s, never a failed connection.
    expect(
      stats.failures.every((f: any) => f.status === 500 && /flaky version=3/.test(f.body)),
      JSON.stringify(stats.failures),
    ).toBe(true)
    // The new instance was drained and stopped; version 2 serves everyone again.
    const [report] = JSON.parse(result.outputs.report)
    expect(report.outcome).toBe('failed')
    return report
  }

  it('a release failing every 5th request, caught in a 10% canary step: back on the previous version within seconds', async () => {
    const { result, stats, previous, seconds } = await caught({ 'canary-steps': '10,50', 'canary-interval': 20 }, /canary 10%/)
    const report = expectBack(result, previous, stats)
    expect(await served(target)).toBe(`200 version=2 port=${previous}`)
    expect(report.error).toMatch(
      /canary 10%: the new version failed its analysis after \d+\.\d s: \d+\.\d% of the requests to the new instance answered 5xx, over max-error-rate 1%\. new \(port \d+\): \d+ requests, \d+\.\d% 5xx \(500: \d+\)[^;]*; previous \(port \d+\): \d+ requests, 0\.0% 5xx/,
    )
    expect(report.failedStep).toBe('canary 10%')
    expect(report.traffic).toEqual([expect.objectContaining({ step: 'canary 10%', verdict: 'fail' })])
    // Never reached 50%.
    expect(JSON.stringify(report.traffic)).not.toContain('50%')
    console.log(
      `flaky release in a 10% canary: back on the previous version ${seconds.toFixed(1)} s after the step began; ${stats.failed} of ${stats.total} requests failed`,
    )
    expect(seconds).toBeLessThan(5)
  })

  it('the same release caught in a bake (no canary): back on the previous version within seconds of the switch', async () => {
    const { result, stats, previous, seconds } = await caught({ 'bake-seconds': 20 }, /observed/)
    const report = expectBack(result, previous, stats)
    expect(report.error).toMatch(/^bake: the new version failed its analysis after .*new \(port \d+\): .*; previous \(port \d+\): /)
    expect(report.error).toContain('Traffic is back on the previous instance')
    expect(report.traffic).toEqual([expect.objectContaining({ step: 'bake', verdict: 'fail' })])
    console.log(
      `flaky release in a bake: back on the previous version ${seconds.toFixed(1)} s after the switch; ${stats.failed} of ${stats.total} requests failed`,
    )
    expect(seconds).toBeLessThan(5)
  })

  it('a latency regression (400 ms a request) is caught by max-p99-ms', async () => {
    traffic = clients()
    const result = await run(target, await workspaceWithJar('4'), {
      ...inputs(),
      env: 'SAMPLE_MODE=slow',
      'canary-steps': '20',
      'canary-interval': 20,
      'max-p99-ms': 200,
    })
    const stats = await traffic.stop()
    traffic = undefined
    expect(result.code, why(result)).not.toBe(0)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(result.outputs['rolled-back']).toBe('true')
    expect(JSON.parse(result.outputs.report)[0].error).toMatch(/^canary 20%: .*the new instance's p99 is \d+ ms, over max-p99-ms 200/)
    expect(await served(target)).toMatch(/^200 version=2 /)
  })

  it('an http-level file nginx does not read: refused before anything is uploaded or started, nginx untouched', async () => {
    const includeBefore = await readFile(target.includePath, 'utf8')
    const releasesBefore = await readdir(path.join(target.deployDir, 'releases'))
    const unread = path.join(target.dir, 'nginx', 'zdd-sample.conf')
    const result = await run(target, await workspaceWithJar('5'), { ...inputs(), 'nginx-http-include': unread, 'canary-steps': '10' })
    expect(result.code, why(result)).not.toBe(0)
    expect(result.stderr + result.stdout).toContain(`inspect: nginx does not read ${unread} (nginx-http-include) inside its http block`)
    expect(result.stderr + result.stdout).toContain(`Add "include ${unread};" inside the http block`)
    expect(await readdir(path.join(target.deployDir, 'releases'))).toEqual(releasesBefore)
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await readdir(target.deployDir)).not.toContain('.lock')

    // A dry run says the same, as one of its checks, and shows the steps in its plan.
    const dry = await run(target, await workspaceWithJar('5'), {
      ...inputs(),
      'nginx-http-include': unread,
      'canary-steps': '10',
      'dry-run': true,
    })
    expect(dry.code, why(dry)).not.toBe(0)
    const [dryReport] = JSON.parse(dry.outputs.report)
    expect(dryReport.checks).toContainEqual(
      expect.objectContaining({
        check: 'traffic control',
        ok: false,
        fix: expect.stringContaining(`Add "include ${unread};" inside the http block`),
      }),
    )
    const fine = await run(target, await workspaceWithJar('5'), {
      ...inputs(),
      'canary-steps': '10,50',
      'bake-seconds': 30,
      'dry-run': true,
    })
    expect(fine.code, why(fine)).toBe(0)
    const [fineReport] = JSON.parse(fine.outputs.report)
    expect(fineReport.checks).toContainEqual(expect.objectContaining({ check: 'traffic control', ok: true }))
    expect(fineReport.plan).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^send 10% of the clients \(by \$http_x_client\) to the new instance for 60 s, judged on max-error-rate 1%/),
        expect.stringMatching(/^send 50% of the clients/),
        expect.stringMatching(/^bake: watch the new instance with all the traffic for 30 s/),
      ]),
    )
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
  })

  it('canary-interval 0 holds the canary: the run succeeds with both versions serving, the lock let go, nothing stopped', async () => {
    const trafficLog = trafficLogPath(target.deployDir)
    const loggedBefore = await readFile(trafficLog, 'utf8').catch(() => '')
    traffic = clients()
    const result = await run(target, await workspaceWithJar('6'), { ...inputs(), 'canary-steps': '30', 'canary-interval': 0 })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs.canary).toBe('held')
    await sleep(1500)
    // Nothing reads a held canary's traffic, however long it is held: nginx logs none of it there.
    expect(await readFile(target.includePath, 'utf8')).not.toContain('access_log')
    expect(await readFile(trafficLog, 'utf8').catch(() => '')).toBe(loggedBefore)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    const onNew = Object.entries(stats.clients as Record<string, string[]>)
      .filter(([, seen]) => seen.at(-1) === 'version=6')
      .map(([key]) => key)
      .sort()
    expect(onNew).toEqual(firstSideClients(CLIENTS, 30).sort())
    expect(Object.keys(stats.bodies).some((body) => body.startsWith('version=2'))).toBe(true)
    expect(await readFile(target.includePath, 'utf8')).toMatch(/^# zero-downtime-deploy: canary 30% to \d+, previous \d+\n/)
    expect(await readdir(target.deployDir)).not.toContain('.lock')
    const history = (await readFile(path.join(target.deployDir, 'history'), 'utf8')).trim().split('\n')
    expect(JSON.parse(history.at(-1)!)).toMatchObject({ command: 'deploy', outcome: 'held' })
    const [report] = JSON.parse(result.outputs.report)
    expect(report.traffic).toEqual([expect.objectContaining({ step: 'canary 30%', verdict: 'held' })])
    // Leave the target as the other tests found it: the plain include on the previous port.
    await writeFile(target.includePath, `set $service_url http://127.0.0.1:${ports[0]};\n`)
  })
})
