/**
 * Traffic control against a private nginx (loopback only): what nginx -T tells, an observing
 * include that leaves the user's log as it was, a sticky canary split, nginx's own 502/504 in the
 * traffic log, the maintenance 503, and the switch writing the http-level file with the include.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TrafficTally } from '../../../src/deploy/analysis.js'
import { dumpCommand, readNginxDump } from '../../../src/deploy/nginx-dump.js'
import { nginxMasterHint } from '../../../src/deploy/plan.js'
import { type SwitchParams } from '../../../src/remote/nginx.js'
import {
  type IncludeMode,
  type TrafficSample,
  httpLevelConfig,
  includeText,
  nginxDumpScript,
  parseTraffic,
  readDumpAnswer,
  readTrafficScript,
} from '../../../src/remote/traffic.js'
import { cleanUpAfterAll, freePort, listener, runScript, waitUntil } from './local-host.js'
import { NGINX, startBackends, switchAndHandOver } from './private-nginx.js'
import { APP, type Site, TEMPLATE, startSite } from './traffic-site.js'

cleanUpAfterAll()

interface Reply {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

/** One request through nginx, on a fresh connection, as client `client` (the canary key here). */
function get(port: number, client?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: client ? { 'x-client': client } : {} }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode!, body, headers: response.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [])

/** What the traffic log holds now, read as the deploy reads it: all hosts' samples from byte 0. */
async function traffic(site: Site, offset = 0): Promise<{ offset: number; samples: TrafficSample[] }> {
  const run = await runScript(readTrafficScript({ log: site.trafficLog, offset }))
  return parseTraffic(run.answer)
}

describe.skipIf(!NGINX)('traffic control against a private nginx', { timeout: 60_000 }, () => {
  let site: Site
  let backends: number[]
  let processes: ChildProcess[] = []
  const [OLD, NEW] = [0, 1]

  const switchTo = (mode: IncludeMode, split?: { percent: number; newPort: number; previousPort: number }, accessLogs?: string[]) => {
    const port = mode.mode === 'canary' ? mode.split.previousPort : mode.port
    const params: SwitchParams = {
      include: site.include,
      content: includeText({
        template: TEMPLATE,
        appName: APP,
        mode,
        trafficLog: site.trafficLog,
        userAccessLogs: accessLogs ?? layout().accessLogs,
      }),
      httpFile: { path: site.httpFile, content: httpLevelConfig({ appName: APP, canaryKey: '$http_x_client', port, split }) },
      testCommand: site.testCommand,
      reloadCommand: site.reloadCommand,
      masterHint: nginxMasterHint(site.reloadCommand),
      verifyUrl: '',
      verifyTimeoutSeconds: 2,
      intervalSeconds: 0.1,
      reloadTimeoutSeconds: 5,
      releaseStateFile: '',
    }
    return switchAndHandOver(undefined, params)
  }
  const switchMaintenance = (mode: IncludeMode, userHeaders?: string[]) =>
    switchAndHandOver(undefined, {
      include: site.include,
      content: includeText({ template: TEMPLATE, appName: APP, mode, trafficLog: site.trafficLog, userAccessLogs: [], userHeaders }),
      testCommand: site.testCommand,
      reloadCommand: site.reloadCommand,
      masterHint: nginxMasterHint(site.reloadCommand),
      verifyUrl: '',
      verifyTimeoutSeconds: 2,
      intervalSeconds: 0.1,
      reloadTimeoutSeconds: 5,
      releaseStateFile: '',
    })
  let dumped: ReturnType<typeof readDumpAnswer>
  const layout = () =>
    readNginxDump(dumped.dump!, { include: site.include, httpFile: site.httpFile, compiledAccessLog: dumped.httpLogPath })

  beforeAll(async () => {
    ;({ ports: backends, processes } = await startBackends(2))
    site = await startSite(backends[OLD])
    const run = await runScript(nginxDumpScript(dumpCommand(site.testCommand)!))
    expect(run.code, run.stdout).toBe(0)
    dumped = readDumpAnswer(run.answer)
  })

  afterAll(() => {
    site?.stop()
    for (const child of processes) child.kill()
  })

  it("nginx -T: the http-level file is read (conf.d/*.conf at http level) and the server's access_log is the one to repeat", () => {
    expect(dumped.dump).toContain(`# configuration file ${site.include}:`)
    expect(dumped.home).toBe(process.env.HOME)
    expect(dumped.httpLogPath).toMatch(/access\.log$/)
    expect(layout()).toEqual({
      httpFileIncluded: true,
      accessLogs: [`access_log ${site.userLog};`],
      problems: [],
      addHeaders: ['add_header Strict-Transport-Security "max-age=60" always;'],
    })
  })

  it("an observing include: N requests make N lines in the user's log, in its own format, and N in the traffic log", async () => {
    const N = 40
    const run = await switchTo({ mode: 'observed', port: backends[OLD] })
    expect(run.code, run.stdout).toBe(0)
    const userBefore = lines(site.userLog).length
    const trafficBefore = await traffic(site)
    for (let i = 0; i < N; i++) expect((await get(site.port)).body).toBe(`backend ${backends[OLD]}`)
    // nginx writes a line once the request is done; the last may lag the answer by a moment.
    await waitUntil(() => lines(site.userLog).length >= userBefore + N)
    const userLines = lines(site.userLog)
    expect(userLines.length - userBefore).toBe(N)
    // combined: `127.0.0.1 - - [date] "GET / HTTP/1.1" 200 ...`, as before the include observed
    expect(userLines.at(-1)).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ HTTP\/1\.1" 200 \d+ "-" "-"$/)
    const after = await traffic(site, trafficBefore.offset)
    expect(after.samples.reduce((sum, s) => sum + s.count, 0)).toBe(N)
    expect(after.samples.every((s) => s.port === backends[OLD] && s.status === 200)).toBe(true)
  })

  it("without the repeat, the traffic log's access_log takes every line from the user's log", async () => {
    const run = await switchTo({ mode: 'observed', port: backends[OLD] }, undefined, [])
    expect(run.code, run.stdout).toBe(0)
    const userBefore = lines(site.userLog).length
    const start = await traffic(site)
    for (let i = 0; i < 10; i++) await get(site.port)
    await waitUntil(async () => (await traffic(site, start.offset)).samples.reduce((sum, s) => sum + s.count, 0) >= 10)
    expect(lines(site.userLog).length - userBefore).toBe(0)
  })

  it('a 20% canary: each of 100 clients lands on one side every time, about a fifth on the new; at 50% none of those flips back', async () => {
    const clients = Array.from({ length: 100 }, (_, i) => `client-${i}`)
    const sideOf = async (percent: number) => {
      const split = { percent, newPort: backends[NEW], previousPort: backends[OLD] }
      const run = await switchTo({ mode: 'canary', split }, split)
      expect(run.code, run.stdout).toBe(0)
      const start = await traffic(site)
      const seen = new Map<string, Set<string>>()
      for (let round = 0; round < 2; round++) {
        for (const client of clients) {
          const reply = await get(site.port, client)
          expect(reply.status).toBe(200)
          seen.set(client, (seen.get(client) ?? new Set()).add(reply.body))
        }
      }
      for (const [client, bodies] of seen) expect(bodies.size, client).toBe(1)
      const onNew = clients.filter((client) => seen.get(client)!.has(`backend ${backends[NEW]}`))
      // What nginx logged agrees with what the clients got.
      await waitUntil(async () => (await traffic(site, start.offset)).samples.reduce((sum, s) => sum + s.count, 0) >= 200)
      const tally = new TrafficTally(backends[NEW], backends[OLD])
      tally.add((await traffic(site, start.offset)).samples)
      expect(tally.figures().new.requests).toBe(onNew.length * 2)
      expect(tally.figures().previous.requests).toBe((clients.length - onNew.length) * 2)
      return onNew
    }
    const at20 = await sideOf(20)
    expect(at20.length).toBeGreaterThanOrEqual(10)
    expect(at20.length).toBeLessThanOrEqual(35)
    const at50 = await sideOf(50)
    expect(at20.filter((client) => !at50.includes(client))).toEqual([])
    expect(at50.length).toBeGreaterThan(at20.length)
  })

  it("nginx's own 502 (nothing listens) and 504 (no answer in time) are logged with the port they were sent to", async () => {
    const down = await freePort()
    let split = { percent: 99, newPort: down, previousPort: backends[OLD] }
    // Ports outside the pair are fine for nginx; only the deploy keeps to its two.
    expect((await switchTo({ mode: 'canary', split }, split)).code).toBe(0)
    let start = await traffic(site)
    const refused = await get(site.port, 'client-1')
    expect(refused.status).toBe(502)
    await waitUntil(async () => (await traffic(site, start.offset)).samples.length > 0)
    const [refusedSample, ...others] = (await traffic(site, start.offset)).samples
    expect(others).toEqual([])
    // A refused connection takes no time worth the name (0 ms on an idle machine).
    expect(refusedSample).toMatchObject({ port: down, status: 502, count: 1 })
    expect(refusedSample.ms).toBeLessThan(100)

    const silent = await freePort()
    await listener(silent)
    split = { percent: 99, newPort: silent, previousPort: backends[OLD] }
    expect((await switchTo({ mode: 'canary', split }, split)).code).toBe(0)
    start = await traffic(site)
    expect((await get(site.port, 'client-1')).status).toBe(504)
    await waitUntil(async () => (await traffic(site, start.offset)).samples.length > 0)
    const [timedOut] = (await traffic(site, start.offset)).samples
    expect(timedOut).toMatchObject({ port: silent, status: 504, count: 1 })
    expect(timedOut.ms).toBeGreaterThanOrEqual(1000)
    expect(timedOut.ms).toBeLessThan(3000)
  })

  it("maintenance: 503 with Retry-After and the page, $ and quotes as written, and the server's own headers kept", async () => {
    const page = '<h1>Back at 5 "o\'clock"</h1><p>$5 off</p>'
    const mode: IncludeMode = { mode: 'maintenance', port: backends[NEW], page, retryAfterSeconds: 90 }
    // Retry-After alone replaces the add_header directives the location inherits from the server.
    let run = await switchMaintenance(mode, [])
    expect(run.code, run.stdout).toBe(0)
    expect((await get(site.port)).headers['strict-transport-security']).toBeUndefined()

    run = await switchMaintenance(mode, layout().addHeaders)
    expect(run.code, run.stdout).toBe(0)
    const reply = await get(site.port)
    expect(reply.status).toBe(503)
    expect(reply.headers['retry-after']).toBe('90')
    expect(reply.headers['strict-transport-security']).toBe('max-age=60')
    expect(reply.headers['content-type']).toBe('text/html')
    expect(reply.body).toBe(page.replace('$', '&#36;'))
  })
})
