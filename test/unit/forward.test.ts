/**
 * The jump host's forward (src/ssh/forward.ts), with a stand-in for the bastion's connection: one
 * that never answers, as ssh2's forwardOut does while the bastion waits on a target that drops packets.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ConnectionError } from '../../src/ssh/errors.js'
import { forwardThroughBastion } from '../../src/ssh/forward.js'

const TARGET = { host: '10.0.0.11', port: 2222 }
const BASTION = 'jump@bastion.example:22'

describe('forwardThroughBastion', () => {
  it('gives up after connect-timeout when the bastion never opens the channel, naming the target and the bastion', async () => {
    const bastion = { forwardOut: () => new Promise<never>(() => undefined) }
    const started = performance.now()
    const error = await forwardThroughBastion(bastion, BASTION, TARGET, 0.3).catch((e: unknown) => e)
    const ms = performance.now() - started
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as Error).message).toMatch(
      /^10\.0\.0\.11:2222: no connection through the jump host jump@bastion\.example:22 within 0\.3 s \(connect-timeout\)/,
    )
    expect(ms).toBeGreaterThanOrEqual(290)
    expect(ms).toBeLessThan(2000)
  })

  it('closes a channel that opens after it gave up', async () => {
    const late = new PassThrough()
    let open: (channel: PassThrough) => void = () => undefined
    const bastion = { forwardOut: () => new Promise<PassThrough>((resolve) => (open = resolve)) }
    await expect(forwardThroughBastion(bastion, BASTION, TARGET, 0.1)).rejects.toThrow(/connect-timeout/)
    open(late)
    await new Promise((resolve) => setImmediate(resolve))
    expect(late.destroyed).toBe(true)
  })

  it('hands over the channel when the bastion opens it in time', async () => {
    const channel = new PassThrough()
    const asked: unknown[] = []
    const bastion = {
      forwardOut: (...args: unknown[]) => {
        asked.push(args)
        return new Promise((resolve) => setTimeout(() => resolve(channel), 20))
      },
    }
    expect(await forwardThroughBastion(bastion, BASTION, TARGET, 5)).toBe(channel)
    expect(asked).toEqual([['127.0.0.1', 0, '10.0.0.11', 2222]])
    expect(channel.destroyed).toBe(false)
  })

  it('a refused channel says what to check on the bastion', async () => {
    const bastion = { forwardOut: () => Promise.reject(new Error('(SSH) Channel open failure: administratively prohibited')) }
    await expect(forwardThroughBastion(bastion, BASTION, TARGET, 5)).rejects.toThrow(
      /^10\.0\.0\.11:2222: the jump host jump@bastion\.example:22 could not open a connection to the target \(.*administratively prohibited\)\. .*AllowTcpForwarding yes/,
    )
  })
})
