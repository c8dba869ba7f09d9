/**
 * The connection inputs: the hosts, how to authenticate, how their keys are pinned, the jump hosts
 * or proxy command on the way, and how long and how often to try. Checked with the rest of the
 * inputs, before any connection.
 */
import { HostEntry, parseHostEntry, splitHostList } from './hosts.js'
import { proxyCommandProblem } from '../ssh/expand-command.js'
import { type InputReaders, show } from './readers.js'

export interface SecretInputs {
  privateKey?: string
  passphrase?: string
  password?: string
}

export interface HostKeyPolicy {
  /** `SHA256:...` fingerprints, as `ssh-keygen -lf` prints them. */
  fingerprints: string[]
  /** known_hosts text (plain or hashed entries). */
  knownHosts: string
  /** Accept any host key: only when the user asked for it in so many words. */
  insecureSkip: boolean
}

/** One jump host of `proxy-host`. */
export interface ProxyConfig {
  entry: HostEntry
  auth: SecretInputs
  hostKeys: HostKeyPolicy
}

export interface ConnectionConfig {
  hosts: HostEntry[]
  auth: SecretInputs
  hostKeys: HostKeyPolicy
  /** `proxy-host`: the jump hosts, in the order they are reached (OpenSSH's `ProxyJump a,b`); empty for none. */
  jumpHosts: ProxyConfig[]
  /**
   * `proxy-command`: run on the runner by `sh -c` for each host, its stdin and stdout carrying the
   * SSH connection; `%h`, `%p`, `%r` and `%%` are replaced as OpenSSH's ProxyCommand does ('' for none).
   */
  proxyCommand: string
  connectTimeoutSeconds: number
  /** Tries after the first for a connection that failed for a reason that can pass (src/ssh/retry.ts). */
  connectRetries: number
}

export function parseConnectionInputs(read: InputReaders): ConnectionConfig {
  const { raw, integer, problems } = read
  const fingerprints = (name: string): string[] => {
    const entries = raw(name)
      .split(/[\s,]+/)
      .filter(Boolean)
    return entries.filter((entry) => {
      if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(entry)) return true
      problems.push(
        `${name}: ${show(entry)} is not valid; expected a fingerprint like "SHA256:" followed by 43 base64 characters, as "ssh-keygen -lf" prints it`,
      )
      return false
    })
  }

  const port = integer('port', 22, 1, 65535)
  const username = raw('username').trim()
  const hostList = splitHostList(raw('host'))
  if (hostList.length === 0) problems.push('host: is required; expected a host name or address, or several separated by newlines or commas')
  const hosts: HostEntry[] = []
  for (const entry of hostList) {
    const parsed = parseHostEntry(entry, { port, username })
    if (typeof parsed === 'string') problems.push(parsed)
    else hosts.push(parsed)
  }
  const labels = hosts.map((h) => `${h.host}:${h.port}`)
  const repeated = labels.find((label, i) => labels.indexOf(label) !== i)
  if (repeated) problems.push(`host: ${show(repeated)} is listed twice; each host may appear once`)

  const auth: SecretInputs = {
    privateKey: raw('private-key').trim() || undefined,
    passphrase: raw('passphrase') || undefined,
    password: raw('password') || undefined,
  }
  if (!auth.privateKey && !auth.password) {
    problems.push('private-key: is empty and so is password; expected at least one way to authenticate')
  }
  if (auth.privateKey && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(auth.privateKey)) {
    problems.push('private-key: is not a private key; expected the whole key file, starting with "-----BEGIN"')
  }

  const hostKeys: HostKeyPolicy = {
    fingerprints: fingerprints('host-fingerprint'),
    knownHosts: raw('known-hosts'),
    insecureSkip: read.boolean('insecure-skip-host-key-check', false),
  }

  // Each jump host takes proxy-port, proxy-username and proxy-private-key unless its entry names its
  // own user or port; its key is pinned by known-hosts or by one of the proxy-host-fingerprint pins.
  const jumpHosts: ProxyConfig[] = []
  const proxyHosts = splitHostList(raw('proxy-host'))
  if (proxyHosts.length > 0) {
    const proxyPort = integer('proxy-port', 22, 1, 65535)
    const proxyUser = raw('proxy-username').trim() || username
    const proxyAuth: SecretInputs = {
      privateKey: raw('proxy-private-key').trim() || auth.privateKey,
      passphrase: raw('proxy-passphrase') || (raw('proxy-private-key').trim() ? undefined : auth.passphrase),
    }
    const proxyKeys: HostKeyPolicy = {
      fingerprints: fingerprints('proxy-host-fingerprint'),
      knownHosts: hostKeys.knownHosts,
      insecureSkip: hostKeys.insecureSkip,
    }
    for (const proxyHost of proxyHosts) {
      const entry = parseHostEntry(proxyHost, { port: proxyPort, username: proxyUser }, 'proxy-host')
      if (typeof entry === 'string') problems.push(entry)
      else jumpHosts.push({ entry, auth: proxyAuth, hostKeys: proxyKeys })
    }
  }
  const proxyCommand = raw('proxy-command').trim()
  if (proxyCommand !== '') {
    if (proxyHosts.length > 0) {
      problems.push(
        'proxy-command: is set, and so is proxy-host; expected one of them: a jump host inside the command (ssh -W %h:%p bastion), or proxy-host alone',
      )
    }
    const problem = proxyCommandProblem(proxyCommand)
    if (problem) problems.push(`proxy-command: ${show(proxyCommand)} ${problem}`)
  }

  return {
    hosts,
    auth,
    hostKeys,
    jumpHosts,
    proxyCommand,
    connectTimeoutSeconds: read.seconds('connect-timeout', 30, 1),
    connectRetries: integer('connect-retries', 3, 0, 10),
  }
}

/**
 * The address the run connects to first: the first jump host when `proxy-host` is set, none with
 * `proxy-command`, else the first `host`. Undefined when the inputs do not name it cleanly. Only a
 * hint, read before the rest of the action has loaded so that its TCP connection can open meanwhile; parseInputs decides everything.
 */
export function firstDestination(get: (name: string) => string): { host: string; port: number } | undefined {
  const port = (name: string) => {
    const value = (get(name) ?? '').trim()
    return value === '' ? 22 : /^\d+$/.test(value) && Number(value) <= 65535 ? Number(value) : undefined
  }
  // A proxy command makes the first connection itself.
  if ((get('proxy-command') ?? '').trim() !== '') return undefined
  const proxyHost = splitHostList(get('proxy-host') ?? '')[0]
  const [entry, defaultPort] =
    proxyHost !== undefined ? [proxyHost, port('proxy-port')] : [splitHostList(get('host') ?? '')[0], port('port')]
  if (entry === undefined || defaultPort === undefined) return undefined
  const parsed = parseHostEntry(entry, { port: defaultPort, username: 'user' })
  return typeof parsed === 'string' ? undefined : { host: parsed.host, port: parsed.port }
}
