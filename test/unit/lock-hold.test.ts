/**
 * The order of a run's last steps on a host (src/deploy/lock.ts, src/deploy/fleet.ts): its history
 * line is written while it still holds the host's lock, so that no other run appends to the
 * history, or trims it, in between.
 */
import { describe, expect, it } from 'vitest'
import type { DeployConfig } from '../../src/config/inputs.js'
import { leaveHost } from '../../src/deploy/fleet.js'
import { holdLockUntilLetGo, takeLock } from '../../src/deploy/lock.js'
import { emptyReport } from '../../src/deploy/report.js'
import type { Log } from '../../src/log.js'
import type { RemoteHost } from '../../src/ssh/transport.js'

/** A host that answers every script at once and records the steps it ran, in order. */
function fakeHost() {
  const steps: string[] = []
  const host = {
    entry: { label: 'web1:22' },
    connected: true,
    run: async (_script: string, options: { step: string }) => {
      steps.push(options.step)
      const facts: Record<string, string> = options.step === 'lock' ? { deploy_dir: '/srv/app', lock: 'held' } : {}
      return { code: 0, stdout: '', stderr: '', answer: { facts, sections: {} } }
    },
    close: () => steps.push('close'),
  }
  return { remote: host as unknown as RemoteHost, steps }
}

const config = { command: 'deploy', dryRun: false, deployDir: '/srv/app', lockTimeoutSeconds: 5 } as DeployConfig
const log = { info: () => undefined, warning: () => undefined, progress: () => undefined } as unknown as Log

describe('a run lets go of the host', () => {
  it('writes its history line before it releases the lock, even when its steps asked for the release earlier', async () => {
    const { remote, steps } = fakeHost()
    holdLockUntilLetGo(remote)
    const lock = await takeLock(remote, config, log)
    await lock.release()
    expect(steps).toEqual(['lock'])
    const report = { ...emptyReport('web1:22', 'deploy'), outcome: 'deployed' as const }
    await leaveHost(remote, config, report, log)
    expect(steps).toEqual(['lock', 'history', 'unlock', 'close'])
  })

  it('a run that took no lock only writes its line and closes', async () => {
    const { remote, steps } = fakeHost()
    holdLockUntilLetGo(remote)
    await leaveHost(remote, config, emptyReport('web1:22', 'deploy'), log)
    expect(steps).toEqual(['history', 'close'])
  })

  it('a lock taken without a hold is released when asked', async () => {
    const { remote, steps } = fakeHost()
    const lock = await takeLock(remote, config, log)
    await lock.release()
    expect(steps).toEqual(['lock', 'unlock'])
  })
})
