/**
 * Traffic control's nginx text (see docs/nginx-traffic.md): the http-level file the action owns,
 * the include in each of its modes, what an include on the host says, and the host scripts that
 * read the traffic log and the configuration (`nginx -T`).
 */
import { activePortFromInclude, renderInclude } from '../deploy/plan.js'
import type { RemoteAnswer } from './protocol.js'
import { shellScript } from './quote.js'
import { NGINX_DUMP_SH, TRAFFIC_READ_SH } from './sh/generated.js'

export type Answer = RemoteAnswer

export interface NginxNames {
  /** The variable that names the port (no `$`): `zdd_shop_port`. */
  port: string
  /** The log_format: `zdd_shop`. */
  logFormat: string
}

/** nginx's names for the app's objects: one http block holds every app's, so each has the app's name. */
export function nginxNames(appName: string): NginxNames {
  const app = appName.replace(/[^A-Za-z0-9_]/g, '_')
  return { port: `zdd_${app}_port`, logFormat: `zdd_${app}` }
}

export interface Split {
  percent: number
  newPort: number
  previousPort: number
}

/** What ends every line the action's log_format writes: a line without it is not ours, or not whole. */
export const TRAFFIC_LINE_END = 'zdd'

/**
 * The log_format's fields, split by `|` (which no address, status or time holds): `$msec`, the
 * status the client got, the upstream address(es) (`-` when none was reached) and their response
 * times, then the end marker. nginx's default escaping turns any odd byte of a value into `\xXX`,
 * so a line is always one line.
 */
export const TRAFFIC_LOG_FORMAT = `$msec|$status|$upstream_addr|$upstream_response_time|${TRAFFIC_LINE_END}`

/** The first line of every file the action writes for nginx. */
const OWNED_NOTE = '# zero-downtime-deploy: written by the action on each run; edits here are lost.'

/** The http-level file's whole text. Without `split`, the variable maps every client to `port`. */
export function httpLevelConfig(p: { appName: string; canaryKey: string; port: number; split?: Split }): string {
  const names = nginxNames(p.appName)
  checkCanaryKey(p.canaryKey)
  const sides = p.split ? [`    ${p.split.percent}% ${p.split.newPort};`, `    * ${p.split.previousPort};`] : [`    * ${p.port};`]
  if (p.split) checkPercent(p.split.percent)
  return [
    OWNED_NOTE,
    `log_format ${names.logFormat} '${TRAFFIC_LOG_FORMAT}';`,
    // split_clients hashes the key and gives the first <percent>% of the hash space to the first
    // line: a client on the new side at 10% is still there at 50%.
    `split_clients "${p.canaryKey}" $${names.port} {`,
    ...sides,
    '}',
    '',
  ].join('\n')
}

/** The canary key is checked as an input already; this keeps nginx's text whole whatever a caller passes. */
function checkCanaryKey(key: string): void {
  if (key === '' || /[;{}"'\\\n\r]/.test(key)) {
    throw new Error(
      `canary-key: "${key}" cannot be put in nginx's configuration; expected nginx variables and plain text without ; { } quotes, backslashes or line breaks`,
    )
  }
}

/** split_clients takes a percentage with at most two decimals. */
function checkPercent(percent: number): void {
  if (!/^\d{1,2}(\.\d{1,2})?$/.test(String(percent)) || percent < 1 || percent > 99)
    throw new Error(`a canary step of ${percent}% is not a percentage from 1 to 99 (at most two decimals)`)
}

export type IncludeMode =
  | { mode: 'plain'; port: number }
  /** `held`: the canary stays until promote or rollback, and nothing reads the traffic log meanwhile. */
  | { mode: 'canary'; split: Split; held?: boolean }
  | { mode: 'observed'; port: number }
  | { mode: 'maintenance'; port: number; page: string; retryAfterSeconds: number }

const MARKER = '# zero-downtime-deploy:'

/**
 * The include's text. `trafficLog` and `userAccessLogs` are used by canary and observed, except
 * for a held canary: nginx would log every request to the traffic log for as long as it is held,
 * days perhaps, and no run reads it (promote and rollback judge nothing), so it logs where the
 * user's configuration says, as a plain include does;
 * `userHeaders` (NginxLayout.addHeaders) by maintenance, whose Retry-After would otherwise replace
 * the add_header directives it inherits (a server's Strict-Transport-Security, say).
 */
export function includeText(p: {
  template: string
  appName: string
  mode: IncludeMode
  trafficLog: string
  userAccessLogs: string[]
  userHeaders?: string[]
}): string {
  const names = nginxNames(p.appName)
  const mode = p.mode
  // An access_log here replaces every inherited one: the user's, repeated as they are, keep
  // recording what they recorded.
  const accessLogs = (): string[] => {
    if (!p.trafficLog.startsWith('/')) throw new Error(`the traffic log must be an absolute path for nginx, not "${p.trafficLog}"`)
    return [`access_log ${nginxString(p.trafficLog)} ${names.logFormat};`, ...p.userAccessLogs]
  }
  switch (mode.mode) {
    case 'plain':
      return renderInclude(p.template, mode.port)
    case 'canary': {
      const { percent, newPort, previousPort } = mode.split
      checkPercent(percent)
      const problem = canaryTemplateProblem(p.template)
      if (problem) throw new Error(problem)
      return [
        `${MARKER} canary ${percent}% to ${newPort}, previous ${previousPort}`,
        p.template.replaceAll('{port}', `\${${names.port}}`),
        ...(mode.held ? [] : accessLogs()),
      ].join('\n')
    }
    case 'observed':
      return [`${MARKER} observed ${mode.port}`, renderInclude(p.template, mode.port), ...accessLogs()].join('\n')
    case 'maintenance':
      return [
        `${MARKER} maintenance ${mode.port}`,
        renderInclude(p.template, mode.port),
        'default_type text/html;',
        `add_header Retry-After ${Math.max(0, Math.round(mode.retryAfterSeconds))} always;`,
        ...(p.userHeaders ?? []),
        `return 503 ${nginxString(maintenancePage(mode.page))};`,
      ].join('\n')
  }
}

/**
 * Why a template cannot take the split's variable in place of `{port}`, or undefined. A
 * `proxy_pass` with a variable behaves differently from one without: nginx resolves a host name
 * when a request comes (and, without a `resolver`, answers 502), and sends a URI part as it stands
 * instead of replacing the location's prefix with it. An upstream block's `server` takes no
 * variable at all. The default template (`set $service_url ...; proxy_pass $service_url;`) is a
 * variable already, and works as it did.
 */
export function canaryTemplateProblem(template: string): string | undefined {
  for (const directive of template.split(';')) {
    if (!directive.includes('{port}')) continue
    const words = directive.trim().split(/\s+/)
    if (words[0] === 'server') {
      return `nginx-include-template: "${directive.trim()};" is an upstream server line, which cannot take the canary's variable; use a template such as "set $service_url http://127.0.0.1:{port};" with "proxy_pass $service_url;" in the location`
    }
    if (words[0] !== 'proxy_pass') continue
    const url = /^[a-z]+:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:]+):\{port\}(.*)$/.exec(words[1] ?? '')
    if (!url) continue
    if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(url[1]) && !url[1].startsWith('[')) {
      return `nginx-include-template: "${directive.trim()};" names the host "${url[1]}"; during a canary the port is a variable, and nginx then resolves the name per request (502 without a resolver). Name it by address, e.g. 127.0.0.1`
    }
    if (url[2] !== '') {
      return `nginx-include-template: "${directive.trim()};" has a URI part ("${url[2]}"); during a canary the port is a variable, and nginx then sends that URI as it stands instead of replacing the location's prefix with it. Leave the URI out, or use "set $service_url ...; proxy_pass $service_url;" with a rewrite`
    }
  }
  return undefined
}

/** The page as nginx serves it: `return`'s text is a complex value, where `$` would start a variable. */
function maintenancePage(page: string): string {
  return page.replaceAll('$', '&#36;')
}

/** A double-quoted nginx string: nginx's tokenizer takes `\"` and `\\` in it as the characters. */
export function nginxString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** What an include on the host says: the marker line decides; without one, as today. */
export type IncludeState =
  | { mode: 'plain'; port?: number }
  | { mode: 'canary'; split: Split }
  | { mode: 'observed'; port: number }
  | { mode: 'maintenance'; port?: number }

export function readInclude(text: string | undefined, ports: [number, number]): IncludeState {
  if (text === undefined) return { mode: 'plain' }
  const marker = text
    .split('\n')
    .find((line) => line.startsWith(MARKER))
    ?.slice(MARKER.length)
    .trim()
  const ours = (value: string | undefined) => {
    const port = Number(value)
    return ports.includes(port) ? port : undefined
  }
  let m: RegExpExecArray | null
  if (marker !== undefined) {
    if ((m = /^canary (\d+(?:\.\d+)?)% to (\d+), previous (\d+)$/.exec(marker))) {
      const newPort = ours(m[2])
      const previousPort = ours(m[3])
      if (newPort !== undefined && previousPort !== undefined)
        return { mode: 'canary', split: { percent: Number(m[1]), newPort, previousPort } }
    } else if ((m = /^observed (\d+)$/.exec(marker))) {
      const port = ours(m[1])
      if (port !== undefined) return { mode: 'observed', port }
    } else if ((m = /^maintenance(?: (\d+))?$/.exec(marker))) {
      return { mode: 'maintenance', port: ours(m[1]) }
    }
  }
  return { mode: 'plain', port: activePortFromInclude(text, ports) }
}

/**
 * The traffic log's path on the host. nginx needs it absolute: a relative deploy dir is under the
 * remote user's home (`home`, from the nginx -T answer, see readDumpAnswer).
 */
export function trafficLogPath(deployDir: string, home?: string): string {
  const dir = deployDir.startsWith('/') || home === undefined ? deployDir : `${home.replace(/\/+$/, '')}/${deployDir}`
  return `${dir.replace(/\/+$/, '')}/run/traffic.log`
}

/**
 * Host script: the traffic log's complete lines from byte `offset` on, added up by port, status
 * and whole ms. A negative offset reads nothing and answers the log's end: where watching starts.
 */
export function readTrafficScript(p: { log: string; offset: number }): string {
  return shellScript({ LOG: p.log, OFFSET: Math.trunc(p.offset) }, TRAFFIC_READ_SH)
}

export interface TrafficSample {
  /** The upstream port that answered; 0 when the request reached none. */
  port: number
  status: number
  ms: number
  count: number
}

export function parseTraffic(answer: Answer): { offset: number; samples: TrafficSample[] } {
  const offset = Number(answer.facts.offset)
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new Error(`the traffic log's reader answered no offset (${answer.facts.offset ?? 'none'})`)
  const samples: TrafficSample[] = []
  for (const line of (answer.sections.traffic ?? '').split('\n')) {
    const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line)
    if (m) samples.push({ port: Number(m[1]), status: Number(m[2]), ms: Number(m[3]), count: Number(m[4]) })
  }
  return { offset, samples }
}

/**
 * Host script: runs the dump command (`nginx -T`, see dumpCommand) and `nginx -V` for the compiled
 * access log path; the answer (see readDumpAnswer) has the dump in a section and the remote home.
 */
export function nginxDumpScript(command: string): string {
  return shellScript({ DUMP_COMMAND: command, VERSION_COMMAND: versionCommand(command) }, NGINX_DUMP_SH)
}

/** `nginx -V` of the same binary, without sudo: it needs none, and no sudoers rule names it. */
function versionCommand(dump: string): string {
  const words = dump.trim().split(/\s+/)
  let i = 0
  if (words[i] === 'sudo') {
    i++
    if (words[i] === '-n') i++
  }
  const binary = words[i]
  return binary && /(^|\/)nginx$/.test(binary) && /^[A-Za-z0-9_./-]+$/.test(binary) ? `${binary} -V` : ''
}

export interface DumpAnswer {
  /** `nginx -T`'s output; undefined when the command failed. */
  dump?: string
  /** What the command said when it failed. */
  error?: string
  /** The remote user's home: a relative deploy-dir is under it. */
  home?: string
  /** The access log nginx writes where no level names one (nginx -V's --http-log-path). */
  httpLogPath?: string
}

export function readDumpAnswer(answer: Answer): DumpAnswer {
  const home = answer.facts.home || undefined
  const httpLogPath = answer.facts.http_log_path || undefined
  if (answer.facts.error === 'nginx_dump' || answer.sections.dump === undefined) {
    return { error: (answer.sections.dump_output ?? '').trim(), home, httpLogPath }
  }
  const dump = answer.sections.dump
    .split('\n')
    .map((line) => (line.startsWith('|') ? line.slice(1) : line))
    .join('\n')
  return { dump, home, httpLogPath }
}
