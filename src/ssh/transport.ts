/**
 * The one way this action talks to a host: a single SSH connection (node-ssh over ssh2) whose host
 * key is checked before any credential is sent. Commands run through `run`, which checks the exit
 * code; files go up through `upload`; a lost connection becomes a plain error.
 */
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { NodeSSH, type Config } from 'node-ssh'
import type { SFTPWrapper } from 'ssh2'
import type { HostEntry } from '../config/hosts.js'
import type { HostKeyPolicy, SecretInputs } from '../config/inputs.js'
import { takeEarlySocket } from './early-socket.js'
import { type RunOptions, ShellEndedError, ShellSession } from './session.js'
import { parseAnswer, type RemoteAnswer } from '../remote/protocol.js'
import { SHELL_LIB } from '../remote/shell-lib.js'
import { acknowledgeAtOnce } from './prompt-ack.js'
import { ConnectionError, describeConnectError, type ErrorWithLevel } from './errors.js'
import { forwardThroughBastion } from './forward.js'
import { ProxyCommandStream } from './proxy-command.js'
import { nextTry } from './retry.js'
import { KEY_FAMILIES, algorithmsForKeyType, fingerprintOf, judgeHostKey, keyTypeOf, knownHostsName, pinnedKeyTypes } from './host-keys.js'

export interface Endpoint {
  entry: HostEntry
  auth: SecretInputs
  hostKeys: HostKeyPolicy
  connectTimeoutSeconds: number
  /** A stream to the host through a jump host or a proxy command; a plain TCP connection when absent. */
  openSocket?: () => Promise<Duplex>
  /** Tries after the first for a failure that can pass (connect-retries; none when absent). */
  retries?: number
  /** Where each retry's warning goes. */
  warn?: (message: string) => void
  /** Masks the run's secrets in what a proxy command printed. */
  mask?: (text: string) => string
  /** How long the host may be silent before it is asked for a sign of life (KEEPALIVE_INTERVAL_MS when absent). */
  keepaliveIntervalMs?: number
}

export interface RemoteResult {
  code: number
  stdout: string
  stderr: string
  answer: RemoteAnswer
}

/** A remote command ended with an exit code the caller did not expect. */
export class RemoteCommandError extends Error {
  constructor(
    readonly step: string,
    readonly result: RemoteResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n')
    super(`${step}: the remote command failed with exit code ${result.code}${detail ? `:\n${detail}` : ''}`)
    this.name = 'RemoteCommandError'
  }
}

const SUPPORTED_HOST_KEY_ALGORITHMS = new Set(KEY_FAMILIES.flat())

/**
 * ssh2 asks the host for an answer every interval while it hears none, and gives the connection up
 * after this many unanswered asks: a runner whose network went silent (no FIN, no RST) fails in
 * about 25 s instead of waiting for the job's timeout. The asks go out while a script runs and
 * while SFTP uploads. ssh2 itself counts only a reply to an ask; any bytes from the host count
 * here (see RemoteHost), since on a slow uplink an ask waits behind the queued SFTP writes and its
 * reply comes too late, while the host's answers to the writes keep arriving.
 */
const KEEPALIVE_INTERVAL_MS = 5000
const KEEPALIVE_COUNT_MAX = 4

interface Attempt {
  ssh?: NodeSSH
  socket?: Duplex
  error?: ErrorWithLevel
  /** Keys the server presented, with our verdicts. */
  presented: Array<{ blob: Buffer; trusted: boolean; reason?: string }>
}

/**
 * ssh2 hands each packet to the socket in pieces (length, payload and MAC: three writes for
 * AES-GCM, without the native addon a bundled action never has). With Nagle off, each piece would
 * be a system call and a TCP segment of its own, and the kernel's work for each, on the runner and
 * on the host, adds up when many hosts are reached at once. Corked until the end of the tick, the
 * pieces (and any other packet of that tick) leave in one writev.
 */
export function coalesceWrites(socket: Duplex): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
  let corked = false
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(() => {
        corked = false
        socket.uncork()
      })
    }
    return write(...args)
  }) as typeof socket.write
}

async function attempt(endpoint: Endpoint, hostKeyAlgorithms: string[] | undefined, authenticate: boolean): Promise<Attempt> {
  const { entry, auth, hostKeys } = endpoint
  const presented: Attempt['presented'] = []
  const ssh = new NodeSSH()
  const config: Config = {
    host: entry.host,
    port: entry.port,
    username: entry.username,
    readyTimeout: endpoint.connectTimeoutSeconds * 1000,
    keepaliveInterval: endpoint.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier: (blob: Buffer) => {
      const verdict = judgeHostKey(hostKeys, entry.host, entry.port, blob)
      presented.push({ blob, trusted: authenticate && verdict.trusted, reason: verdict.trusted ? undefined : verdict.reason })
      return authenticate && verdict.trusted
    },
  }
  if (hostKeyAlgorithms) config.algorithms = { serverHostKey: hostKeyAlgorithms as never }
  if (auth.privateKey) config.privateKey = auth.privateKey
  if (auth.passphrase) config.passphrase = auth.passphrase
  if (auth.password) config.password = auth.password
  // ssh2 would first try "none", only to hear which methods the host takes: a round trip for nothing.
  config.authHandler = ['publickey', 'password']
  // Our own socket, to turn Nagle off before the handshake: its packets come in pairs, and a
  // second small write waits for the other side's delayed ACK (a connect took 230 ms, now 70).
  const socket = endpoint.openSocket
    ? await endpoint.openSocket()
    : (takeEarlySocket(entry.host, entry.port) ?? connect({ host: entry.host, port: entry.port, noDelay: true }))
  coalesceWrites(socket)
  config.sock = socket as never
  try {
    await ssh.connect(config)
    return { ssh, socket, presented }
  } catch (error) {
    // A proxy command that ended on its own says why better than the lost connection ssh2 saw.
    const ended = socket instanceof ProxyCommandStream ? await socket.endedOnItsOwn(endpoint.mask ?? ((text) => text)) : undefined
    // ssh2 may refuse before it takes the socket over (a key it cannot decrypt): close it here.
    socket.destroy()
    ssh.dispose()
    return { error: ended ?? (error as ErrorWithLevel), presented }
  }
}

/** Every fingerprint the host offers, one handshake per key family (like ssh-keyscan). */
async function scanFingerprints(endpoint: Endpoint): Promise<string[]> {
  const found: string[] = []
  for (const family of KEY_FAMILIES) {
    const result = await attempt(endpoint, family, false)
    for (const key of result.presented) found.push(`${keyTypeOf(key.blob)} ${fingerprintOf(key.blob)}`)
  }
  return [...new Set(found)]
}

function hostKeyMessage(endpoint: Endpoint, reason: string, fingerprints: string[]): string {
  const { entry } = endpoint
  const listed = fingerprints.length > 0 ? fingerprints.map((f) => `  ${f}`).join('\n') : '  (the host offered no key this action can read)'
  const how =
    `Compare with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" run on the host itself, then pin it:\n` +
    `  host-fingerprint: ${fingerprints[0]?.split(' ')[1] ?? 'SHA256:...'}\n` +
    (endpoint.openSocket
      ? // Behind a jump host or a proxy command, the runner cannot scan the host itself.
        `or put its known_hosts line ("${knownHostsName(entry.host, entry.port)} <type> <key>", from /etc/ssh/ssh_host_*_key.pub on the host) in known-hosts.`
      : `or put the output of "ssh-keyscan -p ${entry.port} ${entry.host}" (checked the same way) in known-hosts.`)
  if (reason === 'revoked') return `${entry.label}: the host key is marked @revoked in known-hosts; refusing to connect.`
  if (reason === 'mismatch') {
    return `${entry.label}: host key mismatch: the host's key matches neither host-fingerprint nor known-hosts for ${knownHostsName(entry.host, entry.port)}. No credential was sent. The host offers:\n${listed}\nIf the host was rebuilt, check and update the pin; otherwise someone may be in the middle.`
  }
  return `${entry.label}: refusing to authenticate: no host key is pinned (set host-fingerprint or known-hosts, or insecure-skip-host-key-check: true). No credential was sent. The host offers:\n${listed}\n${how}`
}

export class RemoteHost {
  private lost = false
  /** Why the connection was given up, when it was the runner that gave it up. */
  private silentFor?: number
  /** Set when this run may not act on the host any more (it lost its lock); every later step fails with it. */
  private abandoned?: ConnectionError
  private lastHeard = performance.now()
  private session?: Promise<ShellSession>
  private sftp?: Promise<SFTPWrapper>
  /** Settles when the connection goes away: some ssh2 calls (SFTP's fastPut) never call back then. */
  private readonly gone: Promise<void>

  /** Set once the connection relays a target: what it hears is acknowledged at once (prompt-ack.ts). */
  private relaying = false

  private constructor(
    readonly entry: HostEntry,
    private readonly ssh: NodeSSH,
    private readonly connectTimeoutSeconds: number,
    private readonly socket?: Duplex,
  ) {
    // Anything heard from the host is a sign of life: ssh2 starts its count of unanswered asks
    // over (its own reset, run on a reply to an ask; absent, ssh2 counts as it always did).
    const heard = (ssh.connection as unknown as { _resetKA?: () => void } | null)?._resetKA
    socket?.on('data', () => {
      this.lastHeard = performance.now()
      heard?.()
    })
    this.gone = new Promise((resolve) => {
      const lose = (error?: Error) => {
        if (!this.lost && error?.message === 'Keepalive timeout') this.silentFor = Math.round((performance.now() - this.lastHeard) / 1000)
        this.lost = true
        resolve()
      }
      ssh.connection?.on('close', () => lose())
      // Without an error listener, a reset connection would crash the process instead of failing the step.
      ssh.connection?.on('error', lose)
    })
  }

  /**
   * Connects, trusting the host only if its key matches a pin. A failure that can pass (refused,
   * reset, timed out: retry.ts) is tried again up to `endpoint.retries` times, 1, 2, 4... s apart,
   * with a warning each time.
   */
  static async connect(endpoint: Endpoint): Promise<RemoteHost> {
    const retries = endpoint.retries ?? 0
    for (let tried = 1; ; tried++) {
      try {
        return await RemoteHost.connectOnce(endpoint)
      } catch (error) {
        const cause = error instanceof ConnectionError ? error.cause : error
        const delay = nextTry(cause, tried, retries)
        if (delay === undefined) {
          if (tried === 1 || !(error instanceof ConnectionError)) throw error
          throw new ConnectionError(`${error.message} (tried ${tried} times: connect-retries is ${retries})`, { cause })
        }
        endpoint.warn?.(`${(error as Error).message} Try ${tried} of ${retries + 1}; trying again in ${delay} s.`)
        await new Promise((resolve) => setTimeout(resolve, delay * 1000))
      }
    }
  }

  private static async connectOnce(endpoint: Endpoint): Promise<RemoteHost> {
    const { entry, hostKeys } = endpoint
    const pinnedTypes = pinnedKeyTypes(hostKeys.knownHosts, entry.host, entry.port)
    const preferred = pinnedTypes.flatMap(algorithmsForKeyType).filter((a) => SUPPORTED_HOST_KEY_ALGORITHMS.has(a))
    let result = await attempt(endpoint, preferred.length > 0 ? preferred : undefined, true)
    const refused = result.presented.find((key) => !key.trusted)
    if (!result.ssh && refused) {
      // A pinned key of another type may exist: ask for each family the host has.
      const fingerprints = refused.reason === 'revoked' ? [] : await scanFingerprints(endpoint)
      const pinnedFamily = KEY_FAMILIES.find((family) =>
        fingerprints.some((f) => family.includes(f.split(' ')[0]) && hostKeys.fingerprints.includes(f.split(' ')[1])),
      )
      if (refused.reason === 'mismatch' && pinnedFamily) {
        result = await attempt(endpoint, pinnedFamily, true)
      } else {
        throw new ConnectionError(hostKeyMessage(endpoint, refused.reason ?? 'mismatch', fingerprints))
      }
    }
    if (!result.ssh) {
      const error = result.error ?? new Error('unknown error')
      throw new ConnectionError(describeConnectError(error, entry, endpoint.connectTimeoutSeconds), { cause: error })
    }
    return new RemoteHost(entry, result.ssh, endpoint.connectTimeoutSeconds, result.socket)
  }

  /**
   * Runs a POSIX sh script in the run's shell session and returns its parsed answer. Throws
   * `RemoteCommandError` for an exit code that is neither 0 nor in `allowExit`, and
   * `ConnectionError` if the connection dies. The script is sent at once, behind any still
   * running (see ShellSession for `onlyIfPreviousSucceeded`).
   */
  async run(script: string, options: { step: string; allowExit?: number[] } & RunOptions): Promise<RemoteResult> {
    if (this.abandoned) throw this.abandoned
    if (this.lost) throw this.lostError(options.step)
    this.session ??= ShellSession.open(this.ssh, SHELL_LIB)
    let response
    try {
      // ssh2 may leave a channel's end unreported when the connection dies under it.
      response = await Promise.race([(await this.session).run(script, options), this.gone.then(() => Promise.reject(new Error('lost')))])
    } catch (error) {
      if (this.abandoned) throw this.abandoned
      if (this.lost || !this.ssh.isConnected()) throw this.lostError(options.step)
      if (error instanceof ShellEndedError) {
        throw new ConnectionError(
          `${this.entry.label}: ${options.step}: ${error.message}. If nothing was heard from this run for over a minute (a runner that stood still, a network that went silent), another run has taken over its deploy lock and ended it; nothing of this run acts on the host any more.`,
        )
      }
      throw new ConnectionError(`${this.entry.label}: ${options.step}: ${(error as Error).message}`)
    }
    const result = { ...response, answer: parseAnswer(response.stdout) }
    if (result.code !== 0 && !(options.allowExit ?? []).includes(result.code)) {
      throw new RemoteCommandError(options.step, result)
    }
    return result
  }

  /**
   * Runs a short script in a shell of its own, on a channel of its own: it does not wait behind the
   * run's shell, which may be busy for minutes (a health wait), nor behind anything but the bytes
   * already on the wire. Used to renew the lock's lease.
   */
  async runBeside(script: string, step: string): Promise<RemoteResult> {
    if (this.abandoned) throw this.abandoned
    if (this.lost) throw this.lostError(step)
    let response
    try {
      response = await Promise.race([
        this.ssh.execCommand('sh -s', { stdin: script }),
        this.gone.then(() => Promise.reject(new Error('lost'))),
      ])
    } catch (error) {
      if (this.lost || !this.ssh.isConnected()) throw this.lostError(step)
      throw new ConnectionError(`${this.entry.label}: ${step}: ${(error as Error).message}`)
    }
    const result = { code: response.code ?? -1, stdout: response.stdout, stderr: response.stderr }
    return { ...result, answer: parseAnswer(result.stdout) }
  }

  /** False once the connection is gone or given up. */
  get connected(): boolean {
    return !this.lost && !this.abandoned && this.ssh.isConnected()
  }

  /**
   * Stops this run from acting on the host any more: every step still to come fails with `error`,
   * and the connection is closed (which also ends whatever the run's shell still runs there).
   */
  abandon(error: ConnectionError): void {
    this.abandoned ??= error
    this.ssh.dispose()
  }

  /**
   * Opens the shell session now, and the SFTP channel beside it when the run will likely upload
   * through it, instead of one after the other when first used: on a host with a slow login shell
   * the two waits overlap. An upload small enough to travel inside a script needs no SFTP at all.
   */
  warmUp({ sftp }: { sftp: boolean }): void {
    this.session ??= ShellSession.open(this.ssh, SHELL_LIB)
    if (!sftp) return
    this.sftp ??= this.ssh.requestSFTP()
    this.sftp.catch(() => undefined)
  }

  /**
   * Creates a directory whose parent exists, through SFTP: no shell needed, so it does not wait
   * behind a script that runs in the session.
   */
  async makeDirectory(path: string): Promise<void> {
    this.sftp ??= this.ssh.requestSFTP()
    const sftp = await this.sftp
    await new Promise<void>((resolve, reject) =>
      sftp.mkdir(path, (error) => {
        if (!error) return resolve()
        // It may exist already; anything else shows up as a failed upload next.
        sftp.stat(path, (statError, stats) =>
          statError || !stats.isDirectory()
            ? reject(new ConnectionError(`${this.entry.label}: could not create ${path}: ${error.message}`))
            : resolve(),
        )
      }),
    )
  }

  /** Uploads a file through SFTP, streaming it in chunks. */
  async upload(localPath: string, remotePath: string, onProgress?: (sent: number, total: number) => void): Promise<void> {
    try {
      this.sftp ??= this.ssh.requestSFTP()
      const upload = this.ssh.putFile(localPath, remotePath, await this.sftp, {
        concurrency: 64,
        chunkSize: 32768,
        step: (sent: number, _chunk: number, total: number) => onProgress?.(sent, total),
      })
      await Promise.race([upload, this.gone.then(() => Promise.reject(this.lostError('upload')))])
    } catch (error) {
      if (this.abandoned) throw this.abandoned
      if (this.lost) throw this.lostError('upload')
      throw new ConnectionError(`${this.entry.label}: upload to ${remotePath} failed: ${(error as Error).message}`)
    }
  }

  /** A TCP stream to `host:port` as seen from this host, for reaching hosts behind it, within connect-timeout. */
  forward(host: string, port: number): Promise<Duplex> {
    if (!this.relaying && this.socket) this.relaying = acknowledgeAtOnce(this.ssh, this.socket)
    return forwardThroughBastion(this.ssh, this.entry.label, { host, port }, this.connectTimeoutSeconds)
  }

  close(): void {
    this.ssh.dispose()
  }

  private lostError(step: string): ConnectionError {
    if (this.abandoned) return this.abandoned
    const silent =
      this.silentFor === undefined
        ? ''
        : `lost the connection to ${this.entry.host}: no answer for ${this.silentFor} s (the runner's network, or the host, went silent). `
    if (step === 'switch') {
      // The switch script was on the host already, and it does not need the connection to finish.
      return new ConnectionError(
        `${this.entry.label}: ${silent}the SSH connection was lost during the switch. The switch finishes on the host on its own, so nginx serves either the old port or the new one; run the action with command: status to see which.`,
      )
    }
    if (this.silentFor !== undefined) {
      return new ConnectionError(
        `${this.entry.label}: ${silent}The SSH connection was lost during ${step}. Nothing was switched after that point; on the host, this run's lock lapses about a minute after its last renewal and the next run takes it over. Run the deploy again once the host is reachable.`,
      )
    }
    return new ConnectionError(
      `${this.entry.label}: the SSH connection was lost during ${step}. Nothing was switched after that point; run the deploy again once the host is reachable.`,
    )
  }
}
