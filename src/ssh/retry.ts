/**
 * Which failed connections are worth another try (connect-retries), and when. A host whose sshd is
 * restarting (a package upgrade), that is still booting, or whose sshd sheds new connections under
 * load (MaxStartups closes them during the key exchange) answers a few seconds later; a host key
 * that does not match, or credentials the host refused, never will, and a second try would only
 * send them again.
 */
import type { ErrorWithLevel } from './errors.js'

/** Errors of the socket or of the network that say nothing about the host's keys or our credentials. */
const PASSING_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'ECONNABORTED'])
/** What ssh2 (and node-ssh) say when the host closed the connection before or during the key exchange. */
const CLOSED_EARLY = /Connection lost before handshake|No response from server|Timed out while waiting for handshake|Keepalive timeout/i

/** The longest wait between two tries: the fifth and later retries wait this long. */
const MAX_DELAY_SECONDS = 30

/** A proxy command that could not be found or run (sh's 127 and 126) will not be found on the next try either. */
const NEVER_RUNS = new Set([126, 127])

export interface ProxyCommandExit {
  level: 'proxy-command'
  exitCode: number | null
}

/** Whether a connection that failed with this error may succeed if tried again. */
export function mayPass(error: ErrorWithLevel & { exitCode?: number | null; reason?: number | string }): boolean {
  if (error.level === 'client-authentication' || error.level === 'handshake') return false
  if (error.level === 'proxy-command') return !NEVER_RUNS.has(error.exitCode ?? -1)
  if (error.level === 'client-timeout') return true
  if (error.code !== undefined && PASSING_CODES.has(error.code)) return true
  // A jump host's refused forward: 2 is SSH_OPEN_CONNECT_FAILED (nothing listens yet, no route yet);
  // 1, administratively prohibited, is the bastion's configuration.
  if (error.reason === 2 || error.reason === 'CONNECT_FAILED') return true
  return CLOSED_EARLY.test(error.message ?? '')
}

/** Seconds to wait before the next try, after `failedTries` tries failed: 1, 2, 4, 8... */
export function retryDelaySeconds(failedTries: number): number {
  return Math.min(MAX_DELAY_SECONDS, 2 ** (failedTries - 1))
}

/**
 * The wait before trying again, or undefined to give up: after `failedTries` failed tries (the
 * first is 1), with `retries` tries allowed after the first, for a failure with this cause (none: a
 * failure of our own making, such as a refused host key, which is never tried again).
 */
export function nextTry(cause: unknown, failedTries: number, retries: number): number | undefined {
  if (failedTries > retries || !(cause instanceof Error) || !mayPass(cause as ErrorWithLevel)) return undefined
  return retryDelaySeconds(failedTries)
}
