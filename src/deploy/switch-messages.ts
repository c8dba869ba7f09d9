/** What the switch's failures mean for the user, in words that say what to change on the host. */
import type { RemoteAnswer } from '../remote/protocol.js'
import { shellQuote } from '../remote/quote.js'

/** The include could not be written: names the missing permission, or the exact sudoers rule to add. */
export function includeWriteFailure(answer: RemoteAnswer, include: string, user: string): string {
  const { facts, sections } = answer
  const said = (sections.write_output ?? '').trim().split('\n').slice(-3).join(' ').trim()
  const because = said ? ` (${said})` : ''
  if (facts.write_as === 'user') {
    return `could not write ${include} as user "${user}"${because}. Check the free space and permissions of its directory. nginx was not touched.`
  }
  if (facts.write_step === 'read') {
    return `user "${user}" cannot read ${include}${because}; the switch keeps its text to put it back if nginx rejects the new one. Make it readable by that user (e.g. chmod 644). nginx was not touched.`
  }
  if (facts.write_step === 'write') {
    const tee = facts.tee_path || '/usr/bin/tee'
    // sudoers needs a path with no spaces unescaped; quoted here only for a shell-safe hint.
    const path = /^[A-Za-z0-9_./-]+$/.test(include) ? include : shellQuote(include)
    return (
      `user "${user}" cannot write the directory of ${include}, and "sudo -n tee ${path}" was refused${because}. ` +
      `Allow exactly that command without a password, e.g. in /etc/sudoers.d/zero-downtime-deploy: ` +
      `"${user} ALL=(root) NOPASSWD: ${tee} ${path}" (the README's "The nginx side" has the whole file), ` +
      `or make the include's directory writable by that user. nginx was not touched.`
    )
  }
  return `could not keep a copy of ${include} before writing it${because}. Check that the host's temporary directory is writable. nginx was not touched.`
}

/** Said after a failure that puts the old include back, when it could not be put back. */
export function restoreNote(answer: RemoteAnswer, include: string): string {
  return answer.facts.restore === 'failed'
    ? ` But ${include} could not be put back as it was: check it on the host before nginx is reloaded again.`
    : ''
}

/** When sudo refused a command (no rule, or one that names other arguments), says which rule is missing. */
export function sudoRefusalNote(output: string | undefined, command: string, user: string): string {
  if (!/^sudo: a password is required|is not allowed to execute/m.test(output ?? '')) return ''
  const line = command.replace(/^\s*sudo\s+-n\s+/, '')
  return ` sudo refused it: user "${user}" needs a sudoers rule for exactly "${line}" with NOPASSWD (full path of the program, the same arguments; see the README's "The nginx side").`
}
