/**
 * Step 3, the host's deploy lock, as the runner holds it: taken (or waited for, or taken over from
 * a run that has ended) by the scripts of src/remote/lock.ts, and kept by renewing its lease.
 */
import { hostname } from 'node:os'
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import { LEASE_RENEW_SECONDS, LEASE_SECONDS, acquireLockScript, releaseLockScript, renewLeaseScript } from '../remote/lock.js'
import { ConnectionError } from '../ssh/errors.js'
import { RemoteCommandError, type RemoteHost } from '../ssh/transport.js'
import { StepError } from './step-error.js'

/** Who holds the lock, for whoever waits on it: the workflow run and the runner. */
export function lockOwner(env: NodeJS.ProcessEnv = process.env): string {
  const run = env.GITHUB_RUN_ID
    ? `${env.GITHUB_REPOSITORY ?? ''} run ${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`
    : 'a run outside GitHub Actions'
  return `owner=${run}${env.GITHUB_ACTOR ? ` by ${env.GITHUB_ACTOR}` : ''} on ${hostname()}`
}

export interface HeldLock {
  /**
   * Sends the release (once; later calls wait for the same one). On a host held with
   * `holdLockUntilLetGo`, it only marks the lock as done with, and `letGoOfLock` sends it.
   */
  release(): Promise<void>
}

/** Hosts whose lock is kept past the steps' release, until the run has concluded there. */
const holds = new WeakMap<RemoteHost, { letGo?: () => Promise<void>; over: boolean }>()

/**
 * Keeps the deploy lock that `takeLock` will take on `remote` until `letGoOfLock`: the run's last
 * words on the host (its history line, and the history's trim) are written while it still holds
 * the lock, so that no other run appends or trims meanwhile. The lease is renewed until then.
 */
export function holdLockUntilLetGo(remote: RemoteHost): void {
  holds.set(remote, { over: false })
}

/** Sends the release a held lock is waiting for (nothing when no lock was taken). */
export async function letGoOfLock(remote: RemoteHost): Promise<void> {
  const hold = holds.get(remote)
  if (!hold) return
  hold.over = true
  await hold.letGo?.()
}

/** Step 3: waits for and takes the host's deploy lock; a stale lock is taken over with a warning. */
export async function takeLock(remote: RemoteHost, config: DeployConfig, log: Log): Promise<HeldLock> {
  const script = acquireLockScript({
    deployDir: config.deployDir,
    owner: lockOwner(),
    since: new Date(),
    timeoutSeconds: config.lockTimeoutSeconds,
  })
  let pending = ''
  try {
    const result = await remote.run(script, {
      step: 'lock',
      onStdout: (text) => {
        pending += text
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          if (line.startsWith('owner='))
            log.progress(`Waiting for the deploy lock, held by ${line.slice(6).trim()} (up to ${config.lockTimeoutSeconds} s)...`)
        }
      },
    })
    const { facts } = result.answer
    if (facts.stale_owner !== undefined) log.warning(staleLockWarning(facts))
    const deployDir = facts.deploy_dir
    const keeper = keepLease(remote, deployDir, facts.holder_key, log)
    // A release that fails (connection lost) must not hide the error that ended the run; the lock
    // then goes stale with the session's shell (or its lease) and the next run takes it over.
    let released: Promise<void> | undefined
    const letGo = () =>
      (released ??= keeper
        .stop()
        .then(() => remote.run(releaseLockScript({ deployDir }), { step: 'unlock' }))
        .then(
          () => undefined,
          () => undefined,
        ))
    const hold = holds.get(remote)
    return {
      release: () => {
        if (!hold || hold.over) return letGo()
        hold.letGo = letGo
        return Promise.resolve()
      },
    }
  } catch (error) {
    if (!(error instanceof RemoteCommandError)) throw error
    const { facts } = error.result.answer
    if (facts.error === 'deploy_dir_unwritable') {
      throw new StepError(
        'lock',
        `deploy-dir "${facts.deploy_dir}" cannot be created or written by user "${remote.entry.username}". Create it and give that user write access, or choose another deploy-dir.`,
      )
    }
    if (facts.lock === 'timeout') {
      throw new StepError(
        'lock',
        `another deploy holds the lock on this host (${facts.owner?.trim() || 'owner unknown'}); gave up after lock-timeout (${config.lockTimeoutSeconds} s). Try again when it has finished, or raise lock-timeout.`,
      )
    }
    throw error
  }
}

/** The warning for a stale lock taken over: whose it was, and how the action knew it was stale. */
function staleLockWarning(facts: Record<string, string>): string {
  const owner = facts.stale_owner.trim() || 'owner unknown'
  const why: Record<string, string> = {
    ended: 'its remote shell is gone',
    rebooted: 'the host has rebooted since',
    unfinished: 'it was left half-made',
    silent: `nothing was heard from it for ${facts.stale_silent_for ?? 'over ' + LEASE_SECONDS} s (its lease is ${LEASE_SECONDS} s), so its remote shell and what it still ran were ended`,
  }
  const reason = why[facts.stale_reason] ? `: ${why[facts.stale_reason]}` : ''
  return `Took over a stale deploy lock left by a run that has ended (${owner})${reason}.`
}

/**
 * Renews the lock's lease every LEASE_RENEW_SECONDS over a channel of its own, while the run's
 * shell is busy with one step after another. If the host says the lock is no longer ours (this
 * run was silent too long and another run took over), the run stops at once: nothing it does any
 * more may touch the host.
 */
function keepLease(remote: RemoteHost, deployDir: string, holderKey: string | undefined, log: Log): { stop(): Promise<void> } {
  if (!holderKey) return { stop: async () => undefined }
  let renewing: Promise<void> | undefined
  let warned = false
  const warn = (why: string) => {
    // A lost connection fails the step that runs; anything else (sshd's MaxSessions, a shell that
    // refuses) would let the lease lapse while this run still works: say so once.
    if (warned || !remote.connected) return
    warned = true
    log.warning(
      `Could not renew the deploy lock's lease on ${remote.entry.label} (${why}). If no renewal gets through for ${LEASE_SECONDS} s, another run may take the lock over; check that the host allows a second SSH session on one connection (sshd MaxSessions).`,
    )
  }
  const renew = async () => {
    let result
    try {
      result = await remote.runBeside(renewLeaseScript({ deployDir, holderKey }), 'lock lease')
    } catch (error) {
      return warn((error as Error).message)
    }
    const lease = result.answer.facts.lease
    if (lease === 'renewed') return
    if (lease !== 'lost') return warn(`exit ${result.code}: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 200)}`)
    clearInterval(timer)
    const error = new ConnectionError(
      `${remote.entry.label}: lost the deploy lock: another run took it over after nothing was heard from this run for over ${LEASE_SECONDS} s (a network that went silent, or a runner that stood still). This run's remote shell was ended on the host, and it stops here without touching the host again.`,
    )
    log.warning(error.message)
    remote.abandon(error)
  }
  const timer = setInterval(() => {
    renewing ??= renew().finally(() => (renewing = undefined))
  }, LEASE_RENEW_SECONDS * 1000)
  // The renewals alone must not keep the action's process alive.
  timer.unref()
  return {
    stop: async () => {
      clearInterval(timer)
      await renewing
    },
  }
}
