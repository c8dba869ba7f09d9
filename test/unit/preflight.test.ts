import { describe, expect, it } from 'vitest'
import { type PreflightContext, checklistText, fleetChecklistText, preflightChecks, problemsText } from '../../src/deploy/preflight.js'
import { type PreflightFacts, preflightParams, programOf, sudoArgsOf } from '../../src/deploy/preflight-facts.js'
import type { DeployConfig } from '../../src/config/inputs.js'

const INCLUDE = '/etc/nginx/conf.d/service-url.inc'

function facts(overrides: Partial<PreflightFacts> = {}): PreflightFacts {
  return {
    deployDir: '/home/deploy/apps/shop',
    deployDirKind: 'dir',
    freeBytes: 2048 * 1024 * 1024,
    http: 'curl',
    startProgramPath: '/usr/bin/java',
    include: {
      dirExists: true,
      exists: true,
      readable: true,
      write: 'sudo',
      tee: { verdict: 'allowed', words: ['/usr/bin/tee', INCLUDE] },
    },
    test: {
      ok: true,
      output: 'nginx: configuration file /etc/nginx/nginx.conf test is successful',
      sudo: { verdict: 'allowed', words: ['/usr/sbin/nginx', '-t'] },
    },
    reload: { sudo: { verdict: 'allowed', words: ['/usr/sbin/nginx', '-s', 'reload'] } },
    ports: [
      { port: 8081, listening: true, pid: 4242, command: 'java -jar /home/deploy/apps/shop/releases/r1/shop-1.0.jar --server.port=8081 ' },
      { port: 8082, listening: false },
    ],
    ...overrides,
  }
}

function context(overrides: Partial<PreflightContext> = {}): PreflightContext {
  return {
    config: {
      appName: 'shop',
      ports: [8081, 8082],
      startCommand: 'java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"',
      supervisor: 'auto',
      nginx: {
        include: INCLUDE,
        template: 'set $service_url http://127.0.0.1:{port};',
        testCommand: 'sudo -n nginx -t',
        reloadCommand: 'sudo -n nginx -s reload',
      },
      insecureSkip: false,
    },
    user: 'deploy',
    isRoot: false,
    artifact: { fileName: 'shop-1.1.jar', size: 40 * 1024 * 1024 },
    reused: false,
    systemd: true,
    linger: true,
    ours: [{ port: 8081, pid: 4242, release: 'r1' }],
    active: 8081,
    redact: (text) => text.replace(/-Ddb\.password=\S*/, '-Ddb.password=…'),
    ...overrides,
  }
}

const find = (checks: ReturnType<typeof preflightChecks>, name: string) => checks.find((c) => c.check === name)!

describe('preflightChecks', () => {
  it('a host with everything: every check passes, each saying what it saw', () => {
    const checks = preflightChecks(facts(), context())
    expect(checks.every((c) => c.ok)).toBe(true)
    expect(checklistText(checks)).toBe(
      [
        '  [x] host key: matches the pin',
        '  [x] deploy-dir: /home/deploy/apps/shop is writable',
        '  [x] disk space: 2048 MB free, 56 MB needed',
        '  [x] start command: java is /usr/bin/java',
        '  [x] curl or wget: curl is on the PATH',
        `  [x] include readable: user "deploy" can read ${INCLUDE}`,
        `  [x] include writable: sudo allows "tee ${INCLUDE}"`,
        '  [x] nginx test: "sudo -n nginx -t" passed',
        '  [x] nginx reload: sudo allows "/usr/sbin/nginx -s reload" (not run: a dry run does not reload)',
        '  [x] supervisor: systemd (user units)',
        '  [x] port 8081: our instance (pid 4242, release r1)',
        '  [x] port 8082: free',
      ].join('\n'),
    )
  })

  it('a deploy-dir under a file, an include in a missing directory, a test on a missing configuration: three problems with their fixes', () => {
    const checks = preflightChecks(
      facts({
        deployDir: '/srv/app.jar/shop',
        deployDirKind: 'absent',
        parent: '/srv/app.jar',
        parentKind: 'other',
        freeBytes: undefined,
        include: { dirExists: false, exists: false, readable: false, write: 'sudo' },
        test: {
          ok: false,
          output:
            'nginx: [emerg] open() "/etc/nginx/nginx-typo.conf" failed (2: No such file or directory)\nnginx: configuration file /etc/nginx/nginx-typo.conf test failed',
        },
        reload: { programPath: '/usr/sbin/nginx' },
      }),
      context({
        isRoot: true,
        user: 'root',
        config: {
          ...context().config,
          include: undefined,
          nginx: {
            ...context().config.nginx,
            include: '/etc/nginx/sites/service-url.inc',
            testCommand: 'sudo -n nginx -t -c /etc/nginx/nginx-typo.conf',
          },
        } as never,
      }),
    )
    expect(checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['deploy-dir', 'include writable', 'nginx test'])
    expect(problemsText(checks)).toBe(
      [
        '3 problems found; a deploy would fail. Nothing was changed.',
        '- deploy-dir: deploy-dir "/srv/app.jar/shop" cannot be created: /srv/app.jar is a file, not a directory. Fix: Choose another deploy-dir (the default is apps/shop under the user\'s home).',
        `- include writable: the directory of nginx-include (/etc/nginx/sites) does not exist, so /etc/nginx/sites/service-url.inc cannot be written. Fix: Set nginx-include to the file your nginx configuration includes, or create it: "sudo mkdir -p /etc/nginx/sites" and "echo 'set $service_url http://127.0.0.1:8081;' | sudo tee /etc/nginx/sites/service-url.inc".`,
        '- nginx test: nginx-test-command ("nginx -t -c /etc/nginx/nginx-typo.conf") failed: nginx: [emerg] open() "/etc/nginx/nginx-typo.conf" failed (2: No such file or directory) nginx: configuration file /etc/nginx/nginx-typo.conf test failed. Fix: /etc/nginx/nginx-typo.conf does not exist: set nginx-test-command and nginx-reload-command to the configuration nginx runs with (its master\'s command line shows it: "ps -o args= -C nginx"), or create /etc/nginx/nginx-typo.conf.',
      ].join('\n'),
    )
    expect(find(checks, 'disk space')).toEqual({
      check: 'disk space',
      ok: true,
      note: 'not checked: no existing directory of deploy-dir to measure',
    })
    expect(find(checks, 'include readable').note).toBe('/etc/nginx/sites/service-url.inc does not exist yet: nothing to keep')
    expect(find(checks, 'nginx reload').note).toBe('nginx is /usr/sbin/nginx (not run: a dry run does not reload)')
    expect(
      find(
        preflightChecks(
          facts({ reload: { programPath: '/usr/sbin/nginx' } }),
          context({
            isRoot: true,
            config: { ...context().config, nginx: { ...context().config.nginx, reloadCommand: '/usr/sbin/nginx -s reload' } },
          }),
        ),
        'nginx reload',
      ).note,
    ).toBe('/usr/sbin/nginx exists (not run: a dry run does not reload)')
  })

  it('a deploy-dir in a parent the user may not write, or that exists but is not its own', () => {
    const cannot = find(
      preflightChecks(facts({ deployDirKind: 'absent', parent: '/srv', parentKind: 'readonly', deployDir: '/srv/shop' }), context()),
      'deploy-dir',
    )
    expect(cannot).toEqual({
      check: 'deploy-dir',
      ok: false,
      problem: 'deploy-dir "/srv/shop" cannot be created by user "deploy": /srv is not writable by that user.',
      fix: 'Run "sudo mkdir -p /srv/shop && sudo chown deploy: /srv/shop" on the host, or choose another deploy-dir (the default is apps/shop under the user\'s home).',
    })
    const notOwn = find(preflightChecks(facts({ deployDirBlocked: '/home/deploy/apps/shop/releases' }), context()), 'deploy-dir')
    expect(notOwn.problem).toBe('/home/deploy/apps/shop/releases is not a directory that user "deploy" can write.')
    expect(notOwn.fix).toBe(
      'Run "sudo chown -R deploy: /home/deploy/apps/shop" on the host, or choose another deploy-dir (the default is apps/shop under the user\'s home).',
    )
    const creatable = find(
      preflightChecks(facts({ deployDirKind: 'absent', parent: '/home/deploy', parentKind: 'writable' }), context()),
      'deploy-dir',
    )
    expect(creatable.note).toBe('/home/deploy/apps/shop does not exist yet; the deploy creates it in /home/deploy')
  })

  it('a missing reload rule: the sudoers line to add, with the full path sudo runs', () => {
    const checks = preflightChecks(
      facts({
        reload: {
          sudo: { verdict: 'refused', words: ['/usr/sbin/nginx', '-p', '/srv/nginx', '-c', '/srv/nginx/nginx.conf', '-s', 'reload'] },
        },
      }),
      context(),
    )
    expect(find(checks, 'nginx reload')).toEqual({
      check: 'nginx reload',
      ok: false,
      problem:
        'sudo does not allow user "deploy" to run "/usr/sbin/nginx -p /srv/nginx -c /srv/nginx/nginx.conf -s reload" (nginx-reload-command) without a password, so the switch could not reload nginx.',
      fix: 'Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -p /srv/nginx -c /srv/nginx/nginx.conf -s reload".',
    })
  })

  it('a missing tee rule, a refused test, an unreadable include', () => {
    const checks = preflightChecks(
      facts({
        include: {
          dirExists: true,
          exists: true,
          readable: false,
          write: 'sudo',
          tee: { verdict: 'refused', words: ['/usr/bin/tee', INCLUDE] },
        },
        test: { ok: false, output: 'sudo: a password is required', sudo: { verdict: 'refused', words: ['/usr/sbin/nginx', '-t'] } },
      }),
      context(),
    )
    expect(find(checks, 'include writable')).toMatchObject({
      problem: `user "deploy" cannot write ${INCLUDE} nor its directory, and sudo does not allow "sudo -n tee ${INCLUDE}".`,
      fix: `Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "deploy ALL=(root) NOPASSWD: /usr/bin/tee ${INCLUDE}", or make /etc/nginx/conf.d writable by that user.`,
    })
    expect(find(checks, 'nginx test')).toMatchObject({
      problem: 'sudo does not allow user "deploy" to run "/usr/sbin/nginx -t" (nginx-test-command) without a password.',
      fix: 'Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -t".',
    })
    expect(find(checks, 'include readable')).toMatchObject({
      problem: `user "deploy" cannot read ${INCLUDE}; the switch keeps its text to put it back if nginx rejects the new one.`,
      fix: `Make it readable by that user, e.g. "sudo chmod 644 ${INCLUDE}".`,
    })
  })

  it('supervisor systemd for a user without lingering: names loginctl enable-linger; auto only notes it', () => {
    const strict = find(
      preflightChecks(facts(), context({ linger: false, config: { ...context().config, supervisor: 'systemd' } })),
      'supervisor',
    )
    expect(strict).toEqual({
      check: 'supervisor',
      ok: false,
      problem:
        'supervisor is "systemd", but user "deploy" is not root and lingering is not enabled for it: its units would stop at logout and not start at boot.',
      fix: 'Run "sudo loginctl enable-linger deploy" on the host, or set supervisor to auto or none.',
    })
    const auto = find(preflightChecks(facts(), context({ linger: false })), 'supervisor')
    expect(auto).toEqual({
      check: 'supervisor',
      ok: true,
      note: 'auto: user "deploy" has no lingering, so instances start detached (run "sudo loginctl enable-linger deploy" to have systemd run them)',
    })
    const noSystemd = find(
      preflightChecks(facts(), context({ systemd: false, config: { ...context().config, supervisor: 'systemd' } })),
      'supervisor',
    )
    expect(noSystemd.fix).toBe('Set supervisor to auto or none to start the service detached, or deploy to a host that runs systemd.')
  })

  it('the ports: a JVM named like the artifact is taken over; anything else is a problem, its secrets left out', () => {
    const ports = [
      { port: 8081, listening: true, pid: 100, command: 'java -Xmx256m -jar /opt/shop/shop-0.9.jar ' },
      { port: 8082, listening: true, pid: 200, command: 'postgres -D /var/lib/postgresql -c db.password=x -Ddb.password=hunter2 ' },
    ]
    const checks = preflightChecks(facts({ ports }), context({ ours: [] }))
    expect(find(checks, 'port 8081')).toEqual({
      check: 'port 8081',
      ok: true,
      note: 'pid 100 (java -Xmx256m -jar /opt/shop/shop-0.9.jar) runs a jar named like shop-1.1.jar: a deploy takes it over',
    })
    expect(find(checks, 'port 8082')).toEqual({
      check: 'port 8082',
      ok: false,
      problem:
        'port 8082 is held by pid 200 (postgres -D /var/lib/postgresql -c db.password=x -Ddb.password=…), which is not this service: a deploy would refuse to stop it.',
      fix: 'Stop it on the host, or choose other ports (input ports).',
    })
    const unseen = find(preflightChecks(facts({ ports: [{ port: 8081, listening: true }] }), context({ ours: [] })), 'port 8081')
    expect(unseen.problem).toBe(
      'port 8081, which nginx serves, is held by a process that user "deploy" cannot see, and a deploy would refuse to stop it.',
    )
  })

  it('no HTTP client, no java, no room', () => {
    const checks = preflightChecks(facts({ http: 'none', startProgramPath: '', freeBytes: 20 * 1024 * 1024 }), context())
    expect(find(checks, 'curl or wget').fix).toBe('Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").')
    expect(find(checks, 'start command')).toMatchObject({
      problem: '"java" is not on the PATH of user "deploy" on the host, and start-command runs it.',
      fix: 'Install a JRE (e.g. "apt-get install openjdk-17-jre-headless"), or set start-command to the full path of java.',
    })
    expect(find(checks, 'disk space').problem).toBe(
      'not enough disk space for deploy-dir "/home/deploy/apps/shop": 20 MB free, the artifact needs 40 MB plus 16 MB of room.',
    )
    expect(find(preflightChecks(facts({ freeBytes: 1 }), context({ reused: true })), 'disk space').ok).toBe(true)
  })
})

describe('the commands the checks look into', () => {
  it('programOf: the program of a simple command, after exec, nohup, env and assignments', () => {
    expect(programOf('java $JAVA_OPTS -jar "$ARTIFACT"')).toBe('java')
    expect(programOf('exec /opt/jdk/bin/java -jar app.jar')).toBe('/opt/jdk/bin/java')
    expect(programOf('LANG=C nohup java -jar x.jar')).toBe('java')
    expect(programOf('./bin/start.sh', { relative: false })).toBeUndefined()
    expect(programOf('cd /opt && java -jar x.jar')).toBeUndefined()
    expect(programOf('"$JAVA_HOME/bin/java" -jar x.jar')).toBeUndefined()
  })

  it('sudoArgsOf: the words after sudo -n of one simple command, never of a compound one', () => {
    expect(sudoArgsOf('sudo -n nginx -s reload')).toBe('nginx -s reload')
    expect(sudoArgsOf("sudo nginx -p '/srv/my nginx' -s reload")).toBe("nginx -p '/srv/my nginx' -s reload")
    expect(sudoArgsOf('sudo -n nginx -t && sudo -n nginx -s reload')).toBeUndefined()
    expect(sudoArgsOf('sudo -n -u www nginx -s reload')).toBeUndefined()
    expect(sudoArgsOf('systemctl reload nginx')).toBeUndefined()
  })

  it('preflightParams: what the script asks, for a user and for root', () => {
    const config = {
      deployDir: 'apps/shop',
      ports: [8081, 8082],
      startCommand: 'java -jar "$ARTIFACT"',
      nginx: { include: INCLUDE, template: '', testCommand: 'sudo -n nginx -t', reloadCommand: 'sudo -n nginx -s reload' },
    } as unknown as DeployConfig
    expect(preflightParams(config)).toEqual({
      deployDir: 'apps/shop',
      include: INCLUDE,
      ports: [8081, 8082],
      startProgram: 'java',
      testCommand: 'sudo -n nginx -t',
      testCommandAsRoot: 'nginx -t',
      testSudoArgs: 'nginx -t',
      reloadSudoArgs: 'nginx -s reload',
      reloadProgram: '',
      reloadProgramAsRoot: 'nginx',
    })
  })
})

describe('fleetChecklistText', () => {
  it('check by check, host by host; a host that was not reached shows -', () => {
    const passed = preflightChecks(facts(), context())
    const failed = preflightChecks(facts({ http: 'none' }), context())
    expect(
      fleetChecklistText([{ host: 'deploy@web1', checks: passed }, { host: 'deploy@web2', checks: failed }, { host: 'deploy@web3' }]),
    ).toBe(
      [
        'check             deploy@web1  deploy@web2  deploy@web3',
        'host key          ok           ok           -',
        'deploy-dir        ok           ok           -',
        'disk space        ok           ok           -',
        'start command     ok           ok           -',
        'curl or wget      ok           FAIL         -',
        'include readable  ok           ok           -',
        'include writable  ok           ok           -',
        'nginx test        ok           ok           -',
        'nginx reload      ok           ok           -',
        'supervisor        ok           ok           -',
        'port 8081         ok           ok           -',
        'port 8082         ok           ok           -',
      ].join('\n'),
    )
  })
})
