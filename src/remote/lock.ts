/**
 * The per-host deploy lock, `<deploy-dir>/.lock`: a directory taken with an atomic mkdir, holding
 *   holder          "<pid> <start> <boot id> <group>" of the run's remote shell (the `sh -s` that
 *                   runs every step: `$$` in each script), always written whole: by a hard link
 *                   into a lock that has none (which fails when one came first), by rename over a
 *                   stale one
 *   owner           who holds it, for the warnings and the waiting message
 *   lease.<key>     when the holder last proved to be alive (seconds on the host's uptime clock),
 *                   key = "<pid>-<start>"; renewed by the runner over its own SSH channel
 *
 * A lock is stale when its holder has ended (the pid is gone, or belongs to another process: its
 * start time differs, or the host has rebooted since), when it has had no holder for 10 s (a run
 * cut off, or stalled, between its mkdir and its holder), or when its lease has not been renewed for
 * LEASE_SECONDS: a runner that went silent (lost its network without a FIN or RST) keeps its
 * remote shell alive until sshd notices, which may take hours. The holder of a silent lock is
 * ended (its shell and whatever that shell still runs) before its lock is taken over, so nothing
 * of the silent run acts on the host afterwards.
 */
import { shellScript } from './quote.js'
import { ACQUIRE_LOCK_SH, LOCK_LIB_SH, RELEASE_LOCK_SH, RENEW_LEASE_SH } from './sh/generated.js'
import { SHELL_LIB } from './shell-lib.js'

/** A lock whose lease has not been renewed for this long is taken over. */
export const LEASE_SECONDS = 60
/** How often a live run renews its lease: several renewals fit in one lease, even over a busy link. */
export const LEASE_RENEW_SECONDS = 10

/** Exit codes of the lock script. */
export const LOCK_EXIT = { unwritable: 30, timeout: 31 } as const

/**
 * Takes `<deploy-dir>/.lock` for this session's shell; waits up to the timeout for a live holder;
 * takes over a stale one (see the module's comment). Answers `lock=held` and `holder_key=`, the
 * key the lease renewals name.
 */
export function acquireLockScript(p: { deployDir: string; owner: string; since: Date; timeoutSeconds: number }): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      OWNER: p.owner,
      SINCE: p.since.toISOString().replace(/\.\d+Z$/, 'Z'),
      TIMEOUT: Math.ceil(p.timeoutSeconds),
      LEASE: LEASE_SECONDS,
      EXIT_UNWRITABLE: LOCK_EXIT.unwritable,
      EXIT_TIMEOUT: LOCK_EXIT.timeout,
    },
    `${SHELL_LIB}${LOCK_LIB_SH}\n${ACQUIRE_LOCK_SH}`,
  )
}

/**
 * Renews the lease of the lock held by the shell `holderKey` names; run by the runner over an SSH
 * channel of its own every LEASE_RENEW_SECONDS, since the run's shell may be busy for minutes
 * (an upload, a health wait). Answers `lease=renewed`, or `lease=lost` when that shell no longer
 * holds the lock.
 */
export function renewLeaseScript(p: { deployDir: string; holderKey: string }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir, KEY: p.holderKey }, `${SHELL_LIB}\n${RENEW_LEASE_SH}`)
}

/** Releases the lock if this session's shell still holds it. */
export function releaseLockScript(p: { deployDir: string }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir }, RELEASE_LOCK_SH)
}
