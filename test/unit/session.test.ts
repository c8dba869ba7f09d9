/**
 * The run's one remote shell, driven through a stand-in for node-ssh that runs the command with a
 * local `sh` and hands its stdout over in chunks, as an SSH channel does.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { PassThrough } from 'node:stream'
import type { NodeSSH } from 'node-ssh'
import { afterEach, describe, expect, it } from 'vitest'
import { stopScript } from '../../src/remote/instance.js'
import { shellScript } from '../../src/remote/quote.js'
import { SHELL_LIB } from '../../src/remote/shell-lib.js'
import { SKIPPED_EXIT, ShellSession, withoutLibrary } from '../../src/ssh/session.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** A NodeSSH whose execCommand runs locally; `chunk` re-cuts stdout into pieces of that many bytes. */
function localSsh(chunk = Infinity): NodeSSH {
  return {
    execCommand(command: string, options: { stdin?: PassThrough; onStdout?: (chunk: Buffer) => void }) {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] })
      children.push(child)
      options.stdin?.pipe(child.stdin)
      let stderr = ''
      child.stdout.on('data', (data: Buffer) => {
        for (let at = 0; at < data.length; at += Math.min(chunk, data.length))
          options.onStdout?.(data.subarray(at, at + Math.min(chunk, data.length)))
      })
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
      return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr })))
    },
  } as unknown as NodeSSH
}

describe('ShellSession', () => {
  it('runs scripts one after another, with their own exit code, stdout and stderr', async () => {
    const session = await ShellSession.open(localSsh())
    const [a, b, c] = await Promise.all([
      session.run('echo one; echo oops >&2; exit 3'),
      session.run('printf "no newline"'),
      session.run('echo three'),
    ])
    expect(a).toEqual({ code: 3, stdout: 'one\n', stderr: 'oops\n' })
    expect(b).toEqual({ code: 0, stdout: 'no newline', stderr: '' })
    expect(c).toEqual({ code: 0, stdout: 'three\n', stderr: '' })
    session.close()
  })

  it('every script runs in the same shell ($$ is the same), and exit ends only the script', async () => {
    const session = await ShellSession.open(localSsh())
    const first = await session.run('echo $$; exit 0')
    const second = await session.run('echo $$')
    expect(first.stdout).toBe(second.stdout)
    expect(first.stdout).toMatch(/^\d+\n$/)
    session.close()
  })

  it('a script that reads stdin gets nothing, and the next script still runs', async () => {
    const session = await ShellSession.open(localSsh())
    const reader = await session.run('cat; echo "read done"')
    expect(reader.stdout).toBe('read done\n')
    expect((await session.run('echo next')).stdout).toBe('next\n')
    session.close()
  })

  it('unicode output arrives intact however the channel cuts it', async () => {
    const session = await ShellSession.open(localSsh(1))
    const text = 'include: set $url "é ✓ 😀";'
    const result = await session.run(`printf '%s\\n' '${text}'; printf 'err ✓' >&2`)
    expect(result.stdout).toBe(`${text}\n`)
    expect(result.stderr).toBe('err ✓')
    session.close()
  })

  it('passes on what the script writes to fd 3 while it runs; stdout comes as the answer', async () => {
    const session = await ShellSession.open(localSsh())
    const seen: Array<{ text: string; at: number }> = []
    const started = Date.now()
    const result = await session.run('echo answer=1; echo first >&3; sleep 0.3; echo second >&3', {
      onStdout: (text) => seen.push({ text, at: Date.now() - started }),
    })
    expect(seen.map((s) => s.text).join('')).toBe('first\nsecond\n')
    expect(seen[0]).toMatchObject({ text: 'first\n' })
    expect(seen[0].at).toBeLessThan(250)
    expect(result.stdout).toBe('answer=1\n')
    session.close()
  })

  it('sends each answer in one write, whatever the script wrote and in how many pieces', async () => {
    // sshd keeps Nagle on without a terminal: a second small write would wait 40 ms for an ACK.
    const writes: string[] = []
    const ssh = localSsh()
    const spying = {
      execCommand: (command: string, options: { stdin?: PassThrough; onStdout?: (chunk: Buffer) => void }) =>
        ssh.execCommand(command, {
          ...options,
          onStdout: (chunk: Buffer) => {
            writes.push(chunk.toString())
            options.onStdout?.(chunk)
          },
        } as never),
    } as unknown as NodeSSH
    const session = await ShellSession.open(spying)
    const result = await session.run('echo a=1; sleep 0.1; echo b=2; echo warn >&2; sleep 0.1; printf c=3')
    expect(result).toEqual({ code: 0, stdout: 'a=1\nb=2\nc=3', stderr: 'warn\n' })
    expect(writes).toHaveLength(1)
    session.close()
  })

  it('keeps stdout exactly: trailing newlines, a final @, and an answer larger than one printf sends at once', async () => {
    const session = await ShellSession.open(localSsh())
    expect(await session.run('printf "a\\n\\n\\n"; exit 4')).toEqual({ code: 4, stdout: 'a\n\n\n', stderr: '' })
    expect(await session.run("printf 'mail@'")).toEqual({ code: 0, stdout: 'mail@', stderr: '' })
    const big = await session.run('i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i + 1)); done; echo done >&2')
    expect(big.code).toBe(0)
    expect(big.stdout.split('\n')).toHaveLength(3001)
    expect(big.stdout.endsWith('line 2999\n')).toBe(true)
    expect(big.stderr).toBe('done\n')
    session.close()
  })

  it('answers at once when the script leaves a process running with its output sent elsewhere', async () => {
    const session = await ShellSession.open(localSsh())
    const result = await session.run('sleep 30 < /dev/null > /dev/null 2>&1 3>&- & echo "left=$!"')
    expect(result.code).toBe(0)
    const left = Number(/^left=(\d+)\n$/.exec(result.stdout)?.[1])
    // Still running: the answer did not wait for it.
    expect(() => process.kill(left, 0)).not.toThrow()
    process.kill(left, 'SIGKILL')
    session.close()
  })

  it('sends a script without waiting for the answers before it', async () => {
    const sent: Array<{ text: string; at: number }> = []
    const ssh = localSsh()
    const spying = {
      execCommand: (command: string, options: { stdin: PassThrough }) => {
        options.stdin.on('data', (chunk: Buffer) => sent.push({ text: chunk.toString(), at: Date.now() }))
        return ssh.execCommand(command, options as never)
      },
    } as unknown as NodeSSH
    const session = await ShellSession.open(spying)
    const slow = session.run('sleep 0.3; echo slow')
    const quick = session.run('echo quick')
    const answers: string[] = []
    const [a, b] = await Promise.all([slow.then((r) => (answers.push('slow'), r)), quick.then((r) => (answers.push('quick'), r))])
    expect([a.stdout, b.stdout]).toEqual(['slow\n', 'quick\n'])
    expect(answers).toEqual(['slow', 'quick'])
    const quickSent = sent.find((s) => s.text.includes('echo quick'))
    expect(quickSent).toBeDefined()
    expect(quickSent!.at - sent[0].at).toBeLessThan(200)
    session.close()
  })

  it('skips a script told to run only after a success when the one before it failed, and says so', async () => {
    const session = await ShellSession.open(localSsh())
    const marker = `/tmp/zdd-session-skip-${process.pid}`
    const [failed, skipped, chained, free] = await Promise.all([
      session.run('echo lock=timeout; exit 31'),
      session.run(`echo inspected; : > ${marker}`, { onlyIfPreviousSucceeded: true }),
      session.run('echo chained', { onlyIfPreviousSucceeded: true }),
      session.run('echo unconditional'),
    ])
    expect(failed.code).toBe(31)
    expect(skipped).toEqual({ code: SKIPPED_EXIT, stdout: '', stderr: 'skipped: the script before it failed\n' })
    expect(existsSync(marker)).toBe(false)
    expect(chained.code).toBe(SKIPPED_EXIT)
    expect(free).toEqual({ code: 0, stdout: 'unconditional\n', stderr: '' })
    const [ok, after] = await Promise.all([session.run('true'), session.run('echo ran', { onlyIfPreviousSucceeded: true })])
    expect(ok.code).toBe(0)
    expect(after).toEqual({ code: 0, stdout: 'ran\n', stderr: '' })
    session.close()
  })

  it('skips a script whose marked predecessors did not all succeed, however many ran between them', async () => {
    const session = await ShellSession.open(localSsh())
    const marker = `/tmp/zdd-session-mark-${process.pid}`
    const [freed, between, finalized, started] = await Promise.all([
      session.run('echo port=busy; exit 50', { failureMark: 'stage' }),
      session.run('echo unmarked'),
      session.run('echo finalized', { failureMark: 'stage' }),
      session.run(`echo started; : > ${marker}`, { skipIfFailed: 'stage' }),
    ])
    expect([freed.code, between.code, finalized.code]).toEqual([50, 0, 0])
    expect(started).toEqual({ code: SKIPPED_EXIT, stdout: '', stderr: 'skipped: a script it depends on failed\n' })
    expect(existsSync(marker)).toBe(false)

    const other = await ShellSession.open(localSsh())
    const [a, failedUnmarked, b, ran] = await Promise.all([
      other.run('true', { failureMark: 'stage' }),
      other.run('exit 3'),
      other.run('true', { failureMark: 'stage' }),
      other.run('echo started', { skipIfFailed: 'stage' }),
    ])
    expect([a.code, failedUnmarked.code, b.code]).toEqual([0, 3, 0])
    expect(ran).toEqual({ code: 0, stdout: 'started\n', stderr: '' })
    expect(() => other.run('true', { failureMark: 'st$(reboot)' })).toThrow(/lower-case letters/)
    session.close()
    other.close()
  })

  it('passes fd 3 notices to the script that is running, not to the one queued behind it', async () => {
    const session = await ShellSession.open(localSsh())
    const first: string[] = []
    const second: string[] = []
    const [a, b] = await Promise.all([
      session.run('echo waiting >&3; sleep 0.2; echo held=1', { onStdout: (text) => first.push(text) }),
      session.run('echo own >&3; echo done=1', { onStdout: (text) => second.push(text) }),
    ])
    expect(first.join('')).toBe('waiting\n')
    expect(second.join('')).toBe('own\n')
    expect([a.stdout, b.stdout]).toEqual(['held=1\n', 'done=1\n'])
    session.close()
  })

  it('keeps its answers in a temp dir that goes when the session ends', async () => {
    const session = await ShellSession.open(localSsh())
    const dir = (await session.run('echo "$ZDD_TMP"')).stdout.trim()
    expect(existsSync(dir)).toBe(true)
    session.close()
    for (let i = 0; i < 50 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 20))
    expect(existsSync(dir)).toBe(false)
  })

  it('once the remote shell has ended, run fails instead of hanging', async () => {
    const session = await ShellSession.open(localSsh())
    await session.run('true')
    session.close()
    await new Promise((r) => setTimeout(r, 200))
    await expect(session.run('echo late')).rejects.toThrow(/remote shell ended/)
  })
})

describe('ShellSession with a library', () => {
  const LIBRARY = `\ngreet() { echo "hello $1"; }\n`
  const script = (name: string) => shellScript({ NAME: name }, `${LIBRARY}greet "$NAME"`)

  it('defines the library once; each script carrying it runs with its functions and is sent without it', async () => {
    let sent = ''
    const ssh = localSsh()
    const execCommand = ssh.execCommand.bind(ssh)
    ssh.execCommand = ((command: string, options: { stdin?: PassThrough }) => {
      options.stdin?.on('data', (chunk: Buffer) => (sent += chunk.toString()))
      return execCommand(command, options as never)
    }) as typeof ssh.execCommand
    const session = await ShellSession.open(ssh, LIBRARY)
    const answers = await Promise.all(['one', 'two', 'three'].map((name) => session.run(script(name))))
    expect(answers.map((a) => a.stdout)).toEqual(['hello one\n', 'hello two\n', 'hello three\n'])
    expect(sent.split(LIBRARY).length - 1).toBe(1)
    session.close()
  })

  it('a value that holds the library text is sent whole: only the script body loses its copy', () => {
    const hostile = shellScript({ NAME: `x${LIBRARY}y` }, `${LIBRARY}greet "$NAME"`)
    const sent = withoutLibrary(hostile, LIBRARY)
    expect(sent).toBe(`set -u\nNAME='x${LIBRARY}y'\ngreet "$NAME"\n`)
    expect(withoutLibrary('echo plain', LIBRARY)).toBe('echo plain')
    expect(withoutLibrary(hostile, '')).toBe(hostile)
  })

  it("the action's scripts carry the shell library in a form the session leaves out", () => {
    const script = stopScript({ deployDir: '/srv/app', port: 8081, drainSeconds: 0, stopTimeoutSeconds: 5 })
    expect(withoutLibrary(script, SHELL_LIB).length).toBe(script.length - SHELL_LIB.length + 1)
  })
})
