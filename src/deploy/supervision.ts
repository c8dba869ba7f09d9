/** Which supervisor runs the instances on a host: the `supervisor` input weighed against what the host offers. */
import type { Supervisor } from '../config/inputs.js'
import type { UnitTarget } from '../remote/systemd.js'
import type { HostState } from './host-state.js'

export interface Supervision {
  /** How this run starts instances. */
  mode: 'systemd' | 'none'
  /** The units new instances start as (mode systemd). */
  start?: UnitTarget
  /**
   * The host's units of this app, whatever the mode: an instance the run stops is stopped and
   * disabled as a unit too, so a host moved from units back to detached never gets one back at boot.
   */
  existing?: UnitTarget
  /** Why `auto` starts detached, and what to do about it. */
  warning?: string
  /** Why `systemd` cannot be used on this host: the run stops before anything is stopped. */
  refusal?: string
}

export function supervisionOf(supervisor: Supervisor, appName: string, state: HostState): Supervision {
  const user = state.user || 'the remote user'
  const scope = state.isRoot ? 'system' : 'user'
  const existing: UnitTarget | undefined = state.systemd
    ? { scope, appName, runtimeDir: `/run/user/${state.uid ?? 0}`, deployDir: state.deployDir }
    : undefined
  if (supervisor === 'none') return { mode: 'none', existing }
  const detached = 'so the service runs detached: it will not come back after a crash or a reboot.'
  const linger = `sudo loginctl enable-linger ${user}`
  if (!state.systemd) {
    return supervisor === 'systemd'
      ? {
          mode: 'none',
          refusal:
            'supervisor is "systemd", but the host does not run systemd (/run/systemd/system is absent). Set supervisor to auto or none to start the service detached, or deploy to a host that runs systemd. Nothing was stopped or started.',
        }
      : {
          mode: 'none',
          warning: `The host does not run systemd (/run/systemd/system is absent), ${detached} Deploy to a host with systemd to have it restarted, or set supervisor: none to start it detached without this warning.`,
        }
  }
  if (!state.isRoot && !state.linger) {
    const why = `user "${user}" is not root, so its instances would be units of its own systemd manager, and lingering is not enabled for it: without lingering its units stop at logout and do not start at boot.`
    return supervisor === 'systemd'
      ? {
          mode: 'none',
          existing,
          refusal: `supervisor is "systemd", but ${why} Run "${linger}" on the host, then deploy again. Nothing was stopped or started.`,
        }
      : {
          mode: 'none',
          existing,
          warning: `User "${user}" has no lingering on the host, ${detached} Run "${linger}" on the host and the next deploy runs it as a systemd unit (or set supervisor: none to start it detached without this warning).`,
        }
  }
  return { mode: 'systemd', start: existing, existing }
}
