import { describe, expect, it } from 'vitest'
import { parseAnswer } from '../../src/remote/protocol.js'

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
})
