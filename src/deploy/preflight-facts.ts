/**
 * What dry-run asks the host (the preflight script's parameters, src/remote/preflight.ts) and what
 * came back, typed: the facts src/deploy/preflight.ts weighs. Also how a command line is read:
 * its program, and the words after sudo.
 */
import type { DeployConfig } from '../config/inputs.js'
import type { RemoteAnswer } from '../remote/protocol.js'
import type { PreflightParams } from '../remote/preflight.js'
import { withoutSudoForRoot } from './plan.js'

export interface SudoAnswer {
  verdict: 'allowed' | 'refused' | 'missing'
  /** The command's words, its program's full path first. */
  words: string[]
}

export interface PortHolder {
  port: number
  listening: boolean
  pid?: number
  /** Its command line, arguments joined by spaces. */
  command?: string
}

export interface PreflightFacts {
  /** Absolute path of the deploy dir on the host. */
  deployDir: string
  deployDirKind: 'dir' | 'other' | 'absent'
  /** The first of the deploy dir, releases, run and logs that exists and that the user cannot write. */
  deployDirBlocked?: string
  /** For a deploy dir yet to be made: its nearest existing parent, and whether the user may create in it. */
  parent?: string
  parentKind?: 'writable' | 'readonly' | 'other'
  freeBytes?: number
  http: 'curl' | 'wget' | 'none'
  /** Where start-command's program is, '' when it is not on the PATH; undefined when not looked for. */
  startProgramPath?: string
  include: { dirExists: boolean; exists: boolean; readable: boolean; write: 'user' | 'sudo'; tee?: SudoAnswer }
  test: { ok: boolean; output: string; sudo?: SudoAnswer }
  reload: { sudo?: SudoAnswer; programPath?: string }
  ports: PortHolder[]
}

export function readPreflightFacts(answer: RemoteAnswer): PreflightFacts {
  const { facts, lists, sections } = answer
  const sudo = (name: string): SudoAnswer | undefined => {
    const verdict = facts[`${name}_sudo`]
    return verdict ? { verdict: verdict as SudoAnswer['verdict'], words: lists[`${name}_word`] ?? [] } : undefined
  }
  const commands = new Map(
    (lists.port_command ?? []).map((line) => {
      const at = line.indexOf(' ')
      return [Number(line.slice(0, at)), line.slice(at + 1)] as const
    }),
  )
  return {
    deployDir: facts.deploy_dir ?? '',
    deployDirKind: (facts.deploy_dir_kind ?? 'absent') as PreflightFacts['deployDirKind'],
    deployDirBlocked: facts.deploy_dir_blocked || undefined,
    parent: facts.deploy_dir_parent,
    parentKind: facts.deploy_dir_parent_kind as PreflightFacts['parentKind'],
    freeBytes: /^\d+$/.test(facts.free_kb ?? '') ? Number(facts.free_kb) * 1024 : undefined,
    http: (facts.http ?? 'none') as PreflightFacts['http'],
    startProgramPath: facts.start_path,
    include: {
      dirExists: facts.include_dir === 'yes',
      exists: facts.include === 'present',
      readable: facts.include_readable === 'yes',
      write: facts.include_write === 'user' ? 'user' : 'sudo',
      tee: sudo('tee'),
    },
    test: { ok: facts.test === 'ok', output: sections.test_output ?? '', sudo: sudo('test') },
    reload: { sudo: sudo('reload'), programPath: facts.reload_path },
    ports: (lists.port ?? []).map((line) => {
      const [port, holder] = line.split(' ')
      const pid = /^\d+$/.test(holder ?? '') ? Number(holder) : undefined
      return { port: Number(port), listening: holder !== 'free', pid, command: commands.get(Number(port)) }
    }),
  }
}

/** Words a command line may start with before its program. */
const PREFIXES = new Set(['exec', 'nohup', 'env', 'command'])
/** Shell words that are no program: a command line that starts with one is not looked into. */
const SHELL_WORDS = new Set(['cd', '.', 'source', 'eval', 'set', 'export', 'if', 'for', 'while', 'until', 'case', '{', '!', ':', 'true'])

/** A command line that is more than one simple command: nothing in it can be asked of sudo alone. */
const compound = (command: string) => /[;&|<>`\n()]|\$\(/.test(command)

/**
 * The program a simple command line runs, when it can be told from the text: not for a compound
 * command, a word with quotes or expansions, or (`relative: false`) a path relative to another directory.
 */
export function programOf(command: string, { relative = true } = {}): string | undefined {
  if (compound(command)) return undefined
  const words = command.trim().split(/\s+/)
  let i = 0
  while (i < words.length && (PREFIXES.has(words[i]) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]))) i++
  const word = words[i]
  if (!word || SHELL_WORDS.has(word) || /["'$\\*?[\]{}~]/.test(word)) return undefined
  if (!relative && word.includes('/') && !word.startsWith('/')) return undefined
  return word
}

/** For `sudo [-n] <simple command>`: the words after sudo, as shell text. */
export function sudoArgsOf(command: string): string | undefined {
  if (compound(command)) return undefined
  const match = /^\s*sudo\s+(?:-n\s+)?([^-\s].*)$/s.exec(command)
  return match ? match[1].trim() : undefined
}

/** The preflight script's parameters for this configuration. */
export function preflightParams(config: DeployConfig): PreflightParams {
  const { testCommand, reloadCommand } = config.nginx
  const reloadAsRoot = withoutSudoForRoot(reloadCommand, true)
  const reloadSudo = sudoArgsOf(reloadCommand)
  return {
    deployDir: config.deployDir,
    include: config.nginx.include,
    ports: config.ports,
    startProgram: programOf(config.startCommand, { relative: false }) ?? '',
    testCommand,
    testCommandAsRoot: withoutSudoForRoot(testCommand, true),
    testSudoArgs: sudoArgsOf(testCommand) ?? '',
    reloadSudoArgs: reloadSudo ?? '',
    reloadProgram: reloadSudo === undefined ? (programOf(reloadCommand) ?? '') : '',
    reloadProgramAsRoot: sudoArgsOf(reloadAsRoot) === undefined ? (programOf(reloadAsRoot) ?? '') : '',
  }
}
