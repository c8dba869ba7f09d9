/**
 * `command: deploy` on one host, in the two phases of a fleet deploy (src/deploy/phases.ts runs them
 * across the hosts; one host is a fleet of one): `stageHost` (the SPEC's steps 3 to 8), `switchHost`
 * (step 9), then `finishHost` (steps 10 and 11); or, after a failure elsewhere, `unstageHost` or
 * `switchBackHost`.
 */
import type { Artifact } from '../artifact.js'
import { type DeployConfig, secretsOf } from '../config/inputs.js'
import type { Log } from '../log.js'
import type { RemoteHost, RemoteResult } from '../ssh/transport.js'
import { HookError, hookCommand, runHook, runPostSwitchHook } from './hooks.js'
import { refuseDeploy } from './control.js'
import { instanceOn } from './host-state.js'
import { choosePorts, releaseName, releasesToPrune } from './plan.js'
import { INLINE_UPLOAD_MAX_BYTES } from '../remote/release.js'
import { unitName } from '../remote/systemd.js'
import { supervisionOf } from './supervision.js'
import { preflightScript } from '../remote/preflight.js'
import { redactCommandLine } from '../config/secrets.js'
import { checklistText, preflightChecks, problemsText } from './preflight.js'
import { preflightParams, readPreflightFacts } from './preflight-facts.js'
import { type HostReport, reportServing, timed } from './report.js'
import type { HeldLock } from './lock.js'
import { markNeverServed, rejectedRelease } from './include-switch.js'
import { type HostTraffic, type TrafficView, sendNginxDump, switchView, trafficDryRun, trafficOf, trafficPlan } from './traffic-control.js'
import type { Split } from '../remote/traffic.js'
import {
  type HostRun,
  StepError,
  awaitNginxHandover,
  checkHostReady,
  checkSupervision,
  freeIdlePort,
  inspectHost,
  lockAndInspect,
  pruneReleases,
  sendStart,
  startAndCheckHealth,
  stopInstance,
  switchTraffic,
  uploadRelease,
} from './steps.js'

/**
 * A host between its two phases: the new release runs healthy on the idle port, nginx still serves
 * the old one, and the host's lock is held.
 */
export interface StagedHost {
  run: HostRun
  lock: HeldLock
  /** The port nginx served before the run; undefined on a host's first deploy. */
  active?: number
  idle: number
  release: string
  /** The release on the active port, the one a revert goes back to. */
  previousRelease?: string
  /** The jar's file name in the release directory, for the hooks' ARTIFACT. */
  fileName: string
  /** nginx may have sent the new instance requests (a reload took effect, even in part): drain before stopping it. */
  reloaded?: boolean
  /** The new instance was stopped already (a failed post-switch-command put traffic back). */
  stopped?: boolean
  /**
   * Traffic control on this host (a canary or a bake): what its includes need, and where its
   * traffic log was last read. Undefined when the run watches nothing, or the host has no previous
   * instance to compare with and go back to.
   */
  traffic?: HostTraffic
  /** The include observes the traffic (the bake): finish puts the plain include back. */
  observed?: boolean
  /** When nginx was back on the previous instance after a failure (performance.now()). */
  backAt?: number
}

/**
 * Phase 1, steps 3 to 8: lock, inspect, upload, free the idle port, start and check health. Nothing
 * here touches nginx. On failure the lock is let go and the new instance (if any) is stopped.
 */
export async function stageHost(
  remote: RemoteHost,
  config: DeployConfig,
  artifact: Artifact,
  report: HostReport,
  log: Log,
): Promise<StagedHost> {
  report.sha256 = artifact.sha256
  remote.warmUp({ sftp: artifact.size > INLINE_UPLOAD_MAX_BYTES })
  const locking = lockAndInspect(remote, config, report, log)
  // Right behind the inspection, in the same round trip: nginx's configuration, for a canary or a bake.
  const dumping = sendNginxDump(remote, config)
  const { lock, state } = await locking
  try {
    checkHostReady(state, remote, artifact)
    const run: HostRun = { config, remote, log, report, state }
    checkSupervision(run)
    const { active, idle } = choosePorts(state.include, config.ports)
    // Until the switch, the outputs describe what serves: the old port and release.
    const previousRelease = instanceOn(state, active)?.release
    const traffic = await timed(report, 'inspect', () => trafficOf(run, active, dumping))
    reportServing(report, active, previousRelease)

    // The idle port is freed while the jar travels: one waits on a JVM's shutdown, the other on the
    // wire (SFTP runs beside the shell session). The idle instance serves no traffic; if the
    // upload fails, the active one still serves, and rollback restarts the previous release.
    const freeing = timed(report, 'stop_idle', () => freeIdlePort(run, idle, artifact.fileName))
    freeing.catch(() => undefined)
    // Without a pre-start-command between them, the start goes right behind the upload's check:
    // a round trip less, and the host skips it if either that check or freeing the port failed.
    let starting: Promise<RemoteResult> | undefined
    const startAtOnce = hookCommand(config, 'pre-start') === ''
    const { release, uploadedBytes } = await timed(report, 'upload', () =>
      log.group('Upload', () =>
        uploadRelease(run, artifact, (name) => {
          if (!startAtOnce) return
          starting = sendStart(run, idle, name, artifact.fileName, { pipelined: true })
          starting.catch(() => undefined)
        }),
      ),
    )
    report.uploadedBytes = uploadedBytes
    report.targetRelease = release
    // A stranger on the idle port fails the run here; the host skipped the start sent behind.
    const { tookOver } = await freeing
    // A takeover's first answer failed on the host too, which skipped that start: it goes again.
    if (tookOver) starting = undefined
    const point = { release, fileName: artifact.fileName, port: idle, previousPort: active }
    await timed(report, 'pre_start', () => runHook(run, { name: 'pre-start', ...point })).catch((error) => {
      throw error instanceof HookError ? error.leaving('Nothing was started or switched; the old version still serves.') : error
    })
    await timed(report, 'start', () =>
      log.group(`Start ${release} on port ${idle}`, () => startAndCheckHealth(run, idle, release, artifact.fileName, starting)),
    )
    // At the end of the stage: on a fleet, a host whose smoke test fails keeps every host from switching.
    try {
      await timed(report, 'pre_switch', () => runHook(run, { name: 'pre-switch', ...point }))
    } catch (error) {
      await stopInstance(run, idle, 0).catch(() => undefined)
      throw error instanceof HookError
        ? error.leaving(`The new instance on port ${idle} was stopped; nothing was switched and the old version still serves.`)
        : error
    }
    return { run, lock, active, idle, release, previousRelease, fileName: artifact.fileName, traffic }
  } catch (error) {
    await lock.release()
    throw error
  }
}

/** Points nginx at `port` with all traffic (plain), with the http-level file when traffic control is on. */
function pointAt(staged: StagedHost, port: number, release: string | undefined): Promise<void> {
  return staged.traffic
    ? switchView(staged.run, staged.traffic, { mode: 'plain', port }, release, { verify: true })
    : switchTraffic(staged.run, port, release)
}

/**
 * A canary step on this host: `split.percent`% of the clients go to the new instance, the others
 * stay on the previous one; `held` when the run ends on it. On failure nginx still (or again)
 * serves what it served before.
 */
export async function canaryStepHost(staged: StagedHost, percent: number, { held = false } = {}): Promise<void> {
  const { run, idle, active, release, traffic } = staged
  const split: Split = { percent, newPort: idle, previousPort: active! }
  try {
    await timed(run.report, 'switch', () =>
      run.log.group(`Canary ${percent}%: split nginx between ports ${idle} and ${active}`, () =>
        switchView(run, traffic!, { mode: 'canary', split, held }, release, { verify: true }),
      ),
    )
  } catch (error) {
    staged.reloaded ||= error instanceof StepError && error.afterReload
    throw error
  }
  staged.reloaded = true
}

/** canary-interval 0: the host stays on the first step, nothing stopped, and is let go. */
export async function leaveHeldHost(staged: StagedHost): Promise<void> {
  const { run, lock, idle, release } = staged
  run.report.activePort = idle
  run.report.release = release
  run.report.canary = 'held'
  await lock.release()
}

/**
 * Phase 2, step 9: points nginx at the staged instance. Sent only when called, a round trip after
 * the start's answer, and never queued behind it: a queued switch would still run on the host after
 * the connection was lost (a cancelled run, or a fleet that is putting the other hosts back). On
 * failure nginx still (or again) serves the old port; the caller stops the new instance (`unstageHost`).
 */
export async function switchHost(staged: StagedHost, { observed = false } = {}): Promise<void> {
  const { run, idle, release, traffic } = staged
  // A bake watches the new instance with all the traffic: the include observes it until finish.
  const view: TrafficView = { mode: observed ? 'observed' : 'plain', port: idle }
  try {
    await timed(run.report, 'switch', () =>
      run.log.group(`Switch nginx to port ${idle}`, () =>
        traffic ? switchView(run, traffic, view, release, { verify: true }) : switchTraffic(run, idle, release),
      ),
    )
  } catch (error) {
    // After a canary step, nginx already sent the new instance requests.
    staged.reloaded ||= error instanceof StepError && error.afterReload
    throw error
  }
  staged.observed = observed && traffic !== undefined
  staged.reloaded = true
  run.report.activePort = idle
  run.report.release = release
  await timed(run.report, 'post_switch', () =>
    runPostSwitchHook(
      run,
      { name: 'post-switch', release, fileName: staged.fileName, port: idle, previousPort: staged.active },
      { port: staged.active, release: staged.previousRelease },
      {
        switchTo: async (port, previous) => {
          await pointAt(staged, port, previous)
          staged.observed = false
          await markNeverServed(run, rejectedRelease(release, previous), 'post-switch')
        },
        stop: () => stopNewInstance(staged),
      },
    ),
  )
}

/**
 * After a failure (its own switch's, or another host's): stops the staged instance, which nginx no
 * longer sends to, and lets go of the host.
 */
export async function unstageHost(staged: StagedHost): Promise<void> {
  try {
    await stopNewInstance(staged)
  } finally {
    await staged.lock.release()
  }
}

/**
 * After a failure (another host's switch, or the new version's analysis): nginx goes back to the
 * warm previous instance, with all traffic, and the new one is drained and stopped.
 */
export async function switchBackHost(staged: StagedHost, why = 'so that the fleet stays on one version'): Promise<void> {
  const { run, active, idle, previousRelease } = staged
  try {
    if (active === undefined)
      throw new StepError(
        'switch back',
        `there is no previous instance to go back to (this was the host's first deploy); it serves port ${idle}.`,
      )
    run.log.warning(`Switching back to port ${active} (release ${previousRelease ?? 'unknown'}), ${why}.`)
    await timed(run.report, 'switch', () =>
      run.log.group(`Switch nginx back to port ${active}`, () => pointAt(staged, active, previousRelease)),
    )
    staged.backAt = performance.now()
    staged.observed = false
    run.report.activePort = active
    run.report.release = previousRelease
    run.report.rolledBack = true
    await markNeverServed(run, rejectedRelease(staged.release, previousRelease), 'switch back')
    await stopNewInstance(staged).catch(() => undefined)
  } finally {
    await staged.lock.release()
  }
}

/**
 * The new instance must not linger once nginx is off it. Once a reload may have taken effect, even
 * in part, nginx workers that are shutting down may still send it requests: drain them first, as
 * stop-previous does.
 */
async function stopNewInstance(staged: StagedHost): Promise<void> {
  const { run, idle } = staged
  if (staged.stopped) return
  staged.stopped = true
  const drainSeconds = staged.reloaded ? run.config.drainSeconds : 0
  if (drainSeconds > 0) run.log.info(`Draining port ${idle} for ${drainSeconds} s (drain-seconds) before stopping the new instance.`)
  await stopInstance(run, idle, drainSeconds)
}

/** Steps 10 and 11, once every host serves the new version: stop-previous, prune, let go of the host. */
export async function finishHost(staged: StagedHost): Promise<void> {
  const { run, lock, active, release, idle } = staged
  const { config, log, report, state } = run
  try {
    // After the bake: the include that observed the traffic gives way to the plain one (one reload).
    if (staged.observed) {
      await timed(report, 'switch', () => log.group(`Stop observing: plain include on port ${idle}`, () => pointAt(staged, idle, release)))
      staged.observed = false
    }
    // The host is let go only once nginx sends every new request to the new port. Sent, not
    // awaited: the shell runs what follows after it, so nothing is stopped or let go before the
    // hand-over, and a far host pays no round trip for it.
    const handover = awaitNginxHandover(run)
    handover.catch(() => undefined)
    if (config.stopPrevious && active !== undefined) {
      await timed(report, 'stop_previous', () =>
        log.group(`Stop the previous instance on port ${active}`, () => stopInstance(run, active, config.drainSeconds)),
      )
    }
    const warm = config.stopPrevious ? undefined : instanceOn(state, active)?.release
    const pruning = timed(report, 'cleanup', () => pruneReleases(run, release, warm ? [warm] : []))
    // The release follows the prune at once, and runs whatever the prune's outcome.
    void lock.release()
    const pruned = await pruning
    await handover
    if (pruned.length > 0) log.info(`Pruned releases: ${pruned.join(', ')}`)
  } finally {
    await lock.release()
  }
}

/**
 * dry-run: inspect, check everything the deploy will need, and print the plan and the checklist;
 * change nothing on the host. Fails, naming every problem and its fix, when a check does not pass.
 */
export async function planDeploy(
  remote: RemoteHost,
  config: DeployConfig,
  artifact: Artifact,
  report: HostReport,
  log: Log,
): Promise<void> {
  report.sha256 = artifact.sha256
  // Sent together: the checks cost no round trip of their own.
  const checking = remote.run(preflightScript(preflightParams(config)), { step: 'inspect' })
  checking.catch(() => undefined)
  const dumping = sendNginxDump(remote, config)
  const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false))
  const preflight = readPreflightFacts((await timed(report, 'inspect', () => checking)).answer)
  // A held canary refuses the deploy itself: the dry run says so, not a plan that would not run.
  refuseDeploy(state, config, remote.entry.label)
  const { active, idle } = choosePorts(state.include, config.ports)
  const reuse = state.releases.find((r) => r.sha256 === artifact.sha256 && r.fileName === artifact.fileName)
  const release = reuse?.name ?? releaseName(artifact.sha256, new Date())
  const idleInstance = instanceOn(state, idle)
  const supervision = supervisionOf(config.supervisor, config.appName, state)
  if (supervision.warning) log.warning(supervision.warning)
  const activeRelease = instanceOn(state, active)?.release
  const run: HostRun = { config, remote, log, report, state }
  const { check: trafficCheck, lines: traffic } = await trafficDryRun(run, active, dumping)
  const plan = [
    active === undefined
      ? `nginx's include (${config.nginx.include}) names neither port yet; port ${idle} will be the first to serve`
      : `nginx serves port ${active} (release ${activeRelease ?? 'unknown'})`,
    reuse
      ? `reuse release ${release}, already on the host: upload nothing`
      : `upload ${artifact.fileName} (${artifact.size} bytes; only the chunks no kept release has, when they have chunk lists) as release ${release}`,
    idleInstance?.running
      ? `stop the instance on idle port ${idle} (pid ${idleInstance.pid}, release ${idleInstance.release ?? 'unknown'})`
      : `port ${idle} is idle${idleInstance?.listening ? `, but something listens there (see the check of port ${idle})` : ''}`,
    ...hookPlan(config, 'pre-start', 'before the start'),
    `start ${release} on port ${idle} ${supervision.start ? `as systemd unit ${unitName(config.appName, idle)}, enabled,` : 'detached,'} and check http://127.0.0.1:${idle}${config.health.path} for up to ${config.health.timeoutSeconds} s`,
    ...hookPlan(config, 'pre-switch', 'before the switch'),
    ...traffic.beforeSwitch,
    ...(trafficPlan(config.traffic).hold
      ? []
      : [
          `point ${config.nginx.include} at port ${idle}, test nginx, reload${config.verifyUrl ? `, verify ${config.verifyUrl}` : ''}`,
          ...hookPlan(config, 'post-switch', 'after the switch (if it fails, traffic goes back)'),
          ...traffic.afterSwitch,
        ]),
    config.stopPrevious && active !== undefined
      ? `stop the instance on port ${active} after ${config.drainSeconds} s`
      : `keep the instance on port ${active ?? '-'} warm for rollback`,
  ]
  const doomed = releasesToPrune(
    [...state.releases, { name: release, sha256: artifact.sha256 }],
    config.keepReleases,
    activeRelease ? [activeRelease] : [],
    release,
  )
  plan.push(doomed.length > 0 ? `prune releases ${doomed.join(', ')}` : 'prune nothing')
  const checks = preflightChecks(preflight, {
    config: { ...config, insecureSkip: config.hostKeys.insecureSkip },
    user: state.user || remote.entry.username,
    isRoot: state.isRoot,
    artifact,
    reused: state.releases.some((r) => r.sha256 === artifact.sha256),
    systemd: state.systemd,
    linger: state.linger,
    ours: state.instances.filter((i) => i.running),
    active,
    redact: (commandLine) => redactCommandLine(commandLine, secretsOf(config)),
  })
  if (trafficCheck) checks.push(trafficCheck)
  const failed = checks.filter((c) => !c.ok).length
  log.info(`Dry run: nothing will change. The plan for ${remote.entry.label}:\n${plan.map((line, i) => `  ${i + 1}. ${line}`).join('\n')}`)
  log.info(
    `Checks on ${remote.entry.label}: ${failed === 0 ? `all ${checks.length} passed` : `${failed} of ${checks.length} failed`}\n${checklistText(checks)}`,
  )
  report.plan = plan
  report.checks = checks
  reportServing(report, active, release)
  if (failed > 0) throw new StepError('dry-run', problemsText(checks))
  report.outcome = 'dry-run'
}

/** The plan's line for a hook the user set, in the release directory with hook-timeout. */
function hookPlan(config: DeployConfig, name: keyof DeployConfig['hooks'], when: string): string[] {
  const command = config.hooks[name]
  return command === '' ? [] : [`run ${name}-command ${when}, for up to ${config.hookTimeoutSeconds} s: ${command}`]
}
