/**
 * A jump host's connection answers what it hears with SSH_MSG_IGNORE (src/ssh/prompt-ack.ts), so
 * that the runner's ACK leaves at once instead of after a delayed-ACK timeout. Against an ssh2
 * server in this process that relays direct-tcpip channels to an echo server, and counts the
 * IGNORE messages it receives.
 */
import { type AddressInfo, createServer, connect as tcpConnect } from 'node:net'
import { PassThrough } from 'node:stream'
import type { NodeSSH } from 'node-ssh'
import ssh2, { type Connection } from 'ssh2'
import { afterEach, describe, expect, it } from 'vitest'
import { acknowledgeAtOnce } from '../../src/ssh/prompt-ack.js'
import { RemoteHost } from '../../src/ssh/transport.js'

const { Server, utils } = ssh2
const HOST_KEY = utils.generateKeyPairSync('ed25519').private

const open: Array<{ close(): void }> = []
afterEach(() => {
  for (const thing of open.splice(0)) thing.close()
})

/**
 * A jump host that relays direct-tcpip channels, counting the IGNORE messages it is sent and its
 * replies to keepalive asks (sent every `keepaliveIntervalMs`, when given).
 */
async function jumpHost(keepaliveIntervalMs?: number) {
  const seen = { ignores: 0, replies: 0 }
  const debug = (line: string) => {
    if (/Received IGNORE/.test(line)) seen.ignores++
    if (/Outbound: Sending REQUEST_FAILURE/.test(line)) seen.replies++
  }
  const server = new Server({ hostKeys: [HOST_KEY], debug }, (client: Connection) => {
    client.on('error', () => undefined)
    client.on('authentication', (context) => context.accept())
    client.on('ready', () =>
      client.on('tcpip', (accept, _reject, info) => {
        const channel = accept()
        const target = tcpConnect(info.destPort, info.destIP)
        channel.pipe(target).pipe(channel)
        target.on('error', () => channel.destroy())
      }),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push(server)
  const echo = createServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  open.push(echo)
  const { port } = server.address() as AddressInfo
  const remote = await RemoteHost.connect({
    entry: { host: '127.0.0.1', port, username: 'jump', label: `jump@127.0.0.1:${port}` },
    auth: { password: 'secret' },
    hostKeys: { fingerprints: [], knownHosts: '', insecureSkip: true },
    connectTimeoutSeconds: 5,
    keepaliveIntervalMs,
  })
  open.push(remote)
  return { remote, seen, echoPort: (echo.address() as AddressInfo).port }
}

/** Sends `text` through `stream` and waits until it has come back whole. */
async function roundTrip(stream: NodeJS.ReadWriteStream, text: string): Promise<string> {
  let back = ''
  const done = new Promise<void>((resolve) =>
    stream.on('data', (chunk: Buffer) => {
      back += chunk.toString()
      if (back.length >= text.length) resolve()
    }),
  )
  stream.write(text)
  await done
  return back
}

describe('a jump host connection acknowledges what it hears at once', () => {
  it('after what comes back through a relayed channel, the runner sends an IGNORE; the data is untouched', async () => {
    const { remote, seen, echoPort } = await jumpHost()
    const before = seen.ignores
    const channel = await remote.forward('127.0.0.1', echoPort)
    const text = 'x'.repeat(20_000)
    expect(await roundTrip(channel, text)).toBe(text)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(seen.ignores).toBeGreaterThan(before)
    // Still one working connection: a second channel relays as the first did.
    const second = await remote.forward('127.0.0.1', echoPort)
    expect(await roundTrip(second, 'again')).toBe('again')
    channel.end()
    second.end()
  })

  it('a connection that relays nothing sends none, however much it hears', async () => {
    // Its keepalive asks are answered every 50 ms: something to hear, and nothing relayed.
    const { remote, seen, echoPort } = await jumpHost(50)
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(seen.ignores).toBe(0)
    expect(seen.replies).toBeGreaterThan(3)
    // Once it relays, what it hears is acknowledged.
    const channel = await remote.forward('127.0.0.1', echoPort)
    expect(await roundTrip(channel, 'hello')).toBe('hello')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(seen.ignores).toBeGreaterThan(0)
    channel.end()
  })
})

describe('acknowledgeAtOnce', () => {
  const fakeSsh = () => {
    const buffer = Buffer.alloc(64)
    const writer = { allocStart: 5, alloc: (length: number) => buffer.subarray(0, 5 + length), finalize: (packet: Buffer) => packet }
    return { connection: { _protocol: { _packetRW: { write: writer } } } } as unknown as NodeSSH
  }

  it('one IGNORE a tick, whatever arrives in it, with an empty payload string', async () => {
    const socket = new PassThrough()
    const sent: Buffer[] = []
    expect(acknowledgeAtOnce(fakeSsh(), socket, (_protocol, packet) => sent.push(Buffer.from(packet)))).toBe(true)
    socket.emit('data', Buffer.from('a'))
    socket.emit('data', Buffer.from('b'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent).toHaveLength(1)
    expect([...sent[0].subarray(5)]).toEqual([2, 0, 0, 0, 0])
    socket.emit('data', Buffer.from('c'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent).toHaveLength(2)
  })

  it("changes nothing where ssh2's packet writer is not there", () => {
    const socket = new PassThrough()
    expect(acknowledgeAtOnce({ connection: {} } as unknown as NodeSSH, socket, () => undefined)).toBe(false)
    expect(socket.listenerCount('data')).toBe(0)
  })
})
