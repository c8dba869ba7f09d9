/**
 * dry-run's look at what a deploy will need, in one round trip that changes nothing: one fact per
 * check (src/deploy/preflight.ts turns them into the checklist). Nothing here writes, creates or
 * reloads: the include's write and the reload are asked of sudo with `sudo -n -l`, which runs nothing.
 */
import { shellScript } from './quote.js'
import { PREFLIGHT_SH } from './sh/generated.js'
import { SHELL_LIB } from './shell-lib.js'

export interface PreflightParams {
  deployDir: string
  include: string
  ports: [number, number]
  /** The program start-command runs ('' when it cannot be told before the upload). */
  startProgram: string
  /** nginx-test-command as the switch runs it for a user that is not root, and for root (no `sudo -n`). */
  testCommand: string
  testCommandAsRoot: string
  /** For each command: the words after `sudo [-n]` when it is one simple sudo command ('' otherwise), as shell text. */
  testSudoArgs: string
  reloadSudoArgs: string
  /** The program of nginx-reload-command when it is one simple command without sudo ('' otherwise), for a user and for root. */
  reloadProgram: string
  reloadProgramAsRoot: string
}

export function preflightScript(p: PreflightParams): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      INCLUDE: p.include,
      PORT_A: p.ports[0],
      PORT_B: p.ports[1],
      START_PROGRAM: p.startProgram,
      TEST_COMMAND: p.testCommand,
      TEST_COMMAND_ROOT: p.testCommandAsRoot,
      TEST_SUDO: p.testSudoArgs,
      RELOAD_SUDO: p.reloadSudoArgs,
      RELOAD_PROGRAM: p.reloadProgram,
      RELOAD_PROGRAM_ROOT: p.reloadProgramAsRoot,
    },
    `${SHELL_LIB}\n${PREFLIGHT_SH}`,
  )
}
