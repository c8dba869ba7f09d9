/** The action's log: GitHub's log groups for one host at a time, prefixed lines when hosts overlap. */
import * as core from '@actions/core'

export interface Log {
  info(message: string): void
  warning(message: string): void
  /** Runs `work` inside a collapsible log group. */
  group<T>(title: string, work: () => Promise<T>): Promise<T>
}

export function actionsLog(prefix = ''): Log {
  if (prefix === '') {
    return {
      info: (message) => core.info(message),
      warning: (message) => core.warning(message),
      group: (title, work) => core.group(title, work),
    }
  }
  const tag = (message: string) =>
    message
      .split('\n')
      .map((line) => `[${prefix}] ${line}`)
      .join('\n')
  return {
    info: (message) => core.info(tag(message)),
    warning: (message) => core.warning(tag(message)),
    group: async (title, work) => {
      core.info(tag(`${title}`))
      return work()
    },
  }
}
