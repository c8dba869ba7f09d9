/** The inspection of the host's state (the deploy lock is in lock.ts). */
import { shellScript } from './quote.js'
import { SHELL_LIB } from './shell-lib.js'
import { RELEASE_STATE_FILE } from './release.js'
import { INSPECT_SH } from './sh/generated.js'

export interface InspectParams {
  deployDir: string
  include: string
  ports: [number, number]
  /** Create the layout and clear upload leftovers (not in dry-run and status, which change nothing). */
  prepare: boolean
  /**
   * Report whether something listens on each port (for a plan or a status). A deploy need not
   * know: freeing the idle port finds and names whatever holds it, and the kernel's tables are
   * costly to read (see port_in_use).
   */
  checkListeners: boolean
  /** Check that `java` is on PATH (when the start command runs java). */
  needJava: boolean
  /** Names the app's systemd units, whose state is reported when the host runs systemd. */
  appName: string
}

/**
 * One round trip that tells everything a run needs to decide: who we are, which tools exist,
 * whether the deploy dir is writable and has room, the releases, what runs on each port, and the
 * include's text.
 */
export function inspectScript(p: InspectParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      INCLUDE: p.include,
      PORT_A: p.ports[0],
      PORT_B: p.ports[1],
      PREPARE: p.prepare ? 1 : 0,
      CHECK_LISTENERS: p.checkListeners ? 1 : 0,
      NEED_JAVA: p.needJava ? 1 : 0,
      APP_NAME: p.appName,
      RELEASE_STATE_FILE,
    },
    `${SHELL_LIB}\n${INSPECT_SH}`,
  )
}
