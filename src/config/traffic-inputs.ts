/**
 * The traffic-control inputs (SPEC "Traffic control"): canary steps, bake, the analysis thresholds
 * and the files nginx reads for them. Checked with the rest of the inputs, before any connection.
 */
import { type InputReaders, show } from './readers.js'

export interface TrafficConfig {
  /** Increasing percentages of clients sent to the new instance, a step each; empty for no canary. */
  canarySteps: number[]
  /** How long each canary step lasts. 0 holds the first step: the run ends with the canary in place. */
  canaryIntervalSeconds: number
  /**
   * The nginx expression whose hash puts a client on one side for the whole run. It reaches nginx's
   * configuration, so it holds only variables and plain text.
   */
  canaryKey: string
  /** How long the new instance is watched with all traffic, before the run succeeds. */
  bakeSeconds: number
  /** Percent of the new instance's requests that may be answered 5xx (nginx's own 502/504 included). */
  maxErrorRate: number
  /** The new instance's p99 latency may not exceed this; 0 leaves latency unjudged. */
  maxP99Ms: number
  /** Requests the new instance must have had before it is judged. */
  minRequests: number
  /** The http-level file the action writes (log format, client split); nginx must read it inside `http`. */
  httpInclude: string
  /** A file on the host served as the body of the 503 during maintenance; '' for a short default page. */
  maintenancePage: string
}

export const DEFAULT_CANARY_KEY = '$remote_addr'

/** True when a run needs to watch its traffic: a canary or a bake. */
export function watchesTraffic(traffic: TrafficConfig): boolean {
  return traffic.canarySteps.length > 0 || traffic.bakeSeconds > 0
}

export function parseTrafficInputs(read: InputReaders, context: { appName: string; include: string }): TrafficConfig {
  const { raw, text, problems } = read

  const stepsText = raw('canary-steps').trim()
  const steps = stepsText === '' ? [] : stepsText.split(/[\s,]+/).filter(Boolean)
  const canarySteps: number[] = []
  const expected = 'expected increasing whole percentages from 1 to 99, e.g. "10,50"'
  if (steps.some((step) => !/^\d+$/.test(step) || Number(step) < 1 || Number(step) > 99)) {
    problems.push(`canary-steps: ${show(stepsText)} is not valid; ${expected}`)
  } else if (steps.some((step, i) => i > 0 && Number(step) <= Number(steps[i - 1]))) {
    problems.push(`canary-steps: ${show(stepsText)} is not valid; ${expected} (each step above the one before)`)
  } else {
    canarySteps.push(...steps.map(Number))
  }

  const canaryKey = text('canary-key', DEFAULT_CANARY_KEY)
  // The key is written into nginx's configuration inside double quotes: nothing may end it.
  if (/[;{}"'\\\n\r\0]/.test(canaryKey)) {
    problems.push(
      `canary-key: ${show(canaryKey)} is not valid; expected nginx variables and plain text, e.g. "$remote_addr" or "$cookie_SESSION", without ; { } quotes, backslashes or line breaks`,
    )
  }

  const maxErrorRateText = raw('max-error-rate').trim()
  let maxErrorRate = 1
  if (maxErrorRateText !== '') {
    const value = Number(maxErrorRateText.replace(/%$/, ''))
    if (!/^\d+(\.\d+)?%?$/.test(maxErrorRateText) || value > 100) {
      problems.push(`max-error-rate: ${show(maxErrorRateText)} is not valid; expected a percentage from 0 to 100, e.g. "1" or "0.5"`)
    } else {
      maxErrorRate = value
    }
  }

  const httpInclude = text('nginx-http-include', `/etc/nginx/conf.d/zdd-${context.appName}.conf`)
  if (!httpInclude.startsWith('/') || httpInclude.endsWith('/') || /[\n\0]/.test(httpInclude)) {
    problems.push(`nginx-http-include: ${show(httpInclude)} is not valid; expected the absolute path of a file`)
  } else if (httpInclude === context.include) {
    problems.push(
      `nginx-http-include: ${show(httpInclude)} is the nginx-include itself; expected a file of its own, read by nginx inside http`,
    )
  }

  const maintenancePage = raw('maintenance-page').trim()
  if (/[\n\0]/.test(maintenancePage)) {
    problems.push(`maintenance-page: ${show(maintenancePage)} is not valid; expected the path of a file on the host`)
  }

  return {
    canarySteps,
    canaryIntervalSeconds: read.seconds('canary-interval', 60),
    canaryKey,
    bakeSeconds: read.seconds('bake-seconds', 0),
    maxErrorRate,
    maxP99Ms: read.integer('max-p99-ms', 0, 0, 3_600_000),
    minRequests: read.integer('analysis-min-requests', 20, 1, 1_000_000_000),
    httpInclude,
    maintenancePage,
  }
}
