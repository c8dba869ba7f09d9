/**
 * A large answer (`command: logs` with log-lines of a hundred thousand) and a long stream on fd 3
 * (a chatty hook), as the SSH channel hands them over: in many small pieces. Reading them must take
 * work in proportion to their size: each piece searched once, not all that came before it again.
 * The work is counted as the characters that string searches examine, not timed.
 */
import { PassThrough } from 'node:stream'
import type { NodeSSH } from 'node-ssh'
import { afterEach, describe, expect, it } from 'vitest'
import { parseAnswer } from '../../src/remote/protocol.js'
import { ShellSession } from '../../src/ssh/session.js'

/** A NodeSSH whose shell is the test: it reads what the session sends, and answers through `send`. */
function scriptedSsh() {
  const channel: { stdin?: PassThrough; onStdout?: (chunk: Buffer) => void } = {}
  const ssh = {
    execCommand(_command: string, options: { stdin: PassThrough; onStdout: (chunk: Buffer) => void }) {
      channel.stdin = options.stdin
      channel.onStdout = options.onStdout
      return new Promise(() => undefined)
    },
  } as unknown as NodeSSH
  return {
    ssh,
    /** The nonce of the last script the session sent. */
    lastNonce(): string {
      let sent = ''
      for (let data = channel.stdin!.read(); data !== null; data = channel.stdin!.read()) sent += data.toString()
      const nonces = [...sent.matchAll(/zdd_answer ([0-9a-f]+)\n/g)]
      return nonces[nonces.length - 1][1]
    },
    send(text: string, pieceBytes: number): void {
      const data = Buffer.from(text)
      for (let at = 0; at < data.length; at += pieceBytes) channel.onStdout!(data.subarray(at, at + pieceBytes))
    },
  }
}

/** Counts the characters that indexOf, lastIndexOf and RegExp exec examine while `work` runs. */
function examinedBy(work: () => void): number {
  const { indexOf, lastIndexOf } = String.prototype
  const { exec } = RegExp.prototype
  let examined = 0
  String.prototype.indexOf = function (this: string, search: string, from?: number) {
    const start = Math.max(0, from ?? 0)
    const found = indexOf.call(this, search, start)
    examined += (found < 0 ? this.length : found + search.length) - start
    return found
  }
  String.prototype.lastIndexOf = function (this: string, search: string, from?: number) {
    const start = Math.min(this.length, from ?? this.length)
    const found = lastIndexOf.call(this, search, start)
    examined += start + search.length - Math.max(0, found)
    return found
  }
  RegExp.prototype.exec = function (this: RegExp, text: string) {
    const start = this.global || this.sticky ? this.lastIndex : 0
    const match = exec.call(this, text)
    examined += (match ? match.index + match[0].length : text.length) - start
    return match
  }
  try {
    work()
  } finally {
    Object.assign(String.prototype, { indexOf, lastIndexOf })
    RegExp.prototype.exec = exec
  }
  return examined
}

const LINES = 100_000
const PIECE = 16 * 1024
const logLines = Array.from({ length: LINES }, (_, i) => `2026-01-01T00:00:00Z INFO [main] line ${i} of the instance's log`)

let session: ShellSession | undefined
afterEach(() => session?.close())

describe('a large answer read in many pieces', () => {
  it(`${LINES} log lines: each piece is searched once, and the answer is the same text`, async () => {
    const host = scriptedSsh()
    session = await ShellSession.open(host.ssh)
    const answered = session.run('the logs script')
    const nonce = host.lastNonce()
    const stdout = `@@log_8082\n${logLines.join('\n')}\n@@log_8081\n`
    const text = `@@@zdd-answer:${nonce}\n${stdout}\n@@@zdd-stderr:${nonce}\n\n@@@zdd-end:${nonce}:0\n`
    let sections: Record<string, string> = {}
    const examined = examinedBy(() => host.send(text, PIECE))
    const result = await answered
    const parsing = examinedBy(() => (sections = parseAnswer(result.stdout).sections))
    expect(result).toEqual({ code: 0, stdout, stderr: '' })
    expect(sections).toEqual({ log_8082: logLines.join('\n'), log_8081: '' })
    // Linear: a few times the answer's size. Searching all that came before on each of the ~400
    // pieces would examine some 200 times its size.
    expect(examined).toBeLessThan(2 * text.length)
    expect(parsing).toBeLessThan(2 * text.length)
  })

  it(`${LINES} lines on fd 3 before the answer: passed on whole as they come, each piece searched once`, async () => {
    const host = scriptedSsh()
    session = await ShellSession.open(host.ssh)
    let live = ''
    const answered = session.run('a chatty hook', { onStdout: (piece) => (live += piece) })
    const nonce = host.lastNonce()
    const fd3 = logLines.map((line) => `hook| ${line}\n`).join('')
    let examined = examinedBy(() => host.send(fd3, PIECE))
    expect(live).toBe(fd3)
    examined += examinedBy(() => host.send(`@@@zdd-answer:${nonce}\nhook=ok\n\n@@@zdd-stderr:${nonce}\n\n@@@zdd-end:${nonce}:0\n`, PIECE))
    expect(await answered).toEqual({ code: 0, stdout: 'hook=ok\n', stderr: '' })
    expect(examined).toBeLessThan(2 * fd3.length)
  })

  it('one long line on fd 3, in many pieces: passed on once whole, each piece searched once', async () => {
    const host = scriptedSsh()
    session = await ShellSession.open(host.ssh)
    const live: string[] = []
    const answered = session.run('a hook that prints one long line', { onStdout: (piece) => live.push(piece) })
    const nonce = host.lastNonce()
    const line = `hook| ${'x'.repeat(4_000_000)}\n`
    const examined = examinedBy(() => host.send(line, PIECE))
    expect(live).toEqual([line])
    host.send(`@@@zdd-answer:${nonce}\n\n@@@zdd-stderr:${nonce}\n\n@@@zdd-end:${nonce}:0\n`, PIECE)
    expect(await answered).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(examined).toBeLessThan(3 * line.length)
  })

  it.each([1, 2, 7, 41, 43, 1000])('answers cut every %i bytes, several in one piece, reach each script whole', async (piece) => {
    const host = scriptedSsh()
    session = await ShellSession.open(host.ssh)
    const first = session.run('one')
    const one = host.lastNonce()
    const second = session.run('two', { onStdout: () => undefined })
    const two = host.lastNonce()
    host.send(
      `@@@zdd-answer:${one}\nx=1\n\n@@@zdd-stderr:${one}\nwarn ✓\n\n@@@zdd-end:${one}:3\n` +
        `live\n@@@zdd-answer:${two}\n@@@zdd-end:${one}:9\n\n@@@zdd-stderr:${two}\n\n@@@zdd-end:${two}:255\n`,
      piece,
    )
    expect(await first).toEqual({ code: 3, stdout: 'x=1\n', stderr: 'warn ✓\n' })
    expect(await second).toEqual({ code: 255, stdout: `@@@zdd-end:${one}:9\n`, stderr: '' })
  })
})
