/**
 * Traffic control on each host (SPEC "Traffic control"): what nginx's configuration allows, checked
 * during the inspection; the include in each of its modes (a canary's split, all traffic observed,
 * plain), written with the http-level file; and the plan of a run's steps. The watch across the
 * hosts is in watch.ts.
 */
import type { DeployConfig } from '../config/inputs.js'
import { type TrafficConfig, watchesTraffic } from '../config/traffic-inputs.js'
import { shellScript } from '../remote/quote.js'
import {
  type Split,
  httpLevelConfig,
  includeText,
  nginxDumpScript,
  readDumpAnswer,
  readTrafficScript,
  trafficLogPath,
  parseTraffic,
} from '../remote/traffic.js'
import type { RemoteHost, RemoteResult } from '../ssh/transport.js'
import { switchInclude } from './include-switch.js'
import { dumpCommand, httpFileMissing, readNginxDump } from './nginx-dump.js'
import { sudoArgsOf } from './preflight-facts.js'
import { withoutSudoForRoot } from './plan.js'
import type { HostRun } from './steps.js'
import { instanceOn } from './host-state.js'
import type { CheckResult } from './report.js'
import { StepError } from './step-error.js'

/** One step of a watched run: a canary step (a share of the clients on the new instance) or the bake. */
export type TrafficStep = { kind: 'canary'; percent: number; seconds: number } | { kind: 'bake'; seconds: number }

export interface TrafficPlan {
  canary: Array<{ percent: number; seconds: number }>
  /** canary-interval 0: the run ends with the first step in place. */
  hold: boolean
  /** Seconds of the bake; 0 for none. */
  bakeSeconds: number
}

/** The steps a run takes, from the inputs: none at all when it watches nothing. */
export function trafficPlan(traffic: TrafficConfig): TrafficPlan {
  const hold = traffic.canarySteps.length > 0 && traffic.canaryIntervalSeconds === 0
  return {
    canary: (hold ? traffic.canarySteps.slice(0, 1) : traffic.canarySteps).map((percent) => ({
      percent,
      seconds: traffic.canaryIntervalSeconds,
    })),
    hold,
    // A held canary never reaches the full switch, so nothing bakes.
    bakeSeconds: hold ? 0 : traffic.bakeSeconds,
  }
}

/** The step's name in the log, the report and an error: "canary 10%", "bake". */
export function stepName(step: TrafficStep): string {
  return step.kind === 'canary' ? `canary ${step.percent}%` : 'bake'
}

/** A dry run's plan lines: the canary steps (before the switch) and the bake (after it). */
export function trafficPlanLines(plan: TrafficPlan, traffic: TrafficConfig): { beforeSwitch: string[]; afterSwitch: string[] } {
  const judged = `judged on max-error-rate ${traffic.maxErrorRate}%${traffic.maxP99Ms > 0 ? ` and max-p99-ms ${traffic.maxP99Ms}` : ''} once ${traffic.minRequests} requests reached the new instance; on a failure all traffic goes back`
  const clients = (percent: number) => `send ${percent}% of the clients (by ${traffic.canaryKey}) to the new instance`
  if (plan.hold)
    return {
      beforeSwitch: [`${clients(plan.canary[0].percent)} and end there: the canary is held until command: promote or command: rollback`],
      afterSwitch: [],
    }
  return {
    beforeSwitch: plan.canary.map((step) => `${clients(step.percent)} for ${step.seconds} s, ${judged}`),
    afterSwitch: plan.bakeSeconds > 0 ? [`bake: watch the new instance with all the traffic for ${plan.bakeSeconds} s, ${judged}`] : [],
  }
}

/** What a host needs for traffic control, read from nginx's configuration during the inspection. */
export interface HostTraffic {
  /** The user's access_log directives where the include is included: an observing include repeats them. */
  accessLogs: string[]
  /** The log the observing include adds, on the host (absolute, as nginx needs it). */
  trafficLog: string
  /** The byte of the traffic log where the next read starts; undefined until the first observing switch. */
  offset?: number
}

/**
 * Sends nginx's dump (`nginx -T`, the test command with -T) when the run watches traffic, behind
 * whatever was sent before it: read-only, so it may run before the lock is held, and its answer is
 * waited for only after the inspection's. Root runs it without sudo, as every nginx command.
 */
export function sendNginxDump(remote: RemoteHost, config: DeployConfig): Promise<RemoteResult> | undefined {
  if (!watchesTraffic(config.traffic)) return undefined
  const command = dumpCommand(config.nginx.testCommand)
  if (command === undefined) return undefined
  const asRoot = withoutSudoForRoot(command, true)
  const program = (sudoArgsOf(command) ?? '').split(/\s+/)[0] ?? ''
  const script = [
    // Where sudo would run the program from: the sudoers rule to name when sudo refuses the dump.
    shellScript(
      { DUMP_PROGRAM: program },
      'if [ -n "$DUMP_PROGRAM" ]; then echo "dump_program=$(command -v "$DUMP_PROGRAM" 2>/dev/null || true)"; fi',
    ),
    'if [ "$(id -u)" = 0 ]; then',
    nginxDumpScript(asRoot),
    'else',
    nginxDumpScript(command),
    'fi',
  ].join('\n')
  const dumping = remote.run(script, { step: 'inspect', allowExit: [1] })
  dumping.catch(() => undefined)
  return dumping
}

/** Why a host cannot take a canary or a bake, and what to do about it: a deploy's refusal, a dry run's failed check. */
export class TrafficRefusal extends StepError {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super('inspect', `${problem} Nothing was uploaded or started. ${fix}`)
  }
}

/**
 * Reads the dump's answer: refuses (TrafficRefusal), before anything is uploaded or started, a host
 * where the action could not see or steer the traffic, naming what to add; otherwise what the
 * host's includes need.
 */
export async function readHostTraffic(run: HostRun, dumping: Promise<RemoteResult> | undefined): Promise<HostTraffic> {
  const { config, state, remote } = run
  const user = state.user || remote.entry.username
  const why = `canary-steps or bake-seconds ask the action to ${config.traffic.canarySteps.length > 0 ? 'split and ' : ''}observe the traffic`
  if (!dumping)
    throw new TrafficRefusal(
      `nginx-test-command ("${config.nginx.testCommand}") has no -t word, so the action cannot read nginx's configuration with -T, and ${why}.`,
      'Set nginx-test-command to an "nginx -t" command line, or leave canary-steps and bake-seconds empty.',
    )
  const result = await dumping
  const answer = readDumpAnswer(result.answer)
  const testCommand = withoutSudoForRoot(config.nginx.testCommand, state.isRoot)
  const command = dumpCommand(testCommand)!
  if (answer.dump === undefined) {
    const said = (answer.error ?? '').trim()
    const sudoArgs = sudoArgsOf(command)
    if (sudoArgs !== undefined && /sudo|password/i.test(said)) {
      const program = result.answer.facts.dump_program || sudoArgs.split(/\s+/)[0]
      const rule = [program, ...sudoArgs.split(/\s+/).slice(1)].join(' ')
      throw new TrafficRefusal(
        `sudo does not allow user "${user}" to run "${rule}" without a password, and ${why}: the action reads nginx's configuration with it${said ? ` (${said.split('\n')[0]})` : ''}.`,
        `Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "${user} ALL=(root) NOPASSWD: ${rule}".`,
      )
    }
    throw new TrafficRefusal(
      `"${command}" failed, and ${why}: the action reads nginx's configuration with it.${said ? `\n${said}\n` : ''}`,
      `Run it on the host as user "${user}" and fix what it reports.`,
    )
  }
  const httpFile = config.traffic.httpInclude
  const layout = readNginxDump(answer.dump, { include: config.nginx.include, httpFile, compiledAccessLog: answer.httpLogPath })
  if (!layout.httpFileIncluded) {
    const { problem, fix } = httpFileMissing(httpFile, why)
    throw new TrafficRefusal(problem, fix)
  }
  if (layout.problems.length > 0)
    throw new TrafficRefusal(
      `the action cannot observe the traffic through ${config.nginx.include}, and ${why}: ${layout.problems.join('; ')}.`,
      `Include ${config.nginx.include} in one place of nginx's configuration, or leave canary-steps and bake-seconds empty.`,
    )
  return { accessLogs: layout.accessLogs, trafficLog: trafficLogPath(state.deployDir) }
}

/**
 * Traffic control on this host, or undefined when the run watches nothing. A canary or a bake needs
 * a previous instance to compare with and to go back to: on a host that has none (its first
 * deploy), both are skipped with a warning. Refuses a host where nginx would not let the action see
 * or split the traffic, before anything is uploaded or started.
 */
export async function trafficOf(
  run: HostRun,
  active: number | undefined,
  dumping: ReturnType<typeof sendNginxDump>,
): Promise<HostTraffic | undefined> {
  if (!watchesTraffic(run.config.traffic)) return undefined
  if (active === undefined || !instanceOn(run.state, active)?.running) {
    run.log.warning(
      `There is no previous instance running${active === undefined ? '' : ` on port ${active}`} to compare the new one with or go back to (a first deploy?), so the canary steps and the bake are skipped on ${run.remote.entry.label}: all traffic goes to the new instance at once.`,
    )
    return undefined
  }
  return readHostTraffic(run, dumping)
}

/** A dry run's view of traffic control: its check, and its steps in the plan (none when it is skipped). */
export async function trafficDryRun(
  run: HostRun,
  active: number | undefined,
  dumping: ReturnType<typeof sendNginxDump>,
): Promise<{ check?: CheckResult; lines: { beforeSwitch: string[]; afterSwitch: string[] } }> {
  const none = { beforeSwitch: [], afterSwitch: [] }
  const { config } = run
  if (!watchesTraffic(config.traffic)) return { lines: none }
  const check = 'traffic control'
  if (active === undefined || !instanceOn(run.state, active)?.running)
    return {
      check: {
        check,
        ok: true,
        note: 'skipped: no previous instance runs to compare with or go back to, so all traffic goes to the new one',
      },
      lines: none,
    }
  const lines = trafficPlanLines(trafficPlan(config.traffic), config.traffic)
  try {
    await readHostTraffic(run, dumping)
    return {
      check: { check, ok: true, note: `nginx reads ${config.traffic.httpInclude} inside http, and the include can be observed` },
      lines,
    }
  } catch (error) {
    if (!(error instanceof TrafficRefusal)) throw error
    return { check: { check, ok: false, problem: error.problem, fix: error.fix }, lines }
  }
}

/** What the include and the http-level file say: all traffic on one port (plain or observed), or a canary's split. */
export type TrafficView =
  | { mode: 'plain'; port: number }
  | { mode: 'observed'; port: number }
  /** `held`: canary-interval 0, the run ends on this step (see IncludeMode). */
  | { mode: 'canary'; split: Split; held?: boolean }

/**
 * The release that a switch to `view` marks as one that has served (see RELEASE_STATE_FILE), the
 * kind a rollback goes back to: only a release with all the traffic and nothing left to judge it.
 * A canary step's release (held or not) and a baking one are still judged: the plain include after
 * the bake, or promote, marks it; a failed analysis sends it back, marked as never served.
 */
export function releaseServedBy(view: TrafficView, release: string | undefined): string | undefined {
  return view.mode === 'plain' ? release : undefined
}

/**
 * Points nginx at `view`, with the http-level file that goes with it, in one switch. Entering a
 * watched view for the first time, the traffic log is started afresh just before (no round trip of
 * its own): what nginx logs from then on is this run's. A held canary is not watched.
 */
export async function switchView(
  run: HostRun,
  traffic: HostTraffic,
  view: TrafficView,
  /** The release that serves once nginx took `view`. */
  release: string | undefined,
  { verify }: { verify: boolean },
): Promise<void> {
  const { config } = run
  const watched = view.mode === 'observed' || (view.mode === 'canary' && !view.held)
  if (watched && traffic.offset === undefined) {
    const reading = run.remote.run(readTrafficScript({ log: traffic.trafficLog, offset: -1 }), { step: 'switch' })
    reading.catch(() => undefined)
    traffic.offset = parseTraffic((await Promise.all([reading, switching()]))[0].answer).offset
    return
  }
  await switching()

  function switching(): Promise<void> {
    const port = view.mode === 'canary' ? view.split.previousPort : view.port
    return switchInclude(run, {
      content: includeText({
        template: config.nginx.template,
        appName: config.appName,
        mode: view,
        trafficLog: traffic.trafficLog,
        userAccessLogs: traffic.accessLogs,
      }),
      httpFile: {
        path: config.traffic.httpInclude,
        content: httpLevelConfig({
          appName: config.appName,
          canaryKey: config.traffic.canaryKey,
          port,
          split: view.mode === 'canary' ? view.split : undefined,
        }),
      },
      release: releaseServedBy(view, release),
      verify,
      done:
        view.mode === 'canary'
          ? `nginx now sends ${view.split.percent}% of the clients to port ${view.split.newPort}, the others to port ${view.split.previousPort}`
          : `nginx now sends all traffic to port ${view.port}${view.mode === 'observed' ? ', watched' : ''}`,
    })
  }
}

/** One read of the host's traffic log from its offset: what nginx logged since the last read. */
export async function readTraffic(run: HostRun, traffic: HostTraffic) {
  const result = await run.remote.run(readTrafficScript({ log: traffic.trafficLog, offset: traffic.offset ?? -1 }), { step: 'watch' })
  const read = parseTraffic(result.answer)
  traffic.offset = read.offset
  return read.samples
}
