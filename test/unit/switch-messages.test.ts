import { describe, expect, it } from 'vitest'
import { includeWriteFailure, sudoRefusalNote } from '../../src/deploy/switch-messages.js'
import { parseAnswer } from '../../src/remote/protocol.js'

describe('switch failure messages', () => {
  it('a refused sudo tee names the exact sudoers line, with the tee the host has', () => {
    const answer = parseAnswer(
      'error=include_write\nwrite_as=sudo\nwrite_step=write\ntee_path=/usr/bin/tee\n@@write_output\nsudo: a password is required\n',
    )
    const message = includeWriteFailure(answer, '/etc/nginx/conf.d/service-url.inc', 'deploy')
    expect(message).toContain('"sudo -n tee /etc/nginx/conf.d/service-url.inc" was refused (sudo: a password is required)')
    expect(message).toContain('"deploy ALL=(root) NOPASSWD: /usr/bin/tee /etc/nginx/conf.d/service-url.inc"')
    expect(message).toContain('nginx was not touched')
  })

  it('an unreadable include says so, and no sudo rule is asked for', () => {
    const answer = parseAnswer('error=include_write\nwrite_as=sudo\nwrite_step=read\n@@write_output\ncat: x: Permission denied\n')
    const message = includeWriteFailure(answer, '/etc/nginx/conf.d/service-url.inc', 'deploy')
    expect(message).toContain('user "deploy" cannot read /etc/nginx/conf.d/service-url.inc')
    expect(message).not.toContain('NOPASSWD')
  })

  it('sudo refusing the test or reload command names the rule; other failures add nothing', () => {
    expect(sudoRefusalNote('sudo: a password is required', 'sudo -n nginx -t', 'deploy')).toContain('exactly "nginx -t" with NOPASSWD')
    expect(
      sudoRefusalNote(
        "Sorry, user deploy is not allowed to execute '/usr/sbin/nginx -s reload' as root on web1.",
        'sudo -n nginx -s reload',
        'deploy',
      ),
    ).toContain('exactly "nginx -s reload"')
    expect(sudoRefusalNote('nginx: [emerg] unknown directive "x"', 'sudo -n nginx -t', 'deploy')).toBe('')
  })
})
