/**
 * Traffic control's part of a fleet deploy (phases.ts runs it): once every host is staged, the
 * canary steps on every host together, each watched across all of them, then the bake after the
 * switch; and what came of it, in each host's report and in the run's error.
 */
import * as core from '@actions/core'
import type { DeployConfig } from '../config/inputs.js'
import { watchesTraffic } from '../config/traffic-inputs.js'
import type { StagedHost } from './deploy.js'
import type { FleetOutcome, TrafficWork } from './phases.js'
import type { HostReport, TrafficStepReport } from './report.js'
import { type TrafficStep, readTraffic, stepName, trafficPlan } from './traffic-control.js'
import { AnalysisFailure, type StepFigures, type WatchedHost, watchTraffic } from './watch.js'

interface FlowTarget {
  entry: { label: string }
}

interface HostSteps {
  /** Puts the host on a canary step (`held`: the run ends on it); flushes its log. */
  toStep(staged: StagedHost, percent: number, index: number, held: boolean): Promise<void>
  /** A held canary: lets go of the host. */
  leaveHeld(staged: StagedHost, index: number): Promise<void>
}

export interface TrafficFlow {
  work(staged: StagedHost[]): TrafficWork<StagedHost> | undefined
  /** Why the hosts go back, when a canary step or the bake failed: for the log of each host. */
  backReason(): string | undefined
  /** The switch observes the traffic: a bake follows. */
  bakes(): boolean
  /** Puts the steps' figures (and the canary's end) in a host's report. */
  record(report: HostReport, index: number, outcome: FleetOutcome): void
  /** The run's error after a failed analysis: the figures, and where every host is now. */
  failureText(error: unknown, outcome: FleetOutcome): string
}

export function trafficWork(config: DeployConfig, targets: FlowTarget[], hostSteps: HostSteps): TrafficFlow {
  const plan = trafficPlan(config.traffic)
  const thresholds = {
    maxErrorRate: config.traffic.maxErrorRate,
    maxP99Ms: config.traffic.maxP99Ms,
    minRequests: config.traffic.minRequests,
  }
  const log = { info: (message: string) => core.info(message), warning: (message: string) => core.warning(message) }
  const steps: StepFigures[] = []
  let held: TrafficStep | undefined
  let hosts: StagedHost[] = []
  let on = false
  let stepStart = 0
  let failedAt: number | undefined
  let failure: string | undefined

  const watch = async (step: TrafficStep) => {
    const watched: WatchedHost[] = hosts.map((staged, index) => ({
      label: targets[index].entry.label,
      newPort: staged.idle,
      previousPort: staged.active!,
      read: () => readTraffic(staged.run, staged.traffic!),
    }))
    try {
      steps.push(await watchTraffic(watched, { step: stepName(step), seconds: step.seconds, thresholds, log }))
    } catch (error) {
      failedAt = performance.now()
      if (error instanceof AnalysisFailure) {
        steps.push(error.result)
        failure = `since the new version failed its analysis (${error.result.step})`
      } else {
        failure = `since the traffic of ${stepName(step)} could not be watched`
      }
      throw error
    }
  }

  return {
    work(staged) {
      if (!watchesTraffic(config.traffic)) return undefined
      if (staged.some((s) => !s.traffic)) {
        // Each such host said why (no previous instance); one version across the fleet, one way.
        if (staged.length > 1)
          core.warning('Not every host has a previous instance to go back to, so no host takes the canary steps or the bake.')
        return undefined
      }
      hosts = staged
      on = true
      return {
        steps: plan.canary.map((step) => step.percent),
        hold: plan.hold,
        toStep: (s, index, step) => {
          if (index === 0) stepStart = performance.now()
          return hostSteps.toStep(s, plan.canary[step].percent, index, plan.hold)
        },
        watchStep: (step) => watch({ kind: 'canary', ...plan.canary[step] }),
        bake:
          plan.bakeSeconds > 0
            ? () => {
                stepStart = performance.now()
                return watch({ kind: 'bake', seconds: plan.bakeSeconds })
              }
            : undefined,
        leaveHeld: (s, index) => {
          held = { kind: 'canary', ...plan.canary[0] }
          return hostSteps.leaveHeld(s, index)
        },
      }
    },
    bakes: () => on && plan.bakeSeconds > 0,
    backReason: () => failure,
    record(report, index, outcome) {
      if (!on) return
      const stepReports: TrafficStepReport[] = steps.map((step) => ({
        step: step.step,
        seconds: step.seconds,
        verdict: step.verdict,
        ...(step.reason ? { reason: step.reason } : {}),
        figures: step.figures,
        ...(step.hosts ? { hostFigures: step.hosts[index] } : {}),
      }))
      if (held) stepReports.push({ step: stepName(held), seconds: 0, verdict: 'held' })
      report.traffic = stepReports
      if (outcome.canarySeconds !== undefined) report.phases.canary = outcome.canarySeconds
      if (outcome.bakeSeconds !== undefined) report.phases.bake = outcome.bakeSeconds
      if (plan.canary.length > 0 && !plan.hold && outcome.fates[index] === 'deployed') report.canary = 'promoted'
    },
    failureText(error, outcome) {
      const message = error instanceof Error ? error.message : String(error)
      const stuck = outcome.fates.flatMap((fate, index) =>
        fate === 'revert-failed' ? [`${targets[index].entry.label}: ${String(outcome.errors.get(index))}`] : [],
      )
      if (stuck.length > 0)
        return `${message}\nGoing back to the previous version failed on ${stuck.length === 1 ? 'a host' : `${stuck.length} hosts`}:\n${stuck.join('\n')}`
      const back = Math.max(...hosts.map((staged) => staged.backAt ?? 0))
      const when =
        failedAt !== undefined && back > 0
          ? `, ${((back - failedAt) / 1000).toFixed(1)} s after the verdict and ${((back - stepStart) / 1000).toFixed(1)} s after the ${outcome.failed?.phase === 'bake' ? 'switch' : 'step began'}`
          : ''
      const where =
        hosts.length === 1
          ? `Traffic is back on the previous instance (port ${hosts[0].active})${when}; the new instance was drained and stopped.`
          : `Every host is back on its previous instance${when}; the new instances were drained and stopped.`
      return `${message} ${where}`
    },
  }
}
