/** The decisions of promote, rollback of a held canary, maintenance and live, from what the include says. */
import { describe, expect, it } from 'vitest'
import { canaryToPromote, describeTraffic, liveDecision, portForMaintenance, refuseDeploy } from '../../src/deploy/control.js'
import type { HostState } from '../../src/deploy/host-state.js'
import { historyEntry, keepsHistory } from '../../src/deploy/history.js'
import {
  DEFAULT_MAINTENANCE_PAGE,
  MAX_PAGE_WORD_BYTES,
  keepingMaintenancePage,
  maintenanceInclude,
  maintenanceTail,
  pageWordBytes,
} from '../../src/deploy/maintenance-text.js'
import { choosePorts } from '../../src/deploy/plan.js'
import { emptyReport } from '../../src/deploy/report.js'
import { routingReport } from '../../src/deploy/status.js'
import { type DeployConfig, parseInputs } from '../../src/config/inputs.js'
import { pageText } from '../../src/remote/maintenance.js'
import { type IncludeState, includeText, readInclude } from '../../src/remote/traffic.js'

const PORTS: [number, number] = [8081, 8082]
const TEMPLATE = 'set $service_url http://127.0.0.1:{port};'
const RELEASES: Record<number, string> = { 8081: '20261207-100000-aaaaaaaa', 8082: '20261207-110000-bbbbbbbb' }
const releaseOf = (port: number) => RELEASES[port]
const include = (mode: Parameters<typeof includeText>[0]['mode']) =>
  includeText({ template: TEMPLATE, appName: 'shop', mode, trafficLog: '/srv/shop/run/traffic.log', userAccessLogs: [] })

const CANARY = include({ mode: 'canary', split: { percent: 10, newPort: 8082, previousPort: 8081 } })
const PLAIN = include({ mode: 'plain', port: 8081 })
const OBSERVED = include({ mode: 'observed', port: 8082 })
const MAINTENANCE = include({ mode: 'maintenance', port: 8081, page: '<h1>Back at 10:00</h1>', retryAfterSeconds: 60 })

const state = (text: string | undefined): IncludeState => readInclude(text, PORTS)

function parseConfig(inputs: Record<string, string>): DeployConfig {
  const values: Record<string, string> = {
    host: 'web1',
    username: 'deploy',
    password: 'pw',
    artifact: 'app.jar',
    'app-name': 'shop',
    ...inputs,
  }
  return parseInputs((name) => values[name] ?? '')
}

describe('which port is active, whatever the include says', () => {
  it("a canary's marker names two ports: the active one is the previous instance's, never the canary's", () => {
    expect(choosePorts(CANARY, PORTS)).toEqual({ active: 8081, idle: 8082 })
    // The marker names 8082 first: read as a plain include, it would take the canary for the active port.
    expect(choosePorts(include({ mode: 'canary', split: { percent: 10, newPort: 8081, previousPort: 8082 } }), PORTS)).toEqual({
      active: 8082,
      idle: 8081,
    })
  })

  it('maintenance and observed includes: the port they name', () => {
    expect(choosePorts(MAINTENANCE, PORTS)).toEqual({ active: 8081, idle: 8082 })
    expect(choosePorts(OBSERVED, PORTS)).toEqual({ active: 8082, idle: 8081 })
  })
})

describe('a deploy while a canary is held', () => {
  const host = (text: string): HostState =>
    ({
      include: text,
      instances: [
        { port: 8081, running: true, release: RELEASES[8081] },
        { port: 8082, running: true, release: RELEASES[8082] },
      ],
    }) as HostState

  it('fails before the upload, naming the split and both commands', () => {
    expect(() => refuseDeploy(host(CANARY), parseConfig({ ports: '8081,8082' }), 'web1')).toThrow(
      'a canary is held on web1: 10% of clients go to port 8082 (release 20261207-110000-bbbbbbbb), the rest to port 8081 (release 20261207-100000-aaaaaaaa). Finish it before deploying: `command: promote` sends all traffic to the new instance, `command: rollback` sends it all back to the previous one. Nothing was uploaded or started.',
    )
  })

  it('goes ahead on a host that holds none, in maintenance too', () => {
    const config = parseConfig({ ports: '8081,8082' })
    for (const text of [PLAIN, OBSERVED, MAINTENANCE]) expect(() => refuseDeploy(host(text), config, 'web1')).not.toThrow()
  })

  it('with a canary or a bake, refuses a host in maintenance: no client reaches an instance to watch', () => {
    for (const inputs of [{ 'canary-steps': '10' }, { 'bake-seconds': '30' }]) {
      expect(() => refuseDeploy(host(MAINTENANCE), parseConfig({ ports: '8081,8082', ...inputs }), 'web1')).toThrow(
        'inspect: web1 is in maintenance: nginx answers 503 to every request; port 8081 (release 20261207-100000-aaaaaaaa) serves once live, so no client reaches an instance and a canary or a bake has nothing to watch. Deploy without canary-steps and bake-seconds (the host stays in maintenance, with the new instance active once live), or run command: live first. Nothing was uploaded or started.',
      )
    }
  })
})

describe('promote', () => {
  it('a held canary: its split', () => {
    expect(canaryToPromote(state(CANARY), 'web1', releaseOf, PORTS)).toEqual({ percent: 10, newPort: 8082, previousPort: 8081 })
  })

  it('no canary held: a clear refusal saying what the host does', () => {
    expect(() => canaryToPromote(state(PLAIN), 'web1', releaseOf, PORTS)).toThrow(
      'no canary is held on web1; nothing to promote (nginx sends all traffic to port 8081 (release 20261207-100000-aaaaaaaa)).',
    )
    expect(() => canaryToPromote(state(MAINTENANCE), 'web1', releaseOf, PORTS)).toThrow(
      'no canary is held on web1; nothing to promote (in maintenance: nginx answers 503 to every request; port 8081 (release 20261207-100000-aaaaaaaa) serves once live).',
    )
    expect(() => canaryToPromote(state(undefined), 'web1', releaseOf, PORTS)).toThrow(
      "no canary is held on web1; nothing to promote (nginx's include names neither port 8081 nor 8082).",
    )
    expect(() => canaryToPromote(state(OBSERVED), 'web1', releaseOf, PORTS)).toThrow(
      /^promote: no canary is held on web1; nothing to promote \(nginx sends all traffic to port 8082/,
    )
  })
})

describe('maintenance', () => {
  it('takes the port the include names, or the observed one', () => {
    expect(portForMaintenance(state(PLAIN), 'web1', releaseOf, PORTS)).toBe(8081)
    expect(portForMaintenance(state(OBSERVED), 'web1', releaseOf, PORTS)).toBe(8082)
    expect(portForMaintenance(state(MAINTENANCE), 'web1', releaseOf, PORTS)).toBe(8081)
  })

  it('refuses during a canary, naming both ways out, and on a host where nothing would serve once live', () => {
    expect(() => portForMaintenance(state(CANARY), 'web1', releaseOf, PORTS)).toThrow(
      'a canary is held: nginx sends 10% of clients to port 8082 (release 20261207-110000-bbbbbbbb) and the rest to port 8081 (release 20261207-100000-aaaaaaaa) on web1. Finish it before maintenance: `command: promote` sends all traffic to the new instance, `command: rollback` sends it all back to the previous one.',
    )
    expect(() => portForMaintenance(state(undefined), 'web1', releaseOf, PORTS)).toThrow(
      "nginx's include names neither port 8081 nor 8082 on web1, so no instance would serve once live. Deploy first.",
    )
  })

  it('the include answers 503 with Retry-After and the page, and still names the port', () => {
    const config = parseConfig({ 'nginx-include-template': TEMPLATE, 'app-name': 'shop' })
    const text = maintenanceInclude(config, '/srv/shop', 8082, DEFAULT_MAINTENANCE_PAGE)
    expect(readInclude(text, PORTS)).toEqual({ mode: 'maintenance', port: 8082 })
    expect(text).toContain(
      'set $service_url http://127.0.0.1:8082;\ndefault_type text/html;\nadd_header Retry-After 60 always;\nreturn 503 "<!doctype html>',
    )
    expect(pageWordBytes(text)).toBe(Buffer.byteLength(DEFAULT_MAINTENANCE_PAGE.replaceAll('"', '\\"')) + 2)
  })

  it('the longest page nginx takes as one word of its configuration (4096 bytes with the quotes)', () => {
    const config = parseConfig({ 'nginx-include-template': TEMPLATE })
    expect(pageWordBytes(maintenanceInclude(config, '/srv/shop', 8081, 'x'.repeat(4094)))).toBe(MAX_PAGE_WORD_BYTES)
    expect(pageWordBytes(maintenanceInclude(config, '/srv/shop', 8081, `${'$'.repeat(1000)}"`))).toBe(5000 + 2 + 2)
  })

  it('the page comes back line by line from the host, a line that looks like a section opener included', () => {
    expect(pageText('|<h1>Down</h1>\n|@@section\n|')).toBe('<h1>Down</h1>\n@@section\n')
  })
})

describe('a deploy or rollback on a host in maintenance', () => {
  it('keeps the page and Retry-After of the include on the host, and names the new port', () => {
    const tail = maintenanceTail(MAINTENANCE)
    expect(tail).toBe('default_type text/html;\nadd_header Retry-After 60 always;\nreturn 503 "<h1>Back at 10:00</h1>";')
    const fresh = include({ mode: 'maintenance', port: 8082, page: 'other', retryAfterSeconds: 5 })
    const moved = keepingMaintenancePage(fresh, tail!)
    expect(moved).toBe(
      '# zero-downtime-deploy: maintenance 8082\nset $service_url http://127.0.0.1:8082;\ndefault_type text/html;\nadd_header Retry-After 60 always;\nreturn 503 "<h1>Back at 10:00</h1>";',
    )
    expect(readInclude(moved, PORTS)).toEqual({ mode: 'maintenance', port: 8082 })
  })

  it("keeps the user's add_header directives that the maintenance include repeats", () => {
    const withHeaders = includeText({
      template: TEMPLATE,
      appName: 'shop',
      mode: { mode: 'maintenance', port: 8081, page: '<h1>Down</h1>', retryAfterSeconds: 60 },
      trafficLog: '/srv/shop/run/traffic.log',
      userAccessLogs: [],
      userHeaders: ['add_header Strict-Transport-Security "max-age=31536000" always;'],
    })
    const moved = keepingMaintenancePage(
      include({ mode: 'maintenance', port: 8082, page: 'x', retryAfterSeconds: 5 }),
      maintenanceTail(withHeaders)!,
    )
    expect(moved).toBe(
      '# zero-downtime-deploy: maintenance 8082\nset $service_url http://127.0.0.1:8082;\ndefault_type text/html;\nadd_header Retry-After 60 always;\nadd_header Strict-Transport-Security "max-age=31536000" always;\nreturn 503 "<h1>Down</h1>";',
    )
  })

  it('finds no page in an include that is not a maintenance include', () => {
    expect(maintenanceTail(PLAIN)).toBeUndefined()
    expect(maintenanceTail(undefined)).toBeUndefined()
  })
})

describe('live', () => {
  it('in maintenance: traffic back on the port the maintenance include names', () => {
    expect(liveDecision(state(MAINTENANCE), 'web1', releaseOf, PORTS)).toEqual({ kind: 'switch', port: 8081 })
  })

  it('not in maintenance: nothing to do, and it says why', () => {
    expect(liveDecision(state(PLAIN), 'web1', releaseOf, PORTS)).toEqual({
      kind: 'nothing',
      note: 'web1 is not in maintenance (nginx sends all traffic to port 8081 (release 20261207-100000-aaaaaaaa)); nothing to do.',
    })
    expect(liveDecision(state(CANARY), 'web1', releaseOf, PORTS)).toEqual({
      kind: 'nothing',
      note: 'web1 is not in maintenance (a canary is held: nginx sends 10% of clients to port 8082 (release 20261207-110000-bbbbbbbb) and the rest to port 8081 (release 20261207-100000-aaaaaaaa)); nothing to do. To finish the canary: `command: promote` sends all traffic to the new instance, `command: rollback` sends it all back to the previous one.',
    })
  })

  it('a maintenance include that names no port: it cannot tell which instance, and says what to do', () => {
    expect(() => liveDecision(state('# zero-downtime-deploy: maintenance\nreturn 503;'), 'web1', releaseOf, PORTS)).toThrow(
      'web1 is in maintenance, but its include names neither port 8081 nor 8082, so it cannot tell which instance to put traffic back on. Deploy, or run command: rollback, to choose one (either stays in maintenance), then command: live.',
    )
  })
})

describe('status', () => {
  it('a held canary: the split, both ports and both releases', () => {
    expect(routingReport(CANARY, PORTS, releaseOf)).toEqual({
      mode: 'canary',
      port: 8081,
      text: 'a canary is held: nginx sends 10% of clients to port 8082 (release 20261207-110000-bbbbbbbb) and the rest to port 8081 (release 20261207-100000-aaaaaaaa)',
      canary: { percent: 10, newPort: 8082, newRelease: RELEASES[8082], previousPort: 8081, previousRelease: RELEASES[8081] },
    })
  })

  it('maintenance, and the plain include', () => {
    expect(routingReport(MAINTENANCE, PORTS, releaseOf)).toEqual({
      mode: 'maintenance',
      port: 8081,
      text: 'in maintenance: nginx answers 503 to every request; port 8081 (release 20261207-100000-aaaaaaaa) serves once live',
    })
    expect(routingReport(PLAIN, PORTS, releaseOf)).toMatchObject({ mode: 'plain', port: 8081 })
    expect(describeTraffic(state(PLAIN), () => undefined, PORTS)).toBe('nginx sends all traffic to port 8081 (release unknown)')
  })
})

describe('history', () => {
  it('promote, maintenance and live leave a line; promote names the release it sent all traffic to', () => {
    const config = parseConfig({})
    for (const command of ['promote', 'maintenance', 'live'] as const) {
      expect(keepsHistory(config, emptyReport('web1', command))).toBe(true)
    }
    const promoted = historyEntry({
      ...emptyReport('web1', 'promote'),
      outcome: 'promoted',
      targetRelease: RELEASES[8082],
      release: RELEASES[8082],
      previousPort: 8081,
      activePort: 8082,
    })
    expect(promoted).toMatchObject({ command: 'promote', outcome: 'promoted', release: RELEASES[8082], serving: RELEASES[8082] })
    expect(promoted.ports).toEqual({ before: 8081, after: 8082 })
    const paused = historyEntry({ ...emptyReport('web1', 'maintenance'), outcome: 'maintenance', release: RELEASES[8081] })
    expect(paused).toMatchObject({ command: 'maintenance', outcome: 'maintenance', release: null, sha256: null, serving: RELEASES[8081] })
  })
})
