/**
 * How the run reaches its hosts: directly, through a chain of jump hosts (`proxy-host: a,b`, as
 * OpenSSH's ProxyJump: each hop reached through the one before it), or through a `proxy-command`
 * started for each host. Whatever the way, each host's key (and each jump host's) is checked against
 * its pins inside its own handshake, and a failure that can pass is tried again (connect-retries).
 */
import type { Duplex } from 'node:stream'
import type { HostEntry } from '../config/hosts.js'
import type { DeployConfig, ProxyConfig } from '../config/inputs.js'
import { expandProxyCommand } from './expand-command.js'
import { startProxyCommand } from './proxy-command.js'
import { type Endpoint, RemoteHost } from './transport.js'

/** The jump hosts of a run, connected in order; hosts are reached through the last. */
export interface JumpChain {
  /** A stream to `entry` from the last jump host. */
  forward(entry: HostEntry): Promise<Duplex>
  close(): void
}

export interface ReachOptions {
  /** Where a retry's warning goes (the host's log in a fleet). */
  warn: (message: string) => void
  /** Masks the run's secrets in what a proxy command printed. */
  mask: (text: string) => string
}

/**
 * Connects to each jump host through the one before it. Each hop retries on its own; if one fails,
 * the hops already connected are closed and the error names the failing one.
 */
export async function connectJumpChain(config: DeployConfig, jumps: ProxyConfig[], options: ReachOptions): Promise<JumpChain> {
  const connected: RemoteHost[] = []
  try {
    for (const jump of jumps) {
      const previous = connected.at(-1)
      connected.push(
        await RemoteHost.connect({
          entry: jump.entry,
          auth: jump.auth,
          hostKeys: jump.hostKeys,
          connectTimeoutSeconds: config.connectTimeoutSeconds,
          retries: config.connectRetries,
          warn: options.warn,
          openSocket: previous ? () => previous.forward(jump.entry.host, jump.entry.port) : undefined,
        }),
      )
    }
  } catch (error) {
    for (const hop of connected.reverse()) hop.close()
    throw error
  }
  const last = connected.at(-1)!
  return {
    forward: (entry) => last.forward(entry.host, entry.port),
    close: () => {
      for (const hop of [...connected].reverse()) hop.close()
    },
  }
}

/** The command a host's proxy-command runs, its escapes replaced and each value quoted. */
export function proxyCommandFor(config: DeployConfig, entry: HostEntry): string {
  return expandProxyCommand(config.proxyCommand, { host: entry.host, port: entry.port, user: entry.username })
}

/** How to connect to one of the run's hosts: through the jump chain, a proxy command of its own, or directly. */
export function hostEndpoint(config: DeployConfig, entry: HostEntry, chain: JumpChain | undefined, options: ReachOptions): Endpoint {
  const openSocket = chain
    ? () => chain.forward(entry)
    : config.proxyCommand !== ''
      ? async () => startProxyCommand(proxyCommandFor(config, entry))
      : undefined
  return {
    entry,
    auth: config.auth,
    hostKeys: config.hostKeys,
    connectTimeoutSeconds: config.connectTimeoutSeconds,
    retries: config.connectRetries,
    warn: options.warn,
    mask: options.mask,
    openSocket,
  }
}
