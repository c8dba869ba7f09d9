/**
 * A TCP stream from a jump host to a target behind it. ssh2's forwardOut has no timer of its own:
 * a target that drops packets leaves the bastion's connect pending for its kernel's SYN retries
 * (about two minutes) before the channel is refused, so connect-timeout bounds it here.
 */
import type { Duplex } from 'node:stream'
import { ConnectionError, hostAndPort } from './errors.js'

/** The one call of node-ssh this needs, so that a test can stand in for the bastion. */
export interface ForwardingConnection {
  forwardOut(srcIP: string, srcPort: number, dstIP: string, dstPort: number): Promise<unknown>
}

export async function forwardThroughBastion(
  bastion: ForwardingConnection,
  bastionLabel: string,
  target: { host: string; port: number },
  timeoutSeconds: number,
): Promise<Duplex> {
  const where = hostAndPort(target.host, target.port)
  const opening = bastion.forwardOut('127.0.0.1', 0, target.host, target.port) as Promise<Duplex>
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // A channel that opens after we gave up would hold the bastion's connection open for nothing.
      opening.then((channel) => channel.destroy()).catch(() => undefined)
      const timedOut = Object.assign(new Error('forward timed out'), { code: 'ETIMEDOUT' })
      reject(
        new ConnectionError(
          `${where}: no connection through the jump host ${bastionLabel} within ${timeoutSeconds} s (connect-timeout): the jump host is connected, but the target behind it did not answer. Check that the target is up, that the address and port are right as the bastion sees them, and that a firewall or security group lets the bastion reach port ${target.port}.`,
          { cause: timedOut },
        ),
      )
    }, timeoutSeconds * 1000)
  })
  try {
    return await Promise.race([opening, expired])
  } catch (error) {
    if (error instanceof ConnectionError) throw error
    throw new ConnectionError(
      `${where}: the jump host ${bastionLabel} could not open a connection to the target (${(error as Error).message}). Check that the bastion's sshd allows TCP forwarding (AllowTcpForwarding yes) and can reach that address.`,
      { cause: error },
    )
  } finally {
    clearTimeout(timer)
  }
}
