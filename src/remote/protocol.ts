/**
 * Remote scripts answer in a small text format: `key=value` lines, then optional free-text sections
 * each opened by a line `@@name`. Keys may repeat (a list). Anything else is ignored, so a stray
 * line from a login banner or a tool cannot be mistaken for a fact.
 */
export interface RemoteAnswer {
  /** Last value of each key. */
  facts: Record<string, string>
  /** Every value of each key, in order. */
  lists: Record<string, string[]>
  sections: Record<string, string>
}

export function parseAnswer(stdout: string): RemoteAnswer {
  const answer: RemoteAnswer = { facts: {}, lists: {}, sections: {} }
  // A section's text is kept as slices of stdout, one per run of its lines between openers: an
  // answer of a hundred thousand log lines is neither cut into as many strings nor scanned twice.
  const runs: Record<string, string[]> = {}
  let section: string | undefined
  let runStart = 0
  for (let at = 0; at <= stdout.length;) {
    const newline = stdout.indexOf('\n', at)
    const end = newline < 0 ? stdout.length : newline
    const opener = stdout.startsWith('@@', at) ? /^@@([a-z_][a-z0-9_]*)$/.exec(stdout.slice(at, end)) : null
    if (opener) {
      // The newline before the opener ends the run; a run without a line adds none.
      if (section !== undefined && at > runStart) runs[section].push(stdout.slice(runStart, at - 1))
      section = opener[1]
      runs[section] ??= []
      runStart = end + 1
    } else if (section === undefined) {
      const fact = /^([a-z_][a-z0-9_.]*)=(.*)$/.exec(stdout.slice(at, end))
      if (fact) {
        answer.facts[fact[1]] = fact[2]
        ;(answer.lists[fact[1]] ??= []).push(fact[2])
      }
    }
    if (newline < 0) break
    at = newline + 1
  }
  if (section !== undefined && runStart <= stdout.length) runs[section].push(stdout.slice(runStart))
  for (const [name, texts] of Object.entries(runs)) answer.sections[name] = withoutTrailingNewlines(texts.join('\n'))
  return answer
}

/** The text without the newlines at its end (the blank lines that end a section). */
function withoutTrailingNewlines(text: string): string {
  let end = text.length
  while (end > 0 && text.charCodeAt(end - 1) === 10) end--
  return end === text.length ? text : text.slice(0, end)
}
