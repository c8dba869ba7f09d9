/** Which release counts as one that has served, the kind a rollback goes back to (see RELEASE_STATE_FILE). */
import { describe, expect, it } from 'vitest'
import { type DeployConfig, parseInputs } from '../../src/config/inputs.js'
import { type StagedHost, canaryStepHost, switchBackHost, switchHost } from '../../src/deploy/deploy.js'
import type { HostState } from '../../src/deploy/host-state.js'
import { rejectedRelease } from '../../src/deploy/include-switch.js'
import { emptyReport } from '../../src/deploy/report.js'
import type { HostRun } from '../../src/deploy/steps.js'
import { releaseServedBy } from '../../src/deploy/traffic-control.js'
import type { Log } from '../../src/log.js'
import { HOOK_EXIT } from '../../src/remote/hooks.js'
import { RemoteCommandError, type RemoteHost, type RemoteResult } from '../../src/ssh/transport.js'

const DEPLOY_DIR = '/srv/shop'
const PREVIOUS = '20261207-100000-aaaaaaaa'
const NEW = '20261207-110000-bbbbbbbb'
const stateFile = (release: string) => `${DEPLOY_DIR}/releases/${release}/.state`

function config(inputs: Record<string, string> = {}): DeployConfig {
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

/** A host that answers every script as the happy path does, and what it was sent. */
function fakeHost(release = NEW, inputs: Record<string, string> = {}) {
  const scripts: string[] = []
  const remote = {
    entry: { label: 'web1', username: 'deploy' },
    run: async (script: string, options: { step: string }) => {
      scripts.push(script)
      // The user's post-switch check fails; everything else goes as on a healthy host.
      if (options.step === 'post-switch-command')
        throw new RemoteCommandError(options.step, {
          code: HOOK_EXIT.failed,
          stdout: '',
          stderr: '',
          answer: { facts: { hook_status: '1' }, sections: {}, lists: {} },
        } as unknown as RemoteResult)
      return { code: 0, answer: { facts: { offset: '0', switched: 'yes' }, sections: {}, lists: {} } }
    },
  } as unknown as RemoteHost
  const log: Log = { info: () => {}, warning: () => {}, progress: () => {}, group: (_title, work) => work() }
  const state = {
    isRoot: false,
    user: 'deploy',
    deployDir: DEPLOY_DIR,
    releases: [],
    instances: [],
    units: [],
    systemd: false,
  } as unknown as HostState
  const run: HostRun = { config: config(inputs), remote, log, report: emptyReport('web1', 'deploy'), state }
  const staged: StagedHost = {
    run,
    lock: { release: async () => {} } as StagedHost['lock'],
    active: 8081,
    idle: 8082,
    release,
    previousRelease: PREVIOUS,
    fileName: 'app.jar',
    traffic: { accessLogs: [], trafficLog: `${DEPLOY_DIR}/run/traffic.log` },
  }
  /** The releases the host was told had served, and those told they never had. */
  const marks = () => ({
    served: [PREVIOUS, NEW].filter((r) => scripts.some((s) => s.includes(`RELEASE_STATE_FILE='${stateFile(r)}'`))),
    neverServed: [PREVIOUS, NEW].filter((r) =>
      scripts.some((s) => s.includes(`STATE_FILE='${stateFile(r)}'`) && s.includes("printf 'new")),
    ),
  })
  return { staged, marks }
}

describe('the switch marks a release as served only with all traffic and nothing left to judge it', () => {
  it('plain: yes; a canary step or a baking (observed) release: not yet', () => {
    expect(releaseServedBy({ mode: 'plain', port: 8082 }, NEW)).toBe(NEW)
    expect(releaseServedBy({ mode: 'observed', port: 8082 }, NEW)).toBeUndefined()
    expect(releaseServedBy({ mode: 'canary', split: { percent: 10, newPort: 8082, previousPort: 8081 } }, NEW)).toBeUndefined()
  })

  it('a canary step, held or not, leaves the new release unmarked', async () => {
    const { staged, marks } = fakeHost()
    await canaryStepHost(staged, 10)
    expect(marks()).toEqual({ served: [], neverServed: [] })
  })

  it('the switch into a bake leaves it unmarked; without a bake the switch marks it', async () => {
    const baking = fakeHost()
    await switchHost(baking.staged, { observed: true })
    expect(baking.marks()).toEqual({ served: [], neverServed: [] })
    const plain = fakeHost()
    await switchHost(plain.staged)
    expect(plain.marks()).toEqual({ served: [NEW], neverServed: [] })
  })
})

describe('a release that the run sent back counts as never served', () => {
  it('after a failed analysis (a canary step or the bake): the previous release is marked served, the new one never served', async () => {
    const { staged, marks } = fakeHost()
    await switchHost(staged, { observed: true })
    await switchBackHost(staged, 'since the new version failed its analysis')
    expect(marks()).toEqual({ served: [PREVIOUS], neverServed: [NEW] })
    expect(staged.run.report.rolledBack).toBe(true)
  })

  it('not when the run deployed the release that served before (the same jar again): traffic went back to it', async () => {
    const { staged, marks } = fakeHost(PREVIOUS)
    await canaryStepHost(staged, 10)
    await switchBackHost(staged)
    expect(marks()).toEqual({ served: [PREVIOUS], neverServed: [] })
    expect(rejectedRelease(PREVIOUS, PREVIOUS)).toBeUndefined()
    expect(rejectedRelease(NEW, PREVIOUS)).toBe(NEW)
    expect(rejectedRelease(NEW, undefined)).toBe(NEW)
  })

  it('after a failed post-switch-command: traffic went back, and the new release is marked never served', async () => {
    const { staged, marks } = fakeHost(NEW, { 'post-switch-command': './smoke-test.sh' })
    await expect(switchHost(staged)).rejects.toThrow(/^post-switch-command: failed with exit status 1.*Traffic went back to port 8081/s)
    // The switch marked it; going back unmarked it.
    expect(marks()).toEqual({ served: [PREVIOUS, NEW], neverServed: [NEW] })
  })
})
