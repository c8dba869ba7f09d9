/** The connection opened while the action loads: taken once, by the right host, only while usable. */
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { connectEarly, takeEarlySocket } from '../../src/ssh/early-socket.js'

const servers: Server[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
})

/** A server that greets like sshd: its banner first. */
async function greeter(): Promise<number> {
  const server = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.9\r\n'))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100))

describe('early socket', () => {
  it('hands the connection to the transport once, with what the host sent meanwhile still unread', async () => {
    const port = await greeter()
    connectEarly({ host: '127.0.0.1', port })
    await settle()
    const socket = takeEarlySocket('127.0.0.1', port)
    expect(socket).toBeDefined()
    sockets.push(socket!)
    const banner = await new Promise<string>((resolve) => socket!.once('data', (data) => resolve(data.toString())))
    expect(banner).toBe('SSH-2.0-OpenSSH_9.9\r\n')
    expect(takeEarlySocket('127.0.0.1', port)).toBeUndefined()
  })

  it('is not handed to a connection for another host or port', async () => {
    const port = await greeter()
    connectEarly({ host: '127.0.0.1', port })
    expect(takeEarlySocket('127.0.0.1', port + 1)).toBeUndefined()
    expect(takeEarlySocket('localhost', port)).toBeUndefined()
    const socket = takeEarlySocket('127.0.0.1', port)
    expect(socket).toBeDefined()
    sockets.push(socket!)
  })

  it('is not handed over once it has failed: the transport connects anew and reports that failure itself', async () => {
    const port = await greeter()
    await new Promise((resolve) => servers.pop()!.close(resolve))
    connectEarly({ host: '127.0.0.1', port })
    await settle()
    expect(takeEarlySocket('127.0.0.1', port)).toBeUndefined()
  })

  it('opens nothing without a destination', () => {
    connectEarly(undefined)
    expect(takeEarlySocket('127.0.0.1', 22)).toBeUndefined()
  })
})
