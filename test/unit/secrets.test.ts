/** What the action masks in the job log, and how a stranger's command line is quoted there. */
import { describe, expect, it } from 'vitest'
import { parseInputs, registeredSecretsOf, secretsOf } from '../../src/config/inputs.js'
import { javaOptionValues, masksFor, mayBeSecret, redactCommandLine, secretsBeforeParsing } from '../../src/config/secrets.js'

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

describe('mayBeSecret: what the action registers with the runner, which drops every output holding it', () => {
  it('everyday values are no secret: booleans, numbers, profiles and other plain words', () => {
    for (const [name, value] of [
      ['SPRING_JPA_SHOW_SQL', 'false'],
      ['SPRING_PROFILES_ACTIVE', 'prod'],
      ['FEATURE_X_ENABLED', 'true'],
      ['LOGGING_LEVEL_ROOT', 'INFO'],
      ['TZ', 'Europe/Berlin'],
      ['SERVER_SERVLET_SESSION_TIMEOUT', '30m'],
      ['MAX_POOL', '20'],
      ['APP_VERSION', '1.4.2'],
      ['spring.profiles.active', 'production'],
      ['CONTENT_TYPE', 'application/json'],
      // Named like a secret, but a boolean or a number carries none.
      ['AUTH_ENABLED', 'true'],
      ['TOKEN_TTL_SECONDS', '3600'],
      ['DB_PASSWORD', 'pw'],
    ]) {
      expect(mayBeSecret(name, value), `${name}=${value}`).toBe(false)
    }
  })

  it('a value under a name that names a credential is one, whatever it looks like', () => {
    for (const [name, value] of [
      ['DB_PASSWORD', 'postgres'],
      ['SPRING_DATASOURCE_PASSWORD', 'hunter two'],
      ['db.password', 'secret'],
      ['JWT_SECRET', 'changeme'],
      ['GITHUB_TOKEN', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'],
      ['AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
      ['apiKey', 'abc'],
      ['OAUTH_CLIENT_CREDENTIALS', 'client:pass'],
      ['SMTP_PASS', 'letmein'],
      ['REDIS_PWD', 'redispw'],
      ['SENTRY_DSN', 'https://examplePublicKey@o0.ingest.sentry.io/0'],
    ]) {
      expect(mayBeSecret(name, value), `${name}=${value}`).toBe(true)
    }
    // PIN is a word of the name, not any run of its letters.
    expect(mayBeSecret('SPRING_MAIN_BANNER_MODE', 'off')).toBe(false)
    expect(mayBeSecret('SPRING_APPLICATION_NAME', 'shop')).toBe(false)
  })

  it('a value that looks like a credential is one, whatever its name', () => {
    for (const value of [
      'S3cr3t-db-password-Zq8',
      'Xq7-tok-9f31c2aa58e0',
      'ZXhhbXBsZS1iYXNlNjQta2V5PT0=',
      '9f86d081884c7d659a2feaa0c55ad015',
      'jdbc:postgresql://app:Pa55w0rd@db:5432/shop',
      'postgres://app:pw@db/shop',
    ]) {
      expect(mayBeSecret('SOME_SETTING', value), value).toBe(true)
    }
  })

  it('never a value the outputs and the summary show: a host, a user, a port, the app name', () => {
    const shown = ['deploy@web-01.example.com:2222', 'shop-api', '8081']
    expect(mayBeSecret('APP_HOST', 'web-01.example.com', shown)).toBe(false)
    expect(mayBeSecret('SSH_AUTH_USER', 'deploy', shown)).toBe(false)
    expect(mayBeSecret('APP_HOST', 'web-01.example.com')).toBe(true)
  })
})

describe('secretsBeforeParsing', () => {
  const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? ''

  it('reads the secret inputs, and the env and -D values that may be secrets, from raw inputs', () => {
    const secrets = secretsBeforeParsing(
      inputs({
        passphrase: 'pp',
        'java-opts': ' -Xmx64m -Ddb.password=S3cret-Opt -Dspring.profiles.active=prod ',
        // The second line's name is not valid: its value is a secret all the same.
        env: 'DB_PASSWORD=env-secret-1\n9BAD=env-secret-2\r\n# COMMENTED=not-a-value\nNOEQUALS\nSPRING_JPA_SHOW_SQL=false\nSPRING_PROFILES_ACTIVE=prod\nFEATURE_X_ENABLED=true',
      }),
    )
    expect(secrets.sort()).toEqual(['S3cret-Opt', 'env-secret-1', 'env-secret-2', 'pp'])
  })

  it('leaves out a value that the host input shows', () => {
    const get = inputs({ host: 'deploy@web-01.example.com', env: 'DB_HOST=web-01.example.com\nDB_PASSWORD=Pa55-web-01' })
    expect(secretsBeforeParsing(get)).toEqual(['Pa55-web-01'])
  })
})

describe("registeredSecretsOf and secretsOf: the runner's set and the action's own", () => {
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'
  const config = parseInputs(
    (name) =>
      ({
        host: 'deploy@web-01.example.com',
        'private-key': KEY,
        passphrase: 'key-pass-1',
        artifact: 'build/libs/*.jar',
        env: 'SPRING_JPA_SHOW_SQL=false\nSPRING_PROFILES_ACTIVE=prod\nFEATURE_X_ENABLED=true\nDB_HOST=web-01.example.com\nDB_PASSWORD=hunter2-Zq9',
        'java-opts': '-Xmx256m -Dspring.profiles.active=prod -Djavax.net.ssl.trustStorePassword=changeit',
      })[name] ?? '',
    { repository: 'acme/shop-api' },
  )

  it('the runner gets the credential inputs and the values that may be credentials, nothing the outputs are made of', () => {
    expect(registeredSecretsOf(config).sort()).toEqual([KEY.trim(), 'changeit', 'hunter2-Zq9', 'key-pass-1'].sort())
  })

  it("the action's own masking of what the host sends keeps every env and java-opts value but booleans", () => {
    const own = secretsOf(config)
    expect(own).toEqual(expect.arrayContaining(['prod', 'web-01.example.com', 'hunter2-Zq9', 'changeit', config.javaOpts]))
    expect(own).not.toContain('true')
    expect(own).not.toContain('false')
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
