/**
 * ssh2 writes each packet in pieces; the transport corks its socket until the end of the tick, so
 * that they leave in one system call (src/ssh/transport.ts, coalesceWrites).
 */
import { connect, createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { coalesceWrites } from '../../src/ssh/transport.js'

const open: Array<{ close(): void }> = []
afterEach(() => {
  for (const thing of open.splice(0)) thing.close()
})

async function connectedPair(): Promise<{ client: Socket; received: () => Promise<Buffer> }> {
  const chunks: Buffer[] = []
  let ended: () => void = () => undefined
  const done = new Promise<void>((resolve) => (ended = resolve))
  const server = createServer((peer) => {
    peer.on('data', (chunk: Buffer) => chunks.push(chunk))
    peer.on('end', () => ended())
  })
  open.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const client = connect({ host: '127.0.0.1', port, noDelay: true })
  open.push({ close: () => client.destroy() })
  await new Promise<void>((resolve) => client.once('connect', resolve))
  return { client, received: () => done.then(() => Buffer.concat(chunks)) }
}

describe('coalesceWrites', () => {
  it('the writes of one tick leave in one writev, in order, and later ticks still flow', async () => {
    const { client, received } = await connectedPair()
    coalesceWrites(client)
    const writev = vi.spyOn(client as unknown as { _writev: (...args: unknown[]) => void }, '_writev')
    const write = vi.spyOn(client as unknown as { _write: (...args: unknown[]) => void }, '_write')
    client.write(Buffer.from('len:'))
    client.write(Buffer.from('payload:'))
    client.write(Buffer.from('mac'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(writev).toHaveBeenCalledTimes(1)
    expect(write).not.toHaveBeenCalled()
    client.write(Buffer.from('|next tick'))
    await new Promise((resolve) => setImmediate(resolve))
    client.end()
    expect((await received()).toString()).toBe('len:payload:mac|next tick')
  })
})
