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
  let section: string | undefined
  const sectionLines: Record<string, string[]> = {}
  for (const line of stdout.split('\n')) {
    const opener = /^@@([a-z_][a-z0-9_]*)$/.exec(line)
    if (opener) {
      section = opener[1]
      sectionLines[section] ??= []
      continue
    }
    if (section !== undefined) {
      sectionLines[section].push(line)
      continue
    }
    const fact = /^([a-z_][a-z0-9_.]*)=(.*)$/.exec(line)
    if (!fact) continue
    answer.facts[fact[1]] = fact[2]
    ;(answer.lists[fact[1]] ??= []).push(fact[2])
  }
  for (const [name, lines] of Object.entries(sectionLines)) {
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
    answer.sections[name] = lines.join('\n')
  }
  return answer
}
