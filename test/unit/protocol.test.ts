import { describe, expect, it } from 'vitest'
import { type RemoteAnswer, parseAnswer } from '../../src/remote/protocol.js'

/** parseAnswer as it was when it split the whole answer into lines: the reference for its results. */
function parseAnswerByLines(stdout: string): RemoteAnswer {
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

describe('parseAnswer', () => {
  it('reads key=value facts; the value is everything after the first "="', () => {
    const answer = parseAnswer('deploy_dir=/home/app/apps/shop\nuid=1000\nowner=a=b c\nempty=\n')
    expect(answer.facts).toEqual({ deploy_dir: '/home/app/apps/shop', uid: '1000', owner: 'a=b c', empty: '' })
    expect(answer.sections).toEqual({})
  })

  it('a repeated key is a list in order; the fact is its last value', () => {
    const answer = parseAnswer('release=r1 aaa app.jar\nother=x\nrelease=r2 bbb app.jar\nrelease=r3 - \n')
    expect(answer.lists.release).toEqual(['r1 aaa app.jar', 'r2 bbb app.jar', 'r3 - '])
    expect(answer.facts.release).toBe('r3 - ')
    expect(answer.lists.other).toEqual(['x'])
  })

  it('ignores lines that are not facts: banners, blank lines, odd keys', () => {
    const stdout = [
      'Welcome to Ubuntu 24.04 LTS',
      '',
      '  indented=no',
      'Key=upper-case keys are not ours',
      '1abc=starts with a digit',
      'has space=no',
      '=novalue',
      'stopped=123',
      'a.b_c9=dotted ok',
    ].join('\n')
    const answer = parseAnswer(stdout)
    expect(answer.facts).toEqual({ stopped: '123', 'a.b_c9': 'dotted ok' })
  })

  it('sections: each @@name opens a free-text section that runs to the next one; trailing blank lines dropped', () => {
    const stdout =
      'include=present\n@@include\nset $service_url http://127.0.0.1:8081;\n  key=value inside is text\n\n@@log\nline 1\n\nline 3\n\n\n'
    const answer = parseAnswer(stdout)
    expect(answer.facts).toEqual({ include: 'present' })
    expect(answer.sections).toEqual({
      include: 'set $service_url http://127.0.0.1:8081;\n  key=value inside is text',
      log: 'line 1\n\nline 3',
    })
  })

  it('an empty section is an empty string, and a repeated section appends', () => {
    expect(parseAnswer('@@empty\n').sections).toEqual({ empty: '' })
    expect(parseAnswer('@@log\na\n@@other\nb\n@@log\nc\n').sections).toEqual({ log: 'a\nc', other: 'b' })
  })

  it('keeps carriage returns and unicode in section text', () => {
    expect(parseAnswer('@@include\nset $x "é\t✓";\r\n').sections.include).toBe('set $x "é\t✓";\r')
  })

  it('"@@Name" or "@@a b" is not a section opener', () => {
    const answer = parseAnswer('@@Upper\n@@a b\nk=v\n')
    expect(answer.sections).toEqual({})
    expect(answer.facts).toEqual({ k: 'v' })
  })

  it('empty output: no facts, no lists, no sections', () => {
    expect(parseAnswer('')).toEqual({ facts: {}, lists: {}, sections: {} })
  })

  it('reads every answer as splitting it into lines did, openers and blank lines anywhere', () => {
    const pieces = ['k=v', '', '@@log', '@@other', 'a', '@@log', 'text=not a fact', '\r', '@@', '@@x y', 'é ✓', 'k=w']
    // Every sequence of up to three pieces, with no, one or two newlines at the end.
    let cases = ['']
    for (let round = 0; round < 3; round++) cases = [...cases, ...cases.flatMap((c) => pieces.map((p) => (c === '' ? p : `${c}\n${p}`)))]
    for (const lines of new Set(cases)) {
      for (const stdout of [lines, `${lines}\n`, `${lines}\n\n`])
        expect(parseAnswer(stdout), JSON.stringify(stdout)).toEqual(parseAnswerByLines(stdout))
    }
  })
})
