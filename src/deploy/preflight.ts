/**
 * dry-run's checklist: the facts the preflight script (src/remote/preflight.ts) reports, and what
 * the inspection saw, turned into one line per check, each problem with the exact fix. Pure: the
 * same facts give the same words.
 */
import type { DeployConfig } from '../config/inputs.js'
import { shellQuote } from '../remote/quote.js'
import { renderInclude, withoutSudoForRoot } from './plan.js'
import { type PreflightFacts, type SudoAnswer, programOf } from './preflight-facts.js'
import type { CheckResult } from './report.js'
import { runsJarLike } from './same-service.js'

/** What the checks weigh besides the script's facts: the inputs, the artifact, and what the inspection saw. */
export interface PreflightContext {
  config: Pick<DeployConfig, 'appName' | 'ports' | 'startCommand' | 'supervisor' | 'nginx'> & { insecureSkip: boolean }
  user: string
  isRoot: boolean
  artifact: { fileName: string; size: number }
  /** A release on the host holds the artifact already: nothing is uploaded. */
  reused: boolean
  /** From the inspection: systemd runs on the host, and lingering for the user. */
  systemd: boolean
  linger: boolean
  /** The pair's ports where our instance runs, with its pid and release. */
  ours: { port: number; pid?: number; release?: string }[]
  /** The port nginx serves now, if one of the pair. */
  active?: number
  /** Takes secrets out of a stranger's command line. */
  redact: (commandLine: string) => string
}

/** A path in a shell command the user copies: quoted only when it needs to be. */
const word = (text: string) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(text) ? text : shellQuote(text))
/** A word in a sudoers rule: sudoers' own special characters escaped. */
const sudoersWord = (text: string) => text.replace(/[\\,:=]/g, (c) => `\\${c}`)
const SUDOERS_FILE = '/etc/sudoers.d/zero-downtime-deploy'

/** The fix for a command sudo does not allow: the rule to add, in the file the README names. */
function sudoersFix(user: string, answer: SudoAnswer, orElse = ''): string {
  const line = `${user} ALL=(root) NOPASSWD: ${answer.words.map(sudoersWord).join(' ')}`
  const install = answer.verdict === 'missing' ? 'Install sudo, then add' : 'Add'
  return `${install} this line to ${SUDOERS_FILE} (with "sudo visudo -f ${SUDOERS_FILE}"): "${line}"${orElse}.`
}

/** Where a program was found on the PATH, unless it was named by its path. */
const found = (program: string, path: string) => (program === path ? `${program} exists` : `${program} is ${path}`)
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`
/** Room a new release needs beyond its own size, as the deploy asks (checkHostReady). */
const SPARE_BYTES = 16 * 1024 * 1024

const ok = (check: string, note: string): CheckResult => ({ check, ok: true, note })
const problem = (check: string, text: string, fix: string): CheckResult => ({ check, ok: false, problem: text, fix })

export function preflightChecks(facts: PreflightFacts, context: PreflightContext): CheckResult[] {
  return [
    context.config.insecureSkip ? ok('host key', 'not checked: insecure-skip-host-key-check is true') : ok('host key', 'matches the pin'),
    deployDirCheck(facts, context),
    diskCheck(facts, context),
    startProgramCheck(facts, context),
    facts.http === 'none'
      ? problem(
          'curl or wget',
          'the host has neither curl nor wget, and the health check needs one.',
          'Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").',
        )
      : ok('curl or wget', `${facts.http} is on the PATH`),
    includeReadCheck(facts, context),
    includeWriteCheck(facts, context),
    testCheck(facts, context),
    reloadCheck(facts, context),
    supervisorCheck(context),
    ...context.config.ports.map((port) => portCheck(port, facts, context)),
  ]
}

function deployDirCheck(facts: PreflightFacts, { user, config }: PreflightContext): CheckResult {
  const dir = facts.deployDir
  const elsewhere = `or choose another deploy-dir (the default is apps/${config.appName} under the user's home)`
  if (facts.deployDirKind === 'dir') {
    if (!facts.deployDirBlocked) return ok('deploy-dir', `${dir} is writable`)
    return problem(
      'deploy-dir',
      `${facts.deployDirBlocked} is not a directory that user "${user}" can write.`,
      `Run "sudo chown -R ${user}: ${word(dir)}" on the host, ${elsewhere}.`,
    )
  }
  if (facts.deployDirKind === 'other') {
    return problem('deploy-dir', `deploy-dir "${dir}" exists but is not a directory.`, `Remove that file, ${elsewhere}.`)
  }
  const parent = facts.parent ?? '/'
  if (facts.parentKind === 'writable') return ok('deploy-dir', `${dir} does not exist yet; the deploy creates it in ${parent}`)
  if (facts.parentKind === 'other') {
    return problem(
      'deploy-dir',
      `deploy-dir "${dir}" cannot be created: ${parent} is a file, not a directory.`,
      `Choose another deploy-dir (the default is apps/${config.appName} under the user's home).`,
    )
  }
  return problem(
    'deploy-dir',
    `deploy-dir "${dir}" cannot be created by user "${user}": ${parent} is not writable by that user.`,
    `Run "sudo mkdir -p ${word(dir)} && sudo chown ${user}: ${word(dir)}" on the host, ${elsewhere}.`,
  )
}

function diskCheck(facts: PreflightFacts, { artifact, reused }: PreflightContext): CheckResult {
  if (reused) return ok('disk space', 'a release on the host holds this artifact already: nothing to upload')
  if (facts.freeBytes === undefined) return ok('disk space', 'not checked: no existing directory of deploy-dir to measure')
  const needed = artifact.size + SPARE_BYTES
  if (facts.freeBytes >= needed) return ok('disk space', `${mb(facts.freeBytes)} free, ${mb(needed)} needed`)
  return problem(
    'disk space',
    `not enough disk space for deploy-dir "${facts.deployDir}": ${mb(facts.freeBytes)} free, the artifact needs ${mb(artifact.size)} plus 16 MB of room.`,
    'Free some space on the host, lower keep-releases, or choose a deploy-dir on a larger disk.',
  )
}

function startProgramCheck(facts: PreflightFacts, { user, config }: PreflightContext): CheckResult {
  const program = programOf(config.startCommand, { relative: false })
  if (!program || facts.startProgramPath === undefined)
    return ok('start command', 'not checked: start-command does not start with a program name')
  if (facts.startProgramPath) return ok('start command', found(program, facts.startProgramPath))
  return problem(
    'start command',
    `"${program}" is not on the PATH of user "${user}" on the host, and start-command runs it.`,
    program === 'java'
      ? 'Install a JRE (e.g. "apt-get install openjdk-17-jre-headless"), or set start-command to the full path of java.'
      : `Install it, or set start-command to its full path.`,
  )
}

function includeReadCheck({ include }: PreflightFacts, { user, config }: PreflightContext): CheckResult {
  const path = config.nginx.include
  if (!include.exists) return ok('include readable', `${path} does not exist yet: nothing to keep`)
  if (include.readable) return ok('include readable', `user "${user}" can read ${path}`)
  return problem(
    'include readable',
    `user "${user}" cannot read ${path}; the switch keeps its text to put it back if nginx rejects the new one.`,
    `Make it readable by that user, e.g. "sudo chmod 644 ${word(path)}".`,
  )
}

function includeWriteCheck({ include }: PreflightFacts, { user, config }: PreflightContext): CheckResult {
  const path = config.nginx.include
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.'
  if (!include.dirExists) {
    const text = renderInclude(config.nginx.template, config.ports[0])
    return problem(
      'include writable',
      `the directory of nginx-include (${dir}) does not exist, so ${path} cannot be written.`,
      `Set nginx-include to the file your nginx configuration includes, or create it: "sudo mkdir -p ${word(dir)}" and "echo ${shellQuote(text)} | sudo tee ${word(path)}".`,
    )
  }
  if (include.write === 'user')
    return ok('include writable', `user "${user}" can write ${include.exists ? path : `${path} (created by the first switch)`}`)
  const tee = include.tee ?? { verdict: 'refused', words: ['/usr/bin/tee', path] }
  if (tee.verdict === 'allowed') return ok('include writable', `sudo allows "tee ${path}"`)
  return problem(
    'include writable',
    `user "${user}" cannot write ${path} nor its directory, and sudo does not allow "sudo -n tee ${path}"${tee.verdict === 'missing' ? ' (sudo is not installed)' : ''}.`,
    sudoersFix(user, tee, `, or make ${word(dir)} writable by that user`),
  )
}

/** The last lines of a command's output, on one line. */
const lastLines = (output: string) =>
  output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-3)
    .join(' ')

function testCheck({ test }: PreflightFacts, { user, isRoot, config }: PreflightContext): CheckResult {
  const command = withoutSudoForRoot(config.nginx.testCommand, isRoot)
  if (test.ok) return ok('nginx test', `"${command}" passed`)
  const refused = /^sudo: a password is required|is not allowed to execute|may not run sudo/m.test(test.output)
  if (test.sudo && test.sudo.verdict !== 'allowed' && (refused || test.sudo.verdict === 'missing')) {
    return problem(
      'nginx test',
      `sudo does not allow user "${user}" to run "${test.sudo.words.join(' ')}" (nginx-test-command) without a password.`,
      sudoersFix(user, test.sudo),
    )
  }
  const said = lastLines(test.output)
  const failed = `nginx-test-command ("${command}") failed${said ? `: ${said}` : ''}`
  const missing = /open\(\) "([^"]+)" failed \(2: No such file or directory\)/.exec(test.output)?.[1]
  if (missing && missing === config.nginx.include) {
    const text = renderInclude(config.nginx.template, config.ports[0])
    return problem('nginx test', `${failed}.`, `Create the include once: "echo ${shellQuote(text)} | sudo tee ${word(missing)}".`)
  }
  if (missing) {
    return problem(
      'nginx test',
      `${failed}.`,
      `${missing} does not exist: set nginx-test-command and nginx-reload-command to the configuration nginx runs with (its master's command line shows it: "ps -o args= -C nginx"), or create ${missing}.`,
    )
  }
  return problem(
    'nginx test',
    `${failed}.`,
    `Run "${command}" on the host as user "${user}" and fix what it reports, or set nginx-test-command to the command that tests the configuration nginx runs with.`,
  )
}

function reloadCheck({ reload }: PreflightFacts, { user, isRoot, config }: PreflightContext): CheckResult {
  const command = withoutSudoForRoot(config.nginx.reloadCommand, isRoot)
  const notRun = 'not run: a dry run does not reload'
  if (reload.sudo) {
    const rule = reload.sudo.words.join(' ')
    if (reload.sudo.verdict === 'allowed') return ok('nginx reload', `sudo allows "${rule}" (${notRun})`)
    return problem(
      'nginx reload',
      `sudo does not allow user "${user}" to run "${rule}" (nginx-reload-command) without a password${reload.sudo.verdict === 'missing' ? ' (sudo is not installed)' : ''}, so the switch could not reload nginx.`,
      sudoersFix(user, reload.sudo),
    )
  }
  const program = programOf(command)
  if (reload.programPath === undefined || !program)
    return ok('nginx reload', `not checked: "${command}" is not one simple command (${notRun})`)
  if (reload.programPath) return ok('nginx reload', `${found(program, reload.programPath)} (${notRun})`)
  return problem(
    'nginx reload',
    `"${program}" (nginx-reload-command) is not on the PATH of user "${user}" on the host.`,
    'Install it, or give its full path in nginx-reload-command.',
  )
}

function supervisorCheck({ config, user, isRoot, systemd, linger }: PreflightContext): CheckResult {
  const linging = `sudo loginctl enable-linger ${user}`
  if (config.supervisor === 'none') return ok('supervisor', 'none: instances start detached')
  if (!systemd) {
    if (config.supervisor === 'auto') return ok('supervisor', 'auto: the host does not run systemd, so instances start detached')
    return problem(
      'supervisor',
      'supervisor is "systemd", but the host does not run systemd (/run/systemd/system is absent).',
      'Set supervisor to auto or none to start the service detached, or deploy to a host that runs systemd.',
    )
  }
  if (!isRoot && !linger) {
    if (config.supervisor === 'auto')
      return ok(
        'supervisor',
        `auto: user "${user}" has no lingering, so instances start detached (run "${linging}" to have systemd run them)`,
      )
    return problem(
      'supervisor',
      `supervisor is "systemd", but user "${user}" is not root and lingering is not enabled for it: its units would stop at logout and not start at boot.`,
      `Run "${linging}" on the host, or set supervisor to auto or none.`,
    )
  }
  return ok('supervisor', `systemd (${isRoot ? 'system' : 'user'} units)`)
}

function portCheck(port: number, facts: PreflightFacts, context: PreflightContext): CheckResult {
  const check = `port ${port}`
  const served = context.active === port ? ', which nginx serves,' : ''
  const ours = context.ours.find((instance) => instance.port === port)
  if (ours) return ok(check, `our instance (pid ${ours.pid ?? '?'}, release ${ours.release ?? 'unknown'})`)
  const holder = facts.ports.find((p) => p.port === port)
  if (!holder?.listening) return ok(check, 'free')
  const fix = 'Stop it on the host, or choose other ports (input ports).'
  if (holder.pid === undefined) {
    return problem(
      check,
      `port ${port}${served} is held by a process that user "${context.user}" cannot see, and a deploy would refuse to stop it.`,
      fix,
    )
  }
  const command = context.redact(holder.command ?? '').trim()
  if (runsJarLike(holder.command ?? '', context.artifact.fileName)) {
    return ok(check, `pid ${holder.pid} (${command}) runs a jar named like ${context.artifact.fileName}: a deploy takes it over`)
  }
  return problem(
    check,
    `port ${port}${served} is held by pid ${holder.pid} (${command}), which is not this service: a deploy would refuse to stop it.`,
    fix,
  )
}

/** The checklist as the log shows it. */
export function checklistText(checks: CheckResult[]): string {
  return checks
    .map((c) => (c.ok ? `  [x] ${c.check}: ${c.note ?? 'ok'}` : `  [ ] ${c.check}: ${c.problem}\n        Fix: ${c.fix}`))
    .join('\n')
}

/** Every problem, one a line, each with its fix: the dry run's error. */
export function problemsText(checks: CheckResult[]): string {
  const failed = checks.filter((c) => !c.ok)
  const count = failed.length === 1 ? '1 problem' : `${failed.length} problems`
  return `${count} found; a deploy would fail. Nothing was changed.\n${failed.map((c) => `- ${c.check}: ${c.problem} Fix: ${c.fix}`).join('\n')}`
}

/** A fleet's checks as a text table, check by check and host by host, for the log. */
export function fleetChecklistText(hosts: { host: string; checks?: CheckResult[] }[]): string {
  const names = [...new Set(hosts.flatMap((h) => (h.checks ?? []).map((c) => c.check)))]
  const cell = (h: { checks?: CheckResult[] }, name: string) => {
    const found = h.checks?.find((c) => c.check === name)
    return found ? (found.ok ? 'ok' : 'FAIL') : '-'
  }
  const rows = [['check', ...hosts.map((h) => h.host)], ...names.map((name) => [name, ...hosts.map((h) => cell(h, name))])]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  return rows
    .map((row) =>
      row
        .map((text, i) => text.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
