/**
 * A jump host's sshd relays each target's answers over the runner's connection, which keeps Nagle's
 * algorithm on: sshd turns it off when a session starts (a command, a shell), and a connection that
 * only forwards has none. Right after it
 * forwards a script it writes the runner a small packet of its own (a channel window adjust), and
 * an answer written while that packet is unacknowledged waits for the runner's ACK, which Linux
 * delays by up to 40 ms when the runner has nothing to send. Every step through a jump host took
 * 25 to 45 ms longer than directly, and a fleet's switch waves, one after another, 16 ms each.
 *
 * So the runner answers whatever the jump host sends with a one-way packet, SSH_MSG_IGNORE, in the
 * same tick: the ACK leaves with it at once. The jump host's sshd discards it. ssh2 has no public
 * call that sends one; this uses its packet writer, and does nothing where that is not as expected.
 */
import type { Duplex } from 'node:stream'
import type { NodeSSH } from 'node-ssh'
import ssh2Utils from 'ssh2/lib/protocol/utils.js'

const SSH_MSG_IGNORE = 2

/** What of ssh2's Protocol this needs: its packet writer, and the object its sendPacket takes. */
interface PacketWriter {
  allocStart: number
  alloc(payloadLength: number): Buffer
  finalize(packet: Buffer): Buffer
}
type Sender = (protocol: object, packet: Buffer) => unknown

/** The connection's protocol and writer, or undefined where ssh2's internals are not as expected. */
function packetWriter(ssh: NodeSSH): { protocol: object; writer: PacketWriter } | undefined {
  const protocol = (ssh.connection as unknown as { _protocol?: { _packetRW?: { write?: PacketWriter } } } | null)?._protocol
  const writer = protocol?._packetRW?.write
  if (!protocol || typeof writer?.alloc !== 'function' || typeof writer.finalize !== 'function') return undefined
  return { protocol, writer }
}

/**
 * Sends an SSH_MSG_IGNORE on `ssh` once in the tick after any data arrives on `socket` (its
 * transport). Returns false, and changes nothing, where ssh2's packet writer cannot be found.
 */
export function acknowledgeAtOnce(ssh: NodeSSH, socket: Duplex, send: Sender | undefined = ssh2Utils.sendPacket): boolean {
  const found = packetWriter(ssh)
  if (!found || typeof send !== 'function') return false
  const { protocol, writer } = found
  let scheduled = false
  socket.on('data', () => {
    if (scheduled) return
    scheduled = true
    setImmediate(() => {
      scheduled = false
      try {
        const at = writer.allocStart
        // The payload: the message number and an empty string (its length, 0).
        const packet = writer.alloc(1 + 4)
        packet[at] = SSH_MSG_IGNORE
        packet.writeUInt32BE(0, at + 1)
        send(protocol, writer.finalize(packet))
      } catch {
        // The connection is closing; whatever ends it is reported where it is used.
      }
    })
  })
  return true
}
