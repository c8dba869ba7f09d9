/** The action's log: GitHub's log groups for one host, and a group per host and phase in a fleet. */
import * as core from '@actions/core'

export interface Log {
  info(message: string): void
  warning(message: string): void
  /** Shown at once, even where a host's other lines wait for the end of its phase: whom a wait is for. */
  progress(message: string): void
  /** Runs `work` inside a collapsible log group. */
  group<T>(title: string, work: () => Promise<T>): Promise<T>
}

/** One host's log, printed as it happens: a group per step. */
export function actionsLog(): Log {
  return {
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    progress: (message) => core.info(message),
    group: (title, work) => core.group(title, work),
  }
}

/** A host's log in a fleet: its lines wait, so that each host's phase reads as one group of its own. */
export interface HostLog extends Log {
  /** Prints what the host logged since the last flush as one group, under `title`. */
  flush(title: string): void
}

/**
 * The warnings of a fleet's hosts, by text. Hosts set up alike give the same warning (no systemd,
 * no lingering), and 32 annotations of one text would bury every other (GitHub shows only the
 * first few of a step): a text is annotated once, at once, for the first host that gives it, and
 * `summarize` names the other hosts that gave it too.
 */
export class FleetWarnings {
  private readonly hostsByText = new Map<string, string[]>()

  /** Records that `host` gave warning `message`; true when no host gave that text before. */
  firstFor(message: string, host: string): boolean {
    const hosts = this.hostsByText.get(message)
    if (hosts) {
      hosts.push(host)
      return false
    }
    this.hostsByText.set(message, [host])
    return true
  }

  /** One annotation for each text that more than one host gave, naming the others. */
  summarize(): void {
    for (const [message, [first, ...others]] of this.hostsByText) {
      if (others.length === 0) continue
      const firstLine = message.split('\n')[0]
      core.warning(
        `${others.length} more ${others.length === 1 ? 'host' : 'hosts'} gave the warning shown for ${first} (${others.join(', ')}): ${firstLine}`,
      )
    }
  }
}

/**
 * Many hosts stage at once; their lines, interleaved, would be unreadable. Each host's lines are
 * kept until its phase ends, then printed as one collapsible group headed by the host and the
 * phase's outcome. Warnings are also shown at once, as annotations, since they may call for action
 * (once for a text that several hosts give, with `warnings`).
 */
export function hostLog(prefix: string, warnings?: FleetWarnings): HostLog {
  let lines: string[] = []
  const tag = (message: string) =>
    message
      .split('\n')
      .map((line) => `[${prefix}] ${line}`)
      .join('\n')
  return {
    info: (message) => {
      lines.push(message)
    },
    warning: (message) => {
      lines.push(`Warning: ${message}`)
      if (!warnings || warnings.firstFor(message, prefix)) core.warning(tag(message))
    },
    progress: (message) => {
      lines.push(message)
      core.info(tag(message))
    },
    group: async (title, work) => {
      lines.push(`${title}:`)
      return work()
    },
    flush: (title) => {
      core.startGroup(`${prefix}: ${title}`)
      if (lines.length > 0) core.info(lines.join('\n'))
      core.endGroup()
      lines = []
    },
  }
}
