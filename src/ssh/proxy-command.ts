/**
 * `proxy-command`: a process on the runner whose stdin and stdout carry the SSH connection to one
 * host (`aws ssm start-session ...`, `cloudflared access ssh ...`, `ssh -W %h:%p bastion`). ssh2
 * takes it as its socket; the host key is checked inside the handshake as on a direct connection.
 *
 * The command runs in a process group of its own (`sh -c` and whatever it starts: the AWS CLI starts
 * the Session Manager plugin), so that ending the connection ends all of it. It is ended when its
 * connection closes, when the action exits however it exits, and when the action is cancelled
 * (SIGINT, then SIGTERM from the runner): nothing of it is left running on the runner.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { Duplex } from 'node:stream'
import type { ErrorWithLevel } from './errors.js'

/** How much of the command's stderr is kept, and how many of its last lines an error shows. */
const STDERR_KEPT_BYTES = 8192
const STDERR_SHOWN_LINES = 10
/** After SIGTERM, the group gets SIGKILL this much later if anything of it is still there. */
const KILL_AFTER_MS = 3000
/** After the connection closed its input, how long the command may take to exit on its own. */
const END_GRACE_MS = 2000
/** Once its stdout has ended, how long the command may take to exit before its exit is reported without its code. */
const EXIT_WAIT_MS = 1000

const running = new Set<ProxyCommandStream>()

/** Ends every proxy command still running: on exit, and on the signals that cancel a run. */
function endAll(): void {
  for (const stream of running) stream.destroy()
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
function onSignal(signal: NodeJS.Signals): void {
  endAll()
  // Then die of the signal as the action would have without this handler.
  uninstall()
  process.kill(process.pid, signal)
}
let installed = false
function install(): void {
  if (installed) return
  installed = true
  process.on('exit', endAll)
  for (const signal of SIGNALS) process.on(signal, onSignal)
}
function uninstall(): void {
  if (!installed) return
  installed = false
  process.removeListener('exit', endAll)
  for (const signal of SIGNALS) process.removeListener(signal, onSignal)
}

/** The command ended before the SSH handshake: what it said, in words for the log. */
export class ProxyCommandError extends Error implements ErrorWithLevel {
  readonly level = 'proxy-command'
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message)
    this.name = 'ProxyCommandError'
  }
}

/** The SSH connection's socket: the command's stdout to read, its stdin to write. */
export class ProxyCommandStream extends Duplex {
  private stderr = ''
  private exit?: { code: number | null; signal: NodeJS.Signals | null }
  private readonly exited: Promise<void>
  /** Who ended the connection first: the command (its stdout closed), or this side. */
  private endedFirst?: 'command' | 'us'

  constructor(
    /** The command as run (escapes replaced), for messages (masked there). */
    private readonly shown: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    super()
    running.add(this)
    install()
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal }
        resolve()
      })
      child.on('error', (error) => {
        // sh itself could not be started.
        this.exit ??= { code: null, signal: null }
        this.stderr += `${error.message}\n`
        this.endedFirst ??= 'command'
        resolve()
        this.destroy()
      })
    })
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause()
    })
    child.stdout.on('end', () => {
      this.endedFirst ??= 'command'
      this.push(null)
      // ssh2 learns of a lost connection from its socket's close: once the command is gone (or
      // has had its time to go), close this side too.
      void this.exitedWithin(EXIT_WAIT_MS).then(() => this.destroy())
    })
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT_BYTES)
    })
    // Writes after the command exited fail with EPIPE; its exit is what gets reported.
    child.stdin.on('error', () => undefined)
  }

  override _read(): void {
    this.child.stdout.resume()
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.child.stdin.destroyed || !this.child.stdin.writable) return callback()
    this.child.stdin.write(chunk, encoding, () => callback())
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.endedFirst ??= 'us'
    this.child.stdin.end()
    // The end of its input ends `ssh -W` and most proxies; one that goes on would keep the action
    // from exiting.
    setTimeout(() => this.destroy(), END_GRACE_MS).unref()
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.endedFirst ??= 'us'
    this.child.stdin.destroy()
    this.child.stdout.destroy()
    this.child.stderr.destroy()
    if (this.exit === undefined) {
      this.signalGroup('SIGTERM')
      setTimeout(() => this.signalGroup('SIGKILL'), KILL_AFTER_MS).unref()
    } else {
      // sh is gone; what it started may not be.
      this.signalGroup('SIGTERM')
    }
    this.forget()
    callback(error)
  }

  /**
   * Why the connection could not be made, when the command ended on its own before the handshake
   * (its stdout closed before this side closed anything): its exit status and its last lines on
   * stderr, each line passed through `mask`.
   */
  async endedOnItsOwn(mask: (text: string) => string): Promise<ProxyCommandError | undefined> {
    if (this.endedFirst !== 'command') return undefined
    await this.exitedWithin(EXIT_WAIT_MS)
    const how =
      this.exit === undefined
        ? 'closed its output'
        : this.exit.signal
          ? `was ended by ${this.exit.signal}`
          : this.exit.code === 127
            ? 'exited with code 127 (command not found)'
            : `exited with code ${this.exit.code}`
    const lines = this.stderr.split('\n').filter((line) => line.trim() !== '')
    const said =
      lines.length === 0
        ? ' It printed nothing on stderr.'
        : ` Its last lines on stderr:\n${lines
            .slice(-STDERR_SHOWN_LINES)
            .map((line) => `  ${mask(line)}`)
            .join('\n')}`
    return new ProxyCommandError(
      `the proxy-command ${JSON.stringify(mask(this.shown))} ${how} before the SSH handshake.${said}`,
      this.exit?.code ?? null,
    )
  }

  private exitedWithin(ms: number): Promise<unknown> {
    return Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, ms).unref())])
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return
    try {
      // The whole group: sh and everything the command started.
      process.kill(-this.child.pid, signal)
    } catch {
      // gone already
    }
  }

  private forget(): void {
    if (!running.delete(this)) return
    if (running.size === 0) uninstall()
  }
}

/**
 * Starts `command` (its escapes already replaced) with `sh -c` in a process group of its own, and
 * returns its stdin and stdout as one stream.
 */
export function startProxyCommand(command: string): ProxyCommandStream {
  const child = spawn('sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
  return new ProxyCommandStream(command, child)
}
