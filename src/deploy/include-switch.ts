/**
 * Putting a new include in place through the switch script (write, test, reload, confirm, verify,
 * put the old text back on any failure): the include for a port, and the other texts traffic
 * control writes (maintenance, a canary's split), with what each failure means for the user.
 */
import { SWITCH_EXIT, switchScript } from '../remote/nginx.js'
import { releaseStatePath } from '../remote/release.js'
import { releaseUnservedScript } from '../remote/release-state.js'
import { RemoteCommandError } from '../ssh/transport.js'
import { nginxMasterHint, withoutSudoForRoot } from './plan.js'
import type { HostRun } from './steps.js'
import { StepError } from './step-error.js'
import { includeWriteFailure, restoreNote, sudoRefusalNote } from './switch-messages.js'

export interface IncludeChange {
  /** The include's new text. */
  content: string
  /** Written before the include, tested with it and put back with it (see SwitchParams.httpFile). */
  httpFile?: { path: string; content: string }
  /** The release that serves once the include is in place, marked as one that has served; none for none. */
  release?: string
  /** Fetch verify-url once nginx took it; not while nginx answers 503 to everything (maintenance). */
  verify: boolean
  /** What the log says once nginx took it: "nginx now sends traffic to port 8082". */
  done: string
  /** What nginx goes back to when verify-url fails: "the previous port" unless said. */
  before?: string
}

/**
 * A release that a run sent back (a failed analysis, post-switch-command, the fleet going back) is
 * no version for a later rollback to go back to, even if a switch marked it as served: it counts as
 * never served (see RELEASE_STATE_FILE). Nothing when it is also the release traffic went back to.
 */
export function rejectedRelease(sentBack: string | undefined, wentBackTo: string | undefined): string | undefined {
  return sentBack === wentBackTo ? undefined : sentBack
}

/**
 * Marks `release` as one that never served, once the run sent it back (see rejectedRelease). A
 * failure here changes nothing that serves: a warning says what a later rollback might do.
 */
export async function markNeverServed(run: HostRun, release: string | undefined, step: string): Promise<void> {
  if (release === undefined) return
  try {
    await run.remote.run(releaseUnservedScript({ deployDir: run.state.deployDir, release }), { step })
  } catch (error) {
    run.log.warning(
      `Could not mark release ${release} as one that never served (${error instanceof Error ? error.message : String(error)}): a rollback that finds nothing warm might start it again.`,
    )
  }
}

/** How long nginx may take to start new workers after a reload, and to retire the old ones. */
export const NGINX_RELOAD_TIMEOUT_SECONDS = 10

/** Puts `change` in place on the host, or fails with nginx serving what it served before. */
export async function switchInclude(run: HostRun, change: IncludeChange): Promise<void> {
  const { remote, config, state, report, log } = run
  const reloadCommand = withoutSudoForRoot(config.nginx.reloadCommand, state.isRoot)
  const verifyUrl = change.verify ? config.verifyUrl : ''
  try {
    const result = await remote.run(
      switchScript({
        include: config.nginx.include,
        content: change.content,
        httpFile: change.httpFile,
        testCommand: withoutSudoForRoot(config.nginx.testCommand, state.isRoot),
        reloadCommand,
        masterHint: nginxMasterHint(reloadCommand),
        verifyUrl,
        verifyTimeoutSeconds: config.health.timeoutSeconds,
        intervalSeconds: config.health.intervalSeconds,
        reloadTimeoutSeconds: NGINX_RELOAD_TIMEOUT_SECONDS,
        releaseStateFile: change.release ? releaseStatePath(state.deployDir, change.release) : '',
      }),
      { step: 'switch' },
    )
    run.nginxOldWorkers = result.answer.facts.old_workers?.trim() || undefined
    if (result.answer.facts.reload === 'unobserved')
      log.warning('Could not watch the nginx workers on the host (no access to /proc?); waited 1 s after the reload instead.')
    log.info(`${change.done}${verifyUrl ? `; ${verifyUrl} answered 2xx` : ''}.`)
  } catch (error) {
    if (!(error instanceof RemoteCommandError)) throw error
    const { facts, sections } = error.result.answer
    const restored = restoreNote(error.result.answer, config.nginx.include)
    switch (error.result.code) {
      case SWITCH_EXIT.writeFailed:
        throw new StepError('switch', includeWriteFailure(error.result.answer, config.nginx.include, remote.entry.username))
      case SWITCH_EXIT.testFailed:
        throw new StepError(
          'switch',
          `the nginx test (${config.nginx.testCommand}) rejected the configuration with the new include; the old include was put back byte for byte and nginx was not reloaded.${restored}${sudoRefusalNote(sections.test_output, config.nginx.testCommand, remote.entry.username)}\n${sections.test_output ?? ''}`,
        )
      case SWITCH_EXIT.reloadFailed:
        throw new StepError(
          'switch',
          `the nginx reload (${config.nginx.reloadCommand}) failed; the old include was put back and nginx reloaded again.${restored}${sudoRefusalNote(sections.reload_output, config.nginx.reloadCommand, remote.entry.username)}\n${sections.reload_output ?? ''}`,
          true,
        )
      case SWITCH_EXIT.notTaken:
        throw new StepError(
          'switch',
          `no nginx master started new workers within ${NGINX_RELOAD_TIMEOUT_SECONDS} s of the reload (${config.nginx.reloadCommand}), so nginx still serves the old port; the old include was put back and nginx reloaded again.${restored} See the nginx error log on the host.`,
          true,
        )
      case SWITCH_EXIT.verifyFailed:
        report.rolledBack = facts.rolled_back === 'yes'
        throw new StepError(
          'verify',
          `${verifyUrl} did not answer 2xx within ${config.health.timeoutSeconds} s after the switch (last answer: ${facts.verify_status === '000' ? 'no connection' : `HTTP ${facts.verify_status}`}); traffic was put back on ${change.before ?? 'the previous port'}.${restored}`,
          true,
        )
    }
    throw error
  }
}
