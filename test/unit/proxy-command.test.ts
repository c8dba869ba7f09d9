/**
 * The proxy command's process (src/ssh/proxy-command.ts): its stdin and stdout are the stream, its
 * early end is explained with its stderr, and ending the stream ends it with all it started.
 */
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { startProxyCommand } from '../../src/ssh/proxy-command.js'

describe('startProxyCommand', () => {
  it('carries bytes both ways through the command', async () => {
    const stream = startProxyCommand('cat')
    const received: Buffer[] = []
    stream.on('data', (chunk: Buffer) => received.push(chunk))
    stream.write('SSH-2.0-test\r\n')
    await sleep(200)
    expect(Buffer.concat(received).toString()).toBe('SSH-2.0-test\r\n')
    stream.destroy()
  })

  it('a command that ends on its own: named, with its exit code and its last lines on stderr, masked', async () => {
    const stream = startProxyCommand("sh -c 'echo starting >&2; echo no route to i-0abc with token s3cr3t >&2; exit 1'")
    stream.resume()
    await new Promise((resolve) => stream.once('close', resolve))
    const error = await stream.endedOnItsOwn((text) => text.split('s3cr3t').join('***'))
    expect(error?.message).toBe(
      `the proxy-command "sh -c 'echo starting >&2; echo no route to i-0abc with token *** >&2; exit 1'" exited with code 1 before the SSH handshake. Its last lines on stderr:\n  starting\n  no route to i-0abc with token ***`,
    )
    expect(error?.exitCode).toBe(1)
  })

  it('a command not found: exit 127, said so', async () => {
    const stream = startProxyCommand('no-such-command-zdd %h')
    stream.resume()
    await new Promise((resolve) => stream.once('close', resolve))
    const error = await stream.endedOnItsOwn((text) => text)
    expect(error?.message).toMatch(
      /exited with code 127 \(command not found\) before the SSH handshake\. Its last lines on stderr:\n {2}.*not found/,
    )
  })

  it('ending the stream ends the command and everything it started; an end of ours is not the command failing', async () => {
    const stream = startProxyCommand('sleep 300 & echo $! >&2; sleep 301')
    await sleep(300)
    expect(execFileSync('sh', ['-c', "pgrep -f '^sleep 30[01]$' || true"], { encoding: 'utf8' }).trim().split('\n')).toHaveLength(2)
    stream.destroy()
    await sleep(300)
    expect(execFileSync('sh', ['-c', "pgrep -f '^sleep 30[01]$' || true"], { encoding: 'utf8' }).trim()).toBe('')
    expect(await stream.endedOnItsOwn((text) => text)).toBeUndefined()
  })

  it('a command that goes on after its input closed is ended all the same', async () => {
    const stream = startProxyCommand('exec sleep 304')
    stream.resume()
    await sleep(200)
    stream.end()
    await new Promise((resolve) => stream.once('close', resolve))
    await sleep(100)
    expect(execFileSync('sh', ['-c', "pgrep -f '^sleep 304$' || true"], { encoding: 'utf8' }).trim()).toBe('')
  })
})
