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
 * Many hosts stage at once; their lines, interleaved, would be unreadable. Each host's lines are
 * kept until its phase ends, then printed as one collapsible group headed by the host and the
 * phase's outcome. Warnings are also shown at once, as annotations, since they may call for action.
 */
export function hostLog(prefix: string): HostLog {
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
      core.warning(tag(message))
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
