import { describe, expect, it } from 'vitest'
import { masksFor, secretsBeforeParsing } from '../../src/config/secrets.js'
import type { RunResult } from '../../src/deploy/fleet.js'
import { checkLine, fleetChecksTable, outputsOf, summaryTable } from '../../src/deploy/outputs.js'
import { type HostReport, emptyReport } from '../../src/deploy/report.js'

const SHA = 'ab'.repeat(32)

function report(host: string, overrides: Partial<HostReport>): HostReport {
  return { ...emptyReport(host, 'deploy'), ...overrides }
}

const first = report('deploy@web1', {
  outcome: 'deployed',
  activePort: 8082,
  previousPort: 8081,
  release: '20260101-000000-abababab',
  sha256: SHA,
  uploadedBytes: 1234,
  durationSeconds: 12.5,
  phases: { connect: 0.25, upload: 3, switch: 1.125 },
})
const second = report('deploy@web2:2222', {
  outcome: 'deployed',
  activePort: 8081,
  previousPort: undefined,
  release: '20260101-000001-abababab',
  sha256: SHA,
  uploadedBytes: 0,
  rolledBack: true,
  durationSeconds: 3,
})
const artifact = { path: '/ws/build/libs/app.jar', fileName: 'app.jar', size: 1234, sha256: SHA }

describe('outputsOf', () => {
  it('one host: its values, plain', () => {
    const outputs = outputsOf({ reports: [first], artifact })
    expect(outputs).toMatchObject({
      'active-port': '8082',
      'previous-port': '8081',
      release: '20260101-000000-abababab',
      'artifact-sha256': SHA,
      'uploaded-bytes': '1234',
      'duration-seconds': '12.5',
      'rolled-back': 'false',
    })
  })

  it('several hosts: each plain output joins the values with commas, in host order; missing values are empty', () => {
    const outputs = outputsOf({ reports: [first, second], artifact })
    expect(outputs['active-port']).toBe('8082,8081')
    expect(outputs['previous-port']).toBe('8081,')
    expect(outputs.release).toBe('20260101-000000-abababab,20260101-000001-abababab')
    expect(outputs['uploaded-bytes']).toBe('1234,0')
    expect(outputs['duration-seconds']).toBe('12.5,3')
    expect(outputs['rolled-back']).toBe('false,true')
    const reversed = outputsOf({ reports: [second, first], artifact })
    expect(reversed['active-port']).toBe('8081,8082')
  })

  it('report is the JSON of the host reports, in order', () => {
    const result: RunResult = { reports: [first, second], artifact }
    const outputs = outputsOf(result)
    expect(JSON.parse(outputs.report)).toEqual(JSON.parse(JSON.stringify([first, second])))
    expect(JSON.parse(outputs.report)[0].phases).toEqual({ connect: 0.25, upload: 3, switch: 1.125 })
  })

  it('without an artifact (rollback, status), artifact-sha256 comes from the reports', () => {
    const outputs = outputsOf({ reports: [report('h', { command: 'status', outcome: 'status', sha256: SHA })] })
    expect(outputs['artifact-sha256']).toBe(SHA)
  })

  it('names every output of the SPEC', () => {
    expect(Object.keys(outputsOf({ reports: [first] })).sort()).toEqual(
      [
        'active-port',
        'artifact-sha256',
        'canary',
        'duration-seconds',
        'previous-port',
        'release',
        'report',
        'rolled-back',
        'uploaded-bytes',
      ].sort(),
    )
  })
})

describe('summaryTable', () => {
  it('one row per host, in order, with ports, short sha and the phases', () => {
    const [header, ...rows] = summaryTable({ reports: [first, second], artifact })
    expect(header[0]).toBe('Host')
    expect(rows.map((r) => r[0])).toEqual(['deploy@web1', 'deploy@web2:2222'])
    expect(rows[0]).toContain('8081 -> 8082')
    expect(rows[1]).toContain('- -> 8081')
    expect(rows[0]).toContain(SHA.slice(0, 12))
    expect(rows[0].join(' ')).toContain('connect 0.25, upload 3.00, switch 1.13')
  })
})

describe('outputs and registered secrets (the runner drops every output that holds one)', () => {
  const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? ''
  const secret = 'Xq7-tok-9f31c2aa58e0'
  const registered = masksFor(
    secretsBeforeParsing(
      inputs({
        host: 'deploy@web1\ndeploy@web2:2222',
        password: 'pw-Input-77',
        env: `SPRING_JPA_SHOW_SQL=false\nSPRING_PROFILES_ACTIVE=prod\nFEATURE_X_ENABLED=true\nAPI_TOKEN=${secret}`,
        'java-opts': '-Xmx256m -Dspring.profiles.active=prod -Dlogging.level.root=INFO',
      }),
    ),
  )

  it('registers the real secrets only, not the everyday env values', () => {
    expect(registered.sort()).toEqual(['pw-Input-77', secret].sort())
  })

  it('no registered value occurs in any output: rolled-back and report reach the next job', () => {
    const failed = report('deploy@web1', {
      ...first,
      outcome: 'failed',
      rolledBack: true,
      error: `pre-switch-command failed with exit status 1. Last lines it printed:\ntoken=${secret}`,
      plan: ['nginx serves port 8081 (release 20260101-000000-abababab)'],
    })
    const result: RunResult = { reports: [failed, { ...second, command: 'deploy', outcome: 'deployed' }], artifact }
    const outputs = outputsOf(result, registered)
    for (const [name, value] of Object.entries(outputs)) {
      for (const mask of registered) expect(value.includes(mask), `${name} holds ${mask}`).toBe(false)
    }
    expect(outputs['rolled-back']).toBe('true,true')
    const parsed = JSON.parse(outputs.report)
    expect(parsed[0].error).toBe('pre-switch-command failed with exit status 1. Last lines it printed:\ntoken=***')
    expect(parsed[0].host).toBe('deploy@web1')
    expect(parsed[1].rolledBack).toBe(true)
  })
})

describe("dry-run's checks in the summary", () => {
  const passed = { check: 'deploy-dir', ok: true, note: '/srv/shop is writable' }
  const failed = { check: 'curl or wget', ok: false, problem: 'the host has neither curl nor wget.', fix: 'Install curl.' }

  it('one host: a task list, ticked where the check passed, each problem with its fix', () => {
    expect([passed, failed].map(checkLine)).toEqual([
      '- [x] **deploy-dir**: /srv/shop is writable',
      '- [ ] **curl or wget**: the host has neither curl nor wget. Fix: Install curl.',
    ])
  })

  it('a fleet: check by check, host by host; a host that was not reached shows -', () => {
    const reports = [
      report('web1', { checks: [passed, { ...failed, ok: true, note: 'curl' }] }),
      report('web2', { checks: [passed, failed] }),
      report('web3', { error: 'connection refused' }),
    ]
    expect(fleetChecksTable(reports)).toEqual([
      [
        { data: 'Check', header: true },
        { data: 'web1', header: true },
        { data: 'web2', header: true },
        { data: 'web3', header: true },
      ],
      ['deploy-dir', '✅', '✅', '-'],
      ['curl or wget', '✅', '❌', '-'],
    ])
  })
})
