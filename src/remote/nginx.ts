/** The switch: point nginx's include at a port, safely, and make sure nginx took it. */
import { shellScript } from './quote.js'
import { HANDOVER_SH, SWITCH_SH } from './sh/generated.js'
import { SHELL_LIB } from './shell-lib.js'

export interface SwitchParams {
  include: string
  /** The include's new text. */
  content: string
  /**
   * The http-level file traffic control owns (see traffic.ts), written before the include in the
   * same way, tested with it and put back with it. A file that was not there before is left empty
   * when it is put back through `sudo -n tee`, and removed otherwise.
   */
  httpFile?: { path: string; content: string }
  testCommand: string
  reloadCommand: string
  /**
   * Text that narrows the nginx masters to watch to those whose command line holds it (the reload
   * command's -c path), or '' for every master. Of those, the one that replaces its workers after
   * the reload is the one the reload signalled.
   */
  masterHint: string
  verifyUrl: string
  verifyTimeoutSeconds: number
  intervalSeconds: number
  /** How long to wait for the reload to take effect. */
  reloadTimeoutSeconds: number
  /** The release's state file (RELEASE_STATE_FILE), set to `served` once the switch has succeeded; '' to leave it as it is. */
  releaseStateFile: string
}

/** What a reload command of the form `[sudo -n] nginx [-p DIR] [-c FILE] ... -s reload` runs. */
export interface NginxSignaller {
  /** The nginx binary, as the command names it. */
  binary: string
  /** Its -c and -p, '' when absent (nginx's built-in defaults then). */
  conf: string
  prefix: string
  /** Run through sudo: the master is then not the deploy user's to signal. */
  sudo: boolean
}

/**
 * `nginx -s reload` signals the master whose pid is in the pid file its configuration names: for
 * such a command, that master alone can confirm the reload. Anything else (systemctl, a script, a
 * container's exec, an -g that may move the pid file) is left to the watch of every master, since
 * what it signals cannot be told from the command.
 */
export function nginxSignaller(reloadCommand: string): NginxSignaller | undefined {
  // Quoted text is a word as it stands, unless it is double-quoted and may expand.
  if (/[;&|`$()<>\\\n*?[\]{}~#=]/.test(reloadCommand.replace(/'[^']*'/g, "''"))) return undefined
  const words = [...reloadCommand.trim().matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])
  let i = 0
  const sudo = words[0] === 'sudo'
  if (sudo) {
    i = 1
    if (words[i] === '-n') i++
  }
  const binary = words[i++]
  if (!binary || !/(^|\/)nginx$/.test(binary)) return undefined
  const found: NginxSignaller = { binary, conf: '', prefix: '', sudo }
  let reload = false
  while (i < words.length) {
    const word = words[i++]
    const value = words[i]
    if (word === '-q') continue
    if (value === undefined) return undefined
    i++
    if (word === '-s' && value === 'reload') reload = true
    else if (word === '-c') found.conf = value
    else if (word === '-p') found.prefix = value
    else if (word === '-g' && !/\bpid\b/.test(value)) continue
    else if (word !== '-e') return undefined
  }
  return reload ? found : undefined
}

/** What a shell runs itself, or reads as syntax, where a command's first word stands. */
const SHELL_WORDS = new Set(
  (
    '. : [ alias bg break case cd command continue do done echo elif else esac eval exec exit export false fg fi for ' +
    'function getopts hash if in jobs kill local printf pwd read readonly return select set shift test then time times ' +
    'trap true type ulimit umask unalias unset until wait while'
  ).split(' '),
)

/**
 * A command line of words alone: no operator, redirection, expansion, assignment or pattern, and a
 * program first, not a shell builtin. `exec` runs it in place of the subshell that would run it,
 * which saves a process on every switch.
 */
export function plainCommand(command: string): boolean {
  const unquoted = command.replace(/'[^']*'/g, "''")
  if (/[;&|`$()<>\\\n*?[\]{}~#=!]/.test(unquoted)) return false
  const first = /^\s*(\S+)/.exec(command)?.[1]
  return first !== undefined && !SHELL_WORDS.has(first.replace(/["']/g, ''))
}

export const SWITCH_EXIT = { writeFailed: 60, testFailed: 61, reloadFailed: 62, notTaken: 63, verifyFailed: 64 } as const

/**
 * Writes the new include (and first the http-level file, when given), tests the configuration
 * (restoring the old include and http-level file byte for byte if the test fails), reloads, waits until the nginx master that the reload signalled runs new workers,
 * then fetches the verify URL (once the old workers take no new connection). If that fails, the
 * old include is put back and nginx reloaded again (`rolled_back=yes`). The answer names the old
 * workers (`old_workers`): before anything stops the port they served, `handoverScript` waits for them.
 *
 * A user who can write the include's directory gets the new include written beside the old one and
 * moved into place. Anyone else goes through `sudo -n tee <include>` and nothing more, so that one
 * narrow sudoers rule is enough: the include is written in place and the old text is kept by the
 * script itself, to be written back with the same command.
 */
export function switchScript(p: SwitchParams): string {
  const signaller = nginxSignaller(p.reloadCommand)
  return shellScript(
    {
      INCLUDE: p.include,
      CONTENT: p.content,
      HTTP_FILE: p.httpFile?.path ?? '',
      HTTP_CONTENT: p.httpFile?.content ?? '',
      TEST_COMMAND: p.testCommand,
      TEST_PLAIN: plainCommand(p.testCommand) ? 'yes' : '',
      RELOAD_COMMAND: p.reloadCommand,
      RELOAD_PLAIN: plainCommand(p.reloadCommand) ? 'yes' : '',
      MASTER_HINT: p.masterHint,
      VERIFY_URL: p.verifyUrl,
      VERIFY_TIMEOUT: Math.ceil(p.verifyTimeoutSeconds),
      INTERVAL: p.intervalSeconds,
      RELOAD_TIMEOUT: Math.ceil(p.reloadTimeoutSeconds),
      RELEASE_STATE_FILE: p.releaseStateFile,
      NGINX_BIN: signaller?.binary ?? '',
      NGINX_CONF: signaller?.conf ?? '',
      NGINX_PREFIX: signaller?.prefix ?? '',
      SIGNAL_RELOAD: signaller && !signaller.sudo ? 'yes' : '',
      EXIT_WRITE_FAILED: SWITCH_EXIT.writeFailed,
      EXIT_TEST_FAILED: SWITCH_EXIT.testFailed,
      EXIT_RELOAD_FAILED: SWITCH_EXIT.reloadFailed,
      EXIT_NOT_TAKEN: SWITCH_EXIT.notTaken,
      EXIT_VERIFY_FAILED: SWITCH_EXIT.verifyFailed,
    },
    `${SHELL_LIB}\n${SWITCH_SH}`,
  )
}

/**
 * Waits (up to `timeoutSeconds`) until the old nginx workers a switch named take no new
 * connection: then every new request goes to the port the include names.
 */
export function handoverScript(oldWorkers: string, timeoutSeconds: number): string {
  return shellScript({ OLD_WORKERS: oldWorkers, TIMEOUT: Math.ceil(timeoutSeconds) }, `${SHELL_LIB}\n${HANDOVER_SH}`)
}
