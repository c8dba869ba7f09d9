/** Scripts for the user's own steps (hooks), the deploy history and the instances' logs. */
import { shellScript } from './quote.js'
import { APPEND_HISTORY_SH, HOOK_GUARD_SH, HOOK_SH, READ_HISTORY_SH, READ_LOGS_SH } from './sh/generated.js'
import { SHELL_LIB } from './shell-lib.js'

/** Exit codes of the hook script, so the client can tell a failed hook from one that ran too long. */
export const HOOK_EXIT = { failed: 80, timedOut: 81, noRelease: 82 } as const

/** Lines of a hook's output that its answer carries back, for the error message. */
export const HOOK_TAIL_LINES = 20

/** What a hook's output lines start with on fd 3, so the client can tell them from other live lines. */
export const HOOK_LINE_PREFIX = 'hook| '

export interface HookParams {
  deployDir: string
  release: string
  fileName: string
  appName: string
  javaOpts: string
  /** The hook's name, for its log and messages: pre-start, pre-switch or post-switch. */
  name: string
  command: string
  /** The new instance's port. */
  port: number
  /** The port that served before this run ('' when none did). */
  previousPort: number | undefined
  /** deploy or rollback. */
  runCommand: string
  timeoutSeconds: number
}

/**
 * Runs a hook with `sh -c` in the release directory, with the service's environment (the release's
 * env file, JAVA_OPTS) and PORT, PREVIOUS_PORT, RELEASE, RELEASE_DIR, ARTIFACT, APP_NAME and
 * COMMAND. Its output goes to `logs/hook-<name>.log` and, line by line as it comes, to fd 3, which
 * reaches the job log while the hook runs (a migration can take minutes). It runs in a session of
 * its own, so that a hook past its timeout is ended with every child it started: SIGTERM, then
 * SIGKILL 5 s later; it records itself in run/hook.pid, so that a run taking the lock over from
 * this one, silent, ends it (see end_holder).
 */
export function hookScript(p: HookParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      RELEASE: p.release,
      FILE_NAME: p.fileName,
      APP_NAME: p.appName,
      JAVA_OPTS: p.javaOpts,
      HOOK_NAME: p.name,
      HOOK_COMMAND: p.command,
      PORT: p.port,
      PREVIOUS_PORT: p.previousPort ?? '',
      COMMAND: p.runCommand,
      TIMEOUT: Math.ceil(p.timeoutSeconds),
      TAIL_LINES: HOOK_TAIL_LINES,
      HOOK_GUARD: HOOK_GUARD_SH.trim(),
      HOOK_LINE_PREFIX,
      EXIT_FAILED: HOOK_EXIT.failed,
      EXIT_TIMED_OUT: HOOK_EXIT.timedOut,
      EXIT_NO_RELEASE: HOOK_EXIT.noRelease,
    },
    `${SHELL_LIB}\n${HOOK_SH}`,
  )
}

/** How many entries `<deploy-dir>/history` keeps: the newest, as one JSON line each. */
export const HISTORY_LIMIT = 1000

/**
 * Appends one JSON line to `<deploy-dir>/history` and keeps the file to its last HISTORY_LIMIT
 * lines. The history lives beside `releases/`, never in it, so pruning cannot take it. An append of
 * one short line is atomic, so a failed run's entry cannot tear another's. The trim replaces the
 * file, so a line appended between its read and its rename would be lost: runs send this while they
 * hold the host's lock, one at a time, and each trims through a file of its own.
 */
export function appendHistoryScript(p: { deployDir: string; entry: string }): string {
  if (p.entry.includes('\n')) throw new Error('a history entry is one line')
  return shellScript({ DEPLOY_DIR: p.deployDir, ENTRY: p.entry, LIMIT: HISTORY_LIMIT }, `${SHELL_LIB}\n${APPEND_HISTORY_SH}`)
}

/** The last `lines` entries of `<deploy-dir>/history`, in a section `@@history`. */
export function readHistoryScript(p: { deployDir: string; lines: number }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir, LINES: p.lines }, `${SHELL_LIB}\n${READ_HISTORY_SH}`)
}

/** The last `lines` lines of each port's log, in sections `@@log_<port>`. Reads only. */
export function readLogsScript(p: { deployDir: string; ports: number[]; lines: number }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir, PORTS: p.ports.join(' '), LINES: p.lines }, `${SHELL_LIB}\n${READ_LOGS_SH}`)
}
