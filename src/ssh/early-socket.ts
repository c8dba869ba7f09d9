/**
 * The TCP connection to the first host, opened while the action's bundle loads. Loading takes
 * longer than a TCP handshake plus sshd's start of a new session (20 ms on loopback, a network
 * round trip more from a hosted runner), so by the time ssh2 is ready the host's banner is waiting.
 * No byte is sent on it before the transport takes it over and checks the host key as always.
 */
import { connect, type Socket } from 'node:net'

let early: { host: string; port: number; socket: Socket } | undefined

/** Starts connecting. The socket does not keep the process alive until it is taken. */
export function connectEarly(destination: { host: string; port: number } | undefined): void {
  if (!destination) return
  const socket = connect({ ...destination, noDelay: true })
  // A failure here is met again, and reported, by the transport's own connection.
  socket.on('error', () => undefined)
  socket.unref()
  early = { ...destination, socket }
}

/** The early socket if it goes to this host and port and has not failed; only once. */
export function takeEarlySocket(host: string, port: number): Socket | undefined {
  if (!early || early.host !== host || early.port !== port) return undefined
  const { socket } = early
  early = undefined
  if (socket.destroyed || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') {
    socket.destroy()
    return undefined
  }
  socket.ref()
  return socket
}
