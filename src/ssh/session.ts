/**
 * One remote shell for a whole run. A login shell can take a while to start (a heavy ~/.bashrc
 * costs half a second on some hosts), and a run has a dozen steps: so each run starts `sh` once
 * and feeds it one script after another on its stdin. Each script runs in a subshell with stdin
 * from /dev/null.
 *
 * A script runs in a command substitution, which keeps its stdout (its answer); its stderr goes to
 * a file. The shell sends both back in one write, framed by lines with a random nonce and the exit
 * code: one printf, a builtin, and no process of its own. One write matters: sshd leaves Nagle's
 * algorithm on for a session without a terminal, so a second small write waits for the runner's
 * delayed ACK, 40 ms on Linux, on every script. What a script must show while it runs
 * (whom a lock wait is for) it writes to fd 3, which reaches `onStdout` at once. A script's answer
 * ends when nothing holds its stdout open any more: whatever a script leaves running (an
 * instance, a hook, a cleanup) has its stdout, stderr and fd 3 sent elsewhere.
 *
 * A session may be opened with a library (shell functions every script starts with): the shell
 * defines it once, and each script is sent without its copy. A script's subshell inherits the
 * functions, so it runs as it would alone, and the host parses the library once, not once per step
 * (a shell that reads its commands a byte at a time, as bash does, spends milliseconds on it).
 *
 * Scripts are sent as soon as they are given, without waiting for the answers before them: the
 * shell runs them in order, and the answers come back in order. A script that must not run unless
 * the one before it succeeded (inspect after the lock) says so, and is then skipped (exit 125)
 * instead: a step that waits for nothing from the previous answer costs no round trip of its own.
 * A script may also depend on several before it (the start on freeing the port and on the upload's
 * check): those carry a failure mark, and it is skipped if any of them failed.
 */
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import type { NodeSSH } from 'node-ssh'

export interface ScriptResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * An answer, as the shell sends it: the script's stdout and stderr between lines that carry the
 * script's nonce, and its exit code.
 */
const ANSWER_FORMAT = '@@@zdd-answer:%s\\n%s\\n@@@zdd-stderr:%s\\n%s\\n@@@zdd-end:%s:%s\\n'

/**
 * Up to this size, the shell's printf sends an answer in one write (dash buffers 8 KiB of a
 * builtin's output); a larger answer goes through a file and one cat.
 */
const ONE_WRITE_BYTES = 4000

/**
 * What the session's shell reads first: a private temp dir (ZDD_TMP: each script's stderr, an
 * answer too large for one printf, and what a script may keep there for itself), removed when the
 * shell ends (its stdin closes with the connection); and the function that sends each answer.
 */
const PROLOGUE = `ZDD_TMP=$(mktemp -d) || exit 70
trap 'rm -rf -- "$ZDD_TMP"' EXIT
zdd_status=0
exec 9>&1
zdd_answer() {
  zdd_err=
  [ ! -s "$ZDD_TMP/err" ] || { zdd_err=$(cat -- "$ZDD_TMP/err"; printf @); zdd_err=\${zdd_err%@}; }
  if [ $(( \${#zdd_out} + \${#zdd_err} )) -lt ${ONE_WRITE_BYTES} ]; then
    printf '${ANSWER_FORMAT}' "$1" "$zdd_out" "$1" "$zdd_err" "$1" "$zdd_status"
  else
    printf '${ANSWER_FORMAT}' "$1" "$zdd_out" "$1" "$zdd_err" "$1" "$zdd_status" > "$ZDD_TMP/out"
    cat -- "$ZDD_TMP/out"
  fi
}
`

/** The run's shell was killed on the host: by a run that took its lock over, when this run had gone silent. */
export class ShellEndedError extends Error {
  constructor(readonly signal: string) {
    super(`the run's remote shell was ended on the host (${signal})`)
    this.name = 'ShellEndedError'
  }
}

/** The exit code of a script skipped because the one before it failed. */
export const SKIPPED_EXIT = 125

export interface RunOptions {
  /** Called with what the script writes to fd 3, while it runs. */
  onStdout?: (text: string) => void
  /** Run only if the script sent just before this one exited 0; otherwise answer SKIPPED_EXIT. */
  onlyIfPreviousSucceeded?: boolean
  /** A name (lower-case letters and _) under which this script's failure is remembered for `skipIfFailed`. */
  failureMark?: string
  /** Answer SKIPPED_EXIT instead of running if any script sent before this one under this `failureMark` failed. */
  skipIfFailed?: string
}

const MARK = /^[a-z_]+$/

function checkMark(mark: string | undefined): void {
  if (mark !== undefined && !MARK.test(mark)) throw new Error(`a failure mark is lower-case letters and _ only, not "${mark}"`)
}

interface Pending {
  nonce: string
  onStdout?: (text: string) => void
  /** Where in the session's buffer the search for the answer's opening line goes on. */
  searchFrom: number
  /** Once the answer has opened: what came of it so far, in the pieces it came in. */
  answer?: string[]
  /** Its last characters, searched again with the next piece for an end marker cut between them. */
  answerTail: string
  resolve: (result: ScriptResult) => void
  reject: (error: Error) => void
}

export class ShellSession {
  private buffer = ''
  /** Scripts sent and not yet answered, oldest first. */
  private readonly pending: Pending[] = []
  private closed?: Error

  private constructor(
    private readonly stdin: PassThrough,
    private readonly library: string,
  ) {}

  static async open(ssh: NodeSSH, library = ''): Promise<ShellSession> {
    const stdin = new PassThrough()
    const session = new ShellSession(stdin, library)
    // A UTF-8 character may be split across two SSH packets.
    const decoder = new StringDecoder('utf8')
    stdin.write(PROLOGUE + (library ? `${library}\n` : ''))
    const ended = ssh.execCommand('sh -s', {
      stdin,
      noTrim: true,
      onStdout: (chunk) => session.receive(decoder.write(chunk)),
    })
    ended.then(
      (response) =>
        session.end(
          response.signal
            ? new ShellEndedError(response.signal)
            : new Error(`the remote shell ended (exit ${response.code}) ${response.stderr.trim()}`),
        ),
      (error: Error) => session.end(error),
    )
    return session
  }

  close(): void {
    this.stdin.end()
  }

  /** Sends one script at once; the shell runs scripts one at a time, in the order they were given. */
  run(script: string, { onStdout, onlyIfPreviousSucceeded, failureMark, skipIfFailed }: RunOptions = {}): Promise<ScriptResult> {
    if (this.closed) return Promise.reject(this.closed)
    checkMark(failureMark)
    checkMark(skipIfFailed)
    const nonce = randomBytes(12).toString('hex')
    const err = '"$ZDD_TMP/err"'
    // A command substitution is the script's subshell, and its stdout is kept without a file or a
    // cat. The trap's @ keeps the trailing newlines that the substitution would strip, also after
    // the script's own exit, whose code stays the substitution's.
    const execute = `zdd_out=$(exec < /dev/null 3>&9 9>&- 2> ${err}; trap 'printf @' EXIT\n${withoutLibrary(script, this.library)}\n)\nzdd_status=$?\n`
    const guard = skipIfFailed
      ? { test: `[ -z "\${zdd_failed_${skipIfFailed}:-}" ]`, why: 'a script it depends on failed' }
      : onlyIfPreviousSucceeded
        ? { test: '[ "$zdd_status" = 0 ]', why: 'the script before it failed' }
        : undefined
    return new Promise<ScriptResult>((resolve, reject) => {
      this.pending.push({ nonce, onStdout, searchFrom: 0, answerTail: '', resolve, reject })
      this.stdin.write(
        (guard
          ? `if ${guard.test}; then\n${execute}else\n  echo 'skipped: ${guard.why}' > ${err}; zdd_out=@ zdd_status=${SKIPPED_EXIT}\nfi\n`
          : execute) +
          (failureMark ? `[ "$zdd_status" = 0 ] || zdd_failed_${failureMark}=1\n` : '') +
          `zdd_out=\${zdd_out%@}\nzdd_answer ${nonce}\n`,
      )
    })
  }

  /**
   * Takes what the shell sent, in the pieces the channel cut. Each piece is searched once (with the
   * few characters before it that a marker may start in), never all that came before it: an answer
   * of a hundred thousand log lines comes in hundreds of pieces. Before an answer opens, the buffer
   * holds only the end of a line that fd 3 has not finished.
   */
  private receive(text: string): void {
    let rest = text
    for (let pending = this.pending[0]; pending && rest !== ''; pending = this.pending[0]) {
      rest = pending.answer ? this.collectAnswer(pending, rest) : this.awaitAnswer(pending, rest)
    }
    // Before any script is sent: kept for the first, as what it wrote before its answer.
    this.buffer += rest
  }

  /** Before the answer: what the script writes to fd 3, passed on in whole lines. Returns what follows the answer's opening line. */
  private awaitAnswer(pending: Pending, text: string): string {
    this.buffer += text
    const marker = `@@@zdd-answer:${pending.nonce}\n`
    const answerAt = this.buffer.indexOf(marker, pending.searchFrom)
    // What the buffer held before this text had no newline: the last one, if any, is in the text.
    const lastNewline = text.lastIndexOf('\n')
    const live = answerAt >= 0 ? answerAt : lastNewline < 0 ? 0 : this.buffer.length - text.length + lastNewline + 1
    if (live > 0) pending.onStdout?.(this.buffer.slice(0, live))
    if (answerAt < 0) {
      this.buffer = this.buffer.slice(live)
      pending.searchFrom = Math.max(0, this.buffer.length - marker.length + 1)
      return ''
    }
    const rest = this.buffer.slice(answerAt + marker.length)
    this.buffer = ''
    pending.answer = []
    return rest
  }

  /** The answer, piece by piece, until its end marker. Returns what follows it: the next script's. */
  private collectAnswer(pending: Pending, text: string): string {
    const answer = pending.answer!
    const window = pending.answerTail + text
    const end = new RegExp(`\n@@@zdd-end:${pending.nonce}:(\\d+)\n`).exec(window)
    if (!end) {
      answer.push(text)
      // The marker, its exit code of up to three digits, and a newline.
      pending.answerTail = window.slice(-(pending.nonce.length + 20))
      return ''
    }
    // The end lies in the window: the text before the window, then the window up to the marker.
    answer.push(text)
    const whole = answer.join('')
    const body = whole.slice(0, whole.length - window.length + end.index)
    const stderrMarker = `\n@@@zdd-stderr:${pending.nonce}\n`
    const stderrAt = body.lastIndexOf(stderrMarker)
    this.pending.shift()
    pending.resolve(
      stderrAt < 0
        ? { code: Number(end[1]), stdout: body, stderr: '' }
        : { code: Number(end[1]), stdout: body.slice(0, stderrAt), stderr: body.slice(stderrAt + stderrMarker.length) },
    )
    return window.slice(end.index + end[0].length)
  }

  private end(error: Error): void {
    this.closed = error
    for (const pending of this.pending.splice(0)) pending.reject(error)
  }
}

/**
 * The script without its copy of the library, which the session's shell has defined already. A
 * script's own code comes after its variables, so the last copy is the one to leave out: a value
 * that happened to hold the library's text stays whole.
 */
export function withoutLibrary(script: string, library: string): string {
  if (library === '') return script
  const at = script.lastIndexOf(library)
  // A newline in its place keeps the commands on either side apart.
  return at < 0 ? script : `${script.slice(0, at)}\n${script.slice(at + library.length)}`
}
