import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 2613:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("assert");

/***/ }),

/***/ 181:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("buffer");

/***/ }),

/***/ 5317:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("child_process");

/***/ }),

/***/ 4601:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("crypto");

/***/ }),

/***/ 2250:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("dns");

/***/ }),

/***/ 4434:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("events");

/***/ }),

/***/ 9896:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("fs");

/***/ }),

/***/ 8611:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("http");

/***/ }),

/***/ 5692:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("https");

/***/ }),

/***/ 9278:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("net");

/***/ }),

/***/ 1421:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");

/***/ }),

/***/ 7598:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");

/***/ }),

/***/ 3024:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");

/***/ }),

/***/ 1455:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs/promises");

/***/ }),

/***/ 7030:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");

/***/ }),

/***/ 8161:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");

/***/ }),

/***/ 6760:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");

/***/ }),

/***/ 7075:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream");

/***/ }),

/***/ 6193:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:string_decoder");

/***/ }),

/***/ 8500:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:timers/promises");

/***/ }),

/***/ 857:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("os");

/***/ }),

/***/ 6928:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("path");

/***/ }),

/***/ 2203:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("stream");

/***/ }),

/***/ 3193:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("string_decoder");

/***/ }),

/***/ 3557:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("timers");

/***/ }),

/***/ 4756:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("tls");

/***/ }),

/***/ 9023:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("util");

/***/ }),

/***/ 3106:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("zlib");

/***/ }),

/***/ 5533:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  P8: () => (/* reexport */ firstDestination),
  TL: () => (/* binding */ parseInputs),
  hZ: () => (/* binding */ registeredSecretsOf),
  Fj: () => (/* binding */ secretsOf)
});

// UNUSED EXPORTS: COMMANDS, DEFAULT_INCLUDE_TEMPLATE, DEFAULT_START_COMMAND, InputError

// EXTERNAL MODULE: ./lib/remote/quote.js
var quote = __nccwpck_require__(6982);
;// CONCATENATED MODULE: ./lib/config/hosts.js
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;
/** Splits `host` on newlines and commas; blank entries are dropped. */
function splitHostList(value) {
    return value
        .split(/[\n,]/)
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
}
/**
 * Parses `host`, `host:port`, `user@host`, `user@host:port`, with IPv6 in brackets.
 * Returns an error message (for the input named `input`) instead of throwing, so that the caller
 * can report every bad entry.
 */
function parseHostEntry(entry, defaults, input = 'host') {
    const bad = (why) => `${input}: "${entry}" ${why}`;
    let rest = entry;
    let username = defaults.username;
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
        username = rest.slice(0, at);
        rest = rest.slice(at + 1);
        if (!USER_NAME.test(username))
            return bad('has a user name that is not valid (letters, digits, ".", "_", "-")');
    }
    let host;
    let portText;
    if (rest.startsWith('[')) {
        const close = rest.indexOf(']');
        if (close < 0)
            return bad('opens "[" for an IPv6 address but never closes it');
        host = rest.slice(1, close);
        const after = rest.slice(close + 1);
        if (after !== '' && !after.startsWith(':'))
            return bad('has text after "]" that is not ":port"');
        portText = after === '' ? undefined : after.slice(1);
        if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':'))
            return bad('has brackets around something that is not an IPv6 address');
    }
    else {
        const parts = rest.split(':');
        if (parts.length > 2)
            return bad('looks like an IPv6 address; write it in brackets, e.g. [2001:db8::1]:22');
        host = parts[0];
        portText = parts[1];
        if (!HOST_NAME.test(host))
            return bad('is not a host name or address (letters, digits, "." and "-")');
    }
    let port = defaults.port;
    if (portText !== undefined) {
        if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
            return bad(`has port "${portText}"; expected a number from 1 to 65535`);
        }
        port = Number(portText);
    }
    if (username === '')
        return bad('names no user; set the username input or write user@host');
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { host, port, username, label: `${username}@${shownHost}${port === 22 ? '' : `:${port}`}` };
}

// EXTERNAL MODULE: ./lib/ssh/expand-command.js
var expand_command = __nccwpck_require__(9748);
// EXTERNAL MODULE: ./lib/config/readers.js
var readers = __nccwpck_require__(4246);
;// CONCATENATED MODULE: ./lib/config/connection-inputs.js
/**
 * The connection inputs: the hosts, how to authenticate, how their keys are pinned, the jump hosts
 * or proxy command on the way, and how long and how often to try. Checked with the rest of the
 * inputs, before any connection.
 */



function parseConnectionInputs(read) {
    const { raw, integer, problems } = read;
    const fingerprints = (name) => {
        const entries = raw(name)
            .split(/[\s,]+/)
            .filter(Boolean);
        return entries.filter((entry) => {
            if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(entry))
                return true;
            problems.push(`${name}: ${(0,readers/* show */.W)(entry)} is not valid; expected a fingerprint like "SHA256:" followed by 43 base64 characters, as "ssh-keygen -lf" prints it`);
            return false;
        });
    };
    const port = integer('port', 22, 1, 65535);
    const username = raw('username').trim();
    const hostList = splitHostList(raw('host'));
    if (hostList.length === 0)
        problems.push('host: is required; expected a host name or address, or several separated by newlines or commas');
    const hosts = [];
    for (const entry of hostList) {
        const parsed = parseHostEntry(entry, { port, username });
        if (typeof parsed === 'string')
            problems.push(parsed);
        else
            hosts.push(parsed);
    }
    const labels = hosts.map((h) => `${h.host}:${h.port}`);
    const repeated = labels.find((label, i) => labels.indexOf(label) !== i);
    if (repeated)
        problems.push(`host: ${(0,readers/* show */.W)(repeated)} is listed twice; each host may appear once`);
    const auth = {
        privateKey: raw('private-key').trim() || undefined,
        passphrase: raw('passphrase') || undefined,
        password: raw('password') || undefined,
    };
    if (!auth.privateKey && !auth.password) {
        problems.push('private-key: is empty and so is password; expected at least one way to authenticate');
    }
    if (auth.privateKey && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(auth.privateKey)) {
        problems.push('private-key: is not a private key; expected the whole key file, starting with "-----BEGIN"');
    }
    const hostKeys = {
        fingerprints: fingerprints('host-fingerprint'),
        knownHosts: raw('known-hosts'),
        insecureSkip: read.boolean('insecure-skip-host-key-check', false),
    };
    // Each jump host takes proxy-port, proxy-username and proxy-private-key unless its entry names its
    // own user or port; its key is pinned by known-hosts or by one of the proxy-host-fingerprint pins.
    const jumpHosts = [];
    const proxyHosts = splitHostList(raw('proxy-host'));
    if (proxyHosts.length > 0) {
        const proxyPort = integer('proxy-port', 22, 1, 65535);
        const proxyUser = raw('proxy-username').trim() || username;
        const proxyAuth = {
            privateKey: raw('proxy-private-key').trim() || auth.privateKey,
            passphrase: raw('proxy-passphrase') || (raw('proxy-private-key').trim() ? undefined : auth.passphrase),
        };
        const proxyKeys = {
            fingerprints: fingerprints('proxy-host-fingerprint'),
            knownHosts: hostKeys.knownHosts,
            insecureSkip: hostKeys.insecureSkip,
        };
        for (const proxyHost of proxyHosts) {
            const entry = parseHostEntry(proxyHost, { port: proxyPort, username: proxyUser }, 'proxy-host');
            if (typeof entry === 'string')
                problems.push(entry);
            else
                jumpHosts.push({ entry, auth: proxyAuth, hostKeys: proxyKeys });
        }
    }
    const proxyCommand = raw('proxy-command').trim();
    if (proxyCommand !== '') {
        if (proxyHosts.length > 0) {
            problems.push('proxy-command: is set, and so is proxy-host; expected one of them: a jump host inside the command (ssh -W %h:%p bastion), or proxy-host alone');
        }
        const problem = (0,expand_command/* proxyCommandProblem */.R)(proxyCommand);
        if (problem)
            problems.push(`proxy-command: ${(0,readers/* show */.W)(proxyCommand)} ${problem}`);
    }
    return {
        hosts,
        auth,
        hostKeys,
        jumpHosts,
        proxyCommand,
        connectTimeoutSeconds: read.seconds('connect-timeout', 30, 1),
        connectRetries: integer('connect-retries', 3, 0, 10),
    };
}
/**
 * The address the run connects to first: the first jump host when `proxy-host` is set, none with
 * `proxy-command`, else the first `host`. Undefined when the inputs do not name it cleanly. Only a
 * hint, read before the rest of the action has loaded so that its TCP connection can open meanwhile; parseInputs decides everything.
 */
function firstDestination(get) {
    const port = (name) => {
        const value = (get(name) ?? '').trim();
        return value === '' ? 22 : /^\d+$/.test(value) && Number(value) <= 65535 ? Number(value) : undefined;
    };
    // A proxy command makes the first connection itself.
    if ((get('proxy-command') ?? '').trim() !== '')
        return undefined;
    const proxyHost = splitHostList(get('proxy-host') ?? '')[0];
    const [entry, defaultPort] = proxyHost !== undefined ? [proxyHost, port('proxy-port')] : [splitHostList(get('host') ?? '')[0], port('port')];
    if (entry === undefined || defaultPort === undefined)
        return undefined;
    const parsed = parseHostEntry(entry, { port: defaultPort, username: 'user' });
    return typeof parsed === 'string' ? undefined : { host: parsed.host, port: parsed.port };
}

// EXTERNAL MODULE: ./lib/config/secrets.js
var secrets = __nccwpck_require__(2999);
// EXTERNAL MODULE: ./lib/config/traffic-inputs.js
var traffic_inputs = __nccwpck_require__(4645);
;// CONCATENATED MODULE: ./lib/config/inputs.js
/**
 * Every input of action.yml is read, checked and typed here, without touching the network, so a bad
 * value fails the step before anything happens on a host. Pure: inputs come from a function.
 */






const COMMANDS = ['deploy', 'rollback', 'status', 'logs', 'promote', 'maintenance', 'live'];
/** Thrown with every problem found, one per line, each naming its input. */
class InputError extends Error {
    problems;
    constructor(problems) {
        super(problems.length === 1 ? problems[0] : `${problems.length} inputs are not valid:\n- ${problems.join('\n- ')}`);
        this.problems = problems;
        this.name = 'InputError';
    }
}
const DEFAULT_START_COMMAND = 'java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"';
const DEFAULT_INCLUDE_TEMPLATE = 'set $service_url http://127.0.0.1:{port};';
/** Reads inputs through `get` (the raw string, '' when unset) and returns the typed config. */
function parseInputs(get, context = {}) {
    const read = (0,readers/* inputReaders */.X)(get);
    const { raw, text, integer, seconds, boolean, problems } = read;
    const command = text('command', 'deploy');
    if (!COMMANDS.includes(command)) {
        problems.push(`command: ${(0,readers/* show */.W)(command)} is not valid; expected ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)}`);
    }
    const connection = parseConnectionInputs(read);
    const artifact = raw('artifact').trim();
    if (artifact === '')
        problems.push('artifact: is required; expected the path or glob of the built jar, e.g. build/libs/*.jar');
    const defaultApp = (context.repository ?? '').split('/').pop() ?? '';
    const appName = text('app-name', defaultApp);
    if (!/^[A-Za-z0-9._-]+$/.test(appName) || appName === '.' || appName === '..') {
        problems.push(`app-name: ${(0,readers/* show */.W)(appName)} is not valid; expected letters, digits, ".", "_" and "-" only`);
    }
    const deployDir = text('deploy-dir', `apps/${appName}`);
    if (raw('deploy-dir').trim() === '') {
        // derived from app-name, which is checked above
    }
    else if (deployDir.includes('\n') || deployDir.includes('\0')) {
        problems.push(`deploy-dir: ${(0,readers/* show */.W)(deployDir)} is not valid; expected one path on one line`);
    }
    else if (deployDir === '/' || /(^|\/)\.\.(\/|$)/.test(deployDir)) {
        problems.push(`deploy-dir: ${(0,readers/* show */.W)(deployDir)} is not valid; expected a directory of its own, without ".."`);
    }
    const keepReleases = integer('keep-releases', 5, 1, 1000);
    const portsText = text('ports', '8081,8082');
    const portList = portsText.split(/[\s,]+/).filter(Boolean);
    let ports = [8081, 8082];
    if (portList.length !== 2 || portList.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
        problems.push(`ports: ${(0,readers/* show */.W)(portsText)} is not valid; expected two TCP ports from 1 to 65535, e.g. "8081,8082"`);
    }
    else if (portList[0] === portList[1] || Number(portList[0]) === Number(portList[1])) {
        problems.push(`ports: ${(0,readers/* show */.W)(portsText)} is not valid; expected two different ports`);
    }
    else {
        ports = [Number(portList[0]), Number(portList[1])];
    }
    const env = [];
    for (const [index, line] of raw('env').split('\n').entries()) {
        if (line.trim() === '' || line.trimStart().startsWith('#'))
            continue;
        const eq = line.indexOf('=');
        if (eq < 0) {
            // The line may be a secret that wrapped: name it by number, never echo it.
            problems.push(`env: line ${index + 1} has no "="; expected KEY=VALUE lines`);
            continue;
        }
        const key = line.slice(0, eq).trim();
        if (!quote/* SHELL_NAME */.tO.test(key)) {
            // A mistyped line may hold a secret anywhere, even before "=": name it by number only.
            problems.push(`env: line ${index + 1} has a name that is not valid; expected KEY=VALUE lines with KEY made of letters, digits and "_", not starting with a digit`);
            continue;
        }
        env.push([key, line.slice(eq + 1).replace(/\r$/, '')]);
    }
    const supervisor = text('supervisor', 'auto').toLowerCase();
    if (!['auto', 'systemd', 'none'].includes(supervisor)) {
        problems.push(`supervisor: ${(0,readers/* show */.W)(supervisor)} is not valid; expected auto, systemd or none`);
    }
    const healthPath = text('health-path', '/actuator/health');
    if (!healthPath.startsWith('/') || /\s/.test(healthPath)) {
        problems.push(`health-path: ${(0,readers/* show */.W)(healthPath)} is not valid; expected a URL path starting with "/", without spaces`);
    }
    const health = {
        path: healthPath,
        timeoutSeconds: seconds('health-timeout', 120, 1),
        intervalSeconds: seconds('health-interval', 0.5, 0.05),
        expect: raw('health-expect'),
    };
    const template = text('nginx-include-template', DEFAULT_INCLUDE_TEMPLATE);
    if (!template.includes('{port}')) {
        problems.push(`nginx-include-template: ${(0,readers/* show */.W)(template)} is not valid; expected text containing {port}`);
    }
    const include = text('nginx-include', '/etc/nginx/conf.d/service-url.inc');
    if (include.includes('\n') || include.endsWith('/')) {
        problems.push(`nginx-include: ${(0,readers/* show */.W)(include)} is not valid; expected the path of a file`);
    }
    const hook = (name) => {
        const value = raw(name).trim();
        if (value.includes('\0'))
            problems.push(`${name}: contains a NUL byte, which no shell can carry; expected a shell command line`);
        return value;
    };
    const verifyUrl = raw('verify-url').trim();
    if (verifyUrl !== '' && !/^https?:\/\/[^\s'"]+$/.test(verifyUrl)) {
        problems.push(`verify-url: ${(0,readers/* show */.W)(verifyUrl)} is not valid; expected an http:// or https:// URL`);
    }
    const config = {
        command: command,
        ...connection,
        artifact,
        appName,
        deployDir,
        keepReleases,
        ports,
        startCommand: text('start-command', DEFAULT_START_COMMAND),
        javaOpts: raw('java-opts').trim(),
        env,
        health,
        stopPrevious: boolean('stop-previous', false),
        drainSeconds: seconds('drain-seconds', 10),
        stopTimeoutSeconds: seconds('stop-timeout', 30, 1),
        supervisor: supervisor,
        nginx: {
            include,
            template,
            testCommand: text('nginx-test-command', 'sudo -n nginx -t'),
            reloadCommand: text('nginx-reload-command', 'sudo -n nginx -s reload'),
        },
        verifyUrl,
        dryRun: boolean('dry-run', false),
        lockTimeoutSeconds: seconds('lock-timeout', 300),
        maxParallel: integer('max-parallel', 1, 1, 100),
        stageParallel: integer('stage-parallel', 32, 1, 100),
        hooks: { 'pre-start': hook('pre-start-command'), 'pre-switch': hook('pre-switch-command'), 'post-switch': hook('post-switch-command') },
        hookTimeoutSeconds: seconds('hook-timeout', 300, 1),
        logLines: integer('log-lines', 200, 1, 100_000),
        traffic: (0,traffic_inputs/* parseTrafficInputs */.sP)(read, { appName, include }),
    };
    // only deploy needs an artifact
    if (command !== 'deploy') {
        const index = problems.findIndex((p) => p.startsWith('artifact:'));
        if (index >= 0)
            problems.splice(index, 1);
    }
    if (problems.length > 0)
        throw new InputError(problems);
    return config;
}
/** The credential inputs, each a secret whatever it looks like. */
function credentialInputs(config) {
    // Every jump host takes the same credentials. (A config made by hand may have no jump hosts at all.)
    const jump = config.jumpHosts?.[0];
    return [config.auth.privateKey, config.auth.passphrase, config.auth.password, jump?.auth.privateKey, jump?.auth.passphrase];
}
/**
 * Values the action masks itself in what the host sends back (a hook's output, a log, a stranger's
 * command line): every secret input, every env value (a credential can hide under any name), and
 * java-opts, whole and each `-D` value in it (`-Ddb.password=...`). Booleans are none.
 */
function secretsOf(config) {
    const values = [...credentialInputs(config), config.javaOpts, ...(0,secrets/* javaOptionValues */.Ik)(config.javaOpts)];
    for (const [, value] of config.env)
        values.push(value);
    return values.filter((v) => typeof v === 'string' && v.length >= secrets/* MIN_SECRET_LENGTH */.vb && !(0,secrets/* isBoolean */.Lm)(v));
}
/**
 * What the action registers with the runner as secrets: the secret inputs, and the env values and
 * java-opts `-D` values that may be credentials (mayBeSecret). The runner drops every output that
 * holds one, so none of them is a value the outputs are made of.
 */
function registeredSecretsOf(config) {
    const shown = [
        ...[...config.hosts, ...(config.jumpHosts ?? []).map((jump) => jump.entry)].map((entry) => entry.label),
        ...config.ports.map(String),
        config.appName,
        config.deployDir,
    ].filter((text) => text !== '');
    const candidates = [...config.env, ...(0,secrets/* javaOptions */.NC)(config.javaOpts)];
    const values = [
        ...credentialInputs(config),
        ...candidates.filter(([name, value]) => (0,secrets/* mayBeSecret */.lr)(name, value, shown)).map(([, value]) => value),
    ];
    return values.filter((v) => typeof v === 'string' && v.trim() !== '');
}


/***/ }),

/***/ 4246:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   W: () => (/* binding */ show),
/* harmony export */   X: () => (/* binding */ inputReaders)
/* harmony export */ });
/**
 * The readers every group of inputs shares (inputs.ts, connection-inputs.ts, traffic-inputs.ts):
 * each reads an input by name and, when its value is not valid, records a problem naming the input,
 * the value and what is expected, and returns the fallback.
 */
/** A value as a problem shows it: quoted, with its line breaks and quotes escaped. */
const show = (value) => JSON.stringify(value);
function inputReaders(get) {
    const problems = [];
    const raw = (name) => get(name) ?? '';
    return {
        problems,
        raw,
        text(name, fallback) {
            const value = raw(name).trim();
            return value === '' ? fallback : value;
        },
        integer(name, fallback, min, max) {
            const value = raw(name).trim();
            if (value === '')
                return fallback;
            if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
                problems.push(`${name}: ${show(value)} is not valid; expected a whole number from ${min} to ${max}`);
                return fallback;
            }
            return Number(value);
        },
        seconds(name, fallback, min = 0) {
            const value = raw(name).trim();
            if (value === '')
                return fallback;
            const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m)?$/.exec(value);
            const scale = { ms: 0.001, s: 1, m: 60 }[match?.[2] ?? 's'] ?? 1;
            const parsed = match ? Number(match[1]) * scale : NaN;
            if (!match || parsed < min || parsed > 86_400) {
                problems.push(`${name}: ${show(value)} is not valid; expected seconds, e.g. "30", "0.5" or "2m", at least ${min}`);
                return fallback;
            }
            return parsed;
        },
        boolean(name, fallback) {
            const value = raw(name).trim().toLowerCase();
            if (value === '')
                return fallback;
            if (['true', 'yes', 'on', '1'].includes(value))
                return true;
            if (['false', 'no', 'off', '0'].includes(value))
                return false;
            problems.push(`${name}: ${show(raw(name).trim())} is not valid; expected true or false`);
            return fallback;
        },
    };
}


/***/ }),

/***/ 2999:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   Ik: () => (/* binding */ javaOptionValues),
/* harmony export */   Lm: () => (/* binding */ isBoolean),
/* harmony export */   NC: () => (/* binding */ javaOptions),
/* harmony export */   RM: () => (/* binding */ masksFor),
/* harmony export */   Zz: () => (/* binding */ secretsBeforeParsing),
/* harmony export */   df: () => (/* binding */ redactCommandLine),
/* harmony export */   lr: () => (/* binding */ mayBeSecret),
/* harmony export */   vb: () => (/* binding */ MIN_SECRET_LENGTH)
/* harmony export */ });
/* unused harmony exports namesSecret, looksLikeSecret */
/**
 * Secrets beyond the inputs named as such: `env` values, system properties in java-opts
 * (`-Ddb.password=...` is how many JVM services take credentials), and the command lines of
 * processes the action did not start, which a JVM of an older deploy fills with the same kind of
 * properties.
 *
 * Two sets, for two maskers. The runner's (core.setSecret) masks a value in every line of the job
 * log, but also drops every output that contains it: only what may be a credential goes there
 * (mayBeSecret). The action's own (maskLine, redactCommandLine), for what the host sends back, masks
 * every env and java-opts value besides, since a credential can hide under any name.
 */
/** Masks shorter than this would hide every occurrence of a common word or number in the log. */
const MIN_SECRET_LENGTH = 3;
/** The values of the `-Dname=value` options in java-opts long enough to mask. */
function javaOptionValues(javaOpts) {
    return javaOptions(javaOpts)
        .map(([, value]) => value)
        .filter((value) => value.length >= MIN_SECRET_LENGTH);
}
const SECRET_INPUTS = ['private-key', 'passphrase', 'password', 'proxy-private-key', 'proxy-passphrase'];
/**
 * Values that never hold a credential, and of which the action's own outputs are made: booleans,
 * and numbers (with a unit, as `512m` or `30s`, or dotted, as a version `1.2.3`).
 */
const ORDINARY = /^(?:true|false|yes|no|on|off|null|none|[-+]?\d+(?:[.,]\d+)*[a-z]{0,2})$/i;
/** A boolean carries no secret; masking one hides every "true" of a log. */
function isBoolean(value) {
    return /^(?:true|false|yes|no|on|off)$/i.test(value.trim());
}
/** Words in a name that say its value is a credential, anywhere in it: DB_PASSWORD, jwtSecret, OAUTH_TOKEN. */
const SECRET_NAME_PARTS = ['PASSWORD', 'PASSWD', 'PASSPHRASE', 'SECRET', 'TOKEN', 'CREDENTIAL', 'PRIVATE', 'KEY', 'AUTH'];
/** Short words that say so only as a whole word of the name (PIN in SPRING is none): DB_PASS, SMTP_PWD. */
const SECRET_NAME_WORDS = new Set(['PASS', 'PWD', 'PW', 'PIN', 'SALT', 'DSN']);
/** Whether a name (an env key, a `-D` property) says that its value is a credential. */
function namesSecret(name) {
    const upper = name.toUpperCase();
    if (SECRET_NAME_PARTS.some((part) => upper.includes(part)))
        return true;
    const words = name
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .toUpperCase()
        .split(/[^A-Z0-9]+/);
    return words.some((word) => SECRET_NAME_WORDS.has(word));
}
/** Words (letters only) joined by `.`, `_`, `-`, `/` or `:`: a profile, a time zone, a log level, a MIME type. */
const PLAIN_WORDS = /^[A-Za-z]+(?:[._\-/:]+[A-Za-z]+)*$/;
/**
 * Whether a value looks like a credential whatever its name: a URL with a password in it, or eight
 * characters and more, without a space, that are neither a number nor plain words (so letters mixed
 * with digits or other signs: `S3cr3t-pw`, a token, a base64 or hex key).
 */
function looksLikeSecret(value) {
    if (/:\/\/[^/@\s]*:[^/@\s]+@/.test(value))
        return true;
    return value.length >= 8 && !/\s/.test(value) && !ORDINARY.test(value) && !PLAIN_WORDS.test(value);
}
/**
 * The rule for what the action registers with the runner as a secret, besides the credential inputs:
 * an `env` entry or a java-opts `-D` property whose name names a credential (namesSecret) or whose
 * value looks like one (looksLikeSecret). Never a value shorter than MIN_SECRET_LENGTH, a boolean or
 * a number, nor one that occurs in `shown` (the hosts, users, ports, app name and deploy-dir, which
 * the outputs and the summary show): the runner drops every output that holds a registered value,
 * and masks it in every line of the log. Values outside this rule are still masked by the action
 * itself wherever it prints what the host sent (a hook's output, a log, a stranger's command line).
 */
function mayBeSecret(name, value, shown = []) {
    if (value.trim().length < MIN_SECRET_LENGTH || ORDINARY.test(value.trim()))
        return false;
    if (shown.some((text) => text.includes(value)))
        return false;
    return namesSecret(name) || looksLikeSecret(value);
}
/** The `-Dname=value` options in java-opts, split as `sh` splits `$JAVA_OPTS`. */
function javaOptions(javaOpts) {
    return javaOpts.split(/\s+/).flatMap((word) => {
        const option = /^-D([^=]+)=(.*)$/s.exec(word);
        return option ? [[option[1], option[2]]] : [];
    });
}
/** What the inputs show of themselves in the outputs and the summary: a value in them is no secret. */
const SHOWN_INPUTS = ['host', 'port', 'username', 'proxy-host', 'proxy-port', 'proxy-username', 'ports', 'app-name', 'deploy-dir'];
/**
 * Secrets read from the raw inputs, before they are checked: a problem with any input must not
 * print one that is not registered yet. registeredSecretsOf (inputs.ts) follows once they are valid.
 * Only what mayBeSecret keeps, with the credential inputs.
 */
function secretsBeforeParsing(get, shown = []) {
    const visible = [...shown, ...SHOWN_INPUTS.map((name) => get(name) ?? '')].filter((text) => text !== '');
    const envEntries = (get('env') ?? '')
        .split('\n')
        .filter((line) => line.includes('=') && !line.trimStart().startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).replace(/\r$/, '')]);
    const entries = [...envEntries, ...javaOptions((get('java-opts') ?? '').trim())];
    return [
        ...SECRET_INPUTS.map((name) => get(name) ?? '').filter((value) => value.trim() !== ''),
        ...entries.filter(([name, value]) => mayBeSecret(name, value, visible)).map(([, value]) => value),
    ];
}
/**
 * What to register with the runner's masker for these values: each whole, and each line of a
 * multi-line value, since the runner matches a mask within one log line at a time (a key's lines
 * are 8 characters and more; its BEGIN and END lines are no secret).
 */
function masksFor(values) {
    const masks = new Set();
    for (const value of values) {
        if (value.trim() === '')
            continue;
        masks.add(value);
        for (const line of value.split('\n'))
            if (line.trim().length >= 8 && !line.includes('-----'))
                masks.add(line.trim());
    }
    return [...masks];
}
const REMOVED = '***';
/**
 * A stranger's command line (as command_of prints it: arguments joined by spaces, cut at 200
 * characters), fit for the log: every `-Dname=` argument shortened to `-Dname=…`, and every
 * masked value (or line of one) removed, also one of which the cut left only the start.
 */
function redactCommandLine(commandLine, secrets) {
    // Each argument ends with a NUL, which command_of turns into a space: no space at the end, cut.
    const cut = commandLine !== '' && !/\s$/.test(commandLine);
    let text = commandLine.trim().replace(/(^|\s)(-D[^=\s]+)=\S*/g, '$1$2=…');
    const values = secrets
        .flatMap((secret) => [secret, ...secret.split('\n').map((line) => line.trim())])
        .filter((value) => value.length >= MIN_SECRET_LENGTH)
        .sort((a, b) => b.length - a.length);
    for (const value of values)
        text = text.split(value).join(REMOVED);
    if (!cut)
        return text;
    for (const value of values) {
        for (let length = value.length - 1; length >= MIN_SECRET_LENGTH; length--) {
            if (text.endsWith(value.slice(0, length)))
                return text.slice(0, text.length - length) + REMOVED;
        }
    }
    return text;
}


/***/ }),

/***/ 4645:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   F4: () => (/* binding */ watchesTraffic),
/* harmony export */   sP: () => (/* binding */ parseTrafficInputs)
/* harmony export */ });
/* unused harmony export DEFAULT_CANARY_KEY */
/* harmony import */ var _readers_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(4246);
/**
 * The traffic-control inputs (SPEC "Traffic control"): canary steps, bake, the analysis thresholds
 * and the files nginx reads for them. Checked with the rest of the inputs, before any connection.
 */

const DEFAULT_CANARY_KEY = '$remote_addr';
/** True when a run needs to watch its traffic: a canary or a bake. */
function watchesTraffic(traffic) {
    return traffic.canarySteps.length > 0 || traffic.bakeSeconds > 0;
}
function parseTrafficInputs(read, context) {
    const { raw, text, problems } = read;
    const stepsText = raw('canary-steps').trim();
    const steps = stepsText === '' ? [] : stepsText.split(/[\s,]+/).filter(Boolean);
    const canarySteps = [];
    const expected = 'expected increasing whole percentages from 1 to 99, e.g. "10,50"';
    if (steps.some((step) => !/^\d+$/.test(step) || Number(step) < 1 || Number(step) > 99)) {
        problems.push(`canary-steps: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(stepsText)} is not valid; ${expected}`);
    }
    else if (steps.some((step, i) => i > 0 && Number(step) <= Number(steps[i - 1]))) {
        problems.push(`canary-steps: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(stepsText)} is not valid; ${expected} (each step above the one before)`);
    }
    else {
        canarySteps.push(...steps.map(Number));
    }
    const canaryKey = text('canary-key', DEFAULT_CANARY_KEY);
    // The key is written into nginx's configuration inside double quotes: nothing may end it.
    if (/[;{}"'\\\n\r\0]/.test(canaryKey)) {
        problems.push(`canary-key: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(canaryKey)} is not valid; expected nginx variables and plain text, e.g. "$remote_addr" or "$cookie_SESSION", without ; { } quotes, backslashes or line breaks`);
    }
    const maxErrorRateText = raw('max-error-rate').trim();
    let maxErrorRate = 1;
    if (maxErrorRateText !== '') {
        const value = Number(maxErrorRateText.replace(/%$/, ''));
        if (!/^\d+(\.\d+)?%?$/.test(maxErrorRateText) || value > 100) {
            problems.push(`max-error-rate: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(maxErrorRateText)} is not valid; expected a percentage from 0 to 100, e.g. "1" or "0.5"`);
        }
        else {
            maxErrorRate = value;
        }
    }
    const httpInclude = text('nginx-http-include', `/etc/nginx/conf.d/zdd-${context.appName}.conf`);
    if (!httpInclude.startsWith('/') || httpInclude.endsWith('/') || /[\n\0]/.test(httpInclude)) {
        problems.push(`nginx-http-include: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(httpInclude)} is not valid; expected the absolute path of a file`);
    }
    else if (httpInclude === context.include) {
        problems.push(`nginx-http-include: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(httpInclude)} is the nginx-include itself; expected a file of its own, read by nginx inside http`);
    }
    const maintenancePage = raw('maintenance-page').trim();
    if (/[\n\0]/.test(maintenancePage)) {
        problems.push(`maintenance-page: ${(0,_readers_js__WEBPACK_IMPORTED_MODULE_0__/* .show */ .W)(maintenancePage)} is not valid; expected the path of a file on the host`);
    }
    return {
        canarySteps,
        canaryIntervalSeconds: read.seconds('canary-interval', 60),
        canaryKey,
        bakeSeconds: read.seconds('bake-seconds', 0),
        maxErrorRate,
        maxP99Ms: read.integer('max-p99-ms', 0, 0, 3_600_000),
        minRequests: read.integer('analysis-min-requests', 20, 1, 1_000_000_000),
        httpInclude,
        maintenancePage,
    };
}


/***/ }),

/***/ 5691:
/***/ ((__webpack_module__, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(__webpack_module__, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _shims_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(2663);
/* harmony import */ var _config_inputs_js__WEBPACK_IMPORTED_MODULE_1__ = __nccwpck_require__(5533);
/* harmony import */ var _ssh_early_socket_js__WEBPACK_IMPORTED_MODULE_2__ = __nccwpck_require__(1743);



// Inputs arrive as INPUT_<NAME> variables (the names @actions/core reads), available before it loads.
(0,_ssh_early_socket_js__WEBPACK_IMPORTED_MODULE_2__/* .connectEarly */ .I)((0,_config_inputs_js__WEBPACK_IMPORTED_MODULE_1__/* .firstDestination */ .P8)((name) => process.env[`INPUT_${name.toUpperCase()}`] ?? ''));
// Node issues the connect on its next tick; loading the rest would otherwise come first.
await new Promise((resolve) => setImmediate(resolve));
const { main } = await Promise.all(/* import() */[__nccwpck_require__.e(299), __nccwpck_require__.e(240)]).then(__nccwpck_require__.bind(__nccwpck_require__, 4240));
await main();

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 6982:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   DF: () => (/* binding */ shellAssignments),
/* harmony export */   ZL: () => (/* binding */ shellQuote),
/* harmony export */   ky: () => (/* binding */ shellScript),
/* harmony export */   tO: () => (/* binding */ SHELL_NAME)
/* harmony export */ });
/**
 * The one place where a value becomes shell text. Every value that reaches a remote shell goes
 * through `shellQuote`; scripts only ever reference the variables that `shellAssignments` sets.
 */
/** Quotes any string for POSIX sh: the shell sees exactly these bytes, expands and runs nothing. */
function shellQuote(value) {
    if (value.includes('\0')) {
        throw new Error('a value for the remote shell contains a NUL byte, which no shell can carry');
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
/** Valid names for shell variables (and environment keys). */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `NAME='value'` lines, one per entry, for the top of a script. */
function shellAssignments(vars) {
    return Object.entries(vars)
        .map(([name, value]) => {
        if (!SHELL_NAME.test(name))
            throw new Error(`not a shell variable name: ${name}`);
        return `${name}=${shellQuote(String(value))}`;
    })
        .join('\n');
}
/** A script: strict mode, the quoted variables, then a body that only references them. */
function shellScript(vars, body) {
    return `set -u\n${shellAssignments(vars)}\n${body.trim()}\n`;
}


/***/ }),

/***/ 2663:
/***/ ((__unused_webpack___webpack_module__, __unused_webpack___webpack_exports__, __nccwpck_require__) => {


;// CONCATENATED MODULE: external "node:url"
const external_node_url_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __nccwpck_require__(6760);
;// CONCATENATED MODULE: ./lib/shims.js
// ssh2's bundled poly1305 module reads __dirname, which does not exist in an ES module bundle
// (vercel/ncc#749). This file must be the first import of the entry point.


const globals = globalThis;
globals.__filename ??= (0,external_node_url_namespaceObject.fileURLToPath)(import.meta.url);
globals.__dirname ??= (0,external_node_path_.dirname)(globals.__filename);


/***/ }),

/***/ 1743:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   I: () => (/* binding */ connectEarly),
/* harmony export */   p: () => (/* binding */ takeEarlySocket)
/* harmony export */ });
/* harmony import */ var node_net__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(7030);
/**
 * The TCP connection to the first host, opened while the action's bundle loads. Loading takes
 * longer than a TCP handshake plus sshd's start of a new session (20 ms on loopback, a network
 * round trip more from a hosted runner), so by the time ssh2 is ready the host's banner is waiting.
 * No byte is sent on it before the transport takes it over and checks the host key as always.
 */

let early;
/** Starts connecting. The socket does not keep the process alive until it is taken. */
function connectEarly(destination) {
    if (!destination)
        return;
    const socket = (0,node_net__WEBPACK_IMPORTED_MODULE_0__.connect)({ ...destination, noDelay: true });
    // A failure here is met again, and reported, by the transport's own connection.
    socket.on('error', () => undefined);
    socket.unref();
    early = { ...destination, socket };
}
/** The early socket if it goes to this host and port and has not failed; only once. */
function takeEarlySocket(host, port) {
    if (!early || early.host !== host || early.port !== port)
        return undefined;
    const { socket } = early;
    early = undefined;
    if (socket.destroyed || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') {
        socket.destroy();
        return undefined;
    }
    socket.ref();
    return socket;
}


/***/ }),

/***/ 9748:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {

/* harmony export */ __nccwpck_require__.d(__webpack_exports__, {
/* harmony export */   R: () => (/* binding */ proxyCommandProblem),
/* harmony export */   g: () => (/* binding */ expandProxyCommand)
/* harmony export */ });
/* harmony import */ var _remote_quote_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(6982);
/**
 * `proxy-command`'s `%` escapes, replaced as OpenSSH's ProxyCommand replaces them: `%h` the host,
 * `%p` the port, `%r` the user, `%%` a `%`. OpenSSH pastes the values in as they are; here each one
 * is quoted for the place of the command it lands in (bare, inside '...', inside "..."), so that
 * the shell that runs the command takes it as one literal piece of text wherever the user wrote the
 * escape: `--target %h`, `'portNumber=%p'` and `"[%h]:%p"` all get the value and nothing else.
 */

const ESCAPES = new Set(['h', 'p', 'r', '%']);
/** Why the command cannot be used, or undefined: an escape OpenSSH would take but this action does not know. */
function proxyCommandProblem(command) {
    if (command.includes('\0'))
        return 'contains a NUL byte, which no shell can carry; expected a shell command line';
    for (let at = command.indexOf('%'); at >= 0; at = command.indexOf('%', at + 2)) {
        const escape = command[at + 1];
        if (escape === undefined)
            return 'ends with a lone "%"; expected %h, %p, %r or %% (a literal %)';
        if (!ESCAPES.has(escape))
            return `has "%${escape}", which is not replaced here; expected %h (host), %p (port), %r (user) or %% (a literal %)`;
    }
    return undefined;
}
/** The value as literal text inside double quotes: only $, `, " and \ mean anything there. */
function inDoubleQuotes(value) {
    return value.replace(/[$`"\\]/g, '\\$&');
}
/** The command with its escapes replaced, each value quoted for where it stands. */
function expandProxyCommand(command, values) {
    const replacement = { h: values.host, p: String(values.port), r: values.user };
    let out = '';
    let quote = '';
    for (let i = 0; i < command.length; i++) {
        const char = command[i];
        if (char === '%') {
            const escape = command[++i];
            if (escape === '%') {
                out += '%';
                continue;
            }
            const value = replacement[escape];
            if (value === undefined)
                throw new Error(`proxy-command: "%${escape ?? ''}" is not replaced here`);
            // Inside '...' no character is special but the closing quote: close it, add the quoted value, reopen.
            out += quote === '"' ? inDoubleQuotes(value) : quote === "'" ? `'${(0,_remote_quote_js__WEBPACK_IMPORTED_MODULE_0__/* .shellQuote */ .ZL)(value)}'` : (0,_remote_quote_js__WEBPACK_IMPORTED_MODULE_0__/* .shellQuote */ .ZL)(value);
            continue;
        }
        out += char;
        if (quote === "'") {
            if (char === "'")
                quote = '';
        }
        else if (char === '\\') {
            // A backslash takes the next character as it is, outside quotes and (for the few it escapes) inside "...".
            if (i + 1 < command.length && command[i + 1] !== '%')
                out += command[++i];
        }
        else if (quote === '"') {
            if (char === '"')
                quote = '';
        }
        else if (char === "'" || char === '"') {
            quote = char;
        }
    }
    return out;
}


/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/******/ // expose the modules object (__webpack_modules__)
/******/ __nccwpck_require__.m = __webpack_modules__;
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/ensure chunk */
/******/ (() => {
/******/ 	__nccwpck_require__.f = {};
/******/ 	// This file contains only the entry chunk.
/******/ 	// The chunk loading function for additional chunks
/******/ 	__nccwpck_require__.e = (chunkId) => {
/******/ 		return Promise.all(Object.keys(__nccwpck_require__.f).reduce((promises, key) => {
/******/ 			__nccwpck_require__.f[key](chunkId, promises);
/******/ 			return promises;
/******/ 		}, []));
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/get javascript chunk filename */
/******/ (() => {
/******/ 	// This function allow to reference async chunks
/******/ 	__nccwpck_require__.u = (chunkId) => {
/******/ 		// return url for filenames based on template
/******/ 		return "" + chunkId + ".index.js";
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/import chunk loading */
/******/ (() => {
/******/ 	// no baseURI
/******/ 	
/******/ 	// object to store loaded and loading chunks
/******/ 	// undefined = chunk not loaded, null = chunk preloaded/prefetched
/******/ 	// [resolve, Promise] = chunk loading, 0 = chunk loaded
/******/ 	var installedChunks = {
/******/ 		792: 0
/******/ 	};
/******/ 	
/******/ 	var installChunk = (data) => {
/******/ 		var {ids, modules, runtime} = data;
/******/ 		// add "modules" to the modules object,
/******/ 		// then flag all "ids" as loaded and fire callback
/******/ 		var moduleId, chunkId, i = 0;
/******/ 		for(moduleId in modules) {
/******/ 			if(__nccwpck_require__.o(modules, moduleId)) {
/******/ 				__nccwpck_require__.m[moduleId] = modules[moduleId];
/******/ 			}
/******/ 		}
/******/ 		if(runtime) runtime(__nccwpck_require__);
/******/ 		for(;i < ids.length; i++) {
/******/ 			chunkId = ids[i];
/******/ 			if(__nccwpck_require__.o(installedChunks, chunkId) && installedChunks[chunkId]) {
/******/ 				installedChunks[chunkId][0]();
/******/ 			}
/******/ 			installedChunks[ids[i]] = 0;
/******/ 		}
/******/ 	
/******/ 	}
/******/ 	
/******/ 	__nccwpck_require__.f.j = (chunkId, promises) => {
/******/ 			// import() chunk loading for javascript
/******/ 			var installedChunkData = __nccwpck_require__.o(installedChunks, chunkId) ? installedChunks[chunkId] : undefined;
/******/ 			if(installedChunkData !== 0) { // 0 means "already installed".
/******/ 	
/******/ 				// a Promise means "currently loading".
/******/ 				if(installedChunkData) {
/******/ 					promises.push(installedChunkData[1]);
/******/ 				} else {
/******/ 					if(true) { // all chunks have JS
/******/ 						// setup Promise in chunk cache
/******/ 						var promise = import("./" + __nccwpck_require__.u(chunkId)).then(installChunk, (e) => {
/******/ 							if(installedChunks[chunkId] !== 0) installedChunks[chunkId] = undefined;
/******/ 							throw e;
/******/ 						});
/******/ 						var promise = Promise.race([promise, new Promise((resolve) => (installedChunkData = installedChunks[chunkId] = [resolve]))])
/******/ 						promises.push(installedChunkData[1] = promise);
/******/ 					}
/******/ 				}
/******/ 			}
/******/ 	};
/******/ 	
/******/ 	// no prefetching
/******/ 	
/******/ 	// no preloaded
/******/ 	
/******/ 	// no external install chunk
/******/ 	
/******/ 	// no on chunks loaded
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(5691);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
