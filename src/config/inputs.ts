/**
 * Every input of action.yml is read, checked and typed here, without touching the network, so a bad
 * value fails the step before anything happens on a host. Pure: inputs come from a function.
 */
import { SHELL_NAME } from '../remote/quote.js'
import { type ConnectionConfig, parseConnectionInputs } from './connection-inputs.js'
import { inputReaders, show } from './readers.js'
import { MIN_SECRET_LENGTH, isBoolean, javaOptionValues, javaOptions, mayBeSecret } from './secrets.js'
import { type TrafficConfig, parseTrafficInputs } from './traffic-inputs.js'

export type { HostKeyPolicy, ProxyConfig, SecretInputs } from './connection-inputs.js'
export { firstDestination } from './connection-inputs.js'

export const COMMANDS = ['deploy', 'rollback', 'status', 'logs', 'promote', 'maintenance', 'live'] as const
export type Command = (typeof COMMANDS)[number]

/** Who keeps the instances running: systemd units, detached processes, or systemd when the host allows it. */
export type Supervisor = 'auto' | 'systemd' | 'none'

export interface HealthCheck {
  /** Path requested on `http://127.0.0.1:<port>`. */
  path: string
  timeoutSeconds: number
  intervalSeconds: number
  /** When not empty, the body must contain this text. */
  expect: string
}

export interface NginxConfig {
  /** The include file that names the active port: the truth about which port serves. */
  include: string
  /** Include content; `{port}` is replaced by the port to serve. */
  template: string
  testCommand: string
  reloadCommand: string
}

/** Every input, checked and typed; the connection inputs (hosts, credentials, jump hosts) come first. */
export interface DeployConfig extends ConnectionConfig {
  command: Command
  /** Path or glob relative to the workspace; resolved by `resolveArtifact`. */
  artifact: string
  appName: string
  /** As written: relative paths are under the remote user's home. */
  deployDir: string
  keepReleases: number
  /** The pair of ports the two instances take turns on. */
  ports: [number, number]
  startCommand: string
  javaOpts: string
  /** `KEY=VALUE` entries for the app, in input order. Values are secrets. */
  env: Array<[string, string]>
  health: HealthCheck
  stopPrevious: boolean
  drainSeconds: number
  stopTimeoutSeconds: number
  supervisor: Supervisor
  nginx: NginxConfig
  verifyUrl: string
  dryRun: boolean
  lockTimeoutSeconds: number
  maxParallel: number
  /**
   * Hosts staged at once (and reached at once by status and rollback). 32 by default: every round
   * of hosts pays a whole start-up, and a fleet of up to 32 stages in one round.
   */
  stageParallel: number
  /** The user's own commands, run by sh on the host at fixed points of a deploy ('' for none). */
  hooks: { 'pre-start': string; 'pre-switch': string; 'post-switch': string }
  /** The longest a hook may run before it is ended with all its children. */
  hookTimeoutSeconds: number
  /** command: logs prints this many lines of each instance's log. */
  logLines: number
  /** Canary, bake, their analysis, and maintenance. */
  traffic: TrafficConfig
}

/** Thrown with every problem found, one per line, each naming its input. */
export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} inputs are not valid:\n- ${problems.join('\n- ')}`)
    this.name = 'InputError'
  }
}

export const DEFAULT_START_COMMAND = 'java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"'
export const DEFAULT_INCLUDE_TEMPLATE = 'set $service_url http://127.0.0.1:{port};'

export interface InputContext {
  /** owner/name of the repository, for the default app name. */
  repository?: string
}

/** Reads inputs through `get` (the raw string, '' when unset) and returns the typed config. */
export function parseInputs(get: (name: string) => string, context: InputContext = {}): DeployConfig {
  const read = inputReaders(get)
  const { raw, text, integer, seconds, boolean, problems } = read

  const command = text('command', 'deploy')
  if (!(COMMANDS as readonly string[]).includes(command)) {
    problems.push(`command: ${show(command)} is not valid; expected ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)}`)
  }

  const connection = parseConnectionInputs(read)

  const artifact = raw('artifact').trim()
  if (artifact === '') problems.push('artifact: is required; expected the path or glob of the built jar, e.g. build/libs/*.jar')

  const defaultApp = (context.repository ?? '').split('/').pop() ?? ''
  const appName = text('app-name', defaultApp)
  if (!/^[A-Za-z0-9._-]+$/.test(appName) || appName === '.' || appName === '..') {
    problems.push(`app-name: ${show(appName)} is not valid; expected letters, digits, ".", "_" and "-" only`)
  }
  const deployDir = text('deploy-dir', `apps/${appName}`)
  if (raw('deploy-dir').trim() === '') {
    // derived from app-name, which is checked above
  } else if (deployDir.includes('\n') || deployDir.includes('\0')) {
    problems.push(`deploy-dir: ${show(deployDir)} is not valid; expected one path on one line`)
  } else if (deployDir === '/' || /(^|\/)\.\.(\/|$)/.test(deployDir)) {
    problems.push(`deploy-dir: ${show(deployDir)} is not valid; expected a directory of its own, without ".."`)
  }

  const keepReleases = integer('keep-releases', 5, 1, 1000)

  const portsText = text('ports', '8081,8082')
  const portList = portsText.split(/[\s,]+/).filter(Boolean)
  let ports: [number, number] = [8081, 8082]
  if (portList.length !== 2 || portList.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
    problems.push(`ports: ${show(portsText)} is not valid; expected two TCP ports from 1 to 65535, e.g. "8081,8082"`)
  } else if (portList[0] === portList[1] || Number(portList[0]) === Number(portList[1])) {
    problems.push(`ports: ${show(portsText)} is not valid; expected two different ports`)
  } else {
    ports = [Number(portList[0]), Number(portList[1])]
  }

  const env: Array<[string, string]> = []
  for (const [index, line] of raw('env').split('\n').entries()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq < 0) {
      // The line may be a secret that wrapped: name it by number, never echo it.
      problems.push(`env: line ${index + 1} has no "="; expected KEY=VALUE lines`)
      continue
    }
    const key = line.slice(0, eq).trim()
    if (!SHELL_NAME.test(key)) {
      // A mistyped line may hold a secret anywhere, even before "=": name it by number only.
      problems.push(
        `env: line ${index + 1} has a name that is not valid; expected KEY=VALUE lines with KEY made of letters, digits and "_", not starting with a digit`,
      )
      continue
    }
    env.push([key, line.slice(eq + 1).replace(/\r$/, '')])
  }

  const supervisor = text('supervisor', 'auto').toLowerCase()
  if (!['auto', 'systemd', 'none'].includes(supervisor)) {
    problems.push(`supervisor: ${show(supervisor)} is not valid; expected auto, systemd or none`)
  }

  const healthPath = text('health-path', '/actuator/health')
  if (!healthPath.startsWith('/') || /\s/.test(healthPath)) {
    problems.push(`health-path: ${show(healthPath)} is not valid; expected a URL path starting with "/", without spaces`)
  }
  const health: HealthCheck = {
    path: healthPath,
    timeoutSeconds: seconds('health-timeout', 120, 1),
    intervalSeconds: seconds('health-interval', 0.5, 0.05),
    expect: raw('health-expect'),
  }

  const template = text('nginx-include-template', DEFAULT_INCLUDE_TEMPLATE)
  if (!template.includes('{port}')) {
    problems.push(`nginx-include-template: ${show(template)} is not valid; expected text containing {port}`)
  }
  const include = text('nginx-include', '/etc/nginx/conf.d/service-url.inc')
  if (include.includes('\n') || include.endsWith('/')) {
    problems.push(`nginx-include: ${show(include)} is not valid; expected the path of a file`)
  }

  const hook = (name: string): string => {
    const value = raw(name).trim()
    if (value.includes('\0')) problems.push(`${name}: contains a NUL byte, which no shell can carry; expected a shell command line`)
    return value
  }

  const verifyUrl = raw('verify-url').trim()
  if (verifyUrl !== '' && !/^https?:\/\/[^\s'"]+$/.test(verifyUrl)) {
    problems.push(`verify-url: ${show(verifyUrl)} is not valid; expected an http:// or https:// URL`)
  }

  const config: DeployConfig = {
    command: command as Command,
    ...connection,
    artifact,
    appName,
    deployDir,
    keepReleases,
    ports,
    startCommand: text('start-command', DEFAULT_START_COMMAND),
    javaOpts: raw('java-opts').trim(),
    env,
    health,
    stopPrevious: boolean('stop-previous', false),
    drainSeconds: seconds('drain-seconds', 10),
    stopTimeoutSeconds: seconds('stop-timeout', 30, 1),
    supervisor: supervisor as Supervisor,
    nginx: {
      include,
      template,
      testCommand: text('nginx-test-command', 'sudo -n nginx -t'),
      reloadCommand: text('nginx-reload-command', 'sudo -n nginx -s reload'),
    },
    verifyUrl,
    dryRun: boolean('dry-run', false),
    lockTimeoutSeconds: seconds('lock-timeout', 300),
    maxParallel: integer('max-parallel', 1, 1, 100),
    stageParallel: integer('stage-parallel', 32, 1, 100),
    hooks: { 'pre-start': hook('pre-start-command'), 'pre-switch': hook('pre-switch-command'), 'post-switch': hook('post-switch-command') },
    hookTimeoutSeconds: seconds('hook-timeout', 300, 1),
    logLines: integer('log-lines', 200, 1, 100_000),
    traffic: parseTrafficInputs(read, { appName, include }),
  }
  // only deploy needs an artifact
  if (command !== 'deploy') {
    const index = problems.findIndex((p) => p.startsWith('artifact:'))
    if (index >= 0) problems.splice(index, 1)
  }
  if (problems.length > 0) throw new InputError(problems)
  return config
}

/** The credential inputs, each a secret whatever it looks like. */
function credentialInputs(config: DeployConfig): Array<string | undefined> {
  // Every jump host takes the same credentials. (A config made by hand may have no jump hosts at all.)
  const jump = config.jumpHosts?.[0]
  return [config.auth.privateKey, config.auth.passphrase, config.auth.password, jump?.auth.privateKey, jump?.auth.passphrase]
}

/**
 * Values the action masks itself in what the host sends back (a hook's output, a log, a stranger's
 * command line): every secret input, every env value (a credential can hide under any name), and
 * java-opts, whole and each `-D` value in it (`-Ddb.password=...`). Booleans are none.
 */
export function secretsOf(config: DeployConfig): string[] {
  const values = [...credentialInputs(config), config.javaOpts, ...javaOptionValues(config.javaOpts)]
  for (const [, value] of config.env) values.push(value)
  return values.filter((v): v is string => typeof v === 'string' && v.length >= MIN_SECRET_LENGTH && !isBoolean(v))
}

/**
 * What the action registers with the runner as secrets: the secret inputs, and the env values and
 * java-opts `-D` values that may be credentials (mayBeSecret). The runner drops every output that
 * holds one, so none of them is a value the outputs are made of.
 */
export function registeredSecretsOf(config: DeployConfig): string[] {
  const shown = [
    ...[...config.hosts, ...(config.jumpHosts ?? []).map((jump) => jump.entry)].map((entry) => entry.label),
    ...config.ports.map(String),
    config.appName,
    config.deployDir,
  ].filter((text) => text !== '')
  const candidates = [...config.env, ...javaOptions(config.javaOpts)]
  const values = [
    ...credentialInputs(config),
    ...candidates.filter(([name, value]) => mayBeSecret(name, value, shown)).map(([, value]) => value),
  ]
  return values.filter((v): v is string => typeof v === 'string' && v.trim() !== '')
}
