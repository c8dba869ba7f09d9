/** What the action masks in the job log, and how a stranger's command line is quoted there. */
import { describe, expect, it } from 'vitest'
import { javaOptionValues, masksFor, redactCommandLine, secretsBeforeParsing } from '../../src/config/secrets.js'

describe('javaOptionValues', () => {
  it('returns the value of each -Dname=value, split as sh splits $JAVA_OPTS', () => {
    expect(
      javaOptionValues('-Xmx512m -Ddb.password=hunter2-x -Dspring.profiles.active=prod\n-Dtoken=a=b=c -Dflag -Dempty= -Dab=12'),
    ).toEqual(['hunter2-x', 'prod', 'a=b=c'])
  })

  it('finds nothing in options without -D', () => {
    expect(javaOptionValues('-Xmx512m -XX:+UseG1GC')).toEqual([])
    expect(javaOptionValues('')).toEqual([])
  })
})

describe('secretsBeforeParsing', () => {
  const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? ''

  it('reads java-opts whole and each -D value, every env value, and the secret inputs, from raw inputs', () => {
    const secrets = secretsBeforeParsing(
      inputs({
        passphrase: 'pp',
        'java-opts': ' -Xmx64m -Ddb.password=S3cret-Opt ',
        // The second line's name is not valid: its value is a secret all the same.
        env: 'DB_PASSWORD=env-secret-1\n9BAD=env-secret-2\r\n# COMMENTED=not-a-value\nNOEQUALS',
      }),
    )
    expect(secrets).toEqual(
      expect.arrayContaining(['pp', '-Xmx64m -Ddb.password=S3cret-Opt', 'S3cret-Opt', 'env-secret-1', 'env-secret-2']),
    )
    expect(secrets).not.toContain('not-a-value')
  })
})

describe('masksFor', () => {
  it('masks each value whole, and each long line of a multi-line value, which the runner matches line by line', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'
    expect(masksFor([key, 'one line', '  '])).toEqual([key, 'b3BlbnNzaC1rZXktdjEAAAAA', 'AAAAAAAA', 'one line'])
  })
})

describe('redactCommandLine', () => {
  const NUL_END = ' ' // command_of turns the NUL after each argument into a space

  it('shortens every -Dname= argument, whatever its value', () => {
    const line = `java -Ddb.password=old-password-not-an-input -Xmx64m -Dspring.profiles.active=prod -jar /srv/app.jar --server.port=8081${NUL_END}`
    expect(redactCommandLine(line, [])).toBe('java -Ddb.password=… -Xmx64m -Dspring.profiles.active=… -jar /srv/app.jar --server.port=8081')
  })

  it('removes masked values wherever they appear, and each line of a multi-line one', () => {
    const line = `worker --token=tok-123456 --key=line-two-of-key --db postgres://u:pw-secret@db/app${NUL_END}`
    expect(redactCommandLine(line, ['tok-123456', 'line-one-of-key\nline-two-of-key', 'pw-secret'])).toBe(
      'worker --token=*** --key=*** --db postgres://u:***@db/app',
    )
  })

  it('removes the start of a masked value that the 200-character cut left at the end', () => {
    const line = `${'x'.repeat(180)} --password=verylongsecret`.slice(0, 200)
    expect(line.endsWith('--password=verylong')).toBe(true)
    expect(redactCommandLine(line, ['verylongsecretvalue'])).toBe(`${'x'.repeat(180)} --password=***`)
  })

  it('leaves the end of a line that was not cut as it is', () => {
    expect(redactCommandLine(`java -jar app.jar --port=808${NUL_END}`, ['8080-secret'])).toBe('java -jar app.jar --port=808')
  })
})
