/**
 * One remote shell for a whole run. A login shell can take a while to start (a heavy ~/.bashrc
 * costs half a second on some hosts), and a run has a dozen steps: so each run starts `sh` once
 * and feeds it one script after another on its stdin. Each script runs in a subshell with stdin
 * from /dev/null; its end is marked by a line with a random nonce and its exit code.
 */
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import type { NodeSSH } from 'node-ssh'
import { shellQuote } from '../remote/quote.js'

export interface ScriptResult {
  code: number
  stdout: string
  stderr: string
}

/** The session's own wrapper: a temp file for each script's stderr, removed when the session ends. */
const BOOTSTRAP = 'ZDD_STDERR=$(mktemp) || exit 70; export ZDD_STDERR; sh -s; rm -f "$ZDD_STDERR"'

interface Pending {
  nonce: string
  onStdout?: (text: string) => void
  /** How much of the buffer went to onStdout already. */
  streamed: number
  resolve: (result: ScriptResult) => void
  reject: (error: Error) => void
}

export class ShellSession {
  private buffer = ''
  private pending?: Pending
  private queue: Promise<unknown> = Promise.resolve()
  private closed?: Error

  private constructor(private readonly stdin: PassThrough) {}

  static async open(ssh: NodeSSH): Promise<ShellSession> {
    const stdin = new PassThrough()
    const session = new ShellSession(stdin)
    // A UTF-8 character may be split across two SSH packets.
    const decoder = new StringDecoder('utf8')
    const ended = ssh.execCommand(`sh -c ${shellQuote(BOOTSTRAP)}`, {
      stdin,
      noTrim: true,
      onStdout: (chunk) => session.receive(decoder.write(chunk)),
    })
    ended.then(
      (response) => session.end(new Error(`the remote shell ended (exit ${response.code ?? response.signal}) ${response.stderr.trim()}`)),
      (error: Error) => session.end(error),
    )
    return session
  }

  /** Runs one script; scripts run one at a time, in the order they were given. */
  run(script: string, onStdout?: (text: string) => void): Promise<ScriptResult> {
    const next = this.queue.then(() => this.send(script, onStdout))
    this.queue = next.catch(() => undefined)
    return next
  }

  close(): void {
    this.stdin.end()
  }

  private send(script: string, onStdout?: (text: string) => void): Promise<ScriptResult> {
    if (this.closed) return Promise.reject(this.closed)
    const nonce = randomBytes(12).toString('hex')
    return new Promise<ScriptResult>((resolve, reject) => {
      this.pending = { nonce, onStdout, streamed: 0, resolve, reject }
      this.stdin.write(
        `(\n${script}\n) < /dev/null 2> "$ZDD_STDERR"\n` +
          `zdd_status=$?\n` +
          `printf '\\n@@@zdd-stderr:${nonce}\\n'; cat "$ZDD_STDERR"; printf '\\n@@@zdd-end:${nonce}:%s\\n' "$zdd_status"\n`,
      )
    })
  }

  private receive(text: string): void {
    this.buffer += text
    const pending = this.pending
    if (!pending) return
    const stderrMarker = `\n@@@zdd-stderr:${pending.nonce}\n`
    const stderrAt = this.buffer.indexOf(stderrMarker)
    const end = new RegExp(`\n@@@zdd-end:${pending.nonce}:(\\d+)\n`).exec(this.buffer)
    if (pending.onStdout) {
      // Stream whole lines of the script's own output as they come.
      const limit = stderrAt >= 0 ? stderrAt : this.buffer.lastIndexOf('\n') + 1
      if (limit > pending.streamed) {
        pending.onStdout(this.buffer.slice(pending.streamed, limit))
        pending.streamed = limit
      }
    }
    if (!end || stderrAt < 0) return
    const stdout = this.buffer.slice(0, stderrAt)
    const stderr = this.buffer.slice(stderrAt + stderrMarker.length, end.index)
    this.buffer = this.buffer.slice(end.index + end[0].length)
    this.pending = undefined
    pending.resolve({ code: Number(end[1]), stdout, stderr })
  }

  private end(error: Error): void {
    this.closed = error
    this.pending?.reject(error)
    this.pending = undefined
  }
}
