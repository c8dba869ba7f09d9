export const id = 240;
export const ids = [240];
export const modules = {

/***/ 4240:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  main: () => (/* binding */ main)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 14 modules
var core = __webpack_require__(6421);
// EXTERNAL MODULE: ./lib/config/inputs.js + 2 modules
var inputs = __webpack_require__(5533);
// EXTERNAL MODULE: ./lib/config/secrets.js
var secrets = __webpack_require__(2999);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
;// CONCATENATED MODULE: ./lib/artifact.js
/** Finds the built jar in the workspace and fingerprints it, reading it as a stream. */




class ArtifactError extends Error {
    constructor(message) {
        super(message);
        this.name = 'ArtifactError';
    }
}
/** A glob (`*`, `?`, `**`) as a regular expression over `/`-separated relative paths. */
function globToRegExp(glob) {
    let source = '';
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === '*' && glob[i + 1] === '*') {
            const slash = glob[i + 2] === '/';
            source += slash ? '(?:.*/)?' : '.*';
            i += slash ? 2 : 1;
        }
        else if (c === '*')
            source += '[^/]*';
        else if (c === '?')
            source += '[^/]';
        else
            source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${source}$`);
}
async function walk(dir, depthLeft, found) {
    if (depthLeft < 0)
        return;
    let entries;
    try {
        entries = await (0,promises_.readdir)(dir, { withFileTypes: true });
    }
    catch {
        return;
    }
    for (const entry of entries) {
        if (entry.name === '.git' || entry.name === 'node_modules')
            continue;
        const full = (0,external_node_path_.join)(dir, entry.name);
        if (entry.isDirectory())
            await walk(full, depthLeft - 1, found);
        else if (entry.isFile())
            found.push(full);
    }
}
/**
 * The one file `pattern` names, relative to `workspace`. Spring Boot's `*-plain.jar` (classes
 * only, not runnable) is set aside when the pattern also matches the runnable jar.
 */
async function findArtifact(pattern, workspace) {
    if (!/[*?]/.test(pattern)) {
        const path = (0,external_node_path_.isAbsolute)(pattern) ? pattern : (0,external_node_path_.resolve)(workspace, pattern);
        const info = await (0,promises_.stat)(path).catch(() => undefined);
        if (!info?.isFile())
            throw new ArtifactError(`artifact: "${pattern}" matched no file in ${workspace}; expected the path of the built jar (did the build step run first?)`);
        return path;
    }
    const segments = pattern.split('/');
    const firstWild = segments.findIndex((segment) => /[*?]/.test(segment));
    const root = (0,external_node_path_.resolve)(workspace, segments.slice(0, firstWild).join('/') || '.');
    const rest = segments.slice(firstWild).join('/');
    const matcher = globToRegExp(rest);
    const files = [];
    await walk(root, rest.includes('**') ? 32 : rest.split('/').length - 1, files);
    const matched = files.filter((f) => matcher.test((0,external_node_path_.relative)(root, f).split('\\').join('/'))).sort();
    const runnable = matched.filter((f) => !f.endsWith('-plain.jar'));
    if (runnable.length === 1)
        return runnable[0];
    const shown = matched.map((f) => (0,external_node_path_.relative)(workspace, f)).join(', ');
    if (matched.length === 0)
        throw new ArtifactError(`artifact: "${pattern}" matched no file in ${workspace}; expected one built jar (did the build step run first?)`);
    throw new ArtifactError(`artifact: "${pattern}" matched ${runnable.length} files (${shown}); expected exactly one once *-plain.jar files are set aside. Make the pattern more specific.`);
}
async function sha256OfFile(path) {
    const hash = (0,external_node_crypto_.createHash)('sha256');
    // Small reads keep the memory flat: 1 MiB buffers pile up faster than they are collected.
    for await (const chunk of (0,external_node_fs_.createReadStream)(path, { highWaterMark: 64 * 1024 }))
        hash.update(chunk);
    return hash.digest('hex');
}
async function describeArtifact(path) {
    const info = await (0,promises_.stat)(path);
    return { path, fileName: (0,external_node_path_.basename)(path), size: info.size, sha256: await sha256OfFile(path) };
}
async function resolveArtifact(pattern, workspace) {
    return describeArtifact(await findArtifact(pattern, workspace));
}

;// CONCATENATED MODULE: ./lib/log.js
/** The action's log: GitHub's log groups for one host, and a group per host and phase in a fleet. */

/** One host's log, printed as it happens: a group per step. */
function actionsLog() {
    return {
        info: (message) => core/* info */.pq(message),
        warning: (message) => core/* warning */.$e(message),
        progress: (message) => core/* info */.pq(message),
        group: (title, work) => core/* group */.Os(title, work),
    };
}
/**
 * The warnings of a fleet's hosts, by text. Hosts set up alike give the same warning (no systemd,
 * no lingering), and 32 annotations of one text would bury every other (GitHub shows only the
 * first few of a step): a text is annotated once, at once, for the first host that gives it, and
 * `summarize` names the other hosts that gave it too.
 */
class FleetWarnings {
    hostsByText = new Map();
    /** Records that `host` gave warning `message`; true when no host gave that text before. */
    firstFor(message, host) {
        const hosts = this.hostsByText.get(message);
        if (hosts) {
            hosts.push(host);
            return false;
        }
        this.hostsByText.set(message, [host]);
        return true;
    }
    /** One annotation for each text that more than one host gave, naming the others. */
    summarize() {
        for (const [message, [first, ...others]] of this.hostsByText) {
            if (others.length === 0)
                continue;
            const firstLine = message.split('\n')[0];
            core/* warning */.$e(`${others.length} more ${others.length === 1 ? 'host' : 'hosts'} gave the warning shown for ${first} (${others.join(', ')}): ${firstLine}`);
        }
    }
}
/**
 * Many hosts stage at once; their lines, interleaved, would be unreadable. Each host's lines are
 * kept until its phase ends, then printed as one collapsible group headed by the host and the
 * phase's outcome. Warnings are also shown at once, as annotations, since they may call for action
 * (once for a text that several hosts give, with `warnings`).
 */
function hostLog(prefix, warnings) {
    let lines = [];
    const tag = (message) => message
        .split('\n')
        .map((line) => `[${prefix}] ${line}`)
        .join('\n');
    return {
        info: (message) => {
            lines.push(message);
        },
        warning: (message) => {
            lines.push(`Warning: ${message}`);
            if (!warnings || warnings.firstFor(message, prefix))
                core/* warning */.$e(tag(message));
        },
        progress: (message) => {
            lines.push(message);
            core/* info */.pq(tag(message));
        },
        group: async (title, work) => {
            lines.push(`${title}:`);
            return work();
        },
        flush: (title) => {
            core/* startGroup */.Oh(`${prefix}: ${title}`);
            if (lines.length > 0)
                core/* info */.pq(lines.join('\n'));
            core/* endGroup */.N4();
            lines = [];
        },
    };
}

;// CONCATENATED MODULE: ./lib/ssh/errors.js
/** A connection could not be made or kept; the message is meant for the user as it is. */
class ConnectionError extends Error {
    /** `cause`: the error of the socket or of ssh2 behind it, which decides whether a new try may pass (retry.ts). */
    constructor(message, options) {
        super(message, options);
        this.name = 'ConnectionError';
    }
}
/** `host:port`, with an IPv6 address in brackets as known_hosts and ssh write it. */
function hostAndPort(host, port) {
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
/** Turns an error from connecting to `entry` into a message that says what happened and what to check. */
function describeConnectError(error, entry, timeoutSeconds) {
    const where = hostAndPort(entry.host, entry.port);
    const message = error.message ?? String(error);
    // A proxy command that ended before the handshake: its own words say more than ssh2's.
    if (error.level === 'proxy-command')
        return `${entry.label}: ${message}`;
    if (error.level === 'client-authentication' || /All configured authentication methods failed/.test(message)) {
        return `${entry.label}: the host refused the credentials for user "${entry.username}". Check that the private key's public half is in ~${entry.username}/.ssh/authorized_keys on the host (or that the password is right), and that username is right.`;
    }
    if (/bad passphrase|Bad passphrase|decrypt|Encrypted private OpenSSH key detected, but no passphrase given|Encrypted .* key detected/i.test(message)) {
        return `${entry.label}: the private key could not be decrypted: the passphrase is missing or wrong. Check the passphrase input.`;
    }
    if (/Cannot parse privateKey|Unsupported key format|Malformed/i.test(message)) {
        return `${entry.label}: the private key could not be read (${message}). Paste the whole key file, including its BEGIN and END lines, into the secret.`;
    }
    if (/No response from server/.test(message)) {
        return `${entry.label}: ${where} closed the connection during the SSH key exchange. A host that sheds new connections under load does this (sshd's MaxStartups), as does one that refuses the runner (fail2ban, AllowUsers, a firewall that resets).`;
    }
    if (error.level === 'client-timeout' || /Timed out while waiting for handshake/i.test(message) || error.code === 'ETIMEDOUT') {
        return `${entry.label}: no SSH answer from ${where} within ${timeoutSeconds} s (connect-timeout). Check that the host is up and that a firewall or security group lets the runner reach port ${entry.port}.`;
    }
    if (error.code === 'ECONNREFUSED') {
        return `${entry.label}: connection refused at ${where}: nothing listens there. Check host and port, and that sshd is running.`;
    }
    if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
        return `${entry.label}: the host name "${entry.host}" does not resolve. Check the host input.`;
    }
    if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
        return `${entry.label}: ${where} is not reachable from the runner (${error.code}). Check the address and the network path.`;
    }
    if (error.code === 'ECONNRESET' || /Connection lost before handshake/i.test(message)) {
        return `${entry.label}: ${where} closed the connection before the SSH handshake. Check that port ${entry.port} is an SSH server and that it allows the runner (sshd MaxStartups, fail2ban, AllowUsers).`;
    }
    return `${entry.label}: SSH connection failed: ${message}`;
}

// EXTERNAL MODULE: ./lib/ssh/expand-command.js
var expand_command = __webpack_require__(9748);
// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(1421);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
;// CONCATENATED MODULE: ./lib/ssh/proxy-command.js
/**
 * `proxy-command`: a process on the runner whose stdin and stdout carry the SSH connection to one
 * host (`aws ssm start-session ...`, `cloudflared access ssh ...`, `ssh -W %h:%p bastion`). ssh2
 * takes it as its socket; the host key is checked inside the handshake as on a direct connection.
 *
 * The command runs in a process group of its own (`sh -c` and whatever it starts: the AWS CLI starts
 * the Session Manager plugin), so that ending the connection ends all of it. It is ended when its
 * connection closes, when the action exits however it exits, and when the action is cancelled
 * (SIGINT, then SIGTERM from the runner): nothing of it is left running on the runner.
 */


/** How much of the command's stderr is kept, and how many of its last lines an error shows. */
const STDERR_KEPT_BYTES = 8192;
const STDERR_SHOWN_LINES = 10;
/** After SIGTERM, the group gets SIGKILL this much later if anything of it is still there. */
const KILL_AFTER_MS = 3000;
/** After the connection closed its input, how long the command may take to exit on its own. */
const END_GRACE_MS = 2000;
/** Once its stdout has ended, how long the command may take to exit before its exit is reported without its code. */
const EXIT_WAIT_MS = 1000;
const running = new Set();
/** Ends every proxy command still running: on exit, and on the signals that cancel a run. */
function endAll() {
    for (const stream of running)
        stream.destroy();
}
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
function onSignal(signal) {
    endAll();
    // Then die of the signal as the action would have without this handler.
    uninstall();
    process.kill(process.pid, signal);
}
let installed = false;
function install() {
    if (installed)
        return;
    installed = true;
    process.on('exit', endAll);
    for (const signal of SIGNALS)
        process.on(signal, onSignal);
}
function uninstall() {
    if (!installed)
        return;
    installed = false;
    process.removeListener('exit', endAll);
    for (const signal of SIGNALS)
        process.removeListener(signal, onSignal);
}
/** The command ended before the SSH handshake: what it said, in words for the log. */
class ProxyCommandError extends Error {
    exitCode;
    level = 'proxy-command';
    constructor(message, exitCode) {
        super(message);
        this.exitCode = exitCode;
        this.name = 'ProxyCommandError';
    }
}
/** The SSH connection's socket: the command's stdout to read, its stdin to write. */
class ProxyCommandStream extends external_node_stream_.Duplex {
    shown;
    child;
    stderr = '';
    exit;
    exited;
    /** Who ended the connection first: the command (its stdout closed), or this side. */
    endedFirst;
    constructor(
    /** The command as run (escapes replaced), for messages (masked there). */
    shown, child) {
        super();
        this.shown = shown;
        this.child = child;
        running.add(this);
        install();
        this.exited = new Promise((resolve) => {
            child.on('exit', (code, signal) => {
                this.exit = { code, signal };
                resolve();
            });
            child.on('error', (error) => {
                // sh itself could not be started.
                this.exit ??= { code: null, signal: null };
                this.stderr += `${error.message}\n`;
                this.endedFirst ??= 'command';
                resolve();
                this.destroy();
            });
        });
        child.stdout.on('data', (chunk) => {
            if (!this.push(chunk))
                child.stdout.pause();
        });
        child.stdout.on('end', () => {
            this.endedFirst ??= 'command';
            this.push(null);
            // ssh2 learns of a lost connection from its socket's close: once the command is gone (or
            // has had its time to go), close this side too.
            void this.exitedWithin(EXIT_WAIT_MS).then(() => this.destroy());
        });
        child.stderr.on('data', (chunk) => {
            this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT_BYTES);
        });
        // Writes after the command exited fail with EPIPE; its exit is what gets reported.
        child.stdin.on('error', () => undefined);
    }
    _read() {
        this.child.stdout.resume();
    }
    _write(chunk, encoding, callback) {
        if (this.child.stdin.destroyed || !this.child.stdin.writable)
            return callback();
        this.child.stdin.write(chunk, encoding, () => callback());
    }
    _final(callback) {
        this.endedFirst ??= 'us';
        this.child.stdin.end();
        // The end of its input ends `ssh -W` and most proxies; one that goes on would keep the action
        // from exiting.
        setTimeout(() => this.destroy(), END_GRACE_MS).unref();
        callback();
    }
    _destroy(error, callback) {
        this.endedFirst ??= 'us';
        this.child.stdin.destroy();
        this.child.stdout.destroy();
        this.child.stderr.destroy();
        if (this.exit === undefined) {
            this.signalGroup('SIGTERM');
            setTimeout(() => this.signalGroup('SIGKILL'), KILL_AFTER_MS).unref();
        }
        else {
            // sh is gone; what it started may not be.
            this.signalGroup('SIGTERM');
        }
        this.forget();
        callback(error);
    }
    /**
     * Why the connection could not be made, when the command ended on its own before the handshake
     * (its stdout closed before this side closed anything): its exit status and its last lines on
     * stderr, each line passed through `mask`.
     */
    async endedOnItsOwn(mask) {
        if (this.endedFirst !== 'command')
            return undefined;
        await this.exitedWithin(EXIT_WAIT_MS);
        const how = this.exit === undefined
            ? 'closed its output'
            : this.exit.signal
                ? `was ended by ${this.exit.signal}`
                : this.exit.code === 127
                    ? 'exited with code 127 (command not found)'
                    : `exited with code ${this.exit.code}`;
        const lines = this.stderr.split('\n').filter((line) => line.trim() !== '');
        const said = lines.length === 0
            ? ' It printed nothing on stderr.'
            : ` Its last lines on stderr:\n${lines
                .slice(-STDERR_SHOWN_LINES)
                .map((line) => `  ${mask(line)}`)
                .join('\n')}`;
        return new ProxyCommandError(`the proxy-command ${JSON.stringify(mask(this.shown))} ${how} before the SSH handshake.${said}`, this.exit?.code ?? null);
    }
    exitedWithin(ms) {
        return Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    }
    signalGroup(signal) {
        if (this.child.pid === undefined)
            return;
        try {
            // The whole group: sh and everything the command started.
            process.kill(-this.child.pid, signal);
        }
        catch {
            // gone already
        }
    }
    forget() {
        if (!running.delete(this))
            return;
        if (running.size === 0)
            uninstall();
    }
}
/**
 * Starts `command` (its escapes already replaced) with `sh -c` in a process group of its own, and
 * returns its stdin and stdout as one stream.
 */
function startProxyCommand(command) {
    const child = (0,external_node_child_process_.spawn)('sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    return new ProxyCommandStream(command, child);
}

// EXTERNAL MODULE: external "node:net"
var external_node_net_ = __webpack_require__(7030);
// EXTERNAL MODULE: ./node_modules/node-ssh/lib/esm/index.mjs + 2 modules
var esm = __webpack_require__(9487);
// EXTERNAL MODULE: ./lib/ssh/early-socket.js
var early_socket = __webpack_require__(1743);
// EXTERNAL MODULE: external "node:string_decoder"
var external_node_string_decoder_ = __webpack_require__(6193);
;// CONCATENATED MODULE: ./lib/ssh/session.js
/**
 * One remote shell for a whole run. A login shell can take a while to start (a heavy ~/.bashrc
 * costs half a second on some hosts), and a run has a dozen steps: so each run starts `sh` once
 * and feeds it one script after another on its stdin. Each script runs in a subshell with stdin
 * from /dev/null.
 *
 * A script runs in a command substitution, which keeps its stdout (its answer); its stderr goes to
 * a file. The shell sends both back in one write, framed by lines with a random nonce and the exit
 * code: one printf, a builtin, and no process of its own. One write matters: sshd leaves Nagle's
 * algorithm on for a session without a terminal, so a second small write waits for the runner's
 * delayed ACK, 40 ms on Linux, on every script. What a script must show while it runs
 * (whom a lock wait is for) it writes to fd 3, which reaches `onStdout` at once. A script's answer
 * ends when nothing holds its stdout open any more: whatever a script leaves running (an
 * instance, a hook, a cleanup) has its stdout, stderr and fd 3 sent elsewhere.
 *
 * A session may be opened with a library (shell functions every script starts with): the shell
 * defines it once, and each script is sent without its copy. A script's subshell inherits the
 * functions, so it runs as it would alone, and the host parses the library once, not once per step
 * (a shell that reads its commands a byte at a time, as bash does, spends milliseconds on it).
 *
 * Scripts are sent as soon as they are given, without waiting for the answers before them: the
 * shell runs them in order, and the answers come back in order. A script that must not run unless
 * the one before it succeeded (inspect after the lock) says so, and is then skipped (exit 125)
 * instead: a step that waits for nothing from the previous answer costs no round trip of its own.
 * A script may also depend on several before it (the start on freeing the port and on the upload's
 * check): those carry a failure mark, and it is skipped if any of them failed.
 */



/**
 * An answer, as the shell sends it: the script's stdout and stderr between lines that carry the
 * script's nonce, and its exit code.
 */
const ANSWER_FORMAT = '@@@zdd-answer:%s\\n%s\\n@@@zdd-stderr:%s\\n%s\\n@@@zdd-end:%s:%s\\n';
/**
 * Up to this size, the shell's printf sends an answer in one write (dash buffers 8 KiB of a
 * builtin's output); a larger answer goes through a file and one cat.
 */
const ONE_WRITE_BYTES = 4000;
/**
 * What the session's shell reads first: a private temp dir (ZDD_TMP: each script's stderr, an
 * answer too large for one printf, and what a script may keep there for itself), removed when the
 * shell ends (its stdin closes with the connection); and the function that sends each answer.
 */
const PROLOGUE = `ZDD_TMP=$(mktemp -d) || exit 70
trap 'rm -rf -- "$ZDD_TMP"' EXIT
zdd_status=0
exec 9>&1
zdd_answer() {
  zdd_err=
  [ ! -s "$ZDD_TMP/err" ] || { zdd_err=$(cat -- "$ZDD_TMP/err"; printf @); zdd_err=\${zdd_err%@}; }
  if [ $(( \${#zdd_out} + \${#zdd_err} )) -lt ${ONE_WRITE_BYTES} ]; then
    printf '${ANSWER_FORMAT}' "$1" "$zdd_out" "$1" "$zdd_err" "$1" "$zdd_status"
  else
    printf '${ANSWER_FORMAT}' "$1" "$zdd_out" "$1" "$zdd_err" "$1" "$zdd_status" > "$ZDD_TMP/out"
    cat -- "$ZDD_TMP/out"
  fi
}
`;
/** The run's shell was killed on the host: by a run that took its lock over, when this run had gone silent. */
class ShellEndedError extends Error {
    signal;
    constructor(signal) {
        super(`the run's remote shell was ended on the host (${signal})`);
        this.signal = signal;
        this.name = 'ShellEndedError';
    }
}
/** The exit code of a script skipped because the one before it failed. */
const SKIPPED_EXIT = 125;
const MARK = /^[a-z_]+$/;
function checkMark(mark) {
    if (mark !== undefined && !MARK.test(mark))
        throw new Error(`a failure mark is lower-case letters and _ only, not "${mark}"`);
}
class ShellSession {
    stdin;
    library;
    buffer = '';
    /** Scripts sent and not yet answered, oldest first. */
    pending = [];
    closed;
    constructor(stdin, library) {
        this.stdin = stdin;
        this.library = library;
    }
    static async open(ssh, library = '') {
        const stdin = new external_node_stream_.PassThrough();
        const session = new ShellSession(stdin, library);
        // A UTF-8 character may be split across two SSH packets.
        const decoder = new external_node_string_decoder_.StringDecoder('utf8');
        stdin.write(PROLOGUE + (library ? `${library}\n` : ''));
        const ended = ssh.execCommand('sh -s', {
            stdin,
            noTrim: true,
            onStdout: (chunk) => session.receive(decoder.write(chunk)),
        });
        ended.then((response) => session.end(response.signal
            ? new ShellEndedError(response.signal)
            : new Error(`the remote shell ended (exit ${response.code}) ${response.stderr.trim()}`)), (error) => session.end(error));
        return session;
    }
    close() {
        this.stdin.end();
    }
    /** Sends one script at once; the shell runs scripts one at a time, in the order they were given. */
    run(script, { onStdout, onlyIfPreviousSucceeded, failureMark, skipIfFailed } = {}) {
        if (this.closed)
            return Promise.reject(this.closed);
        checkMark(failureMark);
        checkMark(skipIfFailed);
        const nonce = (0,external_node_crypto_.randomBytes)(12).toString('hex');
        const err = '"$ZDD_TMP/err"';
        // A command substitution is the script's subshell, and its stdout is kept without a file or a
        // cat. The trap's @ keeps the trailing newlines that the substitution would strip, also after
        // the script's own exit, whose code stays the substitution's.
        const execute = `zdd_out=$(exec < /dev/null 3>&9 9>&- 2> ${err}; trap 'printf @' EXIT\n${withoutLibrary(script, this.library)}\n)\nzdd_status=$?\n`;
        const guard = skipIfFailed
            ? { test: `[ -z "\${zdd_failed_${skipIfFailed}:-}" ]`, why: 'a script it depends on failed' }
            : onlyIfPreviousSucceeded
                ? { test: '[ "$zdd_status" = 0 ]', why: 'the script before it failed' }
                : undefined;
        return new Promise((resolve, reject) => {
            this.pending.push({ nonce, onStdout, searchFrom: 0, answerTail: '', resolve, reject });
            this.stdin.write((guard
                ? `if ${guard.test}; then\n${execute}else\n  echo 'skipped: ${guard.why}' > ${err}; zdd_out=@ zdd_status=${SKIPPED_EXIT}\nfi\n`
                : execute) +
                (failureMark ? `[ "$zdd_status" = 0 ] || zdd_failed_${failureMark}=1\n` : '') +
                `zdd_out=\${zdd_out%@}\nzdd_answer ${nonce}\n`);
        });
    }
    /**
     * Takes what the shell sent, in the pieces the channel cut. Each piece is searched once (with the
     * few characters before it that a marker may start in), never all that came before it: an answer
     * of a hundred thousand log lines comes in hundreds of pieces. Before an answer opens, the buffer
     * holds only the end of a line that fd 3 has not finished.
     */
    receive(text) {
        let rest = text;
        for (let pending = this.pending[0]; pending && rest !== ''; pending = this.pending[0]) {
            rest = pending.answer ? this.collectAnswer(pending, rest) : this.awaitAnswer(pending, rest);
        }
        // Before any script is sent: kept for the first, as what it wrote before its answer.
        this.buffer += rest;
    }
    /** Before the answer: what the script writes to fd 3, passed on in whole lines. Returns what follows the answer's opening line. */
    awaitAnswer(pending, text) {
        this.buffer += text;
        const marker = `@@@zdd-answer:${pending.nonce}\n`;
        const answerAt = this.buffer.indexOf(marker, pending.searchFrom);
        // What the buffer held before this text had no newline: the last one, if any, is in the text.
        const lastNewline = text.lastIndexOf('\n');
        const live = answerAt >= 0 ? answerAt : lastNewline < 0 ? 0 : this.buffer.length - text.length + lastNewline + 1;
        if (live > 0)
            pending.onStdout?.(this.buffer.slice(0, live));
        if (answerAt < 0) {
            this.buffer = this.buffer.slice(live);
            pending.searchFrom = Math.max(0, this.buffer.length - marker.length + 1);
            return '';
        }
        const rest = this.buffer.slice(answerAt + marker.length);
        this.buffer = '';
        pending.answer = [];
        return rest;
    }
    /** The answer, piece by piece, until its end marker. Returns what follows it: the next script's. */
    collectAnswer(pending, text) {
        const answer = pending.answer;
        const window = pending.answerTail + text;
        const end = new RegExp(`\n@@@zdd-end:${pending.nonce}:(\\d+)\n`).exec(window);
        if (!end) {
            answer.push(text);
            // The marker, its exit code of up to three digits, and a newline.
            pending.answerTail = window.slice(-(pending.nonce.length + 20));
            return '';
        }
        // The end lies in the window: the text before the window, then the window up to the marker.
        answer.push(text);
        const whole = answer.join('');
        const body = whole.slice(0, whole.length - window.length + end.index);
        const stderrMarker = `\n@@@zdd-stderr:${pending.nonce}\n`;
        const stderrAt = body.lastIndexOf(stderrMarker);
        this.pending.shift();
        pending.resolve(stderrAt < 0
            ? { code: Number(end[1]), stdout: body, stderr: '' }
            : { code: Number(end[1]), stdout: body.slice(0, stderrAt), stderr: body.slice(stderrAt + stderrMarker.length) });
        return window.slice(end.index + end[0].length);
    }
    end(error) {
        this.closed = error;
        for (const pending of this.pending.splice(0))
            pending.reject(error);
    }
}
/**
 * The script without its copy of the library, which the session's shell has defined already. A
 * script's own code comes after its variables, so the last copy is the one to leave out: a value
 * that happened to hold the library's text stays whole.
 */
function withoutLibrary(script, library) {
    if (library === '')
        return script;
    const at = script.lastIndexOf(library);
    // A newline in its place keeps the commands on either side apart.
    return at < 0 ? script : `${script.slice(0, at)}\n${script.slice(at + library.length)}`;
}

;// CONCATENATED MODULE: ./lib/remote/protocol.js
function parseAnswer(stdout) {
    const answer = { facts: {}, lists: {}, sections: {} };
    // A section's text is kept as slices of stdout, one per run of its lines between openers: an
    // answer of a hundred thousand log lines is neither cut into as many strings nor scanned twice.
    const runs = {};
    let section;
    let runStart = 0;
    for (let at = 0; at <= stdout.length;) {
        const newline = stdout.indexOf('\n', at);
        const end = newline < 0 ? stdout.length : newline;
        const opener = stdout.startsWith('@@', at) ? /^@@([a-z_][a-z0-9_]*)$/.exec(stdout.slice(at, end)) : null;
        if (opener) {
            // The newline before the opener ends the run; a run without a line adds none.
            if (section !== undefined && at > runStart)
                runs[section].push(stdout.slice(runStart, at - 1));
            section = opener[1];
            runs[section] ??= [];
            runStart = end + 1;
        }
        else if (section === undefined) {
            const fact = /^([a-z_][a-z0-9_.]*)=(.*)$/.exec(stdout.slice(at, end));
            if (fact) {
                answer.facts[fact[1]] = fact[2];
                (answer.lists[fact[1]] ??= []).push(fact[2]);
            }
        }
        if (newline < 0)
            break;
        at = newline + 1;
    }
    if (section !== undefined && runStart <= stdout.length)
        runs[section].push(stdout.slice(runStart));
    for (const [name, texts] of Object.entries(runs))
        answer.sections[name] = withoutTrailingNewlines(texts.join('\n'));
    return answer;
}
/** The text without the newlines at its end (the blank lines that end a section). */
function withoutTrailingNewlines(text) {
    let end = text.length;
    while (end > 0 && text.charCodeAt(end - 1) === 10)
        end--;
    return end === text.length ? text : text.slice(0, end);
}

;// CONCATENATED MODULE: ./lib/remote/sh/generated.js
// Generated by scripts/gen-shell.mjs from src/remote/sh/*.sh: edit those, then run it.
const ACQUIRE_LOCK_SH = "resolve_deploy_dir\n{ [ -d \"$DEPLOY_DIR\" ] || mkdir -p -- \"$DEPLOY_DIR\" 2>/dev/null; } && cd -- \"$DEPLOY_DIR\" 2>/dev/null && [ -w . ] || {\n  echo \"error=deploy_dir_unwritable\"; echo \"deploy_dir=$DEPLOY_DIR\"; exit \"$EXIT_UNWRITABLE\"\n}\necho \"deploy_dir=$DEPLOY_DIR\"\nboot_id\nproc_start \"$$\"; ME_START=${PROC_START:-0}\nproc_is \"$$\" \"\"\n# The process group a takeover ends should this run go silent: the session sshd made for this\n# run's shell (led by the shell, or by the login shell that started it). Anything else (a shell\n# started by some other program) is ended by its process tree instead.\nME_GROUP=-\nif [ -n \"$PROC_PGID\" ] && [ \"$PROC_SID\" = \"$PROC_PGID\" ] && { [ \"$PROC_PGID\" = \"$$\" ] || [ \"$PROC_PGID\" = \"$PROC_PPID\" ]; }; then\n  ME_GROUP=$PROC_PGID\nfi\nME_KEY=\"$$-$ME_START\"\nME_CLAIM=\"$$ $ME_START ${BOOT_ID:--}\"\nclock; deadline=$(( NOW + TIMEOUT ))\nwaiting=\nwhile :; do\n  if mkdir .lock 2>/dev/null; then\n    hold_new_lock\n    case $? in\n      0) break ;;\n      2) echo \"error=deploy_dir_unwritable\"; exit \"$EXIT_UNWRITABLE\" ;;\n    esac\n  fi\n  if judge_lock && [ -n \"$STALE\" ] && take_over \"$LOCK_KEY\"; then break; fi\n  if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n    echo \"lock=timeout\"; echo \"owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)\"; exit \"$EXIT_TIMEOUT\"\n  fi\n  if [ -z \"$waiting\" ] && [ -r .lock/owner ]; then\n    owner=\"owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)\"\n    echo \"lock=waiting\"; echo \"$owner\"; waiting=1\n    # fd 3 reaches the runner while this waits (see the session); absent when run on its own.\n    echo \"$owner\" 2>/dev/null >&3\n  fi\n  sleep 0.2\ndone\necho \"holder_key=$ME_KEY\"\necho \"lock=held\"\n";
const APPEND_HISTORY_SH = "resolve_deploy_dir\ncd -- \"$DEPLOY_DIR\" 2>/dev/null || { echo \"history=no_deploy_dir\"; exit 0; }\nprintf '%s\\n' \"$ENTRY\" >> history || exit 1\n# Counting costs a process; trim only once in a while, when the file may have outgrown the limit.\nsize=$(wc -c < history)\nif [ \"$size\" -gt $(( LIMIT * 200 )) ] && [ \"$(wc -l < history)\" -gt \"$LIMIT\" ]; then\n  { tail -n \"$LIMIT\" history > \"history.new.$$\" && mv -f \"history.new.$$\" history; } || rm -f \"history.new.$$\"\nfi\necho \"history=appended\"\n";
const ASSEMBLE_DELTA_SH = "if [ -n \"$INLINE_DELTA\" ]; then\n  mkdir -p -- \"$DEPLOY_DIR/releases/.partial-$RELEASE\" &&\n    printf '%s' \"$INLINE_DELTA\" | base64 -d > \"$DEPLOY_DIR/releases/.partial-$RELEASE/$DELTA\" || { echo \"error=delta_missing\"; exit \"$EXIT_NO_DELTA\"; }\nfi\ncd -- \"$DEPLOY_DIR/releases/.partial-$RELEASE\" 2>/dev/null && [ -f \"$DELTA\" ] || { echo \"error=delta_missing\"; exit \"$EXIT_NO_DELTA\"; }\nif dd if=/dev/null of=/dev/null iflag=skip_bytes,count_bytes status=none 2>/dev/null; then gnu_dd=1; else gnu_dd=; fi\n# Writes bytes [$2, $2 + $3) of file $1 to stdout.\ncopy_range() {\n  [ -r \"$1\" ] || return 1\n  if [ -n \"$gnu_dd\" ]; then\n    dd if=\"$1\" iflag=skip_bytes,count_bytes skip=\"$2\" count=\"$3\" bs=1M status=none\n  else\n    tail -c \"+$(($2 + 1))\" \"$1\" | head -c \"$3\"\n  fi\n}\ngive_up() {\n  rm -f -- \"$FILE_NAME\" \"$DELTA\"\n  echo \"error=$1\"\n  exit \"$2\"\n}\nexec 3>&1\nprintf '%s\\n' \"$PLAN\" | while read -r src offset length; do\n  [ -n \"$src\" ] || continue\n  case $src in\n    d) file=$DELTA ;;\n    *[!0-9]*|'') exit \"$EXIT_COPY_FAILED\" ;;\n    # Old jar <i> is in SRC_<i>; an index without one is not in the plan's sources.\n    *) eval \"file=\\${SRC_$src-}\"; [ -n \"$file\" ] || exit \"$EXIT_COPY_FAILED\" ;;\n  esac\n  copy_range \"$file\" \"$offset\" \"$length\" || { echo \"failed_source=$file\" >&3; exit \"$EXIT_COPY_FAILED\"; }\ndone > \"$FILE_NAME\"\n[ $? = 0 ] || give_up copy_failed \"$EXIT_COPY_FAILED\"\nsize=$(wc -c < \"$FILE_NAME\")\n[ \"$size\" = \"$SIZE\" ] || { echo \"assembled_size=$size\"; give_up size_mismatch \"$EXIT_MISMATCH\"; }\nset -- $(sha256sum < \"$FILE_NAME\")\n[ \"${1:-}\" = \"$SHA256\" ] || { echo \"remote_sha256=${1:-none}\"; give_up sha256_mismatch \"$EXIT_MISMATCH\"; }\nrm -f -- \"$DELTA\"\necho \"assembled=$SIZE\"\n";
const FINALIZE_RELEASE_SH = "cd -- \"$DEPLOY_DIR/releases\" || exit 40\nif [ \"$UPLOADED\" = 1 ]; then\n  partial=\".partial-$RELEASE\"\n  if [ -n \"$INLINE_BASE64\" ]; then\n    mkdir -p -- \"$partial\" && printf '%s' \"$INLINE_BASE64\" | base64 -d > \"$partial/$FILE_NAME\" || {\n      echo \"error=inline_write\"; rm -rf -- \"$partial\"; exit 45\n    }\n  fi\n  set -- $(sha256sum < \"$partial/$FILE_NAME\")\n  if [ \"${1:-}\" != \"$SHA256\" ]; then\n    echo \"error=sha256_mismatch\"; echo \"remote_sha256=${1:-none}\"\n    rm -rf -- \"$partial\"\n    exit 41\n  fi\n  echo \"$SHA256\" > \"$partial/sha256\"\n  if [ -n \"$MANIFEST_TEXT\" ]; then\n    { printf '%s' \"$MANIFEST_TEXT\" > \"$partial/chunks\"; } 2>/dev/null || rm -f -- \"$partial/chunks\"\n  fi\n  printf '%s\\n' \"$FILE_NAME\" > \"$partial/.artifact\"\n  printf 'new\\n' > \"$partial/$RELEASE_STATE_FILE\" || exit 42\n  # A fresh file under umask 077 is 0600 from its first byte. Nothing reads it before the release\n  # appears, so it needs no rename of its own.\n  [ ! -e \"$partial/env\" ] || rm -f -- \"$partial/env\"\n  (umask 077 && printf '%s' \"$ENV_TEXT\" > \"$partial/env\") || exit 44\n  [ ! -e \"$RELEASE\" ] || rm -rf -- \"$RELEASE\"\n  mv -- \"$partial\" \"$RELEASE\" || exit 42\n  [ -f \"$RELEASE/$FILE_NAME\" ] || { echo \"error=release_missing\"; exit 43; }\nelse\n  [ -f \"$RELEASE/$FILE_NAME\" ] || { echo \"error=release_missing\"; exit 43; }\n  # A release that is kept may be running: its env is replaced whole, by rename. A leftover\n  # .env.new could have another mode.\n  [ ! -e \"$RELEASE/.env.new\" ] || rm -f -- \"$RELEASE/.env.new\"\n  (umask 077 && printf '%s' \"$ENV_TEXT\" > \"$RELEASE/.env.new\") && mv -f -- \"$RELEASE/.env.new\" \"$RELEASE/env\" || exit 44\nfi\necho \"release=$RELEASE\"\n";
const FREE_PORT_SH = "cd -- \"$DEPLOY_DIR\" || exit \"$EXIT_START_FAILED\"\nport_free=\n# A unit of this app on the port is stopped and disabled first: systemd would start it again.\nunit_retire\n# A pid file that names a process which is not ours (see find_instance) is stale: nothing is\n# signalled on its word, and it is removed below.\nif find_instance \"$PORT\"; then\n  old=$INSTANCE_PID\n  echo \"idle_pid=$old\"\n  # Once it has closed its listener, its sockets differ: the kernel's tables (see port_in_use) are\n  # read only then, or every 0.2 s for a listener this watch cannot see.\n  sockets_of \"$old\"; watched=$SOCKETS looks=0\n  signal_group TERM \"$old\"\n  clock; deadline=$(( NOW + STOP_TIMEOUT ))\n  while alive \"$old\"; do\n    sockets_of \"$old\"; looks=$(( looks + 1 ))\n    if { [ \"$SOCKETS\" != \"$watched\" ] || [ $(( looks % 10 )) = 0 ]; } && watched=$SOCKETS && ! port_in_use \"$PORT\"; then\n      port_free=yes\n      # The port is free: a JVM closes its listener first and may take seconds more to finish.\n      # The new instance need not wait for that; a watchdog still ends it at stop-timeout, once it\n      # has made sure the pid is still our instance's. It must not hold the session's fd 3 open.\n      (\n        while alive \"$old\" && clock && [ \"$NOW\" -lt \"$deadline\" ]; do sleep 0.5; done\n        if alive \"$old\" && is_our_instance \"$old\" \"$INSTANCE_ID\" \"$INSTANCE_RELEASE\"; then signal_group KILL \"$old\"; fi\n      ) < /dev/null > /dev/null 2>&1 3>&- &\n      echo \"draining=$old\"\n      break\n    fi\n    if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n      # Only while it is still our instance: it may have ended meanwhile, and its pid been reused.\n      if is_our_instance \"$old\" \"$INSTANCE_ID\" \"$INSTANCE_RELEASE\"; then\n        signal_group KILL \"$old\"\n        echo \"killed=$old\"\n        sleep 0.1\n      fi\n      break\n    fi\n    sleep 0.02\n  done\n  alive \"$old\" || echo \"stopped=$old\"\nfi\n[ ! -e \"run/$PORT.pid\" ] && [ ! -e \"run/$PORT.release\" ] || rm -f -- \"run/$PORT.pid\" \"run/$PORT.release\" \"run/$PORT.conf\"\n[ \"$port_free\" != yes ] && port_in_use \"$PORT\" || { echo \"port=free\"; exit 0; }\nholder=$(port_holder \"$PORT\")\nif [ -z \"$holder\" ]; then\n  echo \"error=port_busy\"; exit \"$EXIT_PORT_BUSY\"\nfi\nreport_holder \"$holder\"\nexit \"$EXIT_PORT_HELD\"\n";
const HANDOVER_SH = "await_retired \"$OLD_WORKERS\" \"$TIMEOUT\"\n";
const HOOK_GUARD_SH = "kill -0 -$$ 2>/dev/null || exec sh -c \"$HOOK_COMMAND\"\nsh -c \"$HOOK_COMMAND\" &\nhook_command_pid=$!\n(\n  hook_left=$HOOK_LIMIT\n  while [ \"$hook_left\" -gt 0 ]; do sleep 1; hook_left=$(( hook_left - 1 )); done\n  trap '' TERM\n  kill -TERM 0 2>/dev/null\n  sleep 5\n  kill -KILL 0 2>/dev/null\n) &\nhook_guard_pid=$!\nwait \"$hook_command_pid\"\nhook_status=$?\nkill \"$hook_guard_pid\" 2>/dev/null\nexit \"$hook_status\"\n";
const HOOK_SH = "cd -- \"$DEPLOY_DIR\" || exit \"$EXIT_NO_RELEASE\"\n[ -d \"releases/$RELEASE\" ] || { echo \"error=release_missing\"; exit \"$EXIT_NO_RELEASE\"; }\nlog=\"logs/hook-$HOOK_NAME.log\"\n: > \"$log\" || exit \"$EXIT_FAILED\"\n[ -d run ] || mkdir -p run\ndeploy_root=$PWD\n# The hook records itself (pid, identity, and this run's shell) before it runs anything, so that a\n# run which takes the lock over from this one, silent, ends it too (see end_holder).\n(\n  cd -P -- \"releases/$RELEASE\" || exit 97\n  RELEASE_DIR=$PWD\n  ARTIFACT=\"$PWD/$FILE_NAME\"\n  SERVER_PORT=$PORT\n  export PORT SERVER_PORT PREVIOUS_PORT RELEASE RELEASE_DIR ARTIFACT APP_NAME COMMAND JAVA_OPTS\n  [ ! -r ./env ] || . ./env || exit 98\n  self_pid\n  proc_id \"$SELF_PID\"\n  printf '%s\\n%s\\nholder=%s\\n' \"$SELF_PID\" \"$PROC_ID\" \"$$\" > \"$deploy_root/run/hook.pid\" || exit 96\n  HOOK_LIMIT=$(( TIMEOUT + 2 ))\n  export HOOK_COMMAND HOOK_LIMIT\n  exec_detached sh -c \"$HOOK_GUARD\" zdd-hook\n) < /dev/null >> \"$log\" 2>&1 3>&- &\nhook=$!\necho \"hook_pid=$hook\"\n\n# Passes on the lines the hook has written since the last call. fd 3 is absent when the script runs\n# on its own; the hook's output is still in its log then. A line only partly written yet waits for\n# its end (or the hook's): the client masks a secret within one line, and a secret printed in two\n# writes must not reach the job log as two harmless pieces.\nexec 4< \"$log\"\nrelay_partial=\nrelay() {\n  while :; do\n    relay_line=\n    if IFS= read -r relay_line <&4; then\n      { printf '%s%s\\n' \"$HOOK_LINE_PREFIX\" \"$relay_partial$relay_line\" >&3; } 2>/dev/null\n      relay_partial=\n    else\n      relay_partial=$relay_partial$relay_line\n      break\n    fi\n  done\n}\nrelay_rest() {\n  relay\n  [ -z \"$relay_partial\" ] || { printf '%s%s\\n' \"$HOOK_LINE_PREFIX\" \"$relay_partial\" >&3; } 2>/dev/null\n  relay_partial=\n}\n\nclock; deadline=$(( NOW + TIMEOUT ))\ntimed_out=\nwhile pid_alive \"$hook\"; do\n  relay\n  if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n    timed_out=1\n    signal_group TERM \"$hook\"\n    clock; grace=$(( NOW + 5 ))\n    while alive \"$hook\" && clock && [ \"$NOW\" -lt \"$grace\" ]; do sleep 0.1; done\n    alive \"$hook\" && signal_group KILL \"$hook\"\n    break\n  fi\n  sleep 0.2\ndone\nwait \"$hook\" 2>/dev/null\nstatus=$?\nrm -f -- run/hook.pid\nrelay_rest\nexec 4<&-\necho \"hook_status=$status\"\nif [ -n \"$timed_out\" ]; then\n  echo \"hook=timeout\"\nelif [ \"$status\" = 0 ]; then\n  echo \"hook=ok\"; exit 0\nelse\n  echo \"hook=failed\"\nfi\necho \"@@hook_tail\"\ntail -n \"$TAIL_LINES\" -- \"$log\"\n[ -n \"$timed_out\" ] && exit \"$EXIT_TIMED_OUT\"\nexit \"$EXIT_FAILED\"\n";
const INSPECT_SH = "resolve_deploy_dir\necho \"deploy_dir=$DEPLOY_DIR\"\nuid=\nwhile read -r key value _; do [ \"$key\" = Uid: ] && uid=$value && break; done 2>/dev/null < /proc/self/status\n[ -n \"$uid\" ] || uid=$(id -u)\necho \"uid=$uid\"\necho \"home=$HOME\"\nif command -v curl >/dev/null 2>&1; then echo \"http=curl\"\nelif command -v wget >/dev/null 2>&1; then echo \"http=wget\"\nelse echo \"http=none\"; fi\n# Small uploads travel base64-encoded inside a script when the host can decode them.\nif command -v base64 >/dev/null 2>&1; then echo \"base64=yes\"; fi\nif [ \"$NEED_JAVA\" = 1 ]; then\n  if command -v java >/dev/null 2>&1; then echo \"java=yes\"; else echo \"java=no\"; fi\nfi\nif [ \"$PREPARE\" = 1 ]; then\n  if { [ -d \"$DEPLOY_DIR/releases\" ] && [ -d \"$DEPLOY_DIR/run\" ] && [ -d \"$DEPLOY_DIR/logs\" ] ||\n    mkdir -p -- \"$DEPLOY_DIR/releases\" \"$DEPLOY_DIR/run\" \"$DEPLOY_DIR/logs\" 2>/dev/null; } && [ -w \"$DEPLOY_DIR\" ]; then\n    echo \"writable=yes\"\n    for partial in \"$DEPLOY_DIR\"/releases/.partial-*; do\n      [ ! -e \"$partial\" ] || rm -rf -- \"$partial\" 2>/dev/null\n    done\n  else\n    echo \"writable=no\"\n  fi\nfi\nif [ -d \"$DEPLOY_DIR\" ]; then\n  echo \"deploy_dir_exists=yes\"\n  usage=$(df -Pk \"$DEPLOY_DIR\" 2>/dev/null)\n  set -- ${usage##*\n}\n  [ $# -ge 4 ] && echo \"free_kb=$4\"\nelse\n  echo \"deploy_dir_exists=no\"\nfi\nfor dir in \"$DEPLOY_DIR\"/releases/*/; do\n  [ -d \"$dir\" ] || continue\n  name=${dir%/}; name=${name##*/}\n  # The app runs in its release dir and may write files there: the jar's name is recorded.\n  file=\n  [ ! -r \"$dir.artifact\" ] || read -r file < \"$dir.artifact\"\n  if [ -z \"$file\" ]; then\n    for entry in \"$dir\"*; do\n      [ -f \"$entry\" ] || continue\n      case \"${entry##*/}\" in sha256|env) ;; *.jar) file=${entry##*/}; break ;; *) [ -n \"$file\" ] || file=${entry##*/} ;; esac\n    done\n  fi\n  sha=\n  [ ! -r \"$dir/sha256\" ] || read -r sha < \"$dir/sha256\"\n  echo \"release=$name ${sha:--} $file\"\n  release_state=\n  [ ! -r \"$dir$RELEASE_STATE_FILE\" ] || read -r release_state < \"$dir$RELEASE_STATE_FILE\"\n  [ \"$release_state\" != new ] || echo \"never_served=$name\"\ndone\n# In the deploy dir, where the instance records are read (find_instance), in a subshell: the\n# include's path may be relative to the home directory.\n(\n  records=\n  ! cd -- \"$DEPLOY_DIR\" 2>/dev/null || records=yes\n  for port in \"$PORT_A\" \"$PORT_B\"; do\n    release='' state=stopped RECORDED_PID=\n    if [ -n \"$records\" ]; then\n      [ ! -r \"run/$port.release\" ] || read -r release < \"run/$port.release\"\n      ! find_instance \"$port\" || state=running\n    fi\n    listening=-\n    if [ \"$CHECK_LISTENERS\" = 1 ]; then listening=no; ! port_in_use \"$port\" || listening=yes; fi\n    echo \"instance=$port ${RECORDED_PID:--} $state $listening ${release:--}\"\n  done\n)\n# Supervision: systemd runs when its runtime dir exists; a user's units need lingering.\nuser=${USER:-$(id -un 2>/dev/null)}\necho \"user=$user\"\nif [ -d /run/systemd/system ]; then\n  echo \"systemd=yes\"\n  if [ -e \"/var/lib/systemd/linger/$user\" ]; then echo \"linger=yes\"; else echo \"linger=no\"; fi\n  if [ \"${uid:-}\" = 0 ]; then UNIT_SCOPE=system; else UNIT_SCOPE=user; fi\n  UNIT_RUNTIME_DIR=\"/run/user/$uid\" UNIT_TEMPLATE=\"zdd-$APP_NAME@.service\" UNIT_DEPLOY_DIR=$DEPLOY_DIR\ncase \"$UNIT_SCOPE\" in\n  system) UNIT_DIR=/etc/systemd/system ;;\n  user) UNIT_DIR=\"$HOME/.config/systemd/user\" ;;\n  *) UNIT_DIR= ;;\nesac\n\n# systemctl for the unit's scope: the system manager as root, the user's own manager otherwise,\n# reached through XDG_RUNTIME_DIR (which a session without PAM does not set).\nunit_ctl() {\n  if [ \"$UNIT_SCOPE\" = user ]; then\n    XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$UNIT_RUNTIME_DIR} systemctl --user \"$@\"\n  else\n    systemctl \"$@\"\n  fi\n}\n\n# Status 0 when this app's template unit is installed.\nunit_installed() { [ -n \"$UNIT_DIR\" ] && [ -f \"$UNIT_DIR/$UNIT_TEMPLATE\" ]; }\n\n# Status 0 when unit $1 is this deploy-dir's: its drop-in names it. A unit without a drop-in was\n# started before drop-ins existed, by the deploy-dir whose pair holds its port, as ever.\nunit_ours() {\n  [ -f \"$UNIT_DIR/$1.d/zdd.conf\" ] || return 0\n  grep -q -x -F -e \"# deploy-dir: $UNIT_DEPLOY_DIR\" \"$UNIT_DIR/$1.d/zdd.conf\"\n}\n\n# Stops the port's unit (SIGTERM, SIGKILL after its TimeoutStopSec) and disables it, so that a\n# reboot does not bring it back. Prints unit_stopped=<unit> when it was enabled or running. The\n# unit of another deploy-dir (its drop-in names that one) is never touched: unit_foreign=<unit>.\nunit_retire() {\n  unit_installed || return 0\n  if ! unit_ours \"$UNIT\"; then echo \"unit_foreign=$UNIT\"; return 0; fi\n  unit_enabled=$(unit_ctl is-enabled \"$UNIT\" 2>/dev/null)\n  unit_active=$(unit_ctl is-active \"$UNIT\" 2>/dev/null)\n  case \"$unit_active\" in inactive|failed|unknown|'') unit_running= ;; *) unit_running=1 ;; esac\n  [ \"$unit_active\" != failed ] || unit_ctl reset-failed \"$UNIT\" 2>/dev/null\n  [ \"$unit_enabled\" = enabled ] || [ -n \"$unit_running\" ] || return 0\n  echo \"unit_stopped=$UNIT\"\n  [ \"$unit_enabled\" != enabled ] || unit_ctl disable --quiet \"$UNIT\" 2>/dev/null\n  [ -z \"$unit_running\" ] || unit_ctl stop \"$UNIT\" 2>/dev/null\n  return 0\n}\n\n# Writes $2 to file $1 unless it already holds exactly that; status 0 when it wrote.\nwrite_changed() {\n  if [ -f \"$1\" ] && [ \"$(cat -- \"$1\")\" = \"$(printf '%s' \"$2\")\" ]; then return 1; fi\n  printf '%s' \"$2\" > \"$1.new\" && mv -f -- \"$1.new\" \"$1\"\n}\n\n# A host upgraded from template units that named one deploy-dir: every enabled instance of the\n# app without a drop-in gets one naming the deploy-dir it belongs to, so that it still starts\n# after a crash or at boot once the template names none. That deploy-dir is the one its running\n# main process works in (the release dir the launcher went to), else the one the old template\n# names, if it holds this port's settings. An instance neither tells stays without: it cannot\n# start (no ExecStart) until its deploy-dir deploys again, rather than start another's release.\n# Sets unit_changed when it wrote one.\nunit_adopt() {\n  unit_adopt_old=$(sed -n 's/^ExecStart=\\/bin\\/sh \"\\([^\"\\\\%$]*\\)\\/run\\/launch\" %i$/\\1/p' \"$UNIT_DIR/$UNIT_TEMPLATE\" 2>/dev/null)\n  unit_adopt_timeout=$(grep '^TimeoutStopSec=' \"$UNIT_DIR/$UNIT_TEMPLATE\" 2>/dev/null)\n  for unit_adopt_link in \"$UNIT_DIR\"/*.wants/\"${UNIT_TEMPLATE%@.service}\"@*.service; do\n    unit_adopt_unit=${unit_adopt_link##*/}\n    [ -L \"$unit_adopt_link\" ] && [ ! -f \"$UNIT_DIR/$unit_adopt_unit.d/zdd.conf\" ] || continue\n    unit_adopt_port=${unit_adopt_unit##*@}; unit_adopt_port=${unit_adopt_port%.service}\n    unit_adopt_dir=\n    unit_adopt_pid=$(unit_ctl show -p MainPID \"$unit_adopt_unit\" 2>/dev/null)\n    unit_adopt_pid=${unit_adopt_pid#MainPID=}\n    case \"$unit_adopt_pid\" in ''|0|*[!0-9]*) ;; *)\n      unit_adopt_cwd=$(cd -P -- \"/proc/$unit_adopt_pid/cwd\" 2>/dev/null && pwd) && unit_adopt_dir=${unit_adopt_cwd%/releases/*} ;;\n    esac\n    [ -n \"$unit_adopt_dir\" ] && [ -f \"$unit_adopt_dir/run/$unit_adopt_port.conf\" ] || unit_adopt_dir=$unit_adopt_old\n    [ -n \"$unit_adopt_dir\" ] && [ -f \"$unit_adopt_dir/run/$unit_adopt_port.conf\" ] || continue\n    case \"$unit_adopt_dir\" in *[\\\\\\\"%$]*) continue ;; esac\n    mkdir -p -- \"$UNIT_DIR/$unit_adopt_unit.d\" &&\n      printf '%s\\n' '# Written by zero-downtime-deploy for an instance started before drop-ins existed.' \\\n        \"# deploy-dir: $unit_adopt_dir\" '[Service]' 'ExecStart=' \"ExecStart=/bin/sh \\\"$unit_adopt_dir/run/launch\\\" %i\" \\\n        \"${unit_adopt_timeout:-TimeoutStopSec=30}\" > \"$UNIT_DIR/$unit_adopt_unit.d/zdd.conf\" &&\n      echo \"unit_adopted=$unit_adopt_unit $unit_adopt_dir\" && unit_changed=yes\n  done\n}\n\n# Installs this port's unit: the template (the same for every deploy-dir), this port's drop-in\n# naming this deploy-dir, and drop-ins for instances started before drop-ins existed; reloads\n# systemd when any of them changed. Status 1 when a file could not be written, or the port's unit\n# is another deploy-dir's (unit_error= says which).\nunit_install() {\n  mkdir -p -- \"$UNIT_DIR/$UNIT.d\" || return 1\n  # Two deploy-dirs given the same port: the other's enabled or running unit is not taken over.\n  if ! unit_ours \"$UNIT\" && { [ \"$(unit_ctl is-enabled \"$UNIT\" 2>/dev/null)\" = enabled ] ||\n    [ \"$(unit_ctl is-active \"$UNIT\" 2>/dev/null)\" = active ]; }; then\n    echo \"unit_error=$UNIT runs deploy-dir $(sed -n 's/^# deploy-dir: //p' \"$UNIT_DIR/$UNIT.d/zdd.conf\"), another deploy-dir of this app on this host: give each deploy-dir ports of its own.\"\n    return 1\n  fi\n  unit_changed=\n  # Before the template is rewritten: the old one may name an instance's deploy-dir.\n  unit_adopt\n  ! write_changed \"$UNIT_DIR/$UNIT_TEMPLATE\" \"$UNIT_TEXT\" || unit_changed=yes\n  ! write_changed \"$UNIT_DIR/$UNIT.d/zdd.conf\" \"$UNIT_DROPIN_TEXT\" || unit_changed=yes\n  [ -f \"$UNIT_DIR/$UNIT_TEMPLATE\" ] && [ -f \"$UNIT_DIR/$UNIT.d/zdd.conf\" ] || return 1\n  [ -z \"$unit_changed\" ] || unit_ctl daemon-reload\n}\n\n# Prints the session's exported environment as shell commands, for a unit, which inherits none\n# of it. Left out is what describes the SSH session itself and would be wrong, or dangling, once\n# it ends: SSH_* (the client's address, a forwarded agent's socket), XDG_SESSION_*, XDG_SEAT,\n# XDG_VTNR, XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS (the login session's runtime dir, removed\n# at logout; a user manager sets its own), and the shell's own PWD, OLDPWD, SHLVL and _. Names\n# are read from export -p's lines; a line of a multi-line value that looks like one can only\n# unset a variable that is left out anyway.\nunit_environment() (\n  for unit_env_name in $(export -p | sed -n -e 's/^export \\([A-Za-z_][A-Za-z0-9_]*\\).*/\\1/p' -e 's/^declare -x \\([A-Za-z_][A-Za-z0-9_]*\\).*/\\1/p'); do\n    case \"$unit_env_name\" in\n      SSH_*|XDG_SESSION_*|XDG_SEAT|XDG_VTNR|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|PWD|OLDPWD|SHLVL|_) unset \"$unit_env_name\" ;;\n    esac\n  done\n  export -p\n)\n  if unit_installed; then\n    for port in \"$PORT_A\" \"$PORT_B\"; do\n      # The unit of another deploy-dir of the app on this port (its drop-in names that one) is not ours to report.\n      unit_ours \"zdd-$APP_NAME@$port.service\" || continue\n      props=$(unit_ctl show -p ActiveState -p SubState -p UnitFileState -p NRestarts \"zdd-$APP_NAME@$port.service\" 2>/dev/null) || {\n        echo \"units=unreachable\"; break\n      }\n      active=- sub=- file=- restarts=-\n      while IFS='=' read -r key value; do\n        case \"$key\" in\n          ActiveState) active=${value:--} ;;\n          SubState) sub=${value:--} ;;\n          UnitFileState) file=${value:--} ;;\n          NRestarts) restarts=${value:--} ;;\n        esac\n      done <<EOF\n$props\nEOF\n      echo \"unit=$port $active $sub $file $restarts\"\n    done\n  fi\nelse\n  echo \"systemd=no\"\nfi\nif [ -f \"$INCLUDE\" ]; then\n  echo \"include=present\"\n  echo \"@@include\"\n  while IFS= read -r line || [ -n \"$line\" ]; do printf '%s\\n' \"$line\"; done < \"$INCLUDE\"\nelse\n  echo \"include=absent\"\nfi\n";
const LAUNCH_SH = "\n# The cgroup.procs file of this unit's cgroup (name=systemd on a legacy or hybrid host, the\n# unified one otherwise) in LAUNCH_PROCS; status 1 when this is not a unit's cgroup.\nlaunch_cgroup() {\n  LAUNCH_PROCS=\n  while IFS= read -r launch_line; do\n    case \"$launch_line\" in\n      *:name=systemd:*.service) launch_try=\"/sys/fs/cgroup/systemd${launch_line#*:name=systemd:}\" ;;\n      0::*.service)\n        launch_try=\"/sys/fs/cgroup${launch_line#0::}\"\n        [ -r \"$launch_try/cgroup.procs\" ] || launch_try=\"/sys/fs/cgroup/unified${launch_line#0::}\" ;;\n      *) continue ;;\n    esac\n    if [ -r \"$launch_try/cgroup.procs\" ]; then LAUNCH_PROCS=$launch_try/cgroup.procs; return 0; fi\n  done < /proc/self/cgroup\n  return 1\n}\n\n# Status 0 while a process other than this one is in the unit's cgroup (builtins only).\nlaunch_others() {\n  launch_other=\n  while read -r launch_pid; do [ \"$launch_pid\" = \"$$\" ] || launch_other=yes; done < \"$LAUNCH_PROCS\"\n  [ -n \"$launch_other\" ]\n}\n\ncd -- \"$LAUNCH_DEPLOY_DIR\" || exit 97\nexec < /dev/null >> \"logs/$1.log\" 2>&1\n# The session's environment, then this instance's settings (which win over the session's).\n. \"./run/$1.conf\" || exit 98\nPORT=$1\nrecord_instance \"$PORT\" \"$$\"\necho \"--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting release $RELEASE on port $PORT (systemd)\"\ncd -P -- \"releases/$RELEASE\" || exit 97\nARTIFACT=\"$PWD/$FILE_NAME\"\nSERVER_PORT=$PORT\nexport PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS\n. ./env || exit 98\nsh -c \"$START_COMMAND\"\nlaunch_status=$?\n[ \"$launch_status\" = 0 ] || exit \"$launch_status\"\nlaunch_cgroup && launch_others || exit 0\necho \"--- the start command returned and left the service running in the background: waiting while it runs\"\nwhile launch_others; do sleep 1; done\necho \"--- $(date -u +%Y-%m-%dT%H:%M:%SZ) every process the start command left has ended: exit 1, so that systemd starts it again\"\nexit 1\n";
const LIB_SH = "\n# Makes DEPLOY_DIR absolute: a relative deploy-dir is under the deploy user's home, wherever the\n# script runs from, and the answers name it in full.\nresolve_deploy_dir() { case \"$DEPLOY_DIR\" in /*) ;; *) DEPLOY_DIR=\"$HOME/$DEPLOY_DIR\" ;; esac; }\n\n# Sets NOW to whole seconds and NOW_CS to hundredths on a clock that only goes forward: for\n# deadlines and cadences, not for wall time. Builtins only where /proc/uptime exists; NOW_CS is\n# empty where it does not. Every process a script starts costs 20 ms on a loaded host.\nclock() {\n  if [ -r /proc/uptime ] && read -r NOW _ < /proc/uptime; then\n    NOW_CS=${NOW%.*}${NOW#*.}\n    NOW_CS=${NOW_CS#${NOW_CS%%[!0]*}}\n    NOW=${NOW%.*}\n  else\n    NOW=$(date +%s) NOW_CS=\n  fi\n}\n\n# Sleeps $1 hundredths of a second.\nsleep_cs() {\n  sleep_fraction=$(( $1 % 100 ))\n  [ \"$sleep_fraction\" -ge 10 ] || sleep_fraction=0$sleep_fraction\n  sleep \"$(( $1 / 100 )).$sleep_fraction\"\n}\n\n# Exit status 0 when process $1 is running: not gone, and not a zombie that init has yet to reap.\n# Builtins only: this runs in every wait loop, and a spawn costs 20 ms on a loaded host.\npid_alive() {\n  if [ -r \"/proc/$1/stat\" ]; then\n    read -r proc_stat < \"/proc/$1/stat\" 2>/dev/null || return 1\n    proc_state=${proc_stat##*) }\n    case \"${proc_state%% *}\" in Z|X|'') return 1 ;; *) return 0 ;; esac\n  elif [ -d /proc/self ]; then\n    return 1\n  else\n    kill -0 \"$1\" 2>/dev/null\n  fi\n}\n\n# Exit status 0 when some process of the group led by $1 (or $1 itself) is running.\nalive() {\n  if [ -d /proc/self ]; then\n    pid_alive \"$1\" || grep -q -E \"^[0-9]+ \\(.*\\) [^ZX] [0-9]+ $1 \" /proc/[0-9]*/stat 2>/dev/null\n  else\n    kill -0 \"-$1\" 2>/dev/null || kill -0 \"$1\" 2>/dev/null\n  fi\n}\n\n# HTTP GET $1 into file $2 within $3 seconds; prints the status code (000 when nothing answered).\n# BusyBox wget (Alpine's only HTTP client) rejects --max-redirect, and Debian's build crashes on -T:\n# it runs under timeout instead. It follows redirects and cannot be told not to, so the first\n# status line it shows is the answer. Callers run this in $(...), so nothing set here outlives the\n# call: which wget it is, is asked each time (one more process, only on hosts without curl).\nhttp_status() {\n  if command -v curl >/dev/null 2>&1; then\n    curl -s -o \"$2\" -w '%{http_code}' --max-time \"$3\" \"$1\" 2>/dev/null || true\n  else\n    case $(wget --help 2>&1) in *BusyBox*) http_wget_kind=busybox ;; *) http_wget_kind=gnu ;; esac\n    if [ \"$http_wget_kind\" = gnu ]; then\n      http_answer=$(wget -q -S -O \"$2\" -T \"$3\" -t 1 --max-redirect=0 \"$1\" 2>&1)\n    elif command -v timeout >/dev/null 2>&1; then\n      http_answer=$(timeout \"$3\" wget -q -S -O \"$2\" \"$1\" 2>&1)\n    else\n      http_answer=$(wget -q -S -O \"$2\" -T \"$3\" \"$1\" 2>&1)\n    fi\n    http_code=$(printf '%s\\n' \"$http_answer\" | sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p' | head -n 1)\n    echo \"${http_code:-000}\"\n  fi\n}\n\n# Sets LISTENERS to ss's lines for the sockets listening on TCP port $1, IPv4 and IPv6, with their\n# inodes. Status 1 when ss cannot tell (not installed, or too old for -H): the caller reads the\n# kernel's tables instead. ss asks the kernel for the listeners alone (netlink), which costs it\n# a third of what /proc/net/tcp and tcp6 do (see port_in_use), process start included. \"state\n# listening\", not -l: -l asks for closed sockets too, and the kernel then walks its whole\n# connection hash to find them.\nss_listeners() {\n  command -v ss >/dev/null 2>&1 && LISTENERS=$(ss -Htne state listening \"sport = :$1\" 2>/dev/null)\n}\n\n# Inodes of the sockets listening on TCP port $1: from ss, or from the kernel's tables, of which\n# only the top is read (see port_in_use).\nlisten_inodes() {\n  if ss_listeners \"$1\"; then\n    listen_rest=$LISTENERS\n    while :; do\n      case \"$listen_rest\" in *ino:*) listen_rest=${listen_rest#*ino:}; echo \"${listen_rest%%[!0-9]*}\" ;; *) return 0 ;; esac\n    done\n  fi\n  port_hex \"$1\"\n  [ ! -r /proc/net/tcp ] || listening_inodes_in \"$HEX\" /proc/net/tcp\n  [ ! -r /proc/net/tcp6 ] || listening_inodes_in \"$HEX\" /proc/net/tcp6\n}\n\n# Prints the inode of each socket that table $2 lists as listening on port $1 (as port_hex writes\n# it), reading no further than the listening sockets at its top.\nlistening_inodes_in() {\n  {\n    read -r _\n    while read -r _ socket_address _ socket_state _ _ _ _ _ socket_inode _; do\n      case \"$socket_state\" in\n        0A) case \"$socket_address\" in *:\"$1\") echo \"$socket_inode\" ;; esac ;;\n        03) ;;\n        *) return 0 ;;\n      esac\n    done\n  } < \"$2\"\n}\n\n# Sets HEX to port $1 as the kernel's tables write it: four upper-case hex digits.\nport_hex() {\n  HEX='' hex_rest=$1\n  for _ in 1 2 3 4; do\n    hex_digit=$(( hex_rest % 16 )); hex_rest=$(( hex_rest / 16 ))\n    case $hex_digit in 10) hex_digit=A ;; 11) hex_digit=B ;; 12) hex_digit=C ;; 13) hex_digit=D ;; 14) hex_digit=E ;; 15) hex_digit=F ;; esac\n    HEX=$hex_digit$HEX\n  done\n}\n\n# Status 0 when table $2 (in the format of /proc/net/tcp) lists a socket listening on port $1\n# (as port_hex writes it), reading no further than the listening sockets at its top.\nlisted_as_listening() {\n  {\n    read -r _\n    while read -r _ socket_address _ socket_state _; do\n      case \"$socket_state\" in\n        0A) case \"$socket_address\" in *:\"$1\") return 0 ;; esac ;;\n        03) ;;\n        *) return 1 ;;\n      esac\n    done\n  } < \"$2\"\n  return 1\n}\n\n# Status 0 when something listens on TCP port $1. The kernel lists the listening sockets first in\n# /proc/net/tcp and tcp6, before the established and TIME_WAIT ones (tens of thousands on a busy\n# proxy), so reading stops at the first of those: no process is started. (Kernels before 4.4 list\n# half-open connections, state 03, among the listeners: they do not end the listeners.) Even so,\n# each table costs the kernel a walk of its whole connection hash, which is sized by the host's\n# memory, not by its connections: 6 ms on a 24 GiB host, in every network namespace. So ss is\n# asked first where there is one, and scripts look only when nothing cheaper can tell, not in wait\n# loops.\nport_in_use() {\n  if ss_listeners \"$1\"; then\n    [ -n \"$LISTENERS\" ]\n  elif [ -r /proc/net/tcp ]; then\n    port_hex \"$1\"\n    listed_as_listening \"$HEX\" /proc/net/tcp || { [ -r /proc/net/tcp6 ] && listed_as_listening \"$HEX\" /proc/net/tcp6; }\n  else\n    http_status \"http://127.0.0.1:$1/\" /dev/null 2 | grep -qv '^000$'\n  fi\n}\n\n# Sets SOCKETS to the sockets open in process $1 and its children (the default start command's sh\n# runs java as its child), as \"<pid>:<fd>\" words. Builtins only: it runs in wait loops.\nsockets_of() {\n  SOCKETS='' sockets_children=\n  { read -r sockets_children < \"/proc/$1/task/$1/children\"; } 2>/dev/null\n  for sockets_process in $1 $sockets_children; do\n    for sockets_fd in /proc/$sockets_process/fd/*; do [ ! -S \"$sockets_fd\" ] || SOCKETS=\"$SOCKETS ${sockets_process}:${sockets_fd##*/}\"; done\n  done 2>/dev/null\n}\n\n# The pid of a process holding a socket that listens on port $1 (empty when unknown or not ours to see).\nport_holder() {\n  # -p makes ss read every process's file descriptors: only here, where the pid is needed.\n  holder_pid=$(ss -tnp state listening \"sport = :$1\" 2>/dev/null | sed -n 's/.*pid=\\([0-9][0-9]*\\).*/\\1/p' | head -n 1)\n  if [ -n \"$holder_pid\" ]; then echo \"$holder_pid\"; return 0; fi\n  for holder_inode in $(listen_inodes \"$1\"); do\n    holder_dir=\n    ls -l /proc/[0-9]*/fd 2>/dev/null | while read -r holder_line; do\n      case \"$holder_line\" in\n        /proc/*/fd:) holder_dir=${holder_line%/fd:} ;;\n        *\"socket:[$holder_inode]\"*) echo \"${holder_dir#/proc/}\"; break ;;\n      esac\n    done | head -n 1\n  done | head -n 1\n}\n\n# Instance identity. run/<port>.pid names the process a run started on <port>, but a pid alone\n# proves nothing: the instance may have ended long ago, or the host rebooted, and the pid now\n# belongs to anything on the host. So the file's second line records which process it was: the\n# boot and the process's start time. A process is ours only when it is on the same boot, started\n# at the recorded time, and runs the release named in run/<port>.release (its working directory is\n# that release directory or one in it, or the release directory is on its command line). Files\n# written before identities were recorded hold only the pid: for them the release check alone\n# decides. A pid that fails is never signalled. These functions work in the deploy dir, whoever\n# started the process (a detached start or a supervisor), and use builtins but for the\n# command-line fallback.\n\n# Sets BOOT_ID to the kernel's id of this boot (empty where it does not tell).\nboot_id() { BOOT_ID=; read -r BOOT_ID 2>/dev/null < /proc/sys/kernel/random/boot_id || BOOT_ID=; }\n\n# Sets PROC_START to the start time of process $1: field 22 of its stat, clock ticks since boot.\n# It never changes over the process's life (exec included), and a reused pid has another one.\nproc_start() {\n  PROC_START=\n  read -r proc_line 2>/dev/null < \"/proc/$1/stat\" || return 1\n  # The command name (field 2) may hold spaces and parentheses: count from the last \") \".\n  set -- ${proc_line##*) }\n  [ $# -ge 20 ] || return 1\n  shift 19\n  PROC_START=$1\n}\n\n# record_instance PORT PID [DEPLOY_DIR]: writes run/PORT.pid (in DEPLOY_DIR, else here) for the\n# instance PID on PORT, with its identity (see above), whole, by rename: a reader never sees half of\n# it. Call it as soon as the pid is known.\nrecord_instance() {\n  boot_id\n  proc_start \"$2\" || PROC_START=\n  printf '%s\\nboot=%s start=%s\\n' \"$2\" \"$BOOT_ID\" \"$PROC_START\" > \"${3:-.}/run/$1.pid.$2\" &&\n    mv -f -- \"${3:-.}/run/$1.pid.$2\" \"${3:-.}/run/$1.pid\"\n}\n\n# Sets SELF_PID to the pid of the shell process that calls it, a subshell included (where $$ still\n# names the script's shell).\nself_pid() {\n  SELF_PID=\n  { read -r SELF_PID _ < /proc/self/stat; } 2>/dev/null || SELF_PID=$(exec sh -c 'echo \"$PPID\"')\n}\n\n# Status 0 when process $1 runs release $2: its working directory is releases/$2 or a directory in\n# it (a server that went into the folder it serves, as BusyBox's httpd -h does), or that\n# directory's path is on its command line (a start command that changed directory elsewhere).\nruns_release() {\n  [ -n \"$2\" ] || return 1\n  [ \"/proc/$1/cwd\" -ef \"releases/$2\" ] && return 0\n  release_path=$(cd -P -- \"releases/$2\" 2>/dev/null && pwd) || release_path=\"$PWD/releases/$2\"\n  if process_cwd=$(cd -P -- \"/proc/$1/cwd\" 2>/dev/null && pwd); then\n    case \"$process_cwd/\" in \"$release_path/\"*) return 0 ;; esac\n  fi\n  grep -q -a -F -e \"$release_path/\" \"/proc/$1/cmdline\" 2>/dev/null\n}\n\n# Status 0 when process (group) $1 is the instance recorded with identity line $2 (\"\" for a file\n# written before identities were recorded) running release $3. When the recorded process has\n# exited but its group lives on (a start command that left the app in the background), a member\n# of the group must run the release.\nis_our_instance() {\n  id_boot='' id_start=\n  case \"$2\" in\n    boot=*) id_boot=${2#boot=}; id_boot=${id_boot%% *}; id_start=${2##*start=}; id_start=${id_start%% *} ;;\n    ?*) return 1 ;;\n  esac\n  if [ -n \"$2\" ]; then boot_id; [ \"$id_boot\" = \"$BOOT_ID\" ] || return 1; fi\n  if pid_alive \"$1\"; then\n    if [ -n \"$2\" ]; then proc_start \"$1\" && [ \"$id_start\" = \"$PROC_START\" ] || return 1; fi\n    runs_release \"$1\" \"$3\"\n    return\n  fi\n  for instance_member in $(grep -l -E \"^[0-9]+ \\(.*\\) [^ZX] [0-9]+ $1 \" /proc/[0-9]*/stat 2>/dev/null); do\n    instance_member=${instance_member#/proc/}; instance_member=${instance_member%/stat}\n    # Started after the recorded process: a member of an older group of the same id is not ours.\n    if [ -n \"$2\" ]; then proc_start \"$instance_member\" && [ \"$PROC_START\" -ge \"$id_start\" ] 2>/dev/null || continue; fi\n    runs_release \"$instance_member\" \"$3\" && return 0\n  done\n  return 1\n}\n\n# find_instance PORT: status 0, with INSTANCE_PID set, when run/PORT.pid names a live process\n# (group) proven to be our instance on PORT. When it names a live process that is not ours,\n# STALE_PID is set to that pid and \"stale_pid=PORT PID\" printed, for the log: that process must\n# not be signalled. RECORDED_PID is the pid the file names (empty without one); INSTANCE_ID its\n# identity line, INSTANCE_RELEASE the release, for a later is_our_instance. run/PORT.release must\n# name the release the instance runs: whoever starts one writes it beside record_instance's file.\nfind_instance() {\n  INSTANCE_PID='' STALE_PID='' RECORDED_PID='' INSTANCE_ID='' INSTANCE_RELEASE=\n  { read -r RECORDED_PID; read -r INSTANCE_ID; } 2>/dev/null < \"run/$1.pid\"\n  case \"$RECORDED_PID\" in ''|*[!0-9]*) RECORDED_PID=; return 1 ;; esac\n  [ \"$RECORDED_PID\" -gt 1 ] && alive \"$RECORDED_PID\" || return 1\n  read -r INSTANCE_RELEASE 2>/dev/null < \"run/$1.release\" || :\n  # Without /proc (not Linux) there is nothing to prove it with: the pid file is believed.\n  if [ ! -d /proc/self ] || is_our_instance \"$RECORDED_PID\" \"$INSTANCE_ID\" \"$INSTANCE_RELEASE\"; then\n    INSTANCE_PID=$RECORDED_PID\n    return 0\n  fi\n  STALE_PID=$RECORDED_PID\n  echo \"stale_pid=$1 $STALE_PID\"\n  return 1\n}\n\n# Status 0 when every socket listening on TCP port $1 is held by process $2 or its family: its\n# children and the processes of its group or session (what stop_group stops). Where the kernel's\n# tables cannot be read nothing can be told, and status is 0. Most often the process or a child\n# holds them, which its own descriptors tell; only otherwise is every process's stat read to find\n# the rest of the family. Call it once, not in a wait loop.\nlisteners_are_ours() {\n  own_inodes=$(listen_inodes \"$1\")\n  [ -n \"$own_inodes\" ] || return 0\n  own_children=\n  { read -r own_children < \"/proc/$2/task/$2/children\"; } 2>/dev/null\n  own_fds=\n  for own_pid in $2 $own_children; do own_fds=\"$own_fds /proc/$own_pid/fd\"; done\n  ! holds_sockets \"$own_fds\" \"$own_inodes\" || return 0\n  own_fds=\n  # Fields 1, 4, 5 and 6 of a stat line: pid, parent, process group, session.\n  for own_stat in $(grep -l -E \"^($2 |[0-9]+ \\(.*\\) . ([0-9]+ ){0,2}$2 )\" /proc/[0-9]*/stat 2>/dev/null); do\n    own_fds=\"$own_fds ${own_stat%stat}fd\"\n  done\n  [ -n \"$own_fds\" ] && holds_sockets \"$own_fds\" \"$own_inodes\"\n}\n\n# Status 0 when the descriptor directories $1 hold every socket inode in $2.\nholds_sockets() {\n  held=$(ls -l $1 2>/dev/null)\n  for held_inode in $2; do\n    case \"$held\" in *\"socket:[$held_inode]\"*) ;; *) return 1 ;; esac\n  done\n}\n\n# The program that process $1 runs, by name, for messages: its first word only, since the\n# arguments may carry secrets.\nprogram_of() {\n  program_path=$(tr '\\0' '\\n' < \"/proc/$1/cmdline\" 2>/dev/null | head -n 1)\n  echo \"${program_path##*/}\"\n}\n\n# The command line of pid $1, for messages.\ncommand_of() { tr '\\0' ' ' < \"/proc/$1/cmdline\" 2>/dev/null | cut -c1-200; }\n\n# Sends signal $1 to the group led by $2, or to $2 alone when it leads none. (\"kill -SIG -PGID\"\n# without \"--\": dash rejects \"kill -TERM -- -PGID\".)\nsignal_group() { kill -\"$1\" \"-$2\" 2>/dev/null || kill -\"$1\" \"$2\" 2>/dev/null; }\n\n# Status 0 when process $1 is the one identity line $2 (\"boot=... start=...\", as record_instance\n# writes it) names: same boot, same start time. When it has exited but its group lives on, a member\n# of the group started at or after it must be alive: the kernel does not give a group's id to a new\n# process while the group has members, so only then is a signal to the group still ours to send.\ngroup_is() {\n  group_boot=${2#*boot=}; group_boot=${group_boot%% *}\n  group_start=${2##*start=}; group_start=${group_start%% *}\n  case \"$group_start\" in ''|*[!0-9]*) return 1 ;; esac\n  boot_id; [ \"$group_boot\" = \"$BOOT_ID\" ] || return 1\n  if pid_alive \"$1\"; then proc_start \"$1\" && [ \"$PROC_START\" = \"$group_start\" ]; return; fi\n  for group_member in $(grep -l -E \"^[0-9]+ \\(.*\\) [^ZX] [0-9]+ $1 \" /proc/[0-9]*/stat 2>/dev/null); do\n    group_member=${group_member#/proc/}; group_member=${group_member%/stat}\n    proc_start \"$group_member\" && [ \"$PROC_START\" -ge \"$group_start\" ] 2>/dev/null && return 0\n  done\n  return 1\n}\n\n# Sets PROC_ID to the identity line of live process $1 (empty when it is gone), for group_is.\nproc_id() {\n  PROC_ID=\n  boot_id\n  proc_start \"$1\" && PROC_ID=\"boot=$BOOT_ID start=$PROC_START\"\n}\n\n# stop_group PID TIMEOUT [IDENTITY RELEASE]: SIGTERM the group led by PID, SIGKILL after TIMEOUT\n# seconds, but only to the same process (group) still: proven by is_our_instance with IDENTITY and\n# RELEASE when they are given, else by the start time PID had when it was asked to stop. A pid\n# that has been reused meanwhile is never killed. Prints what it had to do.\nstop_group() {\n  alive \"$1\" || return 0\n  stop_id=${3:-} stop_release=${4:-}\n  if [ -z \"$stop_release\" ]; then proc_id \"$1\"; stop_id=$PROC_ID; fi\n  signal_group TERM \"$1\"\n  clock; stop_deadline=$(( NOW + $2 ))\n  while alive \"$1\"; do\n    if clock; [ \"$NOW\" -ge \"$stop_deadline\" ]; then\n      if [ -n \"$stop_release\" ]; then\n        is_our_instance \"$1\" \"$stop_id\" \"$stop_release\" || { echo \"not_killed=$1\"; return 0; }\n      else\n        group_is \"$1\" \"$stop_id\" || { echo \"not_killed=$1\"; return 0; }\n      fi\n      signal_group KILL \"$1\"\n      echo \"killed=$1\"\n      sleep 0.1\n      return 0\n    fi\n    sleep 0.05\n  done\n  echo \"stopped=$1\"\n}\n\n# Runs \"$@\" in place of this process (same pid, same start time) in a session of its own, so that\n# nothing aimed at the caller's session or process group (a lock takeover ends the silent run's\n# session) reaches it. setsid (util-linux, or BusyBox's applet) or Perl's POSIX::setsid makes it;\n# none forks, since the caller is a background child that leads no group. sh's own job control\n# (set -m) cannot: dash and BusyBox ash turn it off without a terminal. Without any of them the\n# command runs in the caller's group.\nexec_detached() {\n  if command -v setsid >/dev/null 2>&1; then\n    exec setsid \"$@\"\n  elif command -v busybox >/dev/null 2>&1 && busybox setsid true >/dev/null 2>&1; then\n    exec busybox setsid \"$@\"\n  elif command -v perl >/dev/null 2>&1; then\n    exec perl -MPOSIX -e 'POSIX::setsid(); exec { $ARGV[0] } @ARGV or exit 127' -- \"$@\"\n  fi\n  exec \"$@\"\n}\n\n# The live nginx workers (not shutting down), one \"<master pid>:<worker pid>\" line each, of the\n# nginx masters whose command line holds $1 (all masters when $1 is empty or matches none). nginx\n# writes its role into its command line (\"nginx: master process <its arguments>\"), so one grep over\n# /proc finds them all. Each worker comes with its master: a host may run several nginx masters\n# that look alike (a container's, another network namespace's), and a reload replaces the workers\n# of one of them only.\nnginx_workers() {\n  nginx_titles=$(grep -a -H -o -E 'nginx: (master|worker) process[^[:cntrl:]]*' /proc/[0-9]*/cmdline 2>/dev/null)\n  nginx_masters='' nginx_all_masters=\n  while IFS= read -r nginx_line; do\n    case \"$nginx_line\" in *':nginx: master process'*) ;; *) continue ;; esac\n    nginx_pid=${nginx_line#/proc/}; nginx_pid=${nginx_pid%%/*}\n    nginx_all_masters=\"$nginx_all_masters $nginx_pid\"\n    case \"$nginx_line\" in *\"$1\"*) nginx_masters=\"$nginx_masters $nginx_pid\" ;; esac\n  done <<EOF\n$nginx_titles\nEOF\n  [ -n \"$nginx_masters\" ] || nginx_masters=$nginx_all_masters\n  while IFS= read -r nginx_line; do\n    case \"$nginx_line\" in *'shutting down'*) continue ;; *':nginx: worker process'*) ;; *) continue ;; esac\n    nginx_pid=${nginx_line#/proc/}; nginx_pid=${nginx_pid%%/*}\n    read -r _ _ _ nginx_parent _ < \"/proc/$nginx_pid/stat\" 2>/dev/null || continue\n    case \" $nginx_masters \" in *\" $nginx_parent \"*) echo \"$nginx_parent:$nginx_pid\" ;; esac\n  done <<EOF\n$nginx_titles\nEOF\n}\n\n# Waits up to $2 seconds until each nginx worker in $1 has exited or calls itself \"shutting down\":\n# from then on nginx gives it no new connection. A reload's master tells its old workers so 100 ms\n# after it starts the new ones. Prints handover=late if the wait ran out.\nawait_retired() {\n  [ -n \"$1\" ] || return 0\n  clock; retire_deadline=$(( NOW + $2 ))\n  while :; do\n    retire_done=yes\n    for retire_worker in $1; do\n      retire_title=\n      { IFS= read -r retire_title < \"/proc/$retire_worker/cmdline\"; } 2>/dev/null\n      case \"$retire_title\" in *'shutting down'*) ;; 'nginx: worker process'*) retire_done=no; break ;; esac\n    done\n    [ \"$retire_done\" = no ] || return 0\n    if clock; [ \"$NOW\" -ge \"$retire_deadline\" ]; then echo \"handover=late\"; return 0; fi\n    sleep 0.02\n  done\n}\n";
const LOCK_LIB_SH = "\n# Status 0 when pid $1 runs and is the process that started at $2 (field 22 of /proc/<pid>/stat,\n# clock ticks since boot): a pid reused by another process after the first one ended, or after a\n# reboot, is not it. Sets PROC_PPID, PROC_PGID and PROC_SID. Builtins only: waiters run it five\n# times a second.\nproc_is() {\n  PROC_PPID='' PROC_PGID='' PROC_SID=\n  if [ ! -d /proc/self ]; then\n    kill -0 \"$1\" 2>/dev/null\n    return\n  fi\n  [ -r \"/proc/$1/stat\" ] && read -r proc_line < \"/proc/$1/stat\" 2>/dev/null || return 1\n  # After the command name, which may hold spaces and parentheses: field 3 (state) onwards.\n  set -- \"$2\" ${proc_line##*) }\n  case \"$2\" in Z|X|'') return 1 ;; esac\n  PROC_PPID=$3 PROC_PGID=$4 PROC_SID=$5\n  [ $# -ge 21 ] || return 1\n  proc_want=$1\n  shift 20\n  [ -z \"$proc_want\" ] || [ \"$1\" = \"$proc_want\" ]\n}\n\n# Looks at .lock and sets:\n#   LOCK_KEY    the identity of this lock instance: \"<pid>-<start>\" of its holder, or, while it has\n#               none, \"dir-<inode>-<mtime>\" (the mtime changes when the holder is written)\n#   STALE       empty while the lock is held; else why not: ended, rebooted, unfinished, silent\n#   SILENT_FOR  seconds since the holder last renewed its lease\n#   HOLDER_PID, HOLDER_GROUP (the process group to end, or -)\n# Status 1 when .lock is gone.\njudge_lock() {\n  STALE='' LOCK_KEY='' SILENT_FOR='' HOLDER_PID='' HOLDER_GROUP='' judge_line=\n  [ ! -r .lock/holder ] || read -r judge_line < .lock/holder 2>/dev/null || judge_line=\n  if [ -z \"$judge_line\" ]; then\n    LOCK_KEY=$(stat -c 'dir-%i-%Y' .lock 2>/dev/null) || return 1\n    [ $(( $(date +%s) - ${LOCK_KEY##*-} )) -le 10 ] || STALE=unfinished\n    return 0\n  fi\n  set -- $judge_line\n  HOLDER_PID=$1 HOLDER_GROUP=${4:--}\n  LOCK_KEY=\"$1-${2:-}\"\n  if [ -n \"$BOOT_ID\" ] && [ \"${3:-}\" != \"$BOOT_ID\" ]; then STALE=rebooted; return 0; fi\n  proc_is \"$1\" \"${2:-}\" || { STALE=ended; return 0; }\n  judge_renewed=\n  [ ! -r \".lock/lease.$LOCK_KEY\" ] || read -r judge_renewed < \".lock/lease.$LOCK_KEY\" 2>/dev/null || judge_renewed=\n  case \"$judge_renewed\" in ''|*[!0-9]*) return 0 ;; esac\n  clock\n  SILENT_FOR=$(( NOW - judge_renewed ))\n  [ \"$SILENT_FOR\" -le \"$LEASE\" ] || STALE=silent\n}\n\n# Ends the silent holder that judge_lock has just identified (same pid, same start time, same\n# boot): its process group when that group is the session sshd made for its shell, else the shell\n# and its descendants; then the hook it was running, which is in a session of its own (see\n# hookScript). The instances a run starts are in sessions of their own too, and go on. Status 1\n# when it would not end.\nend_holder() {\n  proc_is \"$HOLDER_PID\" \"${LOCK_KEY#*-}\" || { end_hook; return 0; }\n  end_targets=\n  if [ \"$HOLDER_GROUP\" != - ] && [ \"$PROC_PGID\" = \"$HOLDER_GROUP\" ]; then\n    end_targets=\"-$HOLDER_GROUP\"\n  else\n    end_frontier=$HOLDER_PID end_targets=$HOLDER_PID\n    while [ -n \"$end_frontier\" ]; do\n      end_next=\n      for end_stat in /proc/[0-9]*/stat; do\n        read -r end_line < \"$end_stat\" 2>/dev/null || continue\n        set -- ${end_line##*) }\n        case \" $end_frontier \" in *\" $2 \"*) end_pid=${end_stat#/proc/}; end_next=\"$end_next ${end_pid%/stat}\" ;; esac\n      done\n      end_targets=\"$end_targets$end_next\" end_frontier=$end_next\n    done\n  fi\n  for end_signal in TERM KILL; do\n    for end_target in $end_targets; do kill -\"$end_signal\" \"$end_target\" 2>/dev/null; done\n    clock; end_deadline=$(( NOW + 5 ))\n    while proc_is \"$HOLDER_PID\" \"${LOCK_KEY#*-}\"; do\n      if clock; [ \"$NOW\" -ge \"$end_deadline\" ]; then continue 2; fi\n      sleep 0.05\n    done\n    end_hook\n    return 0\n  done\n  return 1\n}\n\n# Ends the hook that run/hook.pid says the holder started (\"<pid>\", its identity line, then\n# \"holder=<pid>\"): its whole group, SIGTERM, then SIGKILL 5 s later, each only while group_is still\n# proves it to be that hook's.\nend_hook() {\n  end_hook_pid='' end_hook_id='' end_hook_holder=\n  { read -r end_hook_pid; read -r end_hook_id; read -r end_hook_holder; } 2>/dev/null < run/hook.pid || return 0\n  case \"$end_hook_pid\" in ''|*[!0-9]*|0|1) return 0 ;; esac\n  [ \"$end_hook_holder\" = \"holder=$HOLDER_PID\" ] || return 0\n  for end_signal in TERM KILL; do\n    group_is \"$end_hook_pid\" \"$end_hook_id\" || return 0\n    signal_group \"$end_signal\" \"$end_hook_pid\"\n    clock; end_deadline=$(( NOW + 5 ))\n    while group_is \"$end_hook_pid\" \"$end_hook_id\"; do\n      if clock; [ \"$NOW\" -ge \"$end_deadline\" ]; then continue 2; fi\n      sleep 0.1\n    done\n    echo \"ended_hook=$end_hook_pid\"\n    return 0\n  done\n}\n\n# Makes a stale .lock ours: lease, owner, then the holder, each written whole by rename.\nwrite_lock() {\n  clock\n  printf '%s\\n' \"$NOW\" > .lock/.lease.$$ && mv -f .lock/.lease.$$ \".lock/lease.$ME_KEY\" &&\n    printf '%s\\npid=%s\\nsince=%s\\n' \"$OWNER\" \"$$\" \"$SINCE\" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner &&\n    printf '%s %s %s %s\\n' \"$$\" \"$ME_START\" \"${BOOT_ID:--}\" \"$ME_GROUP\" > .lock/.holder.$$ && mv -f .lock/.holder.$$ .lock/holder\n}\n\n# Makes a lock that has no holder ours: the holder first, by a hard link, which fails when the\n# name exists. A run whose mkdir made .lock may stall before that (swap, a stopped VM) until its\n# lock is judged unfinished and taken over; both then link a holder, and only one link is made:\n# the other run has lost, writes nothing more, and waits as any waiter. Status 1 when another run\n# holds .lock (or it is gone), 2 when .lock cannot be written.\nhold_new_lock() {\n  if ! printf '%s %s %s %s\\n' \"$$\" \"$ME_START\" \"${BOOT_ID:--}\" \"$ME_GROUP\" > .lock/.holder.$$; then\n    [ -d .lock ] || return 1\n    rmdir .lock 2>/dev/null\n    return 2\n  fi\n  if ! ln .lock/.holder.$$ .lock/holder 2>/dev/null; then\n    rm -f .lock/.holder.$$\n    # No holder after a failed link: this file system makes no hard links.\n    [ ! -d .lock ] || [ -e .lock/holder ] || return 2\n    return 1\n  fi\n  clock\n  printf '%s\\n' \"$NOW\" > .lock/.lease.$$ && mv -f .lock/.lease.$$ \".lock/lease.$ME_KEY\" &&\n    printf '%s\\npid=%s\\nsince=%s\\n' \"$OWNER\" \"$$\" \"$SINCE\" > .lock/.owner.$$ && mv -f .lock/.owner.$$ .lock/owner && return 0\n  rm -rf .lock\n  return 2\n}\n\n# Status 0 when the claim symlink $1 names a live claimant (\"<pid> <start> <boot>\").\nclaimant_alive() {\n  set -- $1\n  [ $# -ge 3 ] && { [ -z \"$BOOT_ID\" ] || [ \"$3\" = \"$BOOT_ID\" ]; } && proc_is \"$1\" \"$2\"\n}\n\n# Removes the claim $1 when its claimant has died in the middle of a takeover. Removing it is\n# itself claimed, by a symlink named after that dead claimant, so that two waiters never remove\n# two different claims, the dead one and the one that replaced it (and so on up, should a\n# breaker die as well).\nbreak_claim() {\n  break_target=$1 break_depth=0\n  while [ \"$break_depth\" -lt 4 ]; do\n    break_claimant=$(readlink \"$break_target\" 2>/dev/null) || return 0\n    ! claimant_alive \"$break_claimant\" || return 0\n    set -- $break_claimant\n    break_outer=\"$break_target.${1:-x}-${2:-x}\"\n    if ln -s \"$ME_CLAIM\" \"$break_outer\" 2>/dev/null; then\n      [ \"$(readlink \"$break_target\" 2>/dev/null)\" != \"$break_claimant\" ] || rm -f -- \"$break_target\"\n      rm -f -- \"$break_outer\"\n      return 0\n    fi\n    break_target=$break_outer break_depth=$(( break_depth + 1 ))\n  done\n}\n\n# Takes over the stale lock judged as $1. Why this is atomic: the claim is a symlink named after\n# that lock's identity, and ln -s fails when the name exists, so at most one waiter at a time holds\n# the claim for a given stale lock. Only the claimant changes a lock of that identity: it judges\n# .lock again under its claim and goes on only if it is still that stale lock; the holder, once\n# stale, never writes again (it has ended, or is ended here before anything is written; a lock\n# with no holder yet is the exception: its maker may only be slow, see hold_new_lock); and .lock\n# itself is never removed by a takeover (the holder is replaced inside it), so a lock another\n# waiter has just made by mkdir can never be moved away. A waiter that comes late, after the\n# claim is gone, finds a different identity and leaves.\ntake_over() {\n  take_key=$1\n  take_claim=\".lock.claim.$take_key\"\n  if ! ln -s \"$ME_CLAIM\" \"$take_claim\" 2>/dev/null; then\n    break_claim \"$take_claim\"\n    return 1\n  fi\n  if ! judge_lock || [ \"$LOCK_KEY\" != \"$take_key\" ] || [ -z \"$STALE\" ]; then rm -f -- \"$take_claim\"; return 1; fi\n  take_reason=$STALE take_silent=$SILENT_FOR\n  if [ \"$STALE\" = silent ] && ! end_holder; then rm -f -- \"$take_claim\"; return 1; fi\n  take_owner=$(tr '\\n' ' ' < .lock/owner 2>/dev/null)\n  if [ \"$STALE\" = unfinished ]; then\n    # Its maker may be alive and about to link its holder: whoever links first holds it. Its\n    # files are left alone; they go with the lock.\n    hold_new_lock\n    take_ok=$?\n  else\n    for take_file in .lock/lease.* .lock/.lease.* .lock/.owner.* .lock/.holder.*; do\n      [ ! -e \"$take_file\" ] || rm -f -- \"$take_file\"\n    done\n    write_lock\n    take_ok=$?\n  fi\n  rm -f -- \"$take_claim\"\n  [ \"$take_ok\" = 0 ] || return 1\n  echo \"stale_owner=$take_owner\"\n  echo \"stale_reason=$take_reason\"\n  [ -z \"$take_silent\" ] || echo \"stale_silent_for=$take_silent\"\n}\n";
const MAINTENANCE_PAGE_SH = "if [ ! -e \"$PAGE\" ]; then\n  echo \"error=page_missing\"; exit \"$EXIT_NO_PAGE\"\nelif [ ! -f \"$PAGE\" ]; then\n  echo \"error=page_not_file\"; exit \"$EXIT_NO_PAGE\"\nelif [ ! -r \"$PAGE\" ]; then\n  echo \"error=page_unreadable\"; exit \"$EXIT_NO_PAGE\"\nfi\nsize=$(wc -c < \"$PAGE\") || { echo \"error=page_unreadable\"; exit \"$EXIT_NO_PAGE\"; }\nsize=$(( size + 0 ))\nif [ \"$size\" -gt \"$LIMIT\" ]; then\n  echo \"error=page_too_big\"; echo \"size=$size\"; exit \"$EXIT_NO_PAGE\"\nfi\necho \"@@page\"\nsed 's/^/|/' < \"$PAGE\"\n";
const NGINX_DUMP_SH = "echo \"home=$HOME\"\nrun_command() { set +u; zdd_command=$1; shift; eval \"$zdd_command\"; }\nif [ -n \"$VERSION_COMMAND\" ]; then\n  # sudo's secure_path has the sbin directories, which a user's PATH may not.\n  dump_version=$(PATH=$PATH:/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin; run_command \"$VERSION_COMMAND\" 2>&1 < /dev/null) || dump_version=\n  case \"$dump_version\" in\n    *\" --http-log-path=\"*) dump_version=${dump_version#* --http-log-path=}; echo \"http_log_path=${dump_version%%[[:space:]]*}\" ;;\n  esac\nfi\ndump_file=$(mktemp) || { echo \"error=nginx_dump\"; echo \"@@dump_output\"; echo \"mktemp could not create a temporary file\"; exit 1; }\nif ! dump_errors=$(run_command \"$DUMP_COMMAND\" 2>&1 > \"$dump_file\" < /dev/null); then\n  echo \"error=nginx_dump\"\n  echo \"@@dump_output\"\n  printf '%s\\n' \"$dump_errors\"\n  rm -f -- \"$dump_file\"\n  exit 1\nfi\necho \"@@dump\"\nsed 's/^/|/' \"$dump_file\"\nrm -f -- \"$dump_file\"\n";
const PREFLIGHT_SH = "pf_uid=$(id -u 2>/dev/null)\nif [ \"$pf_uid\" = 0 ]; then\n  TEST_COMMAND=$TEST_COMMAND_ROOT TEST_SUDO='' RELOAD_SUDO='' RELOAD_PROGRAM=$RELOAD_PROGRAM_ROOT\nfi\n\n# Prints whether a program is on the PATH: <name>_path=<where> (empty when it is not).\npf_program() {\n  pf_where=\n  case \"$2\" in\n    */*) [ ! -f \"$2\" ] || [ ! -x \"$2\" ] || pf_where=$2 ;;\n    *) pf_where=$(command -v \"$2\" 2>/dev/null) || pf_where= ;;\n  esac\n  echo \"$1_path=$pf_where\"\n}\n\n# Asks sudo whether it would run the command whose words are the shell text $2, without running it\n# (sudo -n -l): <name>_sudo=allowed|refused|missing, then the words, the program's full path first\n# (sudo's secure_path usually holds the sbin directories a user's PATH lacks), for the sudoers line.\npf_sudo() {\n  pf_name=$1\n  set +u\n  eval \"set -- $2\"\n  set -u\n  [ $# -gt 0 ] || return 0\n  if ! command -v sudo > /dev/null 2>&1; then echo \"${pf_name}_sudo=missing\"\n  elif sudo -n -l \"$@\" > /dev/null 2>&1; then echo \"${pf_name}_sudo=allowed\"\n  else echo \"${pf_name}_sudo=refused\"; fi\n  pf_word=$1\n  case \"$pf_word\" in /*) ;; *) pf_word=$(PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\" command -v \"$pf_word\" 2>/dev/null) || pf_word=$1 ;; esac\n  shift\n  echo \"${pf_name}_word=$pf_word\"\n  for pf_word in \"$@\"; do echo \"${pf_name}_word=$pf_word\"; done\n}\n\n# deploy-dir: writable if it exists (and its releases, run and logs), else creatable in its nearest\n# existing parent. Nothing is created.\nresolve_deploy_dir\nwhile :; do case \"$DEPLOY_DIR\" in ?*/) DEPLOY_DIR=${DEPLOY_DIR%/} ;; *) break ;; esac; done\necho \"deploy_dir=$DEPLOY_DIR\"\npf_room=\nif [ -d \"$DEPLOY_DIR\" ]; then\n  echo \"deploy_dir_kind=dir\"\n  pf_room=$DEPLOY_DIR\n  for pf_path in \"$DEPLOY_DIR\" \"$DEPLOY_DIR/releases\" \"$DEPLOY_DIR/run\" \"$DEPLOY_DIR/logs\"; do\n    [ -e \"$pf_path\" ] || continue\n    if [ ! -d \"$pf_path\" ] || [ ! -w \"$pf_path\" ] || [ ! -x \"$pf_path\" ]; then echo \"deploy_dir_blocked=$pf_path\"; break; fi\n  done\nelif [ -e \"$DEPLOY_DIR\" ] || [ -L \"$DEPLOY_DIR\" ]; then\n  echo \"deploy_dir_kind=other\"\nelse\n  echo \"deploy_dir_kind=absent\"\n  pf_parent=$DEPLOY_DIR\n  while [ ! -e \"$pf_parent\" ]; do pf_parent=${pf_parent%/*}; pf_parent=${pf_parent:-/}; done\n  echo \"deploy_dir_parent=$pf_parent\"\n  if [ -d \"$pf_parent\" ]; then\n    pf_room=$pf_parent\n    if [ -w \"$pf_parent\" ] && [ -x \"$pf_parent\" ]; then echo \"deploy_dir_parent_kind=writable\"; else echo \"deploy_dir_parent_kind=readonly\"; fi\n  else\n    echo \"deploy_dir_parent_kind=other\"\n  fi\nfi\nif [ -n \"$pf_room\" ]; then\n  pf_usage=$(df -Pk \"$pf_room\" 2>/dev/null)\n  set -- ${pf_usage##*\n}\n  [ $# -lt 4 ] || echo \"free_kb=$4\"\nfi\n\n# The tools: an HTTP client for the health check, and the start command's program.\nif command -v curl >/dev/null 2>&1; then echo \"http=curl\"\nelif command -v wget >/dev/null 2>&1; then echo \"http=wget\"\nelse echo \"http=none\"; fi\n[ -z \"$START_PROGRAM\" ] || pf_program start \"$START_PROGRAM\"\n\n# The include, checked the way the switch (nginx.ts) writes it: beside it and moved into place when\n# its directory is writable, in place when only the file is, else with \"sudo -n tee <include>\".\ncase \"$INCLUDE\" in */*) pf_dir=${INCLUDE%/*}; pf_dir=${pf_dir:-/} ;; *) pf_dir=. ;; esac\nif [ -d \"$pf_dir\" ]; then echo \"include_dir=yes\"; else echo \"include_dir=no\"; fi\nif [ -e \"$INCLUDE\" ]; then\n  echo \"include=present\"\n  if [ -r \"$INCLUDE\" ]; then echo \"include_readable=yes\"; else echo \"include_readable=no\"; fi\nelse\n  echo \"include=absent\"\nfi\nif [ -w \"$pf_dir\" ] && { [ ! -e \"$INCLUDE\" ] || [ -w \"$INCLUDE\" ]; }; then\n  echo \"include_write=user\"\nelif [ -e \"$INCLUDE\" ] && [ -w \"$INCLUDE\" ]; then\n  echo \"include_write=user\"\nelse\n  echo \"include_write=sudo\"\n  case \"$INCLUDE\" in -*) pf_target=./$INCLUDE ;; *) pf_target=$INCLUDE ;; esac\n  # As the switch runs it: \"tee\" found by sudo; its full path for the sudoers line.\n  if [ -d \"$pf_dir\" ]; then pf_sudo tee 'tee \"$pf_target\"'; fi\nfi\n\n# The test changes nothing: it runs as configured. The reload is only asked of sudo, or its program looked for.\npf_test_output=$( (set +u; eval \"$TEST_COMMAND\") 2>&1 < /dev/null)\nif [ $? = 0 ]; then echo \"test=ok\"; else echo \"test=failed\"; fi\n[ -z \"$TEST_SUDO\" ] || pf_sudo test \"$TEST_SUDO\"\n[ -z \"$RELOAD_SUDO\" ] || pf_sudo reload \"$RELOAD_SUDO\"\n[ -z \"$RELOAD_PROGRAM\" ] || pf_program reload \"$RELOAD_PROGRAM\"\n\n# What holds each port of the pair: its pid and command line, when the user may see them.\nfor pf_port in \"$PORT_A\" \"$PORT_B\"; do\n  if port_in_use \"$pf_port\"; then\n    pf_holder=$(port_holder \"$pf_port\")\n    echo \"port=$pf_port ${pf_holder:--}\"\n    [ -z \"$pf_holder\" ] || echo \"port_command=$pf_port $(tr '\\0\\n' '  ' < \"/proc/$pf_holder/cmdline\" 2>/dev/null | cut -c1-2000)\"\n  else\n    echo \"port=$pf_port free\"\n  fi\ndone\necho \"@@test_output\"\nprintf '%s\\n' \"$pf_test_output\" | tail -n 20\n";
const PROBE_SH = "body=$(mktemp)\nfor port in $PORTS; do\n  code=$(http_status \"http://127.0.0.1:$port$HEALTH_PATH\" \"$body\" 5)\n  verdict=fail\n  case \"$code\" in 2??) { [ -z \"$HEALTH_EXPECT\" ] || grep -q -F -- \"$HEALTH_EXPECT\" \"$body\"; } && verdict=ok ;; esac\n  echo \"probe=$port $code $verdict\"\ndone\nrm -f -- \"$body\"\n";
const PRUNE_RELEASES_SH = "cd -- \"$DEPLOY_DIR\" || exit 0\nin_use=\" \"\nfor file in run/*.release; do\n  [ -r \"$file\" ] && read -r name < \"$file\" && in_use=\"$in_use$name \"\ndone\nprintf '%s\\n' \"$PRUNE\" | while IFS= read -r name; do\n  [ -n \"$name\" ] && [ -d \"releases/$name\" ] || continue\n  case \"$in_use\" in *\" $name \"*) echo \"kept_running=$name\"; continue ;; esac\n  rm -rf -- \"releases/$name\" && echo \"pruned=$name\"\ndone\n";
const READ_HISTORY_SH = "resolve_deploy_dir\necho \"@@history\"\n[ ! -r \"$DEPLOY_DIR/history\" ] || tail -n \"$LINES\" -- \"$DEPLOY_DIR/history\"\n";
const READ_LOGS_SH = "resolve_deploy_dir\nfor port in $PORTS; do\n  echo \"@@log_$port\"\n  [ ! -r \"$DEPLOY_DIR/logs/$port.log\" ] || tail -n \"$LINES\" -- \"$DEPLOY_DIR/logs/$port.log\"\ndone\n";
const READ_MANIFESTS_SH = "cd -- \"$DEPLOY_DIR/releases\" 2>/dev/null || exit 0\necho \"@@manifests\"\ni=0\nprintf '%s\\n' \"$JARS\" | while IFS= read -r jar; do\n  i=$((i + 1))\n  [ -n \"$jar\" ] && [ -f \"$jar\" ] || continue\n  manifest=\"${jar%/*}/$MANIFEST\"\n  [ -f \"$manifest\" ] || continue\n  size=$(wc -c < \"$jar\") || continue\n  echo \"release $((i - 1)) $size\"\n  cat -- \"$manifest\"\n  echo\ndone\n";
const RELEASE_LOCK_SH = "cd -- \"$DEPLOY_DIR\" 2>/dev/null || exit 0\nline=\n[ ! -r .lock/holder ] || read -r line < .lock/holder\nset -- $line\n[ \"${1:-}\" = \"$$\" ] && rm -rf .lock\necho \"lock=released\"\n";
const RELEASE_UNSERVED_SH = "[ ! -d \"${STATE_FILE%/*}\" ] || printf 'new\\n' > \"$STATE_FILE\" || exit 1\necho \"release_state=new\"\n";
const RENEW_LEASE_SH = "cd -- \"$DEPLOY_DIR\" 2>/dev/null || { echo \"lease=lost\"; exit 0; }\nline=\n[ ! -r .lock/holder ] || read -r line < .lock/holder 2>/dev/null || line=\nset -- $line\nif [ \"${1:-}-${2:-}\" != \"$KEY\" ]; then echo \"lease=lost\"; exit 0; fi\nclock\n# A renewal that lands after a takeover writes a lease nobody reads: the new holder's key differs.\nprintf '%s\\n' \"$NOW\" > \".lock/.lease.renew.$$\" && mv -f \".lock/.lease.renew.$$\" \".lock/lease.$KEY\" 2>/dev/null\necho \"lease=renewed\"\n";
const REPORT_HOLDER_SH = "\nreport_holder() {\n  proc_start \"$1\" || PROC_START=\n  echo \"holder_pid=$1\"\n  echo \"holder_start=$PROC_START\"\n  echo \"holder_command=$(tr '\\0\\n' '  ' < \"/proc/$1/cmdline\" 2>/dev/null | cut -c1-2000)\"\n}\n";
const START_SH = "cd -- \"$DEPLOY_DIR\" || exit \"$EXIT_START_FAILED\"\npid_file=\"run/$PORT.pid\"\nlog=\"logs/$PORT.log\"\n# The health answer goes to the session's private directory, which goes with the session: no rm\n# once healthy, when every host of a fleet is answering at once. A script run alone uses run/.\nif [ -n \"${ZDD_TMP:-}\" ] && [ -d \"$ZDD_TMP\" ]; then body=$ZDD_TMP/health-$PORT; else body=run/.health-$PORT; fi\npid=0\nfail() {\n  echo \"health=$1\"\n  # A unit would restart what crashed: it is stopped and disabled, so nothing of this start lingers.\n  [ -z \"$UNIT\" ] || unit_retire > /dev/null\n  # Killed only while still the process recorded for it (see stop_group).\n  fail_id=\n  { read -r _; read -r fail_id; } 2>/dev/null < \"$pid_file\" || fail_id=\n  if [ \"$pid\" -gt 0 ]; then\n    if [ -n \"$fail_id\" ]; then stop_group \"$pid\" \"$STOP_TIMEOUT\" \"$fail_id\" \"$RELEASE\"; else stop_group \"$pid\" \"$STOP_TIMEOUT\"; fi > /dev/null\n  fi\n  rm -f -- \"$pid_file\" \"run/$PORT.release\" \"run/$PORT.conf\" \"$body\"\n  echo \"@@log\"\n  tail -n 50 -- \"$log\"\n  exit \"$2\"\n}\nif [ -n \"$UNIT\" ]; then\n  (umask 077 && { unit_environment; printf '%s' \"$CONF_TEXT\"; } > \"run/$PORT.conf.new\") &&\n    mv -f -- \"run/$PORT.conf.new\" \"run/$PORT.conf\" && echo \"$RELEASE\" > \"run/$PORT.release\" &&\n    { write_changed run/launch \"$LAUNCHER_TEXT\" || [ -f run/launch ]; } && unit_install || fail unit_setup \"$EXIT_START_FAILED\"\n  if ! unit_output=$(unit_ctl enable --quiet \"$UNIT\" 2>&1 && unit_ctl start \"$UNIT\" 2>&1); then\n    printf '%s\\n' \"$unit_output\" | sed 's/^/unit_error=/'\n    fail unit_start \"$EXIT_START_FAILED\"\n  fi\n  echo \"unit=$UNIT\"\n  pid=$(unit_ctl show -p MainPID \"$UNIT\" 2>/dev/null)\n  pid=${pid#MainPID=}\n  case \"$pid\" in ''|*[!0-9]*) pid=0 ;; esac\n  [ \"$pid\" -gt 0 ] || fail exited \"$EXIT_EXITED\"\n  record_instance \"$PORT\" \"$pid\"\nelse\n  echo \"--- $STARTED_AT starting release $RELEASE on port $PORT\" >> \"$log\"\n  # The record exists before the process can start, so that a run cut off at any moment leaves an\n  # instance the next run finds (find_instance) and stops, even one not listening yet: first the\n  # release, then the process records its own pid and start time (exec keeps both) once it stands\n  # in the release directory, and only then execs the start command, in a session of its own.\n  # Freeing the port removed it already, most often: rm only for a file that is there.\n  if [ -e \"$pid_file\" ] || [ -L \"$pid_file\" ]; then rm -f -- \"$pid_file\"; fi\n  echo \"$RELEASE\" > \"run/$PORT.release\" || fail run_files \"$EXIT_START_FAILED\"\n  deploy_root=$PWD\n  # fd 3 is the session's own output (see the session): an instance holding it open would keep the\n  # connection from ever seeing the end of its output.\n  (\n    cd -P -- \"releases/$RELEASE\" || exit 97\n    ARTIFACT=\"$PWD/$FILE_NAME\"\n    SERVER_PORT=$PORT\n    export PORT SERVER_PORT ARTIFACT APP_NAME RELEASE JAVA_OPTS\n    . ./env || exit 98\n    self_pid\n    record_instance \"$PORT\" \"$SELF_PID\" \"$deploy_root\" || exit 96\n    exec_detached sh -c \"$START_COMMAND\"\n  ) < /dev/null >> \"$log\" 2>&1 3>&- &\n  pid=$!\nfi\necho \"pid=$pid\"\nclock; deadline=$(( NOW + HEALTH_TIMEOUT ))\n# Polls keep a fixed cadence (one every health-interval from the start, whatever each poll costs)\n# where the clock has hundredths; elsewhere they sleep health-interval between polls. Between polls\n# the new process's open files are watched, with builtins only: once its sockets (or a child's)\n# differ from those at the last poll (a new one is its listener, most often, which a Spring Boot app\n# opens when it is about ready) the next poll goes at once. The kernel's socket tables would tell\n# more, but cost more CPU to read than an HTTP client does to start (see port_in_use), and the\n# starting service needs that CPU more.\nstarted_cs=$NOW_CS\n# The process was started a moment ago: nothing can answer yet, so the first poll waits for the\n# first tick, or for its first socket.\ncode=000\nfirst_tick=1\n# Set when the watch calls the poll early: the family's sockets changed, most often for the listener.\nwoken=\nwhile :; do\n  alive \"$pid\" || fail exited \"$EXIT_EXITED\"\n  # Counted before the poll: a socket opened while it runs still calls the next one at once.\n  sockets_of \"$pid\"; polled_sockets=$SOCKETS\n  if [ -n \"$first_tick\" ]; then\n    first_tick=\n  elif [ -z \"$woken\" ] && ss_listeners \"$PORT\" && [ -z \"$LISTENERS\" ]; then\n    # A tick, and nothing listens on the port yet: an HTTP client would only be refused, and\n    # starting curl costs the host four times what asking ss does (10 ms against 2.5), twice a\n    # second for as long as the service takes to start.\n    code=000\n  else\n    code=$(http_status \"$HEALTH_URL\" \"$body\" 5)\n  fi\n  case \"$code\" in\n    2??)\n      if [ -z \"$HEALTH_EXPECT\" ] || grep -q -F -- \"$HEALTH_EXPECT\" \"$body\" 2>/dev/null; then\n        if alive \"$pid\"; then\n          # The answer must come from the process this run started (or its family), not from one\n          # that took the port meanwhile: checked once, when everything else has passed.\n          if ! listeners_are_ours \"$PORT\" \"$pid\"; then\n            holder=$(port_holder \"$PORT\")\n            if [ -n \"$holder\" ]; then\n              echo \"holder_pid=$holder\"\n              echo \"holder_program=$(program_of \"$holder\")\"\n            fi\n            fail not_ours \"$EXIT_NOT_OURS\"\n          fi\n          [ \"$body\" != \"run/.health-$PORT\" ] || rm -f -- \"$body\"\n          echo \"health=ok\"; exit 0\n        fi\n      fi ;;\n  esac\n  if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n    echo \"last_status=$code\"\n    echo \"last_body=$(head -c 200 \"$body\" 2>/dev/null | tr '\\n' ' ')\"\n    fail timeout \"$EXIT_UNHEALTHY\"\n  fi\n  if [ -n \"$started_cs\" ]; then\n    next_cs=$(( NOW_CS + HEALTH_INTERVAL_CS - (NOW_CS - started_cs) % HEALTH_INTERVAL_CS ))\n    woken=\n    while clock; [ \"$NOW_CS\" -lt \"$next_cs\" ]; do\n      if [ $(( next_cs - NOW_CS )) -gt 10 ]; then\n        sleep 0.1\n        alive \"$pid\" || break\n        sockets_of \"$pid\"; [ \"$SOCKETS\" = \"$polled_sockets\" ] || { woken=1; break; }\n      else\n        sleep_cs $(( next_cs - NOW_CS ))\n      fi\n    done\n  else\n    sleep \"$HEALTH_INTERVAL\"\n  fi\ndone\n";
const STOP_SH = "cd -- \"$DEPLOY_DIR\" || exit 0\nif ! find_instance \"$PORT\"; then\n  # Nothing of ours runs here; a unit that would start it again is disabled all the same.\n  unit_retire\n  # A stale record (its pid now names another process) says nothing runs here: it goes.\n  [ -z \"$STALE_PID\" ] || rm -f -- \"run/$PORT.pid\" \"run/$PORT.release\" \"run/$PORT.conf\"\n  echo \"stopped=none\"; exit 0\nfi\nsleep \"$DRAIN\"\nunit_retire\n# The drain takes seconds: the instance may have ended meanwhile, and its pid been reused.\nif is_our_instance \"$INSTANCE_PID\" \"$INSTANCE_ID\" \"$INSTANCE_RELEASE\"; then\n  stop_group \"$INSTANCE_PID\" \"$STOP_TIMEOUT\" \"$INSTANCE_ID\" \"$INSTANCE_RELEASE\"\nfi\nrm -f -- \"run/$PORT.pid\" \"run/$PORT.release\" \"run/$PORT.conf\"\n";
const SWITCH_SH = "\n# Reports a write that did not happen: which file, how it was tried, and what refused it. What was\n# written before it (the http-level file) is put back first.\nwrite_failed() {\n  [ \"$http_way\" = none ] || restore_file \"$HTTP_FILE\" \"$http_way\" \"$http_had_old\" \"$http_saved\" empty > /dev/null 2>&1\n  echo \"error=include_write\"\n  echo \"write_file=$wf_path\"\n  echo \"write_as=$1\"\n  echo \"write_step=$2\"\n  [ \"$1\" = user ] || echo \"tee_path=$(command -v tee 2>/dev/null)\"\n  echo \"@@write_output\"; printf '%s\\n' \"$3\"\n  exit \"$EXIT_WRITE_FAILED\"\n}\n\n# Writes $2 (and a newline) to file $1 and keeps its old text to put back (restore_file). Sets\n# wf_way: move (a user who can write the directory: written beside it and moved into place), user\n# (the file itself is writable, written in place) or sudo (written in place with the exact command\n# a sudoers rule names, \"tee <file>\", and nothing more); wf_had_old and wf_saved (the old text).\nwrite_file() {\n  wf_path=$1 wf_had_old=no wf_saved=\n  case \"$wf_path\" in */*) wf_dir=${wf_path%/*}; wf_dir=${wf_dir:-/} ;; *) wf_dir=. ;; esac\n  [ -e \"$wf_path\" ] && wf_had_old=yes\n  if [ -w \"$wf_dir\" ] && { [ \"$wf_had_old\" = no ] || [ -w \"$wf_path\" ]; }; then\n    wf_way=move\n    wf_fresh=\"$wf_path.zdd-new\"\n    wf_saved=\"$wf_path.zdd-old\"\n    # Written by a builtin; only a write that fails is tried again in a subshell, to say why.\n    if ! { printf '%s\\n' \"$2\" > \"$wf_fresh\"; } 2>/dev/null && ! wf_out=$({ printf '%s\\n' \"$2\" > \"$wf_fresh\"; } 2>&1); then\n      rm -f -- \"$wf_fresh\" 2>/dev/null\n      write_failed user write \"$wf_out\"\n    fi\n    # A second name keeps the old file itself (its bytes, mode and owner) once the new one takes\n    # its place: one process. A name that a switch cut short left behind is removed first, and the\n    # file copied where the file system has no hard links.\n    if [ \"$wf_had_old\" = yes ] && ! ln -- \"$wf_path\" \"$wf_saved\" 2>/dev/null &&\n      ! wf_out=$(rm -f -- \"$wf_saved\" && { ln -- \"$wf_path\" \"$wf_saved\" 2>/dev/null || cp -p -- \"$wf_path\" \"$wf_saved\"; } 2>&1); then\n      rm -f -- \"$wf_fresh\"\n      write_failed user keep \"$wf_out\"\n    fi\n    wf_out=$(mv -f -- \"$wf_fresh\" \"$wf_path\" 2>&1) || write_failed user write \"$wf_out\"\n    return 0\n  fi\n  # Written in place: by the user when the file itself is writable (a group's file in a root\n  # directory), otherwise through sudo.\n  if [ \"$wf_had_old\" = yes ] && [ -w \"$wf_path\" ]; then wf_way=user; else wf_way=sudo; fi\n  wf_as=$wf_way\n  wf_saved=$(mktemp 2>/dev/null) || write_failed \"$wf_as\" keep \"mktemp could not create a temporary file\"\n  if [ \"$wf_had_old\" = yes ] && ! wf_out=$(cat -- \"$wf_path\" 2>&1 > \"$wf_saved\"); then\n    rm -f -- \"$wf_saved\"\n    write_failed \"$wf_as\" read \"$wf_out\"\n  fi\n  if ! wf_out=$({ printf '%s\\n' \"$2\" | put_file \"$wf_way\" \"$wf_path\"; } 2>&1); then\n    # tee may have truncated the file before failing (a full disk): put the old text back.\n    [ \"$wf_had_old\" = no ] || put_file \"$wf_way\" \"$wf_path\" < \"$wf_saved\" > /dev/null 2>&1\n    rm -f -- \"$wf_saved\"\n    write_failed \"$wf_as\" write \"$wf_out\"\n  fi\n}\n\n# Writes stdin to file $2 in place, as $1 says (user or sudo).\nput_file() {\n  case \"$2\" in -*) pf_target=./$2 ;; *) pf_target=$2 ;; esac\n  if [ \"$1\" = user ]; then cat > \"$pf_target\"; else sudo -n tee \"$pf_target\" > /dev/null; fi\n}\n\n# Puts file $1 back as it was before write_file, written the way $2, which found it there ($3\n# yes) or not, its old text kept in $4. A file that was not there is removed again; with sudo,\n# where only \"tee <file>\" may be allowed, $5 \"empty\" leaves it empty instead (nginx reads an empty\n# file as nothing), and \"rm\" asks sudo for rm.\nrestore_file() {\n  case \"$2\" in\n    move) if [ \"$3\" = yes ]; then mv -f -- \"$4\" \"$1\"; else rm -f -- \"$1\"; fi ;;\n    *)\n      if [ \"$3\" = yes ]; then put_file \"$2\" \"$1\" < \"$4\"\n      elif [ \"$5\" = empty ]; then put_file \"$2\" \"$1\" < /dev/null\n      else sudo -n rm -f -- \"$1\"\n      fi\n      rf_status=$?\n      rm -f -- \"$4\"\n      return \"$rf_status\"\n      ;;\n  esac\n}\n\nhttp_way=none http_had_old=no http_saved=\nif [ -n \"$HTTP_FILE\" ]; then\n  write_file \"$HTTP_FILE\" \"$HTTP_CONTENT\"\n  http_way=$wf_way http_had_old=$wf_had_old http_saved=$wf_saved\nfi\nwrite_file \"$INCLUDE\" \"$CONTENT\"\ninclude_way=$wf_way include_had_old=$wf_had_old include_saved=$wf_saved\n\n# Puts the include and the http-level file back, byte for byte, together.\nrestore() {\n  restore_file \"$INCLUDE\" \"$include_way\" \"$include_had_old\" \"$include_saved\" rm || echo \"restore=failed\"\n  [ \"$http_way\" = none ] || restore_file \"$HTTP_FILE\" \"$http_way\" \"$http_had_old\" \"$http_saved\" empty || echo \"restore=failed\"\n}\n\n# The old texts are not needed any more once nginx serves the new ones.\nforget_old() {\n  [ -z \"$include_saved\" ] || forget_file \"$include_saved\"\n  [ -z \"$http_saved\" ] || forget_file \"$http_saved\"\n}\nforget_file() { rm -f -- \"$1\" < /dev/null > /dev/null 2>&1 3>&- & }\n\n# Sets PID_PATH to the pid file of the nginx master that \"NGINX_BIN -s reload\" signals (nginx reads\n# the pid there to find it): the pid directive of its main configuration, else the path it was\n# built with, relative paths under its prefix. What nginx was built with takes nginx -V, a process,\n# run only when needed; with $1 \"quick\", status 1 instead. Where nothing can be told, a path where\n# no pid file is: the reload is then watched on every master, as for other commands.\nnginx_pid_path() {\n  pidp_quick=${1:-} pidp_built='' pidp_prefix=$NGINX_PREFIX pidp_conf=$NGINX_CONF\n  if [ -z \"$pidp_conf\" ]; then pidp_option conf-path conf/nginx.conf || return 1; pidp_conf=$pidp_value; fi\n  case \"$pidp_conf\" in /*) ;; *) pidp_need_prefix || return 1; pidp_conf=${pidp_prefix%/}/$pidp_conf ;; esac\n  pid_directive \"$pidp_conf\"\n  PID_FROM_CONF=no\n  if [ -n \"$pidp_path\" ]; then PID_FROM_CONF=yes; else pidp_option pid-path logs/nginx.pid || return 1; pidp_path=$pidp_value; fi\n  case \"$pidp_path\" in /*) ;; *) pidp_need_prefix || return 1; pidp_path=${pidp_prefix%/}/$pidp_path ;; esac\n  PID_PATH=$pidp_path\n}\n\n# Sets pidp_prefix, where -p did not, to the prefix nginx was built with.\npidp_need_prefix() {\n  [ -z \"$pidp_prefix\" ] || return 0\n  pidp_option prefix /usr/local/nginx/ || return 1\n  pidp_prefix=$pidp_value\n}\n\n# Sets pidp_path to the value of the pid directive in nginx configuration file $1, quotes taken\n# off, or to '' where it has none. Read with builtins, up to the directive (near the top in the\n# configurations that packages ship).\npid_directive() {\n  pidp_path=\n  [ -r \"$1\" ] || return 0\n  while pidp_key='' pidp_word=''; read -r pidp_key pidp_word _ || [ -n \"$pidp_key\" ]; do\n    [ \"$pidp_key\" = pid ] || continue\n    pidp_word=${pidp_word%%;*}\n    while :; do\n      case \"$pidp_word\" in *[\\\"\\']*) pidp_word=${pidp_word%%[\\\"\\']*}${pidp_word#*[\\\"\\']} ;; *) break ;; esac\n    done\n    pidp_path=$pidp_word\n    return 0\n  done < \"$1\"\n}\n\n# Sets pidp_value to the value of --$1= among the build options of nginx NGINX_BIN (nginx -V, run\n# once), or to $2. Status 1, with nothing run, when pidp_quick is \"quick\".\npidp_option() {\n  if [ -z \"$pidp_built\" ]; then\n    [ \"$pidp_quick\" != quick ] || return 1\n    pidp_bin=$NGINX_BIN\n    case \"$pidp_bin\" in\n      */*) ;;\n      *)\n        # sudo's secure_path has the sbin directories, which a user's PATH may not.\n        pidp_dirs=$PATH:/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin pidp_ifs=$IFS IFS=:\n        for pidp_dir in $pidp_dirs; do\n          [ ! -x \"$pidp_dir/$pidp_bin\" ] || { pidp_bin=$pidp_dir/$pidp_bin; break; }\n        done\n        IFS=$pidp_ifs\n        ;;\n    esac\n    pidp_built=$(\"$pidp_bin\" -V 2>&1 < /dev/null) || pidp_built=' '\n  fi\n  case \"$pidp_built\" in\n    *\" --$1=\"*) pidp_value=${pidp_built#* --$1=}; pidp_value=${pidp_value%%[[:space:]]*} ;;\n    *) pidp_value=$2 ;;\n  esac\n}\n\n# Runs a user's command line $2 as sh -c would, in a subshell of this one: one process fewer. One\n# of words alone ($1 yes: no shell syntax, see nginx.ts) takes the subshell's place: one more.\nrun_command() {\n  set +u; zdd_plain=$1 zdd_command=$2; shift 2\n  if [ \"$zdd_plain\" = yes ]; then eval \"exec $zdd_command\"; else eval \"$zdd_command\"; fi\n}\n\n# The nginx master the reload signalled, once seen; later reloads are watched on it alone.\nSIGNALLED=\nOLD_WORKERS=\n\n# Sets master_children to the pids of process $1's children, read from /proc with builtins alone.\n# Status 1 where the kernel keeps no such list.\nmaster_children() {\n  mc_children_file=/proc/$1/task/$1/children\n  [ -r \"$mc_children_file\" ] || return 1\n  master_children=\n  # The list ends without a newline: read's status says nothing.\n  { read -r master_children < \"$mc_children_file\"; } 2>/dev/null\n  return 0\n}\n\n# Status 0 when master $1 runs a worker that is not among BEFORE: the reload took effect there.\n# Other masters (a container's nginx, another network namespace's, another configuration) are none\n# of ours: one that was not signalled keeps its workers, and is never waited for.\n# A kernel without the list of a process's children gets the full scan, a few processes more.\nhas_new_worker() {\n  if master_children \"$1\"; then\n    for worker_child in $master_children; do\n      case \"$BEFORE\" in *\" $1:$worker_child \"*) continue ;; esac\n      worker_title=\n      { IFS= read -r worker_title < \"/proc/$worker_child/cmdline\"; } 2>/dev/null\n      case \"$worker_title\" in *'shutting down'*) ;; 'nginx: worker process'*) return 0 ;; esac\n    done\n    return 1\n  fi\n  for worker_pair in $(nginx_workers \"$MASTER_HINT\"); do\n    case \"$worker_pair\" in \"$1\":*) ;; *) continue ;; esac\n    case \"$BEFORE\" in *\" $worker_pair \"*) ;; *) return 0 ;; esac\n  done\n  return 1\n}\n\n# Sets OLD_WORKERS to the pids of master $1's workers listed in BEFORE: those the reload replaces.\nset_old_workers() {\n  OLD_WORKERS=\n  for old_pair in $BEFORE; do\n    case \"$old_pair\" in \"$1\":*) OLD_WORKERS=\"$OLD_WORKERS${old_pair#*:} \" ;; esac\n  done\n}\n\n# Sets reload_pairs to the workers of the master that PID_PATH names, as nginx_workers lists them\n# (master:worker), with builtins alone: the master \"nginx -s reload\" signals, when it is an nginx\n# master whose command line holds MASTER_HINT and runs workers. Status 1 where that cannot be told\n# (no pid file, another process there, no list of children): the scan of every process can.\nsignalled_workers() {\n  sw_master='' reload_pairs=''\n  { read -r sw_master < \"$PID_PATH\"; } 2>/dev/null\n  case \"$sw_master\" in '' | *[!0-9]*) return 1 ;; esac\n  sw_title=\n  { IFS= read -r sw_title < \"/proc/$sw_master/cmdline\"; } 2>/dev/null\n  case \"$sw_title\" in 'nginx: master process'*\"$MASTER_HINT\"*) ;; *) return 1 ;; esac\n  master_children \"$sw_master\" || return 1\n  for sw_child in $master_children; do\n    sw_title=\n    { IFS= read -r sw_title < \"/proc/$sw_child/cmdline\"; } 2>/dev/null\n    case \"$sw_title\" in *'shutting down'*) ;; 'nginx: worker process'*) reload_pairs=\"$reload_pairs $sw_master:$sw_child\" ;; esac\n  done\n  [ -n \"$reload_pairs\" ]\n}\n\n# Sets SIGNALLED to the master that runs workers in place of one that exited (a reload command\n# that stops and starts nginx): the one the pid file names now, for \"nginx -s reload\"; otherwise a\n# master not among $1.\nsuccessor() {\n  if [ -n \"$PID_PATH\" ]; then\n    successor_pid=\n    { read -r successor_pid < \"$PID_PATH\"; } 2>/dev/null\n    case \" $1 \" in *\" $successor_pid \"*) return 1 ;; esac\n    [ -n \"$successor_pid\" ] && has_new_worker \"$successor_pid\" && SIGNALLED=$successor_pid\n    return\n  fi\n  for successor_pair in $(nginx_workers \"$MASTER_HINT\"); do\n    case \" $1 \" in *\" ${successor_pair%%:*} \"*) ;; *) SIGNALLED=${successor_pair%%:*}; return 0 ;; esac\n  done\n  return 1\n}\n\n# Sends SIGHUP to the master that \"NGINX_BIN -s reload\" would signal, as that command does, where\n# the command is that one (SIGNAL_RELOAD, set for it without sudo), the pid file is the one the pid\n# directive of its configuration names, and that file names the nginx master the workers were just\n# read from (reload_named, alone in reload_masters). The command would read the whole configuration\n# once more only to find that file, after the test just read it: a process and 5 ms on every\n# switch, and every wave of a fleet waits for them. Status 1, with nothing sent, otherwise, or\n# where the master is not ours to signal: the command runs then.\nsignal_reload() {\n  [ \"$SIGNAL_RELOAD\" = yes ] && [ \"$PID_FROM_CONF\" = yes ] && [ -n \"$reload_named\" ] && [ \"$reload_masters\" = \"$reload_named\" ] &&\n    kill -HUP \"$reload_named\" 2>/dev/null\n}\n\n# Prints reload=observed once the master that the reload signalled runs new workers (or, when the\n# command restarted nginx, once a new master runs in place of one that exited), and the old workers\n# it is replacing (old_workers=...). nginx gives those no new connection once it has told them to\n# shut down, 100 ms after it started the new ones: whatever needs every new request to reach the\n# new port waits for that (await_retired), and the switch itself does not, so that a fleet's next\n# wave need not.\nreload_and_wait() {\n  BEFORE=\" \" reload_masters='' reload_seen=\n  if [ -n \"$SCAN_PID\" ]; then\n    wait \"$SCAN_PID\"\n    SCAN_PID='' reload_pairs=\n    while IFS= read -r reload_pair; do reload_pairs=\"$reload_pairs $reload_pair\"; done < \"$SCAN_FILE\"\n    { { read -r PID_PATH && read -r PID_FROM_CONF; } < \"$SCAN_FILE.pid\"; } 2>/dev/null || PID_PATH='' PID_FROM_CONF=no\n  else\n    [ -z \"$NGINX_BIN\" ] || [ -n \"$PID_PATH\" ] || nginx_pid_path\n    # The workers of the master the pid file names, just before it is signalled.\n    [ -n \"$PID_PATH\" ] && signalled_workers || reload_pairs=$(nginx_workers \"$MASTER_HINT\")\n  fi\n  for reload_pair in $reload_pairs; do\n    reload_master=${reload_pair%%:*}\n    case \" $reload_seen \" in *\" $reload_master \"*) ;; *) reload_seen=\"$reload_seen $reload_master\" ;; esac\n    [ -z \"$SIGNALLED\" ] || [ \"$reload_master\" = \"$SIGNALLED\" ] || continue\n    BEFORE=\"$BEFORE$reload_pair \"\n    case \" $reload_masters \" in *\" $reload_master \"*) ;; *) reload_masters=\"$reload_masters $reload_master\" ;; esac\n  done\n  # nginx -s reload signals the master its pid file names: another master that starts a worker\n  # meanwhile (one respawning a crashed worker) says nothing about this reload.\n  reload_named=\n  [ -z \"$PID_PATH\" ] || { read -r reload_named < \"$PID_PATH\"; } 2>/dev/null\n  case \" $reload_masters \" in *\" $reload_named \"*) [ -z \"$reload_named\" ] || reload_masters=$reload_named ;; esac\n  reload_output=\n  if ! signal_reload && ! reload_output=$(run_command \"$RELOAD_PLAIN\" \"$RELOAD_COMMAND\" 2>&1); then return 2; fi\n  if [ -z \"$reload_masters\" ]; then echo \"reload=unobserved\"; sleep 1; return 0; fi\n  clock; reload_deadline=$(( NOW + RELOAD_TIMEOUT )) reload_looks=0\n  while :; do\n    for reload_master in $reload_masters; do\n      if has_new_worker \"$reload_master\"; then\n        SIGNALLED=$reload_master\n        set_old_workers \"$reload_master\"\n        echo \"reload=observed\"; echo \"nginx_master=$reload_master\"; echo \"old_workers=$OLD_WORKERS\"; return 0\n      fi\n      if ! pid_alive \"$reload_master\" && successor \"$reload_seen\"; then\n        # The old master took its workers with it: nothing is left to hand over.\n        OLD_WORKERS=\n        echo \"reload=observed\"; echo \"nginx_master=$SIGNALLED\"; return 0\n      fi\n    done\n    if clock; [ \"$NOW\" -ge \"$reload_deadline\" ]; then echo \"reload=not_taken\"; return 1; fi\n    # nginx forks its new workers a few milliseconds after the signal, and a look costs builtins\n    # only: a quick beat at first, a slower one if the master takes longer.\n    reload_looks=$(( reload_looks + 1 ))\n    if [ \"$reload_looks\" -le 40 ]; then sleep 0.005; else sleep 0.02; fi\n  done\n}\n\n# For \"nginx -s reload\" whose pid file builtins can find, the workers before the reload are read\n# just before it, with builtins too. Otherwise they are looked for while nginx tests the\n# configuration, on another core where there is one (and so is the pid file, where nginx -V must\n# tell it): the reload needs them only once the test has passed. The answer goes to the session's\n# private directory; a script run alone looks for them when it reloads.\nSCAN_PID='' SCAN_FILE='' PID_PATH='' PID_FROM_CONF=no\nif [ -n \"$NGINX_BIN\" ] && nginx_pid_path quick; then\n  :\nelif [ -n \"${ZDD_TMP:-}\" ] && [ -d \"$ZDD_TMP\" ]; then\n  SCAN_FILE=$ZDD_TMP/nginx-workers\n  {\n    [ -z \"$NGINX_BIN\" ] || nginx_pid_path\n    printf '%s\\n%s\\n' \"$PID_PATH\" \"$PID_FROM_CONF\" > \"$SCAN_FILE.pid\"\n    if [ -n \"$PID_PATH\" ] && signalled_workers; then printf '%s\\n' \"$reload_pairs\"; else nginx_workers \"$MASTER_HINT\"; fi > \"$SCAN_FILE\"\n  } < /dev/null 2>/dev/null 3>&- &\n  SCAN_PID=$!\nfi\n\nif ! out=$(run_command \"$TEST_PLAIN\" \"$TEST_COMMAND\" 2>&1); then\n  # Not left running: the next switch in this session writes the same file.\n  [ -z \"$SCAN_PID\" ] || wait \"$SCAN_PID\"\n  restore\n  echo \"error=nginx_test\"\n  echo \"@@test_output\"; echo \"$out\"\n  exit \"$EXIT_TEST_FAILED\"\nfi\n\nreload_and_wait\nstatus=$?\nif [ \"$status\" != 0 ]; then\n  restore\n  # nginx kept its old workers, or a failing reload command may still have signalled it: either\n  # way, one more reload makes it serve what the include says again.\n  (run_command \"$RELOAD_PLAIN\" \"$RELOAD_COMMAND\") > /dev/null 2>&1\n  if [ \"$status\" = 2 ]; then\n    echo \"error=reload_failed\"; echo \"@@reload_output\"; printf '%s\\n' \"$reload_output\"\n    exit \"$EXIT_RELOAD_FAILED\"\n  fi\n  echo \"error=reload_not_taken\"; exit \"$EXIT_NOT_TAKEN\"\nfi\n\nif [ -n \"$VERIFY_URL\" ]; then\n  # Until the old workers are told to shut down, one of them may answer for the old port.\n  await_retired \"$OLD_WORKERS\" \"$RELOAD_TIMEOUT\"\n  body=$(mktemp)\n  clock; deadline=$(( NOW + VERIFY_TIMEOUT ))\n  while :; do\n    code=$(http_status \"$VERIFY_URL\" \"$body\" 5)\n    case \"$code\" in 2??) echo \"verify=ok\"; break ;; esac\n    if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n      echo \"verify=failed\"; echo \"verify_status=$code\"\n      restore\n      reload_and_wait > /dev/null && await_retired \"$OLD_WORKERS\" \"$RELOAD_TIMEOUT\" > /dev/null\n      echo \"rolled_back=yes\"\n      rm -f -- \"$body\"\n      exit \"$EXIT_VERIFY_FAILED\"\n    fi\n    sleep \"$INTERVAL\"\n  done\n  rm -f -- \"$body\"\nfi\n# The old text is not needed any more; it goes in the background, and a fleet's next wave need\n# not wait for that.\nforget_old\n[ -z \"$RELEASE_STATE_FILE\" ] || printf 'served\\n' 2>/dev/null > \"$RELEASE_STATE_FILE\" || :\necho \"switched=yes\"\n";
const SYSTEMCTL_SH = "\ncase \"$UNIT_SCOPE\" in\n  system) UNIT_DIR=/etc/systemd/system ;;\n  user) UNIT_DIR=\"$HOME/.config/systemd/user\" ;;\n  *) UNIT_DIR= ;;\nesac\n\n# systemctl for the unit's scope: the system manager as root, the user's own manager otherwise,\n# reached through XDG_RUNTIME_DIR (which a session without PAM does not set).\nunit_ctl() {\n  if [ \"$UNIT_SCOPE\" = user ]; then\n    XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$UNIT_RUNTIME_DIR} systemctl --user \"$@\"\n  else\n    systemctl \"$@\"\n  fi\n}\n\n# Status 0 when this app's template unit is installed.\nunit_installed() { [ -n \"$UNIT_DIR\" ] && [ -f \"$UNIT_DIR/$UNIT_TEMPLATE\" ]; }\n\n# Status 0 when unit $1 is this deploy-dir's: its drop-in names it. A unit without a drop-in was\n# started before drop-ins existed, by the deploy-dir whose pair holds its port, as ever.\nunit_ours() {\n  [ -f \"$UNIT_DIR/$1.d/zdd.conf\" ] || return 0\n  grep -q -x -F -e \"# deploy-dir: $UNIT_DEPLOY_DIR\" \"$UNIT_DIR/$1.d/zdd.conf\"\n}\n\n# Stops the port's unit (SIGTERM, SIGKILL after its TimeoutStopSec) and disables it, so that a\n# reboot does not bring it back. Prints unit_stopped=<unit> when it was enabled or running. The\n# unit of another deploy-dir (its drop-in names that one) is never touched: unit_foreign=<unit>.\nunit_retire() {\n  unit_installed || return 0\n  if ! unit_ours \"$UNIT\"; then echo \"unit_foreign=$UNIT\"; return 0; fi\n  unit_enabled=$(unit_ctl is-enabled \"$UNIT\" 2>/dev/null)\n  unit_active=$(unit_ctl is-active \"$UNIT\" 2>/dev/null)\n  case \"$unit_active\" in inactive|failed|unknown|'') unit_running= ;; *) unit_running=1 ;; esac\n  [ \"$unit_active\" != failed ] || unit_ctl reset-failed \"$UNIT\" 2>/dev/null\n  [ \"$unit_enabled\" = enabled ] || [ -n \"$unit_running\" ] || return 0\n  echo \"unit_stopped=$UNIT\"\n  [ \"$unit_enabled\" != enabled ] || unit_ctl disable --quiet \"$UNIT\" 2>/dev/null\n  [ -z \"$unit_running\" ] || unit_ctl stop \"$UNIT\" 2>/dev/null\n  return 0\n}\n\n# Writes $2 to file $1 unless it already holds exactly that; status 0 when it wrote.\nwrite_changed() {\n  if [ -f \"$1\" ] && [ \"$(cat -- \"$1\")\" = \"$(printf '%s' \"$2\")\" ]; then return 1; fi\n  printf '%s' \"$2\" > \"$1.new\" && mv -f -- \"$1.new\" \"$1\"\n}\n\n# A host upgraded from template units that named one deploy-dir: every enabled instance of the\n# app without a drop-in gets one naming the deploy-dir it belongs to, so that it still starts\n# after a crash or at boot once the template names none. That deploy-dir is the one its running\n# main process works in (the release dir the launcher went to), else the one the old template\n# names, if it holds this port's settings. An instance neither tells stays without: it cannot\n# start (no ExecStart) until its deploy-dir deploys again, rather than start another's release.\n# Sets unit_changed when it wrote one.\nunit_adopt() {\n  unit_adopt_old=$(sed -n 's/^ExecStart=\\/bin\\/sh \"\\([^\"\\\\%$]*\\)\\/run\\/launch\" %i$/\\1/p' \"$UNIT_DIR/$UNIT_TEMPLATE\" 2>/dev/null)\n  unit_adopt_timeout=$(grep '^TimeoutStopSec=' \"$UNIT_DIR/$UNIT_TEMPLATE\" 2>/dev/null)\n  for unit_adopt_link in \"$UNIT_DIR\"/*.wants/\"${UNIT_TEMPLATE%@.service}\"@*.service; do\n    unit_adopt_unit=${unit_adopt_link##*/}\n    [ -L \"$unit_adopt_link\" ] && [ ! -f \"$UNIT_DIR/$unit_adopt_unit.d/zdd.conf\" ] || continue\n    unit_adopt_port=${unit_adopt_unit##*@}; unit_adopt_port=${unit_adopt_port%.service}\n    unit_adopt_dir=\n    unit_adopt_pid=$(unit_ctl show -p MainPID \"$unit_adopt_unit\" 2>/dev/null)\n    unit_adopt_pid=${unit_adopt_pid#MainPID=}\n    case \"$unit_adopt_pid\" in ''|0|*[!0-9]*) ;; *)\n      unit_adopt_cwd=$(cd -P -- \"/proc/$unit_adopt_pid/cwd\" 2>/dev/null && pwd) && unit_adopt_dir=${unit_adopt_cwd%/releases/*} ;;\n    esac\n    [ -n \"$unit_adopt_dir\" ] && [ -f \"$unit_adopt_dir/run/$unit_adopt_port.conf\" ] || unit_adopt_dir=$unit_adopt_old\n    [ -n \"$unit_adopt_dir\" ] && [ -f \"$unit_adopt_dir/run/$unit_adopt_port.conf\" ] || continue\n    case \"$unit_adopt_dir\" in *[\\\\\\\"%$]*) continue ;; esac\n    mkdir -p -- \"$UNIT_DIR/$unit_adopt_unit.d\" &&\n      printf '%s\\n' '# Written by zero-downtime-deploy for an instance started before drop-ins existed.' \\\n        \"# deploy-dir: $unit_adopt_dir\" '[Service]' 'ExecStart=' \"ExecStart=/bin/sh \\\"$unit_adopt_dir/run/launch\\\" %i\" \\\n        \"${unit_adopt_timeout:-TimeoutStopSec=30}\" > \"$UNIT_DIR/$unit_adopt_unit.d/zdd.conf\" &&\n      echo \"unit_adopted=$unit_adopt_unit $unit_adopt_dir\" && unit_changed=yes\n  done\n}\n\n# Installs this port's unit: the template (the same for every deploy-dir), this port's drop-in\n# naming this deploy-dir, and drop-ins for instances started before drop-ins existed; reloads\n# systemd when any of them changed. Status 1 when a file could not be written, or the port's unit\n# is another deploy-dir's (unit_error= says which).\nunit_install() {\n  mkdir -p -- \"$UNIT_DIR/$UNIT.d\" || return 1\n  # Two deploy-dirs given the same port: the other's enabled or running unit is not taken over.\n  if ! unit_ours \"$UNIT\" && { [ \"$(unit_ctl is-enabled \"$UNIT\" 2>/dev/null)\" = enabled ] ||\n    [ \"$(unit_ctl is-active \"$UNIT\" 2>/dev/null)\" = active ]; }; then\n    echo \"unit_error=$UNIT runs deploy-dir $(sed -n 's/^# deploy-dir: //p' \"$UNIT_DIR/$UNIT.d/zdd.conf\"), another deploy-dir of this app on this host: give each deploy-dir ports of its own.\"\n    return 1\n  fi\n  unit_changed=\n  # Before the template is rewritten: the old one may name an instance's deploy-dir.\n  unit_adopt\n  ! write_changed \"$UNIT_DIR/$UNIT_TEMPLATE\" \"$UNIT_TEXT\" || unit_changed=yes\n  ! write_changed \"$UNIT_DIR/$UNIT.d/zdd.conf\" \"$UNIT_DROPIN_TEXT\" || unit_changed=yes\n  [ -f \"$UNIT_DIR/$UNIT_TEMPLATE\" ] && [ -f \"$UNIT_DIR/$UNIT.d/zdd.conf\" ] || return 1\n  [ -z \"$unit_changed\" ] || unit_ctl daemon-reload\n}\n\n# Prints the session's exported environment as shell commands, for a unit, which inherits none\n# of it. Left out is what describes the SSH session itself and would be wrong, or dangling, once\n# it ends: SSH_* (the client's address, a forwarded agent's socket), XDG_SESSION_*, XDG_SEAT,\n# XDG_VTNR, XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS (the login session's runtime dir, removed\n# at logout; a user manager sets its own), and the shell's own PWD, OLDPWD, SHLVL and _. Names\n# are read from export -p's lines; a line of a multi-line value that looks like one can only\n# unset a variable that is left out anyway.\nunit_environment() (\n  for unit_env_name in $(export -p | sed -n -e 's/^export \\([A-Za-z_][A-Za-z0-9_]*\\).*/\\1/p' -e 's/^declare -x \\([A-Za-z_][A-Za-z0-9_]*\\).*/\\1/p'); do\n    case \"$unit_env_name\" in\n      SSH_*|XDG_SESSION_*|XDG_SEAT|XDG_VTNR|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS|PWD|OLDPWD|SHLVL|_) unset \"$unit_env_name\" ;;\n    esac\n  done\n  export -p\n)\n";
const TAKE_OVER_SH = "\n# The judged process: same pid, same start time. A process that ended has no stat, and one that\n# reused its pid started later.\nis_judged() { [ -n \"$TAKEN_START\" ] && proc_start \"$TAKEN_PID\" && [ \"$PROC_START\" = \"$TAKEN_START\" ]; }\nif is_judged; then\n  if ! kill -TERM \"$TAKEN_PID\" 2>/dev/null && is_judged; then\n    echo \"error=not_permitted\"; exit \"$EXIT_PORT_BUSY\"\n  fi\n  clock; deadline=$(( NOW + STOP_TIMEOUT ))\n  while is_judged && pid_alive \"$TAKEN_PID\" && clock && [ \"$NOW\" -lt \"$deadline\" ]; do sleep 0.05; done\n  if is_judged && pid_alive \"$TAKEN_PID\"; then kill -KILL \"$TAKEN_PID\" 2>/dev/null; echo \"taken_killed=$TAKEN_PID\"; fi\nelse\n  echo \"taken_gone=$TAKEN_PID\"\nfi\nclock; deadline=$(( NOW + 3 ))\nwhile port_in_use \"$PORT\"; do\n  if clock; [ \"$NOW\" -ge \"$deadline\" ]; then\n    holder=$(port_holder \"$PORT\")\n    [ -z \"$holder\" ] || report_holder \"$holder\"\n    echo \"error=port_busy\"; exit \"$EXIT_PORT_BUSY\"\n  fi\n  sleep 0.05\ndone\necho \"port=free\"\n";
const TRAFFIC_READ_SH = "case \"$LOG\" in /*) ;; *) LOG=\"$HOME/$LOG\" ;; esac\nif [ \"$OFFSET\" -lt 0 ] && [ -e \"$LOG\" ] && rm -f -- \"$LOG\" 2>/dev/null && [ ! -e \"$LOG\" ]; then\n  echo \"removed=yes\"\nfi\nif [ ! -e \"$LOG\" ]; then\n  echo \"missing=yes\"\n  [ \"$OFFSET\" -ge 0 ] || OFFSET=0\n  echo \"offset=$OFFSET\"\n  echo \"@@traffic\"\n  exit 0\nfi\ntraffic_size=$(wc -c < \"$LOG\") || traffic_size=0\ntraffic_size=$(( traffic_size + 0 ))\nif [ \"$OFFSET\" -lt 0 ]; then\n  echo \"offset=$traffic_size\"\n  echo \"@@traffic\"\n  exit 0\nfi\nif [ \"$OFFSET\" -gt \"$traffic_size\" ]; then\n  echo \"rotated=yes\"\n  OFFSET=0\nfi\n# A line \"@@end\" closes what tail gives, after a newline of its own: the line before it is then\n# empty when the log ended with a newline, and otherwise the partial line, left unread. awk holds\n# two lines back to know which is which.\n{ tail -c \"+$(( OFFSET + 1 ))\" -- \"$LOG\"; printf '\\n@@end\\n'; } | LC_ALL=C awk -v offset=\"$OFFSET\" '\n  function take(line,   f, n, k, port, status, ms, addr, parts, i) {\n    offset += length(line) + 1\n    n = split(line, f, \"|\")\n    if (n != 5 || f[5] != \"zdd\") return\n    status = f[2] + 0\n    if (status < 100 || status > 999) return\n    # Several upstreams tried (\"a, b\") or an internal redirect (\"a : b\"): the last one answered.\n    addr = f[3]\n    k = split(addr, parts, /[ ,:]+/)\n    port = 0\n    if (addr != \"-\" && k > 1 && parts[k] ~ /^[0-9]+$/) port = parts[k] + 0\n    ms = 0\n    k = split(f[4], parts, /[ ,:]+/)\n    for (i = 1; i <= k; i++) if (parts[i] ~ /^[0-9.]+$/) ms += parts[i]\n    ms = int(ms * 1000 + 0.5)\n    count[port \" \" status \" \" ms]++\n  }\n  NR > 2 { take(held1) }\n  { held1 = held2; held2 = $0 }\n  END {\n    print \"offset=\" offset\n    print \"@@traffic\"\n    for (key in count) print key, count[key]\n  }'\n";

;// CONCATENATED MODULE: ./lib/remote/shell-lib.js
/**
 * Shell functions shared by the remote scripts: src/remote/sh/lib.sh, static text (no value is
 * ever spliced in); functions take their inputs as arguments or from the variables that
 * `shellScript` sets.
 */

const SHELL_LIB = LIB_SH;

// EXTERNAL MODULE: ./node_modules/ssh2/lib/protocol/utils.js
var utils = __webpack_require__(2184);
;// CONCATENATED MODULE: ./lib/ssh/prompt-ack.js

const SSH_MSG_IGNORE = 2;
/** The connection's protocol and writer, or undefined where ssh2's internals are not as expected. */
function packetWriter(ssh) {
    const protocol = ssh.connection?._protocol;
    const writer = protocol?._packetRW?.write;
    if (!protocol || typeof writer?.alloc !== 'function' || typeof writer.finalize !== 'function')
        return undefined;
    return { protocol, writer };
}
/**
 * Sends an SSH_MSG_IGNORE on `ssh` once in the tick after any data arrives on `socket` (its
 * transport). Returns false, and changes nothing, where ssh2's packet writer cannot be found.
 */
function acknowledgeAtOnce(ssh, socket, send = utils.sendPacket) {
    const found = packetWriter(ssh);
    if (!found || typeof send !== 'function')
        return false;
    const { protocol, writer } = found;
    let scheduled = false;
    socket.on('data', () => {
        if (scheduled)
            return;
        scheduled = true;
        setImmediate(() => {
            scheduled = false;
            try {
                const at = writer.allocStart;
                // The payload: the message number and an empty string (its length, 0).
                const packet = writer.alloc(1 + 4);
                packet[at] = SSH_MSG_IGNORE;
                packet.writeUInt32BE(0, at + 1);
                send(protocol, writer.finalize(packet));
            }
            catch {
                // The connection is closing; whatever ends it is reported where it is used.
            }
        });
    });
    return true;
}

;// CONCATENATED MODULE: ./lib/ssh/forward.js

async function forwardThroughBastion(bastion, bastionLabel, target, timeoutSeconds) {
    const where = hostAndPort(target.host, target.port);
    const opening = bastion.forwardOut('127.0.0.1', 0, target.host, target.port);
    let timer;
    const expired = new Promise((_, reject) => {
        timer = setTimeout(() => {
            // A channel that opens after we gave up would hold the bastion's connection open for nothing.
            opening.then((channel) => channel.destroy()).catch(() => undefined);
            const timedOut = Object.assign(new Error('forward timed out'), { code: 'ETIMEDOUT' });
            reject(new ConnectionError(`${where}: no connection through the jump host ${bastionLabel} within ${timeoutSeconds} s (connect-timeout): the jump host is connected, but the target behind it did not answer. Check that the target is up, that the address and port are right as the bastion sees them, and that a firewall or security group lets the bastion reach port ${target.port}.`, { cause: timedOut }));
        }, timeoutSeconds * 1000);
    });
    try {
        return await Promise.race([opening, expired]);
    }
    catch (error) {
        if (error instanceof ConnectionError)
            throw error;
        throw new ConnectionError(`${where}: the jump host ${bastionLabel} could not open a connection to the target (${error.message}). Check that the bastion's sshd allows TCP forwarding (AllowTcpForwarding yes) and can reach that address.`, { cause: error });
    }
    finally {
        clearTimeout(timer);
    }
}

;// CONCATENATED MODULE: ./lib/ssh/retry.js
/** Errors of the socket or of the network that say nothing about the host's keys or our credentials. */
const PASSING_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', 'ECONNABORTED']);
/** What ssh2 (and node-ssh) say when the host closed the connection before or during the key exchange. */
const CLOSED_EARLY = /Connection lost before handshake|No response from server|Timed out while waiting for handshake|Keepalive timeout/i;
/** The longest wait between two tries: the fifth and later retries wait this long. */
const MAX_DELAY_SECONDS = 30;
/** A proxy command that could not be found or run (sh's 127 and 126) will not be found on the next try either. */
const NEVER_RUNS = new Set([126, 127]);
/** Whether a connection that failed with this error may succeed if tried again. */
function mayPass(error) {
    if (error.level === 'client-authentication' || error.level === 'handshake')
        return false;
    if (error.level === 'proxy-command')
        return !NEVER_RUNS.has(error.exitCode ?? -1);
    if (error.level === 'client-timeout')
        return true;
    if (error.code !== undefined && PASSING_CODES.has(error.code))
        return true;
    // A jump host's refused forward: 2 is SSH_OPEN_CONNECT_FAILED (nothing listens yet, no route yet);
    // 1, administratively prohibited, is the bastion's configuration.
    if (error.reason === 2 || error.reason === 'CONNECT_FAILED')
        return true;
    return CLOSED_EARLY.test(error.message ?? '');
}
/** Seconds to wait before the next try, after `failedTries` tries failed: 1, 2, 4, 8... */
function retryDelaySeconds(failedTries) {
    return Math.min(MAX_DELAY_SECONDS, 2 ** (failedTries - 1));
}
/**
 * The wait before trying again, or undefined to give up: after `failedTries` failed tries (the
 * first is 1), with `retries` tries allowed after the first, for a failure with this cause (none: a
 * failure of our own making, such as a refused host key, which is never tried again).
 */
function nextTry(cause, failedTries, retries) {
    if (failedTries > retries || !(cause instanceof Error) || !mayPass(cause))
        return undefined;
    return retryDelaySeconds(failedTries);
}

;// CONCATENATED MODULE: ./lib/ssh/host-keys.js
/**
 * Host key pinning. A host is trusted only when its key matches a `host-fingerprint` pin or a
 * `known-hosts` line; this is decided inside the SSH handshake, before any credential is sent.
 */

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64 of its sha256. */
function fingerprintOf(keyBlob) {
    return `SHA256:${(0,external_node_crypto_.createHash)('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
/** The key type named inside the blob, e.g. `ssh-ed25519`. */
function keyTypeOf(keyBlob) {
    if (keyBlob.length < 4)
        return 'unknown';
    const length = keyBlob.readUInt32BE(0);
    return keyBlob.subarray(4, 4 + length).toString('latin1');
}
function parseKnownHosts(text) {
    const lines = [];
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            continue;
        const fields = line.split(/\s+/);
        const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? fields.shift() : undefined;
        if (fields.length < 3)
            continue;
        lines.push({ marker, patterns: fields[0], keyType: fields[1], key: fields[2] });
    }
    return lines;
}
/** How known_hosts names a host: plain on port 22, `[host]:port` otherwise. */
function knownHostsName(host, port) {
    return port === 22 ? host : `[${host}]:${port}`;
}
function wildcardMatch(pattern, name) {
    const regex = new RegExp(`^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`, 'i');
    return regex.test(name);
}
/** Whether one known_hosts host field names this host (hashed `|1|salt|hmac`, lists, wildcards, `!`). */
function patternsMatch(patterns, host, port) {
    // OpenSSH hashes and compares host names in lower case.
    const name = knownHostsName(host.toLowerCase(), port);
    if (patterns.startsWith('|1|')) {
        const [, , salt, hash] = patterns.split('|');
        if (!salt || !hash)
            return false;
        const digest = (0,external_node_crypto_.createHmac)('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
        return digest === hash;
    }
    let matched = false;
    for (const pattern of patterns.split(',')) {
        const negated = pattern.startsWith('!');
        const body = negated ? pattern.slice(1) : pattern;
        if (wildcardMatch(body, name)) {
            if (negated)
                return false;
            matched = true;
        }
    }
    return matched;
}
/** Checks a presented host key against the pins. */
function judgeHostKey(policy, host, port, keyBlob) {
    const lines = parseKnownHosts(policy.knownHosts).filter((l) => patternsMatch(l.patterns, host, port));
    const base64 = keyBlob.toString('base64');
    if (lines.some((l) => l.marker === '@revoked' && l.key === base64))
        return { trusted: false, reason: 'revoked' };
    const fingerprint = fingerprintOf(keyBlob);
    if (policy.fingerprints.some((pin) => pin.replace(/=+$/, '') === fingerprint))
        return { trusted: true };
    if (lines.some((l) => l.marker === undefined && l.key === base64))
        return { trusted: true };
    if (policy.insecureSkip)
        return { trusted: true };
    const pinned = policy.fingerprints.length > 0 || lines.some((l) => l.marker === undefined);
    return { trusted: false, reason: pinned ? 'mismatch' : 'no-pin' };
}
/** Host key algorithms for a key type, strongest first, as ssh2 names them. */
function algorithmsForKeyType(keyType) {
    if (keyType === 'ssh-rsa')
        return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    return [keyType];
}
/** Every key family a host may have; scanned one by one to list all of a host's fingerprints. */
const KEY_FAMILIES = [
    ['ssh-ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
    ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
];
/** known_hosts key types pinned for this host, to ask the server for a key we can check. */
function pinnedKeyTypes(knownHosts, host, port) {
    const types = parseKnownHosts(knownHosts)
        .filter((l) => l.marker === undefined && patternsMatch(l.patterns, host, port))
        .map((l) => l.keyType);
    return [...new Set(types)];
}

;// CONCATENATED MODULE: ./lib/ssh/transport.js
/**
 * The one way this action talks to a host: a single SSH connection (node-ssh over ssh2) whose host
 * key is checked before any credential is sent. Commands run through `run`, which checks the exit
 * code; files go up through `upload`; a lost connection becomes a plain error.
 */












/** A remote command ended with an exit code the caller did not expect. */
class RemoteCommandError extends Error {
    step;
    result;
    constructor(step, result) {
        const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
        super(`${step}: the remote command failed with exit code ${result.code}${detail ? `:\n${detail}` : ''}`);
        this.step = step;
        this.result = result;
        this.name = 'RemoteCommandError';
    }
}
const SUPPORTED_HOST_KEY_ALGORITHMS = new Set(KEY_FAMILIES.flat());
/**
 * ssh2 asks the host for an answer every interval while it hears none, and gives the connection up
 * after this many unanswered asks: a runner whose network went silent (no FIN, no RST) fails in
 * about 25 s instead of waiting for the job's timeout. The asks go out while a script runs and
 * while SFTP uploads. ssh2 itself counts only a reply to an ask; any bytes from the host count
 * here (see RemoteHost), since on a slow uplink an ask waits behind the queued SFTP writes and its
 * reply comes too late, while the host's answers to the writes keep arriving.
 */
const KEEPALIVE_INTERVAL_MS = 5000;
const KEEPALIVE_COUNT_MAX = 4;
/**
 * ssh2 hands each packet to the socket in pieces (length, payload and MAC: three writes for
 * AES-GCM, without the native addon a bundled action never has). With Nagle off, each piece would
 * be a system call and a TCP segment of its own, and the kernel's work for each, on the runner and
 * on the host, adds up when many hosts are reached at once. Corked until the end of the tick, the
 * pieces (and any other packet of that tick) leave in one writev.
 */
function coalesceWrites(socket) {
    const write = socket.write.bind(socket);
    let corked = false;
    socket.write = ((...args) => {
        if (!corked) {
            corked = true;
            socket.cork();
            process.nextTick(() => {
                corked = false;
                socket.uncork();
            });
        }
        return write(...args);
    });
}
async function attempt(endpoint, hostKeyAlgorithms, authenticate) {
    const { entry, auth, hostKeys } = endpoint;
    const presented = [];
    const ssh = new esm/* NodeSSH */.H();
    const config = {
        host: entry.host,
        port: entry.port,
        username: entry.username,
        readyTimeout: endpoint.connectTimeoutSeconds * 1000,
        keepaliveInterval: endpoint.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        hostVerifier: (blob) => {
            const verdict = judgeHostKey(hostKeys, entry.host, entry.port, blob);
            presented.push({ blob, trusted: authenticate && verdict.trusted, reason: verdict.trusted ? undefined : verdict.reason });
            return authenticate && verdict.trusted;
        },
    };
    if (hostKeyAlgorithms)
        config.algorithms = { serverHostKey: hostKeyAlgorithms };
    if (auth.privateKey)
        config.privateKey = auth.privateKey;
    if (auth.passphrase)
        config.passphrase = auth.passphrase;
    if (auth.password)
        config.password = auth.password;
    // ssh2 would first try "none", only to hear which methods the host takes: a round trip for nothing.
    config.authHandler = ['publickey', 'password'];
    // Our own socket, to turn Nagle off before the handshake: its packets come in pairs, and a
    // second small write waits for the other side's delayed ACK (a connect took 230 ms, now 70).
    const socket = endpoint.openSocket
        ? await endpoint.openSocket()
        : ((0,early_socket/* takeEarlySocket */.p)(entry.host, entry.port) ?? (0,external_node_net_.connect)({ host: entry.host, port: entry.port, noDelay: true }));
    coalesceWrites(socket);
    config.sock = socket;
    try {
        await ssh.connect(config);
        return { ssh, socket, presented };
    }
    catch (error) {
        // A proxy command that ended on its own says why better than the lost connection ssh2 saw.
        const ended = socket instanceof ProxyCommandStream ? await socket.endedOnItsOwn(endpoint.mask ?? ((text) => text)) : undefined;
        // ssh2 may refuse before it takes the socket over (a key it cannot decrypt): close it here.
        socket.destroy();
        ssh.dispose();
        return { error: ended ?? error, presented };
    }
}
/** Every fingerprint the host offers, one handshake per key family (like ssh-keyscan). */
async function scanFingerprints(endpoint) {
    const found = [];
    for (const family of KEY_FAMILIES) {
        const result = await attempt(endpoint, family, false);
        for (const key of result.presented)
            found.push(`${keyTypeOf(key.blob)} ${fingerprintOf(key.blob)}`);
    }
    return [...new Set(found)];
}
function hostKeyMessage(endpoint, reason, fingerprints) {
    const { entry } = endpoint;
    const listed = fingerprints.length > 0 ? fingerprints.map((f) => `  ${f}`).join('\n') : '  (the host offered no key this action can read)';
    const how = `Compare with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" run on the host itself, then pin it:\n` +
        `  host-fingerprint: ${fingerprints[0]?.split(' ')[1] ?? 'SHA256:...'}\n` +
        (endpoint.openSocket
            ? // Behind a jump host or a proxy command, the runner cannot scan the host itself.
                `or put its known_hosts line ("${knownHostsName(entry.host, entry.port)} <type> <key>", from /etc/ssh/ssh_host_*_key.pub on the host) in known-hosts.`
            : `or put the output of "ssh-keyscan -p ${entry.port} ${entry.host}" (checked the same way) in known-hosts.`);
    if (reason === 'revoked')
        return `${entry.label}: the host key is marked @revoked in known-hosts; refusing to connect.`;
    if (reason === 'mismatch') {
        return `${entry.label}: host key mismatch: the host's key matches neither host-fingerprint nor known-hosts for ${knownHostsName(entry.host, entry.port)}. No credential was sent. The host offers:\n${listed}\nIf the host was rebuilt, check and update the pin; otherwise someone may be in the middle.`;
    }
    return `${entry.label}: refusing to authenticate: no host key is pinned (set host-fingerprint or known-hosts, or insecure-skip-host-key-check: true). No credential was sent. The host offers:\n${listed}\n${how}`;
}
class RemoteHost {
    entry;
    ssh;
    connectTimeoutSeconds;
    socket;
    lost = false;
    /** Why the connection was given up, when it was the runner that gave it up. */
    silentFor;
    /** Set when this run may not act on the host any more (it lost its lock); every later step fails with it. */
    abandoned;
    lastHeard = performance.now();
    session;
    sftp;
    /** Settles when the connection goes away: some ssh2 calls (SFTP's fastPut) never call back then. */
    gone;
    /** Set once the connection relays a target: what it hears is acknowledged at once (prompt-ack.ts). */
    relaying = false;
    constructor(entry, ssh, connectTimeoutSeconds, socket) {
        this.entry = entry;
        this.ssh = ssh;
        this.connectTimeoutSeconds = connectTimeoutSeconds;
        this.socket = socket;
        // Anything heard from the host is a sign of life: ssh2 starts its count of unanswered asks
        // over (its own reset, run on a reply to an ask; absent, ssh2 counts as it always did).
        const heard = ssh.connection?._resetKA;
        socket?.on('data', () => {
            this.lastHeard = performance.now();
            heard?.();
        });
        this.gone = new Promise((resolve) => {
            const lose = (error) => {
                if (!this.lost && error?.message === 'Keepalive timeout')
                    this.silentFor = Math.round((performance.now() - this.lastHeard) / 1000);
                this.lost = true;
                resolve();
            };
            ssh.connection?.on('close', () => lose());
            // Without an error listener, a reset connection would crash the process instead of failing the step.
            ssh.connection?.on('error', lose);
        });
    }
    /**
     * Connects, trusting the host only if its key matches a pin. A failure that can pass (refused,
     * reset, timed out: retry.ts) is tried again up to `endpoint.retries` times, 1, 2, 4... s apart,
     * with a warning each time.
     */
    static async connect(endpoint) {
        const retries = endpoint.retries ?? 0;
        for (let tried = 1;; tried++) {
            try {
                return await RemoteHost.connectOnce(endpoint);
            }
            catch (error) {
                const cause = error instanceof ConnectionError ? error.cause : error;
                const delay = nextTry(cause, tried, retries);
                if (delay === undefined) {
                    if (tried === 1 || !(error instanceof ConnectionError))
                        throw error;
                    throw new ConnectionError(`${error.message} (tried ${tried} times: connect-retries is ${retries})`, { cause });
                }
                endpoint.warn?.(`${error.message} Try ${tried} of ${retries + 1}; trying again in ${delay} s.`);
                await new Promise((resolve) => setTimeout(resolve, delay * 1000));
            }
        }
    }
    static async connectOnce(endpoint) {
        const { entry, hostKeys } = endpoint;
        const pinnedTypes = pinnedKeyTypes(hostKeys.knownHosts, entry.host, entry.port);
        const preferred = pinnedTypes.flatMap(algorithmsForKeyType).filter((a) => SUPPORTED_HOST_KEY_ALGORITHMS.has(a));
        let result = await attempt(endpoint, preferred.length > 0 ? preferred : undefined, true);
        const refused = result.presented.find((key) => !key.trusted);
        if (!result.ssh && refused) {
            // A pinned key of another type may exist: ask for each family the host has.
            const fingerprints = refused.reason === 'revoked' ? [] : await scanFingerprints(endpoint);
            const pinnedFamily = KEY_FAMILIES.find((family) => fingerprints.some((f) => family.includes(f.split(' ')[0]) && hostKeys.fingerprints.includes(f.split(' ')[1])));
            if (refused.reason === 'mismatch' && pinnedFamily) {
                result = await attempt(endpoint, pinnedFamily, true);
            }
            else {
                throw new ConnectionError(hostKeyMessage(endpoint, refused.reason ?? 'mismatch', fingerprints));
            }
        }
        if (!result.ssh) {
            const error = result.error ?? new Error('unknown error');
            throw new ConnectionError(describeConnectError(error, entry, endpoint.connectTimeoutSeconds), { cause: error });
        }
        return new RemoteHost(entry, result.ssh, endpoint.connectTimeoutSeconds, result.socket);
    }
    /**
     * Runs a POSIX sh script in the run's shell session and returns its parsed answer. Throws
     * `RemoteCommandError` for an exit code that is neither 0 nor in `allowExit`, and
     * `ConnectionError` if the connection dies. The script is sent at once, behind any still
     * running (see ShellSession for `onlyIfPreviousSucceeded`).
     */
    async run(script, options) {
        if (this.abandoned)
            throw this.abandoned;
        if (this.lost)
            throw this.lostError(options.step);
        this.session ??= ShellSession.open(this.ssh, SHELL_LIB);
        let response;
        try {
            // ssh2 may leave a channel's end unreported when the connection dies under it.
            response = await Promise.race([(await this.session).run(script, options), this.gone.then(() => Promise.reject(new Error('lost')))]);
        }
        catch (error) {
            if (this.abandoned)
                throw this.abandoned;
            if (this.lost || !this.ssh.isConnected())
                throw this.lostError(options.step);
            if (error instanceof ShellEndedError) {
                throw new ConnectionError(`${this.entry.label}: ${options.step}: ${error.message}. If nothing was heard from this run for over a minute (a runner that stood still, a network that went silent), another run has taken over its deploy lock and ended it; nothing of this run acts on the host any more.`);
            }
            throw new ConnectionError(`${this.entry.label}: ${options.step}: ${error.message}`);
        }
        const result = { ...response, answer: parseAnswer(response.stdout) };
        if (result.code !== 0 && !(options.allowExit ?? []).includes(result.code)) {
            throw new RemoteCommandError(options.step, result);
        }
        return result;
    }
    /**
     * Runs a short script in a shell of its own, on a channel of its own: it does not wait behind the
     * run's shell, which may be busy for minutes (a health wait), nor behind anything but the bytes
     * already on the wire. Used to renew the lock's lease.
     */
    async runBeside(script, step) {
        if (this.abandoned)
            throw this.abandoned;
        if (this.lost)
            throw this.lostError(step);
        let response;
        try {
            response = await Promise.race([
                this.ssh.execCommand('sh -s', { stdin: script }),
                this.gone.then(() => Promise.reject(new Error('lost'))),
            ]);
        }
        catch (error) {
            if (this.lost || !this.ssh.isConnected())
                throw this.lostError(step);
            throw new ConnectionError(`${this.entry.label}: ${step}: ${error.message}`);
        }
        const result = { code: response.code ?? -1, stdout: response.stdout, stderr: response.stderr };
        return { ...result, answer: parseAnswer(result.stdout) };
    }
    /** False once the connection is gone or given up. */
    get connected() {
        return !this.lost && !this.abandoned && this.ssh.isConnected();
    }
    /**
     * Stops this run from acting on the host any more: every step still to come fails with `error`,
     * and the connection is closed (which also ends whatever the run's shell still runs there).
     */
    abandon(error) {
        this.abandoned ??= error;
        this.ssh.dispose();
    }
    /**
     * Opens the shell session now, and the SFTP channel beside it when the run will likely upload
     * through it, instead of one after the other when first used: on a host with a slow login shell
     * the two waits overlap. An upload small enough to travel inside a script needs no SFTP at all.
     */
    warmUp({ sftp }) {
        this.session ??= ShellSession.open(this.ssh, SHELL_LIB);
        if (!sftp)
            return;
        this.sftp ??= this.ssh.requestSFTP();
        this.sftp.catch(() => undefined);
    }
    /**
     * Creates a directory whose parent exists, through SFTP: no shell needed, so it does not wait
     * behind a script that runs in the session.
     */
    async makeDirectory(path) {
        this.sftp ??= this.ssh.requestSFTP();
        const sftp = await this.sftp;
        await new Promise((resolve, reject) => sftp.mkdir(path, (error) => {
            if (!error)
                return resolve();
            // It may exist already; anything else shows up as a failed upload next.
            sftp.stat(path, (statError, stats) => statError || !stats.isDirectory()
                ? reject(new ConnectionError(`${this.entry.label}: could not create ${path}: ${error.message}`))
                : resolve());
        }));
    }
    /** Uploads a file through SFTP, streaming it in chunks. */
    async upload(localPath, remotePath, onProgress) {
        try {
            this.sftp ??= this.ssh.requestSFTP();
            const upload = this.ssh.putFile(localPath, remotePath, await this.sftp, {
                concurrency: 64,
                chunkSize: 32768,
                step: (sent, _chunk, total) => onProgress?.(sent, total),
            });
            await Promise.race([upload, this.gone.then(() => Promise.reject(this.lostError('upload')))]);
        }
        catch (error) {
            if (this.abandoned)
                throw this.abandoned;
            if (this.lost)
                throw this.lostError('upload');
            throw new ConnectionError(`${this.entry.label}: upload to ${remotePath} failed: ${error.message}`);
        }
    }
    /** A TCP stream to `host:port` as seen from this host, for reaching hosts behind it, within connect-timeout. */
    forward(host, port) {
        if (!this.relaying && this.socket)
            this.relaying = acknowledgeAtOnce(this.ssh, this.socket);
        return forwardThroughBastion(this.ssh, this.entry.label, { host, port }, this.connectTimeoutSeconds);
    }
    close() {
        this.ssh.dispose();
    }
    lostError(step) {
        if (this.abandoned)
            return this.abandoned;
        const silent = this.silentFor === undefined
            ? ''
            : `lost the connection to ${this.entry.host}: no answer for ${this.silentFor} s (the runner's network, or the host, went silent). `;
        if (step === 'switch') {
            // The switch script was on the host already, and it does not need the connection to finish.
            return new ConnectionError(`${this.entry.label}: ${silent}the SSH connection was lost during the switch. The switch finishes on the host on its own, so nginx serves either the old port or the new one; run the action with command: status to see which.`);
        }
        if (this.silentFor !== undefined) {
            return new ConnectionError(`${this.entry.label}: ${silent}The SSH connection was lost during ${step}. Nothing was switched after that point; on the host, this run's lock lapses about a minute after its last renewal and the next run takes it over. Run the deploy again once the host is reachable.`);
        }
        return new ConnectionError(`${this.entry.label}: the SSH connection was lost during ${step}. Nothing was switched after that point; run the deploy again once the host is reachable.`);
    }
}

;// CONCATENATED MODULE: ./lib/ssh/reach.js



/**
 * Connects to each jump host through the one before it. Each hop retries on its own; if one fails,
 * the hops already connected are closed and the error names the failing one.
 */
async function connectJumpChain(config, jumps, options) {
    const connected = [];
    try {
        for (const jump of jumps) {
            const previous = connected.at(-1);
            connected.push(await RemoteHost.connect({
                entry: jump.entry,
                auth: jump.auth,
                hostKeys: jump.hostKeys,
                connectTimeoutSeconds: config.connectTimeoutSeconds,
                retries: config.connectRetries,
                warn: options.warn,
                openSocket: previous ? () => previous.forward(jump.entry.host, jump.entry.port) : undefined,
            }));
        }
    }
    catch (error) {
        for (const hop of connected.reverse())
            hop.close();
        throw error;
    }
    const last = connected.at(-1);
    return {
        forward: (entry) => last.forward(entry.host, entry.port),
        close: () => {
            for (const hop of [...connected].reverse())
                hop.close();
        },
    };
}
/** The command a host's proxy-command runs, its escapes replaced and each value quoted. */
function proxyCommandFor(config, entry) {
    return (0,expand_command/* expandProxyCommand */.g)(config.proxyCommand, { host: entry.host, port: entry.port, user: entry.username });
}
/** How to connect to one of the run's hosts: through the jump chain, a proxy command of its own, or directly. */
function hostEndpoint(config, entry, chain, options) {
    const openSocket = chain
        ? () => chain.forward(entry)
        : config.proxyCommand !== ''
            ? async () => startProxyCommand(proxyCommandFor(config, entry))
            : undefined;
    return {
        entry,
        auth: config.auth,
        hostKeys: config.hostKeys,
        connectTimeoutSeconds: config.connectTimeoutSeconds,
        retries: config.connectRetries,
        warn: options.warn,
        mask: options.mask,
        openSocket,
    };
}

// EXTERNAL MODULE: ./lib/remote/quote.js
var quote = __webpack_require__(6982);
;// CONCATENATED MODULE: ./lib/remote/hooks.js
/** Scripts for the user's own steps (hooks), the deploy history and the instances' logs. */



/** Exit codes of the hook script, so the client can tell a failed hook from one that ran too long. */
const HOOK_EXIT = { failed: 80, timedOut: 81, noRelease: 82 };
/** Lines of a hook's output that its answer carries back, for the error message. */
const HOOK_TAIL_LINES = 20;
/** What a hook's output lines start with on fd 3, so the client can tell them from other live lines. */
const HOOK_LINE_PREFIX = 'hook| ';
/**
 * Runs a hook with `sh -c` in the release directory, with the service's environment (the release's
 * env file, JAVA_OPTS) and PORT, PREVIOUS_PORT, RELEASE, RELEASE_DIR, ARTIFACT, APP_NAME and
 * COMMAND. Its output goes to `logs/hook-<name>.log` and, line by line as it comes, to fd 3, which
 * reaches the job log while the hook runs (a migration can take minutes). It runs in a session of
 * its own, so that a hook past its timeout is ended with every child it started: SIGTERM, then
 * SIGKILL 5 s later; it records itself in run/hook.pid, so that a run taking the lock over from
 * this one, silent, ends it (see end_holder).
 */
function hookScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        RELEASE: p.release,
        FILE_NAME: p.fileName,
        APP_NAME: p.appName,
        JAVA_OPTS: p.javaOpts,
        HOOK_NAME: p.name,
        HOOK_COMMAND: p.command,
        PORT: p.port,
        PREVIOUS_PORT: p.previousPort ?? '',
        COMMAND: p.runCommand,
        TIMEOUT: Math.ceil(p.timeoutSeconds),
        TAIL_LINES: HOOK_TAIL_LINES,
        HOOK_GUARD: HOOK_GUARD_SH.trim(),
        HOOK_LINE_PREFIX,
        EXIT_FAILED: HOOK_EXIT.failed,
        EXIT_TIMED_OUT: HOOK_EXIT.timedOut,
        EXIT_NO_RELEASE: HOOK_EXIT.noRelease,
    }, `${SHELL_LIB}\n${HOOK_SH}`);
}
/** How many entries `<deploy-dir>/history` keeps: the newest, as one JSON line each. */
const HISTORY_LIMIT = 1000;
/**
 * Appends one JSON line to `<deploy-dir>/history` and keeps the file to its last HISTORY_LIMIT
 * lines. The history lives beside `releases/`, never in it, so pruning cannot take it. An append of
 * one short line is atomic, so a failed run's entry cannot tear another's. The trim replaces the
 * file, so a line appended between its read and its rename would be lost: runs send this while they
 * hold the host's lock, one at a time, and each trims through a file of its own.
 */
function appendHistoryScript(p) {
    if (p.entry.includes('\n'))
        throw new Error('a history entry is one line');
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, ENTRY: p.entry, LIMIT: HISTORY_LIMIT }, `${SHELL_LIB}\n${APPEND_HISTORY_SH}`);
}
/** The last `lines` entries of `<deploy-dir>/history`, in a section `@@history`. */
function readHistoryScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, LINES: p.lines }, `${SHELL_LIB}\n${READ_HISTORY_SH}`);
}
/** The last `lines` lines of each port's log, in sections `@@log_<port>`. Reads only. */
function readLogsScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, PORTS: p.ports.join(' '), LINES: p.lines }, `${SHELL_LIB}\n${READ_LOGS_SH}`);
}

;// CONCATENATED MODULE: ./lib/remote/release.js
/** Scripts that make a release out of an uploaded file, and prune old ones. */


/**
 * The file in a release directory that says whether it has served: `new` from when the release is
 * made, `served` once a switch gave it all the traffic with nothing left to judge it (not a canary
 * step, not the switch into a bake: see releaseServedBy), and `new` again when a run sends it back
 * (see rejectedRelease). A run cut off while its release started leaves `new`, so rollback does not
 * mistake that release for the previous version. Releases made before this file existed have none,
 * and count as served. Written and read by shell builtins only.
 */
const RELEASE_STATE_FILE = '.state';
/** The release's RELEASE_STATE_FILE on the host. */
function releaseStatePath(deployDir, release) {
    return `${deployDir}/releases/${release}/${RELEASE_STATE_FILE}`;
}
/**
 * A file up to this size travels inside the script that uses it, base64-encoded, instead of over
 * SFTP: that saves SFTP's four round trips (mkdir, open, write, close), a second or more to a host
 * far away. Delta uploads of a fat jar are mostly this small.
 */
const INLINE_UPLOAD_MAX_BYTES = 256 * 1024;
/** Where an upload lands before its checksum is known good: a release only appears whole. */
function partialDir(deployDir, release) {
    return `${deployDir}/releases/.partial-${release}`;
}
/**
 * Checks the uploaded file's sha256 (when `uploaded`), moves its directory into place as the
 * release, in state `new` (see RELEASE_STATE_FILE), and writes the env file with mode 0600. Its
 * text travels inside the script, which the session shell reads from its stdin: it never appears
 * on a command line. `manifestText`, when given with an upload, becomes the release's chunk
 * manifest (`chunks`), there before the release appears; failing to write it only costs the next
 * deploy its delta.
 */
function finalizeReleaseScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        RELEASE: p.release,
        FILE_NAME: p.fileName,
        SHA256: p.sha256,
        UPLOADED: p.uploaded ? 1 : 0,
        ENV_TEXT: p.envText,
        MANIFEST_TEXT: p.manifestText ?? '',
        INLINE_BASE64: p.inlineBase64 ?? '',
        RELEASE_STATE_FILE,
    }, FINALIZE_RELEASE_SH);
}
/** Removes the named releases, except any that a live instance still runs from. */
function pruneScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, PRUNE: p.releases.join('\n') }, PRUNE_RELEASES_SH);
}
/** The env file's text: `export KEY='value'` lines, so values are read, never expanded or run. */
function envFileText(entries, quote) {
    return entries.map(([key, value]) => `export ${key}=${quote(value)}\n`).join('');
}

;// CONCATENATED MODULE: ./lib/remote/host.js
/** The inspection of the host's state (the deploy lock is in lock.ts). */




/**
 * One round trip that tells everything a run needs to decide: who we are, which tools exist,
 * whether the deploy dir is writable and has room, the releases, what runs on each port, and the
 * include's text.
 */
function inspectScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        INCLUDE: p.include,
        PORT_A: p.ports[0],
        PORT_B: p.ports[1],
        PREPARE: p.prepare ? 1 : 0,
        CHECK_LISTENERS: p.checkListeners ? 1 : 0,
        NEED_JAVA: p.needJava ? 1 : 0,
        APP_NAME: p.appName,
        RELEASE_STATE_FILE: RELEASE_STATE_FILE,
    }, `${SHELL_LIB}\n${INSPECT_SH}`);
}

;// CONCATENATED MODULE: ./lib/remote/systemd.js
/**
 * Supervision by systemd: the template unit `zdd-<app-name>@.service` (instance = port), the
 * launcher it runs (src/remote/sh/launch.sh), and the shell functions that drive systemctl
 * (src/remote/sh/systemctl.sh). Pure text builders: the scripts of instance.ts and host.ts take
 * these in.
 *
 * The unit file holds no value of the service's environment: the launcher reads the release and
 * the start command, java-opts and PATH from `run/<port>.conf` and the env entries from the
 * release's `env`, both of mode 0600, as a detached start does.
 */



function templateName(appName) {
    return `zdd-${appName}@.service`;
}
function unitName(appName, port) {
    return `zdd-${appName}@${port}.service`;
}
/** The instance's drop-in, relative to the unit directory: systemd reads it for that port's instance only. */
function dropInPath(appName, port) {
    return `${unitName(appName, port)}.d/zdd.conf`;
}
/**
 * One word of a unit file's command line: in double quotes, with `\` and `"` escaped as systemd
 * unquotes them, and `%` and `$` doubled, since systemd expands specifiers and variables there.
 */
function systemdWord(value) {
    if (/[\n\r\0]/.test(value))
        throw new Error('a value for a unit file contains a line break or NUL byte');
    return `"${value
        .replace(/[\\"]/g, (c) => `\\${c}`)
        .replace(/%/g, '%%')
        .replace(/\$/g, '$$$$')}"`;
}
/** The drop-in's command line: it names the deploy-dir, so it also tells which deploy-dir owns a port's unit. */
function execStartLine(deployDir) {
    return `ExecStart=/bin/sh ${systemdWord(`${deployDir}/run/launch`)} %i`;
}
/**
 * The template unit, the same for every deploy-dir of the app. Production and staging of one
 * repository share the app-name, so they share this file: anything of one deploy-dir in it (the
 * launcher's path, the stop timeout) would be rewritten by the other's deploy, and the other's
 * instances would start the wrong launcher after a crash or at boot. So the template names no
 * deploy-dir and has no ExecStart: each port's instance gets its own from its drop-in
 * (`dropInText`), which the deploy of that port's deploy-dir writes. The unit keeps the name
 * `zdd-<app-name>@<port>.service` that the README documents (a hash of the deploy-dir in the
 * name would have renamed every unit of an upgraded host), and two deploy-dirs cannot share a
 * port, so they never share an instance. An instance without a drop-in cannot start (systemd
 * refuses a service without ExecStart) rather than start another deploy-dir's release.
 *
 * `Restart=on-failure` brings an instance back after a crash; a JVM that ends on SIGTERM exits
 * 143, which is a clean stop, not a failure. `systemctl stop` sends SIGTERM to every process of
 * the instance, then SIGKILL after the drop-in's TimeoutStopSec.
 */
function unitFileText(p) {
    return [
        '# Written by zero-downtime-deploy on every start; edits here are overwritten.',
        '# Each instance runs what its drop-in zdd-<app-name>@<port>.service.d/zdd.conf names.',
        '[Unit]',
        `Description=${p.appName} on port %i (zero-downtime-deploy)`,
        'After=network.target',
        '',
        '[Service]',
        'Type=simple',
        'Restart=on-failure',
        'RestartSec=1',
        'SuccessExitStatus=143',
        'KillMode=control-group',
        'KillSignal=SIGTERM',
        '',
        '[Install]',
        `WantedBy=${p.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
        '',
    ].join('\n');
}
/**
 * One port's drop-in: its deploy-dir's launcher and stop timeout, and the deploy-dir in a comment
 * line that the shell reads as it is (see unit_ours): a deploy stops only units that name its
 * own. The empty `ExecStart=` first
 * clears a command line the template may still carry (one written by an earlier version of the
 * action, for whichever deploy-dir deployed last).
 */
function dropInText(p) {
    return [
        '# Written by zero-downtime-deploy on every start of this port; edits here are overwritten.',
        `# deploy-dir: ${p.deployDir}`,
        '[Service]',
        'ExecStart=',
        execStartLine(p.deployDir),
        `TimeoutStopSec=${Math.ceil(p.stopTimeoutSeconds)}`,
        '',
    ].join('\n');
}
/**
 * What the unit runs: the release recorded for port $1, in its directory, with the session's
 * environment as a detached start has it, its output appended to `logs/<port>.log`. It records
 * itself (the unit's main pid, with its identity: see record_instance) at every start, so that a
 * restart after a crash or a reboot keeps `run/<port>.pid` true for inspect, rollback and status.
 *
 * The start command is not exec'd: one that puts the service in the background (`nohup java ...
 * &`, `catalina.sh start`) returns at once, and systemd would take the main process's exit for the
 * end of the service and stop what it left behind. So the launcher stays the unit's main process:
 * it exits with the start command's status when that fails (a crash: Restart=on-failure), and
 * when the command returns 0 and left processes in the unit's cgroup, it waits while any of them
 * lives and exits with an error once they are all gone, so that a crashed background service comes
 * back too. A command that returns 0 and leaves nothing is a clean stop. The health wait watches
 * this pid; a service left in the background keeps its session (the unit's, whose leader this is),
 * which is how the health wait tells its listener is ours.
 */
function launcherText(deployDir) {
    return `#!/bin/sh
# Written by zero-downtime-deploy: the unit zdd-<app-name>@<port>.service runs this with its port.
set -u
${(0,quote/* shellAssignments */.DF)({ LAUNCH_DEPLOY_DIR: deployDir })}
${SHELL_LIB.trim()}
${LAUNCH_SH}`;
}
/**
 * The last part of `run/<port>.conf`: what the launcher needs to start this instance. The start
 * script puts the session's exported environment (see unit_environment) before it, since a unit
 * inherits none of it, and writes the file with mode 0600.
 */
function instanceConfText(p) {
    const lines = [
        ['RELEASE', p.release],
        ['FILE_NAME', p.fileName],
        ['APP_NAME', p.appName],
        ['JAVA_OPTS', p.javaOpts],
        ['START_COMMAND', p.startCommand],
    ];
    return lines.map(([name, value]) => `${name}=${(0,quote/* shellQuote */.ZL)(value)}\n`).join('');
}
/** The variables SYSTEMCTL_LIB reads, for a script about `port` (empty values: no usable systemd). */
function unitVars(target, port) {
    return {
        UNIT_SCOPE: target?.scope ?? '',
        UNIT_TEMPLATE: target ? templateName(target.appName) : '',
        UNIT: target ? unitName(target.appName, port) : '',
        UNIT_RUNTIME_DIR: target?.runtimeDir ?? '',
        UNIT_DEPLOY_DIR: target?.deployDir ?? '',
    };
}
/** Shell functions for the unit of one port (variables from `unitVars`): src/remote/sh/systemctl.sh. */
const SYSTEMCTL_LIB = SYSTEMCTL_SH;

;// CONCATENATED MODULE: ./lib/remote/instance.js
/** Scripts that run the service: free a port, start a release there, check its health, stop it. */




/** Exit codes of the instance scripts, so the client can tell the failures apart. */
const INSTANCE_EXIT = { portBusy: 50, startFailed: 51, exited: 52, unhealthy: 53, notOurs: 54 };
/**
 * freePortScript's exit when a process this action did not start holds the port: it is named
 * (`holder_pid`, `holder_start`, `holder_command`) and left alone. Whether it is this service after
 * all (a JVM of a script-era deploy, see same-service.ts) the client decides; only then does it
 * send `takeOverScript`.
 */
const PORT_HELD_EXIT = 58;
/**
 * Frees a port: stops our instance there (SIGTERM, SIGKILL after the timeout; once it has closed
 * its listener it may finish in the background, still bounded by the timeout), and confirms that
 * nothing listens any more. Any other process listening there is never signalled: it is named, and
 * the script exits with PORT_HELD_EXIT.
 */
function freePortScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        PORT: p.port,
        STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
        ...unitVars(p.unit, p.port),
        EXIT_PORT_BUSY: INSTANCE_EXIT.portBusy,
        EXIT_START_FAILED: INSTANCE_EXIT.startFailed,
        EXIT_PORT_HELD: PORT_HELD_EXIT,
    }, `${SHELL_LIB}${SYSTEMCTL_LIB}${REPORT_HOLDER_SH}\n${FREE_PORT_SH}`);
}
/**
 * Takes the port over from a JVM of a script-era deploy that freePortScript named (pid and start
 * time) and the client judged to be this service: SIGTERM to that process alone (its group may be
 * an old deploy script's shell), SIGKILL after the timeout, each only while the pid still names the
 * process that was judged. Then it confirms that nothing listens any more; if something does, it
 * is named as freePortScript names it.
 */
function takeOverScript(p) {
    return (0,quote/* shellScript */.ky)({
        PORT: p.port,
        TAKEN_PID: p.pid,
        TAKEN_START: p.startTime,
        STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
        EXIT_PORT_BUSY: INSTANCE_EXIT.portBusy,
    }, `${SHELL_LIB}${REPORT_HOLDER_SH}\n${TAKE_OVER_SH}`);
}
/**
 * Starts the release on a free port, detached from the session (stdin from /dev/null, output
 * appended to the port's log), and polls its health until it answers 2xx while the process this
 * run started is alive. On failure the new instance is stopped again and the log tail returned,
 * so a failed start never leaves anything running.
 */
function startScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        PORT: p.port,
        RELEASE: p.release,
        FILE_NAME: p.fileName,
        APP_NAME: p.appName,
        JAVA_OPTS: p.javaOpts,
        START_COMMAND: p.startCommand,
        HEALTH_URL: p.healthUrl,
        HEALTH_EXPECT: p.healthExpect,
        HEALTH_TIMEOUT: Math.ceil(p.healthTimeoutSeconds),
        HEALTH_INTERVAL: p.healthIntervalSeconds,
        HEALTH_INTERVAL_CS: Math.max(1, Math.round(p.healthIntervalSeconds * 100)),
        STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
        STARTED_AT: p.startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
        ...unitVars(p.unit, p.port),
        // The drop-in this start writes names p.deployDir: its own unit is then always ours to retire.
        UNIT_DEPLOY_DIR: p.deployDir,
        UNIT_TEXT: p.unit ? unitFileText({ appName: p.appName, scope: p.unit.scope }) : '',
        UNIT_DROPIN_TEXT: p.unit ? dropInText({ deployDir: p.deployDir, stopTimeoutSeconds: p.stopTimeoutSeconds }) : '',
        LAUNCHER_TEXT: p.unit ? launcherText(p.deployDir) : '',
        CONF_TEXT: p.unit ? instanceConfText(p) : '',
        EXIT_START_FAILED: INSTANCE_EXIT.startFailed,
        EXIT_EXITED: INSTANCE_EXIT.exited,
        EXIT_UNHEALTHY: INSTANCE_EXIT.unhealthy,
        EXIT_NOT_OURS: INSTANCE_EXIT.notOurs,
    }, `${SHELL_LIB}${SYSTEMCTL_LIB}\n${START_SH}`);
}
/** One health probe of each given port: `probe=<port> <http status> <ok|fail>`. */
function probeScript(p) {
    return (0,quote/* shellScript */.ky)({ PORTS: p.ports.join(' '), HEALTH_PATH: p.healthPath, HEALTH_EXPECT: p.healthExpect }, `${SHELL_LIB}\n${PROBE_SH}`);
}
/**
 * Waits `drainSeconds`, then stops the instance on `port` (SIGTERM, SIGKILL after the timeout). Its
 * unit, if any, is stopped and disabled, so that a reboot does not bring it back.
 */
function stopScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        PORT: p.port,
        DRAIN: p.drainSeconds,
        STOP_TIMEOUT: Math.ceil(p.stopTimeoutSeconds),
        ...unitVars(p.unit, p.port),
    }, `${SHELL_LIB}${SYSTEMCTL_LIB}\n${STOP_SH}`);
}

;// CONCATENATED MODULE: ./lib/remote/nginx.js
/** The switch: point nginx's include at a port, safely, and make sure nginx took it. */



/**
 * `nginx -s reload` signals the master whose pid is in the pid file its configuration names: for
 * such a command, that master alone can confirm the reload. Anything else (systemctl, a script, a
 * container's exec, an -g that may move the pid file) is left to the watch of every master, since
 * what it signals cannot be told from the command.
 */
function nginxSignaller(reloadCommand) {
    // Quoted text is a word as it stands, unless it is double-quoted and may expand.
    if (/[;&|`$()<>\\\n*?[\]{}~#=]/.test(reloadCommand.replace(/'[^']*'/g, "''")))
        return undefined;
    const words = [...reloadCommand.trim().matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
    let i = 0;
    const sudo = words[0] === 'sudo';
    if (sudo) {
        i = 1;
        if (words[i] === '-n')
            i++;
    }
    const binary = words[i++];
    if (!binary || !/(^|\/)nginx$/.test(binary))
        return undefined;
    const found = { binary, conf: '', prefix: '', sudo };
    let reload = false;
    while (i < words.length) {
        const word = words[i++];
        const value = words[i];
        if (word === '-q')
            continue;
        if (value === undefined)
            return undefined;
        i++;
        if (word === '-s' && value === 'reload')
            reload = true;
        else if (word === '-c')
            found.conf = value;
        else if (word === '-p')
            found.prefix = value;
        else if (word === '-g' && !/\bpid\b/.test(value))
            continue;
        else if (word !== '-e')
            return undefined;
    }
    return reload ? found : undefined;
}
/** What a shell runs itself, or reads as syntax, where a command's first word stands. */
const SHELL_WORDS = new Set(('. : [ alias bg break case cd command continue do done echo elif else esac eval exec exit export false fg fi for ' +
    'function getopts hash if in jobs kill local printf pwd read readonly return select set shift test then time times ' +
    'trap true type ulimit umask unalias unset until wait while').split(' '));
/**
 * A command line of words alone: no operator, redirection, expansion, assignment or pattern, and a
 * program first, not a shell builtin. `exec` runs it in place of the subshell that would run it,
 * which saves a process on every switch.
 */
function plainCommand(command) {
    const unquoted = command.replace(/'[^']*'/g, "''");
    if (/[;&|`$()<>\\\n*?[\]{}~#=!]/.test(unquoted))
        return false;
    const first = /^\s*(\S+)/.exec(command)?.[1];
    return first !== undefined && !SHELL_WORDS.has(first.replace(/["']/g, ''));
}
const SWITCH_EXIT = { writeFailed: 60, testFailed: 61, reloadFailed: 62, notTaken: 63, verifyFailed: 64 };
/**
 * Writes the new include (and first the http-level file, when given), tests the configuration
 * (restoring the old include and http-level file byte for byte if the test fails), reloads, waits until the nginx master that the reload signalled runs new workers,
 * then fetches the verify URL (once the old workers take no new connection). If that fails, the
 * old include is put back and nginx reloaded again (`rolled_back=yes`). The answer names the old
 * workers (`old_workers`): before anything stops the port they served, `handoverScript` waits for them.
 *
 * A user who can write the include's directory gets the new include written beside the old one and
 * moved into place. Anyone else goes through `sudo -n tee <include>` and nothing more, so that one
 * narrow sudoers rule is enough: the include is written in place and the old text is kept by the
 * script itself, to be written back with the same command.
 */
function switchScript(p) {
    const signaller = nginxSignaller(p.reloadCommand);
    return (0,quote/* shellScript */.ky)({
        INCLUDE: p.include,
        CONTENT: p.content,
        HTTP_FILE: p.httpFile?.path ?? '',
        HTTP_CONTENT: p.httpFile?.content ?? '',
        TEST_COMMAND: p.testCommand,
        TEST_PLAIN: plainCommand(p.testCommand) ? 'yes' : '',
        RELOAD_COMMAND: p.reloadCommand,
        RELOAD_PLAIN: plainCommand(p.reloadCommand) ? 'yes' : '',
        MASTER_HINT: p.masterHint,
        VERIFY_URL: p.verifyUrl,
        VERIFY_TIMEOUT: Math.ceil(p.verifyTimeoutSeconds),
        INTERVAL: p.intervalSeconds,
        RELOAD_TIMEOUT: Math.ceil(p.reloadTimeoutSeconds),
        RELEASE_STATE_FILE: p.releaseStateFile,
        NGINX_BIN: signaller?.binary ?? '',
        NGINX_CONF: signaller?.conf ?? '',
        NGINX_PREFIX: signaller?.prefix ?? '',
        SIGNAL_RELOAD: signaller && !signaller.sudo ? 'yes' : '',
        EXIT_WRITE_FAILED: SWITCH_EXIT.writeFailed,
        EXIT_TEST_FAILED: SWITCH_EXIT.testFailed,
        EXIT_RELOAD_FAILED: SWITCH_EXIT.reloadFailed,
        EXIT_NOT_TAKEN: SWITCH_EXIT.notTaken,
        EXIT_VERIFY_FAILED: SWITCH_EXIT.verifyFailed,
    }, `${SHELL_LIB}\n${SWITCH_SH}`);
}
/**
 * Waits (up to `timeoutSeconds`) until the old nginx workers a switch named take no new
 * connection: then every new request goes to the port the include names.
 */
function handoverScript(oldWorkers, timeoutSeconds) {
    return (0,quote/* shellScript */.ky)({ OLD_WORKERS: oldWorkers, TIMEOUT: Math.ceil(timeoutSeconds) }, `${SHELL_LIB}\n${HANDOVER_SH}`);
}

// EXTERNAL MODULE: ./lib/config/traffic-inputs.js
var traffic_inputs = __webpack_require__(4645);
;// CONCATENATED MODULE: ./lib/deploy/plan.js
/** Pure decisions of a run: which port is which, what the include says, names, what to prune. */

/** The port the include points at, if it is one of the pair. */
function activePortFromInclude(include, ports) {
    if (include === undefined)
        return undefined;
    const numbers = (pattern) => [...include.matchAll(pattern)].map((m) => Number(m[1]));
    // A port after ":" (a URL) first; a custom template may name the port bare.
    return (numbers(/:(\d{1,5})(?!\d)/g).find((port) => ports.includes(port)) ??
        numbers(/(?<!\d)(\d{1,5})(?!\d)/g).find((port) => ports.includes(port)));
}
/**
 * Active and idle ports: with no include, or one naming neither port, the first port is idle. The
 * include's marker decides first (see readInclude): a canary's marker names both ports, and the
 * active one is then the previous instance's, which serves once the canary is gone.
 */
function choosePorts(include, ports) {
    const traffic = readInclude(include, ports);
    const active = traffic.mode === 'canary' ? traffic.split.previousPort : traffic.port;
    if (active === undefined)
        return { idle: ports[0] };
    return { active, idle: active === ports[0] ? ports[1] : ports[0] };
}
function renderInclude(template, port) {
    return template.replaceAll('{port}', String(port));
}
/** `20261127-001502-3fa2c1d0`: sorts by time, and names the content. */
function releaseName(sha256, now) {
    const stamp = now
        .toISOString()
        .replace(/\.\d+Z$/, '')
        .replace(/[-:]/g, '')
        .replace('T', '-');
    return `${stamp}-${sha256.slice(0, 8)}`;
}
/**
 * Releases to remove: all but the newest `keep`, never one in `running` (a warm instance may be
 * the rollback target), and, when nothing else that is kept has served, never the newest release
 * other than `current` that has served. After failed deploys in a row the newest releases have all
 * never served, and counting them alone would prune the one version that rollback can go back to.
 */
function releasesToPrune(releases, keep, running, current) {
    const newestFirst = [...releases].sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    const kept = new Set([...newestFirst.slice(0, keep).map((r) => r.name), ...running]);
    const servedKept = newestFirst.some((r) => kept.has(r.name) && r.name !== current && !r.neverServed);
    const rollbackTarget = servedKept ? undefined : newestFirst.find((r) => !r.neverServed && r.name !== current)?.name;
    return newestFirst
        .slice(keep)
        .map((r) => r.name)
        .filter((name) => !running.includes(name) && name !== current && name !== rollbackTarget);
}
/** `sudo -n` is dropped when the remote user is root: root needs no sudo, and may not have it. */
function withoutSudoForRoot(command, isRoot) {
    return isRoot ? command.replace(/(^|[;&|]\s*)sudo\s+-n\s+/g, '$1') : command;
}
/**
 * What identifies our nginx master among several: the `-c` (or `-p`) path of the reload command,
 * which nginx keeps in the master's command line. Empty for the system nginx.
 */
function nginxMasterHint(reloadCommand) {
    const match = /\s-c\s+(?:'([^']+)'|"([^"]+)"|(\S+))/.exec(reloadCommand) ?? /\s-p\s+(?:'([^']+)'|"([^"]+)"|(\S+))/.exec(reloadCommand);
    return match ? (match[1] ?? match[2] ?? match[3]) : '';
}

;// CONCATENATED MODULE: ./lib/remote/traffic.js
/**
 * Traffic control's nginx text (see docs/nginx-traffic.md): the http-level file the action owns,
 * the include in each of its modes, what an include on the host says, and the host scripts that
 * read the traffic log and the configuration (`nginx -T`).
 */



/** nginx's names for the app's objects: one http block holds every app's, so each has the app's name. */
function nginxNames(appName) {
    const app = appName.replace(/[^A-Za-z0-9_]/g, '_');
    return { port: `zdd_${app}_port`, logFormat: `zdd_${app}` };
}
/** What ends every line the action's log_format writes: a line without it is not ours, or not whole. */
const TRAFFIC_LINE_END = 'zdd';
/**
 * The log_format's fields, split by `|` (which no address, status or time holds): `$msec`, the
 * status the client got, the upstream address(es) (`-` when none was reached) and their response
 * times, then the end marker. nginx's default escaping turns any odd byte of a value into `\xXX`,
 * so a line is always one line.
 */
const TRAFFIC_LOG_FORMAT = `$msec|$status|$upstream_addr|$upstream_response_time|${TRAFFIC_LINE_END}`;
/** The first line of every file the action writes for nginx. */
const OWNED_NOTE = '# zero-downtime-deploy: written by the action on each run; edits here are lost.';
/** The http-level file's whole text. Without `split`, the variable maps every client to `port`. */
function httpLevelConfig(p) {
    const names = nginxNames(p.appName);
    checkCanaryKey(p.canaryKey);
    const sides = p.split ? [`    ${p.split.percent}% ${p.split.newPort};`, `    * ${p.split.previousPort};`] : [`    * ${p.port};`];
    if (p.split)
        checkPercent(p.split.percent);
    return [
        OWNED_NOTE,
        `log_format ${names.logFormat} '${TRAFFIC_LOG_FORMAT}';`,
        // split_clients hashes the key and gives the first <percent>% of the hash space to the first
        // line: a client on the new side at 10% is still there at 50%.
        `split_clients "${p.canaryKey}" $${names.port} {`,
        ...sides,
        '}',
        '',
    ].join('\n');
}
/** The canary key is checked as an input already; this keeps nginx's text whole whatever a caller passes. */
function checkCanaryKey(key) {
    if (key === '' || /[;{}"'\\\n\r]/.test(key)) {
        throw new Error(`canary-key: "${key}" cannot be put in nginx's configuration; expected nginx variables and plain text without ; { } quotes, backslashes or line breaks`);
    }
}
/** split_clients takes a percentage with at most two decimals. */
function checkPercent(percent) {
    if (!/^\d{1,2}(\.\d{1,2})?$/.test(String(percent)) || percent < 1 || percent > 99)
        throw new Error(`a canary step of ${percent}% is not a percentage from 1 to 99 (at most two decimals)`);
}
const MARKER = '# zero-downtime-deploy:';
/**
 * The include's text. `trafficLog` and `userAccessLogs` are used by canary and observed, except
 * for a held canary: nginx would log every request to the traffic log for as long as it is held,
 * days perhaps, and no run reads it (promote and rollback judge nothing), so it logs where the
 * user's configuration says, as a plain include does;
 * `userHeaders` (NginxLayout.addHeaders) by maintenance, whose Retry-After would otherwise replace
 * the add_header directives it inherits (a server's Strict-Transport-Security, say).
 */
function includeText(p) {
    const names = nginxNames(p.appName);
    const mode = p.mode;
    // An access_log here replaces every inherited one: the user's, repeated as they are, keep
    // recording what they recorded.
    const accessLogs = () => {
        if (!p.trafficLog.startsWith('/'))
            throw new Error(`the traffic log must be an absolute path for nginx, not "${p.trafficLog}"`);
        return [`access_log ${nginxString(p.trafficLog)} ${names.logFormat};`, ...p.userAccessLogs];
    };
    switch (mode.mode) {
        case 'plain':
            return renderInclude(p.template, mode.port);
        case 'canary': {
            const { percent, newPort, previousPort } = mode.split;
            checkPercent(percent);
            const problem = canaryTemplateProblem(p.template);
            if (problem)
                throw new Error(problem);
            return [
                `${MARKER} canary ${percent}% to ${newPort}, previous ${previousPort}`,
                p.template.replaceAll('{port}', `\${${names.port}}`),
                ...(mode.held ? [] : accessLogs()),
            ].join('\n');
        }
        case 'observed':
            return [`${MARKER} observed ${mode.port}`, renderInclude(p.template, mode.port), ...accessLogs()].join('\n');
        case 'maintenance':
            return [
                `${MARKER} maintenance ${mode.port}`,
                renderInclude(p.template, mode.port),
                'default_type text/html;',
                `add_header Retry-After ${Math.max(0, Math.round(mode.retryAfterSeconds))} always;`,
                ...(p.userHeaders ?? []),
                `return 503 ${nginxString(maintenancePage(mode.page))};`,
            ].join('\n');
    }
}
/**
 * Why a template cannot take the split's variable in place of `{port}`, or undefined. A
 * `proxy_pass` with a variable behaves differently from one without: nginx resolves a host name
 * when a request comes (and, without a `resolver`, answers 502), and sends a URI part as it stands
 * instead of replacing the location's prefix with it. An upstream block's `server` takes no
 * variable at all. The default template (`set $service_url ...; proxy_pass $service_url;`) is a
 * variable already, and works as it did.
 */
function canaryTemplateProblem(template) {
    for (const directive of template.split(';')) {
        if (!directive.includes('{port}'))
            continue;
        const words = directive.trim().split(/\s+/);
        if (words[0] === 'server') {
            return `nginx-include-template: "${directive.trim()};" is an upstream server line, which cannot take the canary's variable; use a template such as "set $service_url http://127.0.0.1:{port};" with "proxy_pass $service_url;" in the location`;
        }
        if (words[0] !== 'proxy_pass')
            continue;
        const url = /^[a-z]+:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:]+):\{port\}(.*)$/.exec(words[1] ?? '');
        if (!url)
            continue;
        if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(url[1]) && !url[1].startsWith('[')) {
            return `nginx-include-template: "${directive.trim()};" names the host "${url[1]}"; during a canary the port is a variable, and nginx then resolves the name per request (502 without a resolver). Name it by address, e.g. 127.0.0.1`;
        }
        if (url[2] !== '') {
            return `nginx-include-template: "${directive.trim()};" has a URI part ("${url[2]}"); during a canary the port is a variable, and nginx then sends that URI as it stands instead of replacing the location's prefix with it. Leave the URI out, or use "set $service_url ...; proxy_pass $service_url;" with a rewrite`;
        }
    }
    return undefined;
}
/** The page as nginx serves it: `return`'s text is a complex value, where `$` would start a variable. */
function maintenancePage(page) {
    return page.replaceAll('$', '&#36;');
}
/** A double-quoted nginx string: nginx's tokenizer takes `\"` and `\\` in it as the characters. */
function nginxString(text) {
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
function readInclude(text, ports) {
    if (text === undefined)
        return { mode: 'plain' };
    const marker = text
        .split('\n')
        .find((line) => line.startsWith(MARKER))
        ?.slice(MARKER.length)
        .trim();
    const ours = (value) => {
        const port = Number(value);
        return ports.includes(port) ? port : undefined;
    };
    let m;
    if (marker !== undefined) {
        if ((m = /^canary (\d+(?:\.\d+)?)% to (\d+), previous (\d+)$/.exec(marker))) {
            const newPort = ours(m[2]);
            const previousPort = ours(m[3]);
            if (newPort !== undefined && previousPort !== undefined)
                return { mode: 'canary', split: { percent: Number(m[1]), newPort, previousPort } };
        }
        else if ((m = /^observed (\d+)$/.exec(marker))) {
            const port = ours(m[1]);
            if (port !== undefined)
                return { mode: 'observed', port };
        }
        else if ((m = /^maintenance(?: (\d+))?$/.exec(marker))) {
            return { mode: 'maintenance', port: ours(m[1]) };
        }
    }
    return { mode: 'plain', port: activePortFromInclude(text, ports) };
}
/**
 * The traffic log's path on the host. nginx needs it absolute: a relative deploy dir is under the
 * remote user's home (`home`, from the nginx -T answer, see readDumpAnswer).
 */
function trafficLogPath(deployDir, home) {
    const dir = deployDir.startsWith('/') || home === undefined ? deployDir : `${home.replace(/\/+$/, '')}/${deployDir}`;
    return `${dir.replace(/\/+$/, '')}/run/traffic.log`;
}
/**
 * Host script: the traffic log's complete lines from byte `offset` on, added up by port, status
 * and whole ms. A negative offset reads nothing and answers the log's end: where watching starts.
 */
function readTrafficScript(p) {
    return (0,quote/* shellScript */.ky)({ LOG: p.log, OFFSET: Math.trunc(p.offset) }, TRAFFIC_READ_SH);
}
function parseTraffic(answer) {
    const offset = Number(answer.facts.offset);
    if (!Number.isSafeInteger(offset) || offset < 0)
        throw new Error(`the traffic log's reader answered no offset (${answer.facts.offset ?? 'none'})`);
    const samples = [];
    for (const line of (answer.sections.traffic ?? '').split('\n')) {
        const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line);
        if (m)
            samples.push({ port: Number(m[1]), status: Number(m[2]), ms: Number(m[3]), count: Number(m[4]) });
    }
    return { offset, samples };
}
/**
 * Host script: runs the dump command (`nginx -T`, see dumpCommand) and `nginx -V` for the compiled
 * access log path; the answer (see readDumpAnswer) has the dump in a section and the remote home.
 */
function nginxDumpScript(command) {
    return (0,quote/* shellScript */.ky)({ DUMP_COMMAND: command, VERSION_COMMAND: versionCommand(command) }, NGINX_DUMP_SH);
}
/** `nginx -V` of the same binary, without sudo: it needs none, and no sudoers rule names it. */
function versionCommand(dump) {
    const words = dump.trim().split(/\s+/);
    let i = 0;
    if (words[i] === 'sudo') {
        i++;
        if (words[i] === '-n')
            i++;
    }
    const binary = words[i];
    return binary && /(^|\/)nginx$/.test(binary) && /^[A-Za-z0-9_./-]+$/.test(binary) ? `${binary} -V` : '';
}
function readDumpAnswer(answer) {
    const home = answer.facts.home || undefined;
    const httpLogPath = answer.facts.http_log_path || undefined;
    if (answer.facts.error === 'nginx_dump' || answer.sections.dump === undefined) {
        return { error: (answer.sections.dump_output ?? '').trim(), home, httpLogPath };
    }
    const dump = answer.sections.dump
        .split('\n')
        .map((line) => (line.startsWith('|') ? line.slice(1) : line))
        .join('\n');
    return { dump, home, httpLogPath };
}

;// CONCATENATED MODULE: ./lib/deploy/host-state.js
function readHostState(answer) {
    const { facts, lists } = answer;
    const neverServed = new Set(lists.never_served ?? []);
    const releases = (lists.release ?? []).map((line) => {
        const [name, sha256, ...file] = line.split(' ');
        return { name, sha256: sha256 === '-' ? '' : sha256, fileName: file.join(' '), neverServed: neverServed.has(name) };
    });
    const stale = new Map((lists.stale_pid ?? []).map((line) => line.split(' ').map(Number)));
    const instances = (lists.instance ?? []).map((line) => {
        const [port, pid, state, listening, release] = line.split(' ');
        const stalePid = stale.get(Number(port));
        return {
            port: Number(port),
            pid: pid === '-' ? undefined : Number(pid),
            running: state === 'running',
            listening: listening === 'yes' ? true : listening === 'no' ? false : undefined,
            release: release === '-' || release === undefined ? undefined : release,
            ...(stalePid === undefined ? {} : { stalePid }),
        };
    });
    const units = (lists.unit ?? []).map((line) => {
        const [port, active, sub, fileState, restarts] = line.split(' ');
        return { port: Number(port), active, sub, fileState, restarts: /^\d+$/.test(restarts ?? '') ? Number(restarts) : undefined };
    });
    return {
        isRoot: facts.uid === '0',
        uid: /^\d+$/.test(facts.uid ?? '') ? Number(facts.uid) : undefined,
        user: facts.user ?? '',
        systemd: facts.systemd === 'yes',
        linger: facts.linger === 'yes',
        units,
        home: facts.home ?? '',
        http: (facts.http ?? 'none'),
        base64: facts.base64 === 'yes',
        javaFound: facts.java === undefined ? undefined : facts.java === 'yes',
        writable: facts.writable === undefined ? undefined : facts.writable === 'yes',
        deployDirExists: facts.deploy_dir_exists === 'yes',
        freeBytes: facts.free_kb === undefined ? undefined : Number(facts.free_kb) * 1024,
        releases,
        instances,
        deployDir: facts.deploy_dir ?? '',
        include: facts.include === 'present' ? (answer.sections.include ?? '') : undefined,
    };
}
function instanceOn(state, port) {
    return state.instances.find((i) => i.port === port);
}
/** The release recorded on each port, by port. */
function releaseOn(state) {
    return (port) => instanceOn(state, port)?.release;
}
/**
 * Warns of each stale instance record a script reported (its `stale_pid=<port> <pid>` lines): a pid
 * file naming a live process that is not the instance it recorded. Records the inspection in
 * `known` already reported are not repeated.
 */
function warnStaleRecords(log, lines, known) {
    for (const line of lines ?? []) {
        const [port, pid] = line.split(' ').map(Number);
        if (known && instanceOn(known, port)?.stalePid === pid)
            continue;
        log.warning(`Port ${port}: run/${port}.pid names pid ${pid}, but that process is not the instance this action started there (the instance has ended and its pid was reused, or the host rebooted). The record is stale; pid ${pid} was not signalled.`);
    }
}

;// CONCATENATED MODULE: ./lib/deploy/step-error.js
/** A step failed in a way the user can act on; the message says which step, what and what to do. */
class StepError extends Error {
    step;
    afterReload;
    constructor(step, message, 
    /** nginx was reloaded while the new instance was its target, so it may have sent it requests. */
    afterReload = false) {
        super(`${step}: ${message}`);
        this.step = step;
        this.afterReload = afterReload;
        this.name = 'StepError';
    }
}

;// CONCATENATED MODULE: ./lib/deploy/control.js




const named = (port, releaseOf) => `port ${port} (release ${releaseOf(port) ?? 'unknown'})`;
/** What nginx does with the app's traffic on a host, in words: "nginx sends all traffic to port 8081". */
function describeTraffic(traffic, releaseOf, ports) {
    switch (traffic.mode) {
        case 'canary': {
            const { percent, newPort, previousPort } = traffic.split;
            return `a canary is held: nginx sends ${percent}% of clients to ${named(newPort, releaseOf)} and the rest to ${named(previousPort, releaseOf)}`;
        }
        case 'maintenance':
            return traffic.port === undefined
                ? 'in maintenance: nginx answers 503 to every request, and its include names neither port'
                : `in maintenance: nginx answers 503 to every request; ${named(traffic.port, releaseOf)} serves once live`;
        case 'observed':
        case 'plain':
            return traffic.port === undefined
                ? `nginx's include names neither port ${ports[0]} nor ${ports[1]}`
                : `nginx sends all traffic to ${named(traffic.port, releaseOf)}`;
    }
}
/** Both ways out of a held canary, as every refusal that meets one names them. */
const FINISH_CANARY = '`command: promote` sends all traffic to the new instance, `command: rollback` sends it all back to the previous one';
/**
 * What a deploy may not start on, checked on the inspection under the lock, before anything is
 * uploaded: a held canary (the deploy would replace one of the two instances that serve), and,
 * with a canary or a bake, a host in maintenance (no client reaches an instance to be watched).
 */
function refuseDeploy(state, config, host) {
    const traffic = readInclude(state.include, config.ports);
    const releaseOf = releaseOn(state);
    if (traffic.mode === 'canary') {
        const { percent, newPort, previousPort } = traffic.split;
        throw new StepError('inspect', `a canary is held on ${host}: ${percent}% of clients go to ${named(newPort, releaseOf)}, the rest to ${named(previousPort, releaseOf)}. Finish it before deploying: ${FINISH_CANARY}. Nothing was uploaded or started.`);
    }
    if (traffic.mode === 'maintenance' && (0,traffic_inputs/* watchesTraffic */.F4)(config.traffic)) {
        throw new StepError('inspect', `${host} is ${describeTraffic(traffic, releaseOf, config.ports)}, so no client reaches an instance and a canary or a bake has nothing to watch. Deploy without canary-steps and bake-seconds (the host stays in maintenance, with the new instance active once live), or run command: live first. Nothing was uploaded or started.`);
    }
}
/** promote: the held canary's split, or a refusal saying what the host does instead. */
function canaryToPromote(traffic, host, releaseOf, ports) {
    if (traffic.mode === 'canary')
        return traffic.split;
    throw new StepError('promote', `no canary is held on ${host}; nothing to promote (${describeTraffic(traffic, releaseOf, ports)}).`);
}
/** maintenance: the port that serves once live, or a refusal. */
function portForMaintenance(traffic, host, releaseOf, ports) {
    if (traffic.mode === 'canary') {
        throw new StepError('maintenance', `${describeTraffic(traffic, releaseOf, ports)} on ${host}. Finish it before maintenance: ${FINISH_CANARY}.`);
    }
    if (traffic.port === undefined) {
        throw new StepError('maintenance', `${describeTraffic(traffic, releaseOf, ports)} on ${host}, so no instance would serve once live. Deploy first.`);
    }
    return traffic.port;
}
/** live: the port to put traffic back on; nothing to do when the host is not in maintenance. */
function liveDecision(traffic, host, releaseOf, ports) {
    if (traffic.mode !== 'maintenance') {
        const finish = traffic.mode === 'canary' ? ` To finish the canary: ${FINISH_CANARY}.` : '';
        return {
            kind: 'nothing',
            note: `${host} is not in maintenance (${describeTraffic(traffic, releaseOf, ports)}); nothing to do.${finish}`,
        };
    }
    if (traffic.port === undefined) {
        throw new StepError('live', `${host} is in maintenance, but its include names neither port ${ports[0]} nor ${ports[1]}, so it cannot tell which instance to put traffic back on. Deploy, or run command: rollback, to choose one (either stays in maintenance), then command: live.`);
    }
    return { kind: 'switch', port: traffic.port };
}

// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(8161);
;// CONCATENATED MODULE: ./lib/delta/chunker.js
/**
 * Content-defined chunking of a jar, so that the bytes two builds share can be found again even
 * where zip entries moved. Pure and streaming: bytes go in with `push` in pieces of any size, chunks
 * come out; memory stays fixed whatever the file's size (a few dozen bytes of look-ahead plus the
 * caller's piece). The same bytes always give the same chunks, however they were split into pieces.
 *
 * Two kinds of boundaries:
 * - FastCDC-style: a gear hash over the last 32 bytes; a cut where its masked bits are zero, with
 *   normalised chunking (a harder mask before `avg`, an easier one after), never a chunk shorter
 *   than `min` or longer than `max`. An insertion only changes the chunks around it: boundaries
 *   depend on the bytes just before them, so they line up again after it.
 * - Zip-aware: a cut at every zip local file header (`PK\x03\x04`) and right after it (30 fixed bytes
 *   plus the name and extra field). A header whose time stamp changed between builds is then a tiny
 *   chunk of its own, and the entry's data keeps its chunks. A header that gives its data's size (a
 *   STORED nested jar, BOOT-INF/lib/*.jar) makes the scan skip that data, so the nested jar's own
 *   headers cause no cuts (they would only multiply tiny chunks). One cut also marks the start of the
 *   central directory (`PK\x01\x02`), which changes whenever any entry does.
 *
 * Changing any constant here (gear table, masks, sizes) stays correct: chunks are named by their
 * sha256, and the host checks the assembled file's sha256. It only makes the next deploy after the
 * change find fewer chunks in common with the releases uploaded before it.
 */


/**
 * 16 KiB average (4 KiB min, 128 KiB max), chosen by measurement on a 40 MiB fat jar (the delta
 * e2e's): with zip cuts, the chunks sent for "one class changed, all time stamps new" are the same
 * at 8, 16, 32 and 64 KiB (the headers, the class, the central directory: 28 KB); the average sets
 * the other two costs. The chunk list, sent with every upload, is about 80 bytes a chunk: 0.91%,
 * 0.49%, 0.28%, 0.17% of the jar. Changes inside a large entry cost about one chunk each: ten
 * scattered edits in a 6 MB library sent 111, 185, 393, 785 KiB. 16 KiB costs least over both.
 */
const DEFAULT_AVG = 16 * 1024;
/** The gear table: 256 fixed pseudo-random 32-bit words, the first 4 bytes of sha256("zdd-gear-<i>"). */
const GEAR = (() => {
    const table = new Int32Array(256);
    for (let i = 0; i < 256; i++)
        table[i] = (0,external_node_crypto_.createHash)('sha256').update(`zdd-gear-${i}`).digest().readInt32LE(0);
    return table;
})();
/** The gear hash's window: each byte shifts one bit left, so 32 bytes fill a 32-bit hash. */
const WINDOW = 32;
/** A mask of `bits` one-bits spread evenly over the 32 (so every cut depends on the whole window). */
function spreadMask(bits) {
    let mask = 0;
    for (let k = 0; k < bits; k++)
        mask |= 1 << (31 - Math.floor((k * 32) / bits));
    return mask | 0;
}
/** Enough look-ahead to read a zip local header's fixed part from where its signature starts. */
const LOOKAHEAD = 30;
const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const KNOWN_METHODS = new Set([0, 1, 6, 8, 9, 12, 14, 93, 95, 98, 99]);
class Chunker {
    min;
    avg;
    max;
    zip;
    maskHard;
    maskEasy;
    /** Bytes not processed yet (fewer than LOOKAHEAD after each push), starting at offset `pos`. */
    carry = Buffer.alloc(0);
    /** Where the look-ahead and the next piece are put together. */
    work = Buffer.alloc(0);
    pos = 0;
    chunkStart = 0;
    hash = 0;
    sha = (0,external_node_crypto_.createHash)('sha256');
    /** Absolute offset up to which the current chunk's bytes went into `sha`. */
    hashedTo = 0;
    /** The end of the header just seen: a cut falls there. */
    headerEnd = -1;
    /** No zip signature is looked for before this offset (inside an entry's data of known size). */
    scanFrom = 0;
    inCentral = false;
    ended = false;
    constructor(options = {}) {
        const avg = options.avg ?? DEFAULT_AVG;
        if (!Number.isInteger(Math.log2(avg)) || avg < 256)
            throw new Error(`chunker: avg must be a power of two >= 256, got ${avg}`);
        this.avg = avg;
        this.min = options.min ?? avg / 4;
        this.max = options.max ?? avg * 8;
        if (!(this.min >= WINDOW && this.min < this.avg && this.avg < this.max))
            throw new Error(`chunker: need ${WINDOW} <= min < avg < max`);
        this.zip = options.zip ?? true;
        const bits = Math.log2(avg);
        this.maskHard = spreadMask(bits + 2);
        this.maskEasy = spreadMask(bits - 2);
    }
    /** Feeds the next bytes of the file; returns the chunks they completed. */
    push(data) {
        if (this.ended)
            throw new Error('chunker: push after end');
        if (data.length === 0)
            return [];
        if (this.carry.length === 0)
            return this.process(Buffer.from(data.buffer, data.byteOffset, data.length), false);
        // The look-ahead, then the new bytes, in one reused buffer: no allocation per piece.
        const size = this.carry.length + data.length;
        if (this.work.length < size)
            this.work = Buffer.allocUnsafe(size);
        this.carry.copy(this.work, 0);
        this.work.set(data, this.carry.length);
        return this.process(this.work.subarray(0, size), false);
    }
    /** Ends the file: returns the last chunks. */
    end() {
        if (this.ended)
            return [];
        const out = this.process(this.carry, true);
        this.ended = true;
        return out;
    }
    process(buf, final) {
        const out = [];
        const base = this.pos;
        const limit = final ? buf.length : Math.max(0, buf.length - LOOKAHEAD);
        const { min, max, avg, maskHard, maskEasy, zip } = this;
        // Positions below are indexes into buf (absolute offset = base + index); the state lives in
        // locals during the hot loop and is written back at the end.
        let start = this.chunkStart - base;
        let hashed = this.hashedTo - base;
        let hashFrom = start + min - WINDOW;
        let hash = this.hash;
        let headerEnd = this.headerEnd - base;
        let scanFrom = this.scanFrom - base;
        let inCentral = this.inCentral;
        const cut = (at) => {
            if (at > hashed)
                this.sha.update(buf.subarray(hashed, at));
            out.push({ offset: base + start, length: at - start, sha256: this.sha.digest('hex') });
            this.sha = (0,external_node_crypto_.createHash)('sha256');
            hashed = at;
            start = at;
            hash = 0;
            hashFrom = at + min - WINDOW;
        };
        // Zip checks happen only where they can matter: at a header's end, and, while scanning, at each
        // "P" (found with indexOf). Between those, a tight loop runs the gear hash alone.
        let nextP = -1;
        let i = 0;
        while (i < limit) {
            if (zip) {
                if (i === headerEnd && i > start)
                    cut(i);
                if (i >= scanFrom && buf[i] === 0x50 && buf[i + 1] === 0x4b && i + 4 <= buf.length) {
                    const signature = buf.readUInt32LE(i);
                    if (signature === LOCAL_HEADER && i + LOOKAHEAD <= buf.length) {
                        const version = buf.readUInt16LE(i + 4);
                        const flags = buf.readUInt16LE(i + 6);
                        const method = buf.readUInt16LE(i + 8);
                        const compressed = buf.readUInt32LE(i + 18);
                        const nameLength = buf.readUInt16LE(i + 26);
                        const extraLength = buf.readUInt16LE(i + 28);
                        if (version <= 63 && KNOWN_METHODS.has(method) && nameLength >= 1 && nameLength <= 4096) {
                            if (i > start)
                                cut(i);
                            headerEnd = i + 30 + nameLength + extraLength;
                            // Bit 3: sizes follow the data (a data descriptor); 0xffffffff: they are in a zip64 extra.
                            const sizeKnown = (flags & 0x08) === 0 && compressed !== 0xffffffff;
                            scanFrom = sizeKnown ? headerEnd + compressed : headerEnd;
                            inCentral = false;
                        }
                    }
                    else if (signature === CENTRAL_HEADER && !inCentral) {
                        if (i > start)
                            cut(i);
                        inCentral = true;
                    }
                }
            }
            // The next position that needs a zip check; bytes before it only feed the hash.
            let stop = limit;
            if (zip) {
                if (headerEnd > i && headerEnd < stop)
                    stop = headerEnd;
                if (i + 1 < scanFrom) {
                    if (scanFrom < stop)
                        stop = scanFrom;
                }
                else {
                    if (nextP <= i)
                        nextP = buf.indexOf(0x50, i + 1);
                    if (nextP < 0)
                        nextP = buf.length;
                    if (nextP < stop)
                        stop = nextP;
                }
            }
            while (i < stop) {
                if (i < hashFrom) {
                    i = hashFrom < stop ? hashFrom : stop;
                    continue;
                }
                hash = ((hash << 1) + GEAR[buf[i]]) | 0;
                const length = i + 1 - start;
                i++;
                if (length >= min && ((hash & (length < avg ? maskHard : maskEasy)) === 0 || length >= max))
                    cut(i);
            }
        }
        if (limit > hashed)
            this.sha.update(buf.subarray(hashed, limit));
        hashed = Math.max(hashed, limit);
        if (final && limit > start) {
            out.push({ offset: base + start, length: limit - start, sha256: this.sha.digest('hex') });
            this.sha = (0,external_node_crypto_.createHash)('sha256');
            start = limit;
        }
        this.chunkStart = base + start;
        this.hashedTo = base + hashed;
        this.hash = hash;
        this.headerEnd = base + headerEnd;
        this.scanFrom = base + scanFrom;
        this.inCentral = inCentral;
        this.pos = base + limit;
        // Copy the look-ahead: it must not pin the caller's (possibly large) buffer.
        this.carry = Buffer.from(buf.subarray(limit));
        return out;
    }
}
/** Chunks a stream of bytes. */
async function chunkStream(stream, options) {
    const chunker = new Chunker(options);
    const chunks = [];
    for await (const piece of stream)
        for (const c of chunker.push(piece))
            chunks.push(c);
    for (const c of chunker.end())
        chunks.push(c);
    return chunks;
}
/** Chunks a file, reading it 1 MiB at a time into one buffer: memory stays flat whatever its size. */
async function chunkFile(path, options) {
    const chunker = new Chunker(options);
    const chunks = [];
    const buffer = Buffer.allocUnsafe(1 << 20);
    const handle = await (0,promises_.open)(path, 'r');
    try {
        for (;;) {
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
            if (bytesRead === 0)
                break;
            for (const c of chunker.push(buffer.subarray(0, bytesRead)))
                chunks.push(c);
        }
    }
    finally {
        await handle.close();
    }
    for (const c of chunker.end())
        chunks.push(c);
    return chunks;
}
/** Chunks bytes already in memory (tests, small inputs). */
function chunkBuffer(data, options) {
    const chunker = new Chunker(options);
    return [...chunker.push(data), ...chunker.end()];
}

;// CONCATENATED MODULE: ./lib/delta/manifest.js
/** The manifest's file name in a release directory. */
const MANIFEST_FILE = 'chunks';
/** One line per chunk, in file order: `sha256 offset length`. */
function formatManifest(chunks) {
    let text = '';
    for (const c of chunks)
        text += `${c.sha256} ${c.offset} ${c.length}\n`;
    return text;
}
const LINE = /^([0-9a-f]{64}) (\d{1,15}) (\d{1,15})$/;
/**
 * Reads a manifest; undefined when it is not one (a torn write, a foreign file): the chunks must
 * follow each other from offset 0 without gap or overlap, each at least a byte long.
 */
function parseManifest(text) {
    const chunks = [];
    let next = 0;
    for (const line of text.split('\n')) {
        if (line === '')
            continue;
        const m = LINE.exec(line);
        if (!m)
            return undefined;
        const offset = Number(m[2]);
        const length = Number(m[3]);
        if (offset !== next || length < 1)
            return undefined;
        chunks.push({ sha256: m[1], offset, length });
        next = offset + length;
    }
    return chunks;
}
/** The total length the chunks describe. */
function manifestSize(chunks) {
    const last = chunks[chunks.length - 1];
    return last ? last.offset + last.length : 0;
}
/**
 * Plans the new file: each chunk is copied from an old release that has a chunk with the same
 * sha256 and length, or sent. Among several copies of a chunk, the one that continues the previous
 * copy run wins (so runs coalesce), then the first release given (the newest, by the caller's
 * order), then the lowest offset. Contiguous chunks from the same old file become one run; so do
 * contiguous sent chunks. A copy run shorter than `minCopyRun` bytes is sent instead: each run
 * costs the host a process, which is dearer than sending a few hundred bytes.
 */
function planDelta(newChunks, oldManifests, options = {}) {
    const minCopyRun = options.minCopyRun ?? 0;
    const index = new Map();
    oldManifests.forEach((m, source) => {
        for (const c of m.chunks) {
            const key = `${c.sha256}:${c.length}`;
            const list = index.get(key);
            if (!list)
                index.set(key, [{ source, offset: c.offset }]);
            else if (list.length < 8)
                list.push({ source, offset: c.offset }); // a few places are plenty to continue runs
        }
    });
    const drafts = [];
    let last;
    for (const c of newChunks) {
        const candidates = index.get(`${c.sha256}:${c.length}`);
        const continuing = last && last.source >= 0
            ? candidates?.find((f) => f.source === last.source && f.offset === last.sourceOffset + last.length)
            : undefined;
        const pick = continuing ?? candidates?.[0];
        const source = pick ? pick.source : -1;
        if (last && last.source === source && (source < 0 || continuing)) {
            last.length += c.length;
            last.chunks++;
        }
        else {
            last = { source, sourceOffset: pick ? pick.offset : 0, targetOffset: c.offset, length: c.length, chunks: 1 };
            drafts.push(last);
        }
    }
    // Then short copy runs become sent bytes, and sent runs that now touch merge.
    const runs = [];
    const used = new Set();
    let sendBytes = 0;
    let copyBytes = 0;
    let sentChunks = 0;
    let copiedChunks = 0;
    for (const d of drafts) {
        const send = d.source < 0 || d.length < minCopyRun;
        if (send) {
            const previous = runs[runs.length - 1];
            if (previous?.source.kind === 'send')
                previous.length += d.length;
            else
                runs.push({ source: { kind: 'send' }, sourceOffset: sendBytes, targetOffset: d.targetOffset, length: d.length });
            sendBytes += d.length;
            sentChunks += d.chunks;
        }
        else {
            const { release, fileName } = oldManifests[d.source];
            used.add(d.source);
            runs.push({
                source: { kind: 'copy', release, fileName },
                sourceOffset: d.sourceOffset,
                targetOffset: d.targetOffset,
                length: d.length,
            });
            copyBytes += d.length;
            copiedChunks += d.chunks;
        }
    }
    const sources = oldManifests.filter((_, i) => used.has(i)).map(({ release, fileName }) => ({ release, fileName }));
    return { runs, sendBytes, copyBytes, totalBytes: sendBytes + copyBytes, sentChunks, copiedChunks, sources };
}

;// CONCATENATED MODULE: ./lib/remote/delta.js



/** The delta file's name inside the partial directory (hidden: never taken for the jar). */
const DELTA_FILE = '.delta';
/** Exit codes of the assemble script: the new file could not be built; upload it whole instead. */
const ASSEMBLE_EXIT = {
    /** The partial directory or the delta file is missing. */
    noDelta: 50,
    /** A byte range could not be copied: an old jar is missing or unreadable, or dd failed. */
    copyFailed: 51,
    /** The assembled file has the wrong size or sha256: an old jar changed since its manifest was written. */
    mismatch: 52,
};
/**
 * Prints, for each release given (`<release>/<file name>`, relative to `releases/`) whose jar and
 * manifest both exist, a line `release <index> <jar size>` followed by its manifest's lines, all in
 * the section `@@manifests`.
 */
function readManifestsScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, JARS: p.jars.join('\n'), MANIFEST: MANIFEST_FILE }, READ_MANIFESTS_SH);
}
/** Parses readManifestsScript's section: the manifest text and jar size of each release index. */
function parseManifestListing(section) {
    const found = [];
    let current;
    const close = () => {
        if (current)
            found.push({ index: current.index, size: current.size, text: current.lines.join('\n') });
    };
    for (const line of (section ?? '').split('\n')) {
        const header = /^release (\d+) +(\d+)$/.exec(line.trim());
        if (header) {
            close();
            current = { index: Number(header[1]), size: Number(header[2]), lines: [] };
        }
        else if (current) {
            current.lines.push(line);
        }
    }
    close();
    return found;
}
/**
 * Builds `releases/.partial-<release>/<fileName>` from the plan's runs, in order: copy runs read
 * from the old jars, send runs from the uploaded delta file. Then checks the size and the sha256;
 * on any failure removes what it wrote and exits with an ASSEMBLE_EXIT code. Always removes the
 * delta file.
 */
function assembleScript(p) {
    const sources = p.plan.sources;
    const vars = {
        DEPLOY_DIR: p.deployDir,
        RELEASE: p.release,
        FILE_NAME: p.fileName,
        SHA256: p.sha256,
        SIZE: p.plan.totalBytes,
        DELTA: DELTA_FILE,
        PLAN: planText(p.plan),
        INLINE_DELTA: p.inlineDelta ?? '',
        EXIT_NO_DELTA: ASSEMBLE_EXIT.noDelta,
        EXIT_COPY_FAILED: ASSEMBLE_EXIT.copyFailed,
        EXIT_MISMATCH: ASSEMBLE_EXIT.mismatch,
    };
    sources.forEach((s, i) => (vars[`SRC_${i}`] = `../${s.release}/${s.fileName}`));
    return (0,quote/* shellScript */.ky)(vars, ASSEMBLE_DELTA_SH);
}
/** The plan as the assemble script reads it: `<source> <offset> <length>` a line; source `d` or an index. */
function planText(plan) {
    const index = new Map(plan.sources.map((s, i) => [`${s.release}/${s.fileName}`, i]));
    return plan.runs
        .map((run) => {
        const source = run.source.kind === 'send' ? 'd' : String(index.get(`${run.source.release}/${run.source.fileName}`));
        return `${source} ${run.sourceOffset} ${run.length}`;
    })
        .join('\n');
}

;// CONCATENATED MODULE: ./lib/deploy/delta-upload.js
/**
 * The delta upload: the jar is cut into content-defined chunks; the chunks that the releases kept on
 * the host already hold are copied there, and only the others cross the wire, in one delta file.
 * Whatever goes wrong on this path ends in a note in the log and the whole jar being uploaded
 * instead: a deploy never fails because of the delta. Memory stays flat: the jar is only ever
 * streamed (to chunk it, and to copy the missing chunks into the delta file).
 */










/** Manifests of at most this many releases (the newest) are read: the newest share the most. */
const DELTA_BASE_RELEASES = 3;
/** The delta path is taken only when it sends at most this share of the jar. */
const DELTA_WORTH = 0.9;
/**
 * Shorter copy runs are sent instead. Each run costs the host one `dd` process (1 to 3 ms measured);
 * sending 2 KiB costs as much on a 1 MB/s link and far less on a faster one. In a fat jar this turns
 * the data of small entries (classes) between their changed headers into sent bytes, and cuts the
 * runs from two per entry to two per large entry.
 */
const MIN_COPY_RUN = 2048;
/** Below this size a jar goes whole: reading the old chunk lists would cost more than it saves. */
const DELTA_MIN_JAR = 1024 * 1024;
/** Each artifact is chunked once per run, however many hosts it goes to; the list is small (a line per 16 KiB). */
const chunkLists = new WeakMap();
function chunksOf(artifact) {
    let chunks = chunkLists.get(artifact);
    if (!chunks) {
        chunks = chunkFile(artifact.path);
        chunkLists.set(artifact, chunks);
    }
    return chunks;
}
const amount = (bytes) => bytes < 10 * 1024
    ? `${bytes} bytes`
    : bytes < 10 * 1024 * 1024
        ? `${Math.round(bytes / 1024)} KiB`
        : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const percent = (part, whole) => `${whole === 0 ? 0 : ((100 * part) / whole).toFixed(part < whole / 100 ? 2 : 1)}%`;
/** One line for the log: what crossed the wire for this jar. */
function describeSent(sent, size, how) {
    return `Sent ${amount(sent)} for the ${amount(size)} jar (${percent(sent, size)}): ${how}.`;
}
/**
 * Tries to put `artifact` into the release's partial directory by a delta. Returns the manifest
 * for the new release and, when the delta path succeeded, the bytes it sent. When `sentBytes` is
 * undefined, the caller uploads the whole jar; nothing of the delta is left behind then.
 */
async function uploadByDelta(p) {
    const { remote, log, deployDir, release, artifact } = p;
    // The newest releases first: a chunk found in several is copied from the newest.
    const candidates = p.releases
        .filter((r) => r.name !== release && r.fileName !== '' && !r.fileName.includes('\n') && !r.name.includes('\n'))
        .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
        .slice(0, DELTA_BASE_RELEASES);
    // The host reads the old manifests while the jar is chunked here.
    const listing = candidates.length === 0 || artifact.size < DELTA_MIN_JAR
        ? undefined
        : remote.run(readManifestsScript({ deployDir, jars: candidates.map((r) => `${r.name}/${r.fileName}`) }), { step: 'upload' }).then((result) => ({ result }), (error) => ({ error }));
    let chunks;
    try {
        chunks = await chunksOf(artifact);
    }
    catch (error) {
        log.info(`Delta upload skipped: could not chunk the jar (${error.message}); uploading it whole.`);
        await listing;
        return {};
    }
    const manifestText = formatManifest(chunks);
    if (manifestSize(chunks) !== artifact.size) {
        log.info('Delta upload skipped: the jar changed while it was read; uploading it whole.');
        await listing;
        return {};
    }
    if (!listing)
        return { manifestText };
    let deltaDir;
    let remoteTouched = false;
    try {
        const read = await listing;
        if ('error' in read)
            throw read.error;
        const listed = read.result;
        const olds = [];
        for (const found of parseManifestListing(listed.answer.sections.manifests)) {
            const base = candidates[found.index];
            const parsed = base ? parseManifest(found.text) : undefined;
            // A manifest that does not describe its jar's size is stale or torn: not a base.
            if (base && parsed && parsed.length > 0 && manifestSize(parsed) === found.size)
                olds.push({ release: base.name, fileName: base.fileName, chunks: parsed });
        }
        if (olds.length === 0)
            return { manifestText };
        const plan = planDelta(chunks, olds, { minCopyRun: MIN_COPY_RUN });
        const text = planText(plan);
        if (plan.sendBytes + text.length > artifact.size * DELTA_WORTH) {
            log.info(`No delta upload: only ${amount(plan.copyBytes)} of the jar is already on the host (releases ${olds.map((o) => o.release).join(', ')}).`);
            return { manifestText };
        }
        deltaDir = await (0,promises_.mkdtemp)((0,external_node_path_.join)(process.env.RUNNER_TEMP || (0,external_node_os_.tmpdir)(), 'zdd-delta-'));
        const deltaPath = (0,external_node_path_.join)(deltaDir, DELTA_FILE);
        await writeDeltaFile(artifact.path, plan.runs, deltaPath);
        const deltaSize = (await (0,promises_.stat)(deltaPath)).size;
        if (deltaSize !== plan.sendBytes)
            throw new Error(`the delta file holds ${deltaSize} bytes, expected ${plan.sendBytes}`);
        const partial = partialDir(deployDir, release);
        remoteTouched = true;
        const inlineDelta = p.inline && deltaSize <= INLINE_UPLOAD_MAX_BYTES ? (await (0,promises_.readFile)(deltaPath)).toString('base64') : undefined;
        if (inlineDelta === undefined) {
            await remote.makeDirectory(partial);
            await remote.upload(deltaPath, `${partial}/${DELTA_FILE}`);
        }
        const started = Date.now();
        await remote.run(assembleScript({ deployDir, release, fileName: artifact.fileName, sha256: artifact.sha256, plan, inlineDelta }), {
            step: 'upload',
        });
        log.info(describeSent(plan.sendBytes, artifact.size, `${plan.sentChunks} new chunks; ${plan.copiedChunks} chunks (${amount(plan.copyBytes)}) copied on the host from ${plan.sources.map((s) => `release ${s.release}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`) +
            ` The ${plan.runs.length}-line plan and the new release's ${chunks.length}-line chunk list took ${amount(text.length + manifestText.length)} more.`);
        // What crossed the wire: the new chunks, the plan and the chunk list that travel in scripts.
        return { manifestText, sentBytes: (inlineDelta?.length ?? plan.sendBytes) + Buffer.byteLength(text) + Buffer.byteLength(manifestText) };
    }
    catch (error) {
        // A lost connection is not the delta's fault, and the whole upload could not do better.
        if (error instanceof ConnectionError)
            throw error;
        log.warning(`Delta upload failed (${describeFailure(error)}); uploading the whole jar instead.`);
        if (remoteTouched)
            await cleanUp(remote, deployDir, release, artifact.fileName).catch(() => undefined);
        return { manifestText };
    }
    finally {
        if (deltaDir)
            await (0,promises_.rm)(deltaDir, { recursive: true, force: true }).catch(() => undefined);
    }
}
function describeFailure(error) {
    if (error instanceof RemoteCommandError) {
        const { facts } = error.result.answer;
        switch (error.result.code) {
            case ASSEMBLE_EXIT.copyFailed:
                return `could not copy from an old release${facts.failed_source ? ` (${facts.failed_source.replace(/^\.\.\//, '')})` : ''}`;
            case ASSEMBLE_EXIT.mismatch:
                return `the jar assembled on the host differs from the local one (${facts.error ?? 'mismatch'}): an old release's jar changed since its chunk list was written`;
            case ASSEMBLE_EXIT.noDelta:
                return 'the delta file did not arrive on the host';
        }
        return `exit code ${error.result.code}${error.result.stderr.trim() ? `: ${error.result.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
    }
    return error?.message ?? String(error);
}
/** Removes what the delta path left in the partial directory. */
async function cleanUp(remote, deployDir, release, fileName) {
    await remote.run((0,quote/* shellScript */.ky)({ PARTIAL: partialDir(deployDir, release), FILE_NAME: fileName, DELTA: DELTA_FILE }, 'rm -f -- "$PARTIAL/$DELTA" "$PARTIAL/$FILE_NAME"'), { step: 'upload' });
}
/** Writes the send runs' bytes of `jarPath`, in order, to `outPath`: 1 MiB at a time. */
async function writeDeltaFile(jarPath, runs, outPath) {
    const input = await (0,promises_.open)(jarPath, 'r');
    try {
        const output = await (0,promises_.open)(outPath, 'wx', 0o600);
        try {
            const buffer = Buffer.allocUnsafe(1 << 20);
            for (const run of runs) {
                if (run.source.kind !== 'send')
                    continue;
                let done = 0;
                while (done < run.length) {
                    const want = Math.min(buffer.length, run.length - done);
                    const { bytesRead } = await input.read(buffer, 0, want, run.targetOffset + done);
                    if (bytesRead === 0)
                        throw new Error('the jar is shorter than when it was chunked');
                    await output.write(buffer, 0, bytesRead);
                    done += bytesRead;
                }
            }
        }
        finally {
            await output.close();
        }
    }
    finally {
        await input.close();
    }
}

;// CONCATENATED MODULE: ./lib/remote/lock.js
/**
 * The per-host deploy lock, `<deploy-dir>/.lock`: a directory taken with an atomic mkdir, holding
 *   holder          "<pid> <start> <boot id> <group>" of the run's remote shell (the `sh -s` that
 *                   runs every step: `$$` in each script), always written whole: by a hard link
 *                   into a lock that has none (which fails when one came first), by rename over a
 *                   stale one
 *   owner           who holds it, for the warnings and the waiting message
 *   lease.<key>     when the holder last proved to be alive (seconds on the host's uptime clock),
 *                   key = "<pid>-<start>"; renewed by the runner over its own SSH channel
 *
 * A lock is stale when its holder has ended (the pid is gone, or belongs to another process: its
 * start time differs, or the host has rebooted since), when it has had no holder for 10 s (a run
 * cut off, or stalled, between its mkdir and its holder), or when its lease has not been renewed for
 * LEASE_SECONDS: a runner that went silent (lost its network without a FIN or RST) keeps its
 * remote shell alive until sshd notices, which may take hours. The holder of a silent lock is
 * ended (its shell and whatever that shell still runs) before its lock is taken over, so nothing
 * of the silent run acts on the host afterwards.
 */



/** A lock whose lease has not been renewed for this long is taken over. */
const LEASE_SECONDS = 60;
/** How often a live run renews its lease: several renewals fit in one lease, even over a busy link. */
const LEASE_RENEW_SECONDS = 10;
/** Exit codes of the lock script. */
const LOCK_EXIT = { unwritable: 30, timeout: 31 };
/**
 * Takes `<deploy-dir>/.lock` for this session's shell; waits up to the timeout for a live holder;
 * takes over a stale one (see the module's comment). Answers `lock=held` and `holder_key=`, the
 * key the lease renewals name.
 */
function acquireLockScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        OWNER: p.owner,
        SINCE: p.since.toISOString().replace(/\.\d+Z$/, 'Z'),
        TIMEOUT: Math.ceil(p.timeoutSeconds),
        LEASE: LEASE_SECONDS,
        EXIT_UNWRITABLE: LOCK_EXIT.unwritable,
        EXIT_TIMEOUT: LOCK_EXIT.timeout,
    }, `${SHELL_LIB}${LOCK_LIB_SH}\n${ACQUIRE_LOCK_SH}`);
}
/**
 * Renews the lease of the lock held by the shell `holderKey` names; run by the runner over an SSH
 * channel of its own every LEASE_RENEW_SECONDS, since the run's shell may be busy for minutes
 * (an upload, a health wait). Answers `lease=renewed`, or `lease=lost` when that shell no longer
 * holds the lock.
 */
function renewLeaseScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir, KEY: p.holderKey }, `${SHELL_LIB}\n${RENEW_LEASE_SH}`);
}
/** Releases the lock if this session's shell still holds it. */
function releaseLockScript(p) {
    return (0,quote/* shellScript */.ky)({ DEPLOY_DIR: p.deployDir }, RELEASE_LOCK_SH);
}

;// CONCATENATED MODULE: ./lib/deploy/lock.js
/**
 * Step 3, the host's deploy lock, as the runner holds it: taken (or waited for, or taken over from
 * a run that has ended) by the scripts of src/remote/lock.ts, and kept by renewing its lease.
 */





/** Who holds the lock, for whoever waits on it: the workflow run and the runner. */
function lockOwner(env = process.env) {
    const run = env.GITHUB_RUN_ID
        ? `${env.GITHUB_REPOSITORY ?? ''} run ${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`
        : 'a run outside GitHub Actions';
    return `owner=${run}${env.GITHUB_ACTOR ? ` by ${env.GITHUB_ACTOR}` : ''} on ${(0,external_node_os_.hostname)()}`;
}
/** Hosts whose lock is kept past the steps' release, until the run has concluded there. */
const holds = new WeakMap();
/**
 * Keeps the deploy lock that `takeLock` will take on `remote` until `letGoOfLock`: the run's last
 * words on the host (its history line, and the history's trim) are written while it still holds
 * the lock, so that no other run appends or trims meanwhile. The lease is renewed until then.
 */
function holdLockUntilLetGo(remote) {
    holds.set(remote, { over: false });
}
/** Sends the release a held lock is waiting for (nothing when no lock was taken). */
async function letGoOfLock(remote) {
    const hold = holds.get(remote);
    if (!hold)
        return;
    hold.over = true;
    await hold.letGo?.();
}
/** Step 3: waits for and takes the host's deploy lock; a stale lock is taken over with a warning. */
async function takeLock(remote, config, log) {
    const script = acquireLockScript({
        deployDir: config.deployDir,
        owner: lockOwner(),
        since: new Date(),
        timeoutSeconds: config.lockTimeoutSeconds,
    });
    let pending = '';
    try {
        const result = await remote.run(script, {
            step: 'lock',
            onStdout: (text) => {
                pending += text;
                const lines = pending.split('\n');
                pending = lines.pop() ?? '';
                for (const line of lines) {
                    if (line.startsWith('owner='))
                        log.progress(`Waiting for the deploy lock, held by ${line.slice(6).trim()} (up to ${config.lockTimeoutSeconds} s)...`);
                }
            },
        });
        const { facts } = result.answer;
        if (facts.stale_owner !== undefined)
            log.warning(staleLockWarning(facts));
        const deployDir = facts.deploy_dir;
        const keeper = keepLease(remote, deployDir, facts.holder_key, log);
        // A release that fails (connection lost) must not hide the error that ended the run; the lock
        // then goes stale with the session's shell (or its lease) and the next run takes it over.
        let released;
        const letGo = () => (released ??= keeper
            .stop()
            .then(() => remote.run(releaseLockScript({ deployDir }), { step: 'unlock' }))
            .then(() => undefined, () => undefined));
        const hold = holds.get(remote);
        return {
            release: () => {
                if (!hold || hold.over)
                    return letGo();
                hold.letGo = letGo;
                return Promise.resolve();
            },
        };
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError))
            throw error;
        const { facts } = error.result.answer;
        if (facts.error === 'deploy_dir_unwritable') {
            throw new StepError('lock', `deploy-dir "${facts.deploy_dir}" cannot be created or written by user "${remote.entry.username}". Create it and give that user write access, or choose another deploy-dir.`);
        }
        if (facts.lock === 'timeout') {
            throw new StepError('lock', `another deploy holds the lock on this host (${facts.owner?.trim() || 'owner unknown'}); gave up after lock-timeout (${config.lockTimeoutSeconds} s). Try again when it has finished, or raise lock-timeout.`);
        }
        throw error;
    }
}
/** The warning for a stale lock taken over: whose it was, and how the action knew it was stale. */
function staleLockWarning(facts) {
    const owner = facts.stale_owner.trim() || 'owner unknown';
    const why = {
        ended: 'its remote shell is gone',
        rebooted: 'the host has rebooted since',
        unfinished: 'it was left half-made',
        silent: `nothing was heard from it for ${facts.stale_silent_for ?? 'over ' + LEASE_SECONDS} s (its lease is ${LEASE_SECONDS} s), so its remote shell and what it still ran were ended`,
    };
    const reason = why[facts.stale_reason] ? `: ${why[facts.stale_reason]}` : '';
    return `Took over a stale deploy lock left by a run that has ended (${owner})${reason}.`;
}
/**
 * Renews the lock's lease every LEASE_RENEW_SECONDS over a channel of its own, while the run's
 * shell is busy with one step after another. If the host says the lock is no longer ours (this
 * run was silent too long and another run took over), the run stops at once: nothing it does any
 * more may touch the host.
 */
function keepLease(remote, deployDir, holderKey, log) {
    if (!holderKey)
        return { stop: async () => undefined };
    let renewing;
    let warned = false;
    const warn = (why) => {
        // A lost connection fails the step that runs; anything else (sshd's MaxSessions, a shell that
        // refuses) would let the lease lapse while this run still works: say so once.
        if (warned || !remote.connected)
            return;
        warned = true;
        log.warning(`Could not renew the deploy lock's lease on ${remote.entry.label} (${why}). If no renewal gets through for ${LEASE_SECONDS} s, another run may take the lock over; check that the host allows a second SSH session on one connection (sshd MaxSessions).`);
    };
    const renew = async () => {
        let result;
        try {
            result = await remote.runBeside(renewLeaseScript({ deployDir, holderKey }), 'lock lease');
        }
        catch (error) {
            return warn(error.message);
        }
        const lease = result.answer.facts.lease;
        if (lease === 'renewed')
            return;
        if (lease !== 'lost')
            return warn(`exit ${result.code}: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 200)}`);
        clearInterval(timer);
        const error = new ConnectionError(`${remote.entry.label}: lost the deploy lock: another run took it over after nothing was heard from this run for over ${LEASE_SECONDS} s (a network that went silent, or a runner that stood still). This run's remote shell was ended on the host, and it stops here without touching the host again.`);
        log.warning(error.message);
        remote.abandon(error);
    };
    const timer = setInterval(() => {
        renewing ??= renew().finally(() => (renewing = undefined));
    }, LEASE_RENEW_SECONDS * 1000);
    // The renewals alone must not keep the action's process alive.
    timer.unref();
    return {
        stop: async () => {
            clearInterval(timer);
            await renewing;
        },
    };
}

;// CONCATENATED MODULE: ./lib/deploy/report.js
/** What serves now, in the outputs: `port`, running `release`, is both the active and the previous port until a switch. */
function reportServing(report, port, release) {
    report.activePort = port;
    report.previousPort = port;
    report.release = release;
}
function emptyReport(host, command) {
    return { host, command, outcome: 'failed', uploadedBytes: 0, rolledBack: false, durationSeconds: 0, phases: {} };
}
/** Runs `work` as a named phase: timed into the report, and grouped in the log. */
async function timed(report, phase, work) {
    const started = performance.now();
    try {
        return await work();
    }
    finally {
        const seconds = (performance.now() - started) / 1000;
        report.phases[phase] = Math.round(((report.phases[phase] ?? 0) + seconds) * 1000) / 1000;
    }
}

;// CONCATENATED MODULE: ./lib/deploy/supervision.js
function supervisionOf(supervisor, appName, state) {
    const user = state.user || 'the remote user';
    const scope = state.isRoot ? 'system' : 'user';
    const existing = state.systemd
        ? { scope, appName, runtimeDir: `/run/user/${state.uid ?? 0}`, deployDir: state.deployDir }
        : undefined;
    if (supervisor === 'none')
        return { mode: 'none', existing };
    const detached = 'so the service runs detached: it will not come back after a crash or a reboot.';
    const linger = `sudo loginctl enable-linger ${user}`;
    if (!state.systemd) {
        return supervisor === 'systemd'
            ? {
                mode: 'none',
                refusal: 'supervisor is "systemd", but the host does not run systemd (/run/systemd/system is absent). Set supervisor to auto or none to start the service detached, or deploy to a host that runs systemd. Nothing was stopped or started.',
            }
            : {
                mode: 'none',
                warning: `The host does not run systemd (/run/systemd/system is absent), ${detached} Deploy to a host with systemd to have it restarted, or set supervisor: none to start it detached without this warning.`,
            };
    }
    if (!state.isRoot && !state.linger) {
        const why = `user "${user}" is not root, so its instances would be units of its own systemd manager, and lingering is not enabled for it: without lingering its units stop at logout and do not start at boot.`;
        return supervisor === 'systemd'
            ? {
                mode: 'none',
                existing,
                refusal: `supervisor is "systemd", but ${why} Run "${linger}" on the host, then deploy again. Nothing was stopped or started.`,
            }
            : {
                mode: 'none',
                existing,
                warning: `User "${user}" has no lingering on the host, ${detached} Run "${linger}" on the host and the next deploy runs it as a systemd unit (or set supervisor: none to start it detached without this warning).`,
            };
    }
    return { mode: 'systemd', start: existing, existing };
}

;// CONCATENATED MODULE: ./lib/remote/release-state.js
/** A release's mark as one that has served or not (see RELEASE_STATE_FILE), set back after a canary is sent back. */



function releaseUnservedScript(p) {
    return (0,quote/* shellScript */.ky)({ STATE_FILE: releaseStatePath(p.deployDir, p.release) }, RELEASE_UNSERVED_SH);
}

;// CONCATENATED MODULE: ./lib/deploy/switch-messages.js

/** The include could not be written: names the missing permission, or the exact sudoers rule to add. */
function includeWriteFailure(answer, include, user) {
    const { facts, sections } = answer;
    const said = (sections.write_output ?? '').trim().split('\n').slice(-3).join(' ').trim();
    const because = said ? ` (${said})` : '';
    if (facts.write_as === 'user') {
        return `could not write ${include} as user "${user}"${because}. Check the free space and permissions of its directory. nginx was not touched.`;
    }
    if (facts.write_step === 'read') {
        return `user "${user}" cannot read ${include}${because}; the switch keeps its text to put it back if nginx rejects the new one. Make it readable by that user (e.g. chmod 644). nginx was not touched.`;
    }
    if (facts.write_step === 'write') {
        const tee = facts.tee_path || '/usr/bin/tee';
        // sudoers needs a path with no spaces unescaped; quoted here only for a shell-safe hint.
        const path = /^[A-Za-z0-9_./-]+$/.test(include) ? include : (0,quote/* shellQuote */.ZL)(include);
        return (`user "${user}" cannot write the directory of ${include}, and "sudo -n tee ${path}" was refused${because}. ` +
            `Allow exactly that command without a password, e.g. in /etc/sudoers.d/zero-downtime-deploy: ` +
            `"${user} ALL=(root) NOPASSWD: ${tee} ${path}" (the README's "The nginx side" has the whole file), ` +
            `or make the include's directory writable by that user. nginx was not touched.`);
    }
    return `could not keep a copy of ${include} before writing it${because}. Check that the host's temporary directory is writable. nginx was not touched.`;
}
/** Said after a failure that puts the old include back, when it could not be put back. */
function restoreNote(answer, include) {
    return answer.facts.restore === 'failed'
        ? ` But ${include} could not be put back as it was: check it on the host before nginx is reloaded again.`
        : '';
}
/** When sudo refused a command (no rule, or one that names other arguments), says which rule is missing. */
function sudoRefusalNote(output, command, user) {
    if (!/^sudo: a password is required|is not allowed to execute/m.test(output ?? ''))
        return '';
    const line = command.replace(/^\s*sudo\s+-n\s+/, '');
    return ` sudo refused it: user "${user}" needs a sudoers rule for exactly "${line}" with NOPASSWD (full path of the program, the same arguments; see the README's "The nginx side").`;
}

;// CONCATENATED MODULE: ./lib/deploy/include-switch.js
/**
 * Putting a new include in place through the switch script (write, test, reload, confirm, verify,
 * put the old text back on any failure): the include for a port, and the other texts traffic
 * control writes (maintenance, a canary's split), with what each failure means for the user.
 */







/**
 * A release that a run sent back (a failed analysis, post-switch-command, the fleet going back) is
 * no version for a later rollback to go back to, even if a switch marked it as served: it counts as
 * never served (see RELEASE_STATE_FILE). Nothing when it is also the release traffic went back to.
 */
function rejectedRelease(sentBack, wentBackTo) {
    return sentBack === wentBackTo ? undefined : sentBack;
}
/**
 * Marks `release` as one that never served, once the run sent it back (see rejectedRelease). A
 * failure here changes nothing that serves: a warning says what a later rollback might do.
 */
async function markNeverServed(run, release, step) {
    if (release === undefined)
        return;
    try {
        await run.remote.run(releaseUnservedScript({ deployDir: run.state.deployDir, release }), { step });
    }
    catch (error) {
        run.log.warning(`Could not mark release ${release} as one that never served (${error instanceof Error ? error.message : String(error)}): a rollback that finds nothing warm might start it again.`);
    }
}
/** How long nginx may take to start new workers after a reload, and to retire the old ones. */
const NGINX_RELOAD_TIMEOUT_SECONDS = 10;
/** Puts `change` in place on the host, or fails with nginx serving what it served before. */
async function switchInclude(run, change) {
    const { remote, config, state, report, log } = run;
    const reloadCommand = withoutSudoForRoot(config.nginx.reloadCommand, state.isRoot);
    const verifyUrl = change.verify ? config.verifyUrl : '';
    try {
        const result = await remote.run(switchScript({
            include: config.nginx.include,
            content: change.content,
            httpFile: change.httpFile,
            testCommand: withoutSudoForRoot(config.nginx.testCommand, state.isRoot),
            reloadCommand,
            masterHint: nginxMasterHint(reloadCommand),
            verifyUrl,
            verifyTimeoutSeconds: config.health.timeoutSeconds,
            intervalSeconds: config.health.intervalSeconds,
            reloadTimeoutSeconds: NGINX_RELOAD_TIMEOUT_SECONDS,
            releaseStateFile: change.release ? releaseStatePath(state.deployDir, change.release) : '',
        }), { step: 'switch' });
        run.nginxOldWorkers = result.answer.facts.old_workers?.trim() || undefined;
        if (result.answer.facts.reload === 'unobserved')
            log.warning('Could not watch the nginx workers on the host (no access to /proc?); waited 1 s after the reload instead.');
        log.info(`${change.done}${verifyUrl ? `; ${verifyUrl} answered 2xx` : ''}.`);
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError))
            throw error;
        const { facts, sections } = error.result.answer;
        const restored = restoreNote(error.result.answer, config.nginx.include);
        switch (error.result.code) {
            case SWITCH_EXIT.writeFailed:
                throw new StepError('switch', includeWriteFailure(error.result.answer, config.nginx.include, remote.entry.username));
            case SWITCH_EXIT.testFailed:
                throw new StepError('switch', `the nginx test (${config.nginx.testCommand}) rejected the configuration with the new include; the old include was put back byte for byte and nginx was not reloaded.${restored}${sudoRefusalNote(sections.test_output, config.nginx.testCommand, remote.entry.username)}\n${sections.test_output ?? ''}`);
            case SWITCH_EXIT.reloadFailed:
                throw new StepError('switch', `the nginx reload (${config.nginx.reloadCommand}) failed; the old include was put back and nginx reloaded again.${restored}${sudoRefusalNote(sections.reload_output, config.nginx.reloadCommand, remote.entry.username)}\n${sections.reload_output ?? ''}`, true);
            case SWITCH_EXIT.notTaken:
                throw new StepError('switch', `no nginx master started new workers within ${NGINX_RELOAD_TIMEOUT_SECONDS} s of the reload (${config.nginx.reloadCommand}), so nginx still serves the old port; the old include was put back and nginx reloaded again.${restored} See the nginx error log on the host.`, true);
            case SWITCH_EXIT.verifyFailed:
                report.rolledBack = facts.rolled_back === 'yes';
                throw new StepError('verify', `${verifyUrl} did not answer 2xx within ${config.health.timeoutSeconds} s after the switch (last answer: ${facts.verify_status === '000' ? 'no connection' : `HTTP ${facts.verify_status}`}); traffic was put back on ${change.before ?? 'the previous port'}.${restored}`, true);
        }
        throw error;
    }
}

;// CONCATENATED MODULE: ./lib/deploy/stage-mark.js
/**
 * The failure mark (see ShellSession) of the stage's steps that the start depends on: freeing the
 * idle port and the upload's check. The start may then be sent right behind them, without waiting
 * for their answers, and the host skips it if either failed.
 */
const STAGE_MARK = 'stage';

;// CONCATENATED MODULE: ./lib/deploy/maintenance-text.js

/** The Retry-After of the 503: a client or crawler that honours it comes back after a minute. */
const RETRY_AFTER_SECONDS = 60;
/** Served when maintenance-page is empty. */
const DEFAULT_MAINTENANCE_PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>Down for maintenance</title></head>' +
    '<body><h1>Down for maintenance</h1><p>We will be back in a few minutes.</p></body></html>';
/**
 * nginx reads its configuration in words of at most 4096 bytes (a longer one is "too long
 * parameter"), and the page is one word of the include, in quotes, escaped.
 */
const MAX_PAGE_WORD_BYTES = 4096;
const MAX_PAGE_BYTES = MAX_PAGE_WORD_BYTES - 2;
/**
 * The maintenance include for `port`, with `page` as the 503's body. `userHeaders`: the add_header
 * directives in force where nginx includes it, which its Retry-After would otherwise replace.
 */
function maintenanceInclude(config, deployDir, port, page, userHeaders = []) {
    return includeText({
        template: config.nginx.template,
        appName: config.appName,
        mode: { mode: 'maintenance', port, page, retryAfterSeconds: RETRY_AFTER_SECONDS },
        trafficLog: trafficLogPath(deployDir),
        userAccessLogs: [],
        userHeaders,
    });
}
/** The page's word in a maintenance include: what follows `return 503 `, quotes included, without the `;`. */
function pageWordBytes(include) {
    const at = include.lastIndexOf('\nreturn 503 "');
    return Buffer.byteLength(include.slice(at + '\nreturn 503 '.length).replace(/;$/, ''));
}
/** The lines of a maintenance include that make nginx answer 503 (see includeText), verbatim; undefined when there are none. */
function maintenanceTail(include) {
    const lines = (include ?? '').split('\n');
    // The user's own add_header directives, repeated (see includeText's userHeaders), may stand before the return.
    const at = lines.findIndex((line, i) => line === 'default_type text/html;' &&
        lines[i + 1]?.startsWith('add_header Retry-After ') &&
        lines.slice(i + 2).some((later) => later.startsWith('return 503 "')));
    return at < 0 ? undefined : lines.slice(at).join('\n');
}
/**
 * A maintenance include for another port that keeps the page and Retry-After of the one on the
 * host: `fresh` is the maintenance include for the new port (any page), `kept` the host's
 * maintenanceTail.
 */
function keepingMaintenancePage(fresh, kept) {
    const tail = maintenanceTail(fresh);
    if (tail === undefined)
        throw new Error('not a maintenance include');
    return `${fresh.slice(0, fresh.length - tail.length)}${kept}`;
}

;// CONCATENATED MODULE: ./lib/deploy/port-switch.js
/**
 * Step 9, the switch of a deploy or a rollback: points the include at `port`, where `release` runs;
 * tests, reloads, confirms the reload, verifies. On a host in maintenance the maintenance include
 * names the new port instead, with the page and Retry-After it had: nginx keeps answering 503 (so
 * a migration can run with no traffic), and the new instance serves once `command: live` runs.
 */






async function switchTraffic(run, port, release) {
    const { config, state, log, remote } = run;
    const traffic = readInclude(state.include, config.ports);
    if (traffic.mode !== 'maintenance') {
        return switchInclude(run, {
            content: renderInclude(config.nginx.template, port),
            release,
            verify: true,
            done: `nginx now sends traffic to port ${port}`,
        });
    }
    log.warning(`${remote.entry.label} is ${describeTraffic(traffic, releaseOn(state), config.ports)}. It stays in maintenance: port ${port} (release ${release ?? 'unknown'}) serves once command: live runs.`);
    const fresh = maintenanceInclude(config, state.deployDir, port, DEFAULT_MAINTENANCE_PAGE);
    const kept = maintenanceTail(state.include);
    await switchInclude(run, {
        content: kept === undefined ? fresh : keepingMaintenancePage(fresh, kept),
        release,
        // verify-url would meet the 503.
        verify: false,
        done: `nginx still answers 503 to every request (maintenance); port ${port} serves once live`,
    });
}

;// CONCATENATED MODULE: ./lib/deploy/same-service.js
/**
 * Which processes on a port of the pair are this service, so that a deploy may stop them (SPEC, step
 * 6): an instance the action started (proven on the host, see find_instance), or, on a host moving
 * from a script-based deploy, a JVM whose jar is named like the artifact but for the version. Any
 * other process (another service, a database, a typo in `ports`) is never signalled.
 */
/** A jar's name without its version and `.jar`: `shop-api-1.0.0.jar` and `shop-api-0.9.3-SNAPSHOT.jar` give `shop-api`. */
function jarStem(fileName) {
    const base = fileName.replace(/\.jar$/i, '');
    // The version starts at the first `-` or `_` followed by a digit: `shop-api-2-1.0.jar` keeps `shop-api`.
    const versioned = /^(.+?)[-_]v?\d[^/]*$/i.exec(base);
    return versioned ? versioned[1] : base;
}
/**
 * Whether a command line (its arguments joined by spaces, as the host reports it) is a JVM running a
 * jar named like `artifactFileName`: the program is `java`, and one argument is a `.jar` whose stem
 * is the artifact's.
 */
function runsJarLike(commandLine, artifactFileName) {
    const words = commandLine.trim().split(/\s+/);
    const program = words[0]?.split('/').pop() ?? '';
    if (program !== 'java')
        return false;
    const stem = jarStem(artifactFileName);
    return words.slice(1).some((word) => {
        const name = word.split('/').pop() ?? '';
        return /\.jar$/i.test(name) && !/-plain\.jar$/i.test(name) && jarStem(name) === stem;
    });
}

;// CONCATENATED MODULE: ./lib/deploy/idle-port.js
/**
 * Step 6, freeing the idle port: only a process this run starts may serve there, and only this
 * service is ever stopped to make room for it.
 */









/**
 * Step 6: stops what runs on the idle port, so that only a process this run starts can serve there.
 * What is stopped must be this service: our instance (proven on the host), or, on a host moving
 * from a script-based deploy, a JVM running a jar named like `artifactFileName` (see
 * same-service.ts), which is taken over at the cost of one more round trip. Anything else there is
 * never signalled: the step fails, naming it. `tookOver` says that the port was taken over: the
 * host then skipped a start sent right behind this step (see sendStart).
 */
async function freeIdlePort(run, port, artifactFileName) {
    const { remote, config, state } = run;
    let answer;
    try {
        answer = (await remote.run(freePortScript({
            deployDir: state.deployDir,
            port,
            stopTimeoutSeconds: config.stopTimeoutSeconds,
            unit: supervisionOf(config.supervisor, config.appName, state).existing,
        }), { step: 'stop idle', failureMark: STAGE_MARK })).answer;
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError))
            throw error;
        if (error.result.code === INSTANCE_EXIT.portBusy)
            throw portBusyError(run, port);
        if (error.result.code !== PORT_HELD_EXIT)
            throw error;
        reportIdleInstance(run, port, error.result.answer);
        const holder = holderOf(run, error.result.answer);
        if (!runsJarLike(holder.commandLine, artifactFileName)) {
            throw new StepError('stop idle', `port ${port} is held by pid ${holder.pid} (${holder.shown}), which this action did not start and which does not run ${artifactFileName} or another version of it. It was not signalled; nothing was started and nginx was not touched. Stop that process on the host, or choose other ports (the ports input, now ${config.ports.join(',')}).`);
        }
        await takeOver(run, port, holder);
        return { tookOver: true };
    }
    reportIdleInstance(run, port, answer);
    return { tookOver: false };
}
function holderOf(run, answer) {
    const commandLine = answer.facts.holder_command ?? '';
    // A JVM of an older deploy carries its -D secrets (perhaps no longer this run's) on its command line.
    const redacted = (0,secrets/* redactCommandLine */.df)(commandLine, (0,inputs/* secretsOf */.Fj)(run.config));
    const shown = redacted.length > 200 ? `${redacted.slice(0, 200)}…` : redacted;
    return { pid: answer.facts.holder_pid ?? '', startTime: answer.facts.holder_start ?? '', commandLine, shown };
}
function reportIdleInstance(run, port, { facts, lists }) {
    warnStaleRecords(run.log, lists.stale_pid, run.state);
    if (facts.unit_stopped)
        run.log.info(`Stopped and disabled ${facts.unit_stopped} on idle port ${port}.`);
    if (facts.idle_pid)
        run.log.info(`Stopped the previous instance on idle port ${port} (pid ${facts.idle_pid}${facts.killed ? ', killed after stop-timeout' : ''}).`);
}
function portBusyError(run, port, holder) {
    const who = holder?.pid ? `pid ${holder.pid} (${holder.shown})` : `a process user "${run.remote.entry.username}" cannot see or stop`;
    return new StepError('stop idle', `port ${port} is still in use by ${who} after stop-timeout. nginx was not touched. Stop it on the host, or choose other ports.`);
}
/** A JVM of a script-era deploy holds the port: it is stopped, by the pid and start time the host named. */
async function takeOver(run, port, holder) {
    const { remote, log, config } = run;
    const pid = Number(holder.pid);
    try {
        const { facts } = (await remote.run(takeOverScript({ port, pid, startTime: holder.startTime, stopTimeoutSeconds: config.stopTimeoutSeconds }), {
            step: 'stop idle',
        })).answer;
        const how = facts.taken_gone
            ? 'it had ended meanwhile'
            : `it was stopped${facts.taken_killed ? ' with SIGKILL after stop-timeout' : ''}`;
        log.warning(`Port ${port} was held by pid ${holder.pid} (${holder.shown}), a JVM of this service that this action did not start (a deploy from before it?): taken over, ${how}. From now on the action starts and tracks the service itself.`);
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError) || error.result.code !== INSTANCE_EXIT.portBusy)
            throw error;
        if (error.result.answer.facts.error === 'not_permitted') {
            throw new StepError('stop idle', `port ${port} is held by pid ${holder.pid} (${holder.shown}), a JVM of this service that this action did not start, and user "${remote.entry.username}" may not stop it. Nothing was started and nginx was not touched. Stop it on the host, or choose other ports.`);
        }
        throw portBusyError(run, port, error.result.answer.facts.holder_pid ? holderOf(run, error.result.answer) : undefined);
    }
}

;// CONCATENATED MODULE: ./lib/deploy/steps.js
/**
 * Each step of a run on one host, as a named function. The sequences in deploy.ts, rollback.ts and
 * status.ts read as the SPEC's list of steps; the shell lives in src/remote.
 */


















// The steps' callers take it from here; lock.ts takes it from step-error.js, so that lock and steps
// do not import each other.

/** Step 4 (and the first look of every command): the host's tools, releases, instances and include. */
async function inspectHost(remote, config, log, prepare, { onlyIfPreviousSucceeded = false } = {}) {
    const script = inspectScript({
        deployDir: config.deployDir,
        include: config.nginx.include,
        ports: config.ports,
        prepare,
        // A deploy (the one that prepares) frees the idle port itself; a plan or a status says what listens.
        checkListeners: !prepare,
        needJava: /^\s*(exec\s+)?java\s/.test(config.startCommand),
        appName: config.appName,
    });
    const result = await remote.run(script, { step: 'inspect', onlyIfPreviousSucceeded });
    warnStaleRecords(log, result.answer.lists.stale_pid);
    return readHostState(result.answer);
}
/**
 * Steps 3 and 4 for the commands that change the host: the lock, then a look at the host under it.
 * Inspect is sent right behind the lock script and runs only once the lock is held, so the second
 * costs no round trip of its own. On failure nothing is held.
 */
async function lockAndInspect(remote, config, report, log) {
    const locking = timed(report, 'lock', () => takeLock(remote, config, log));
    const inspecting = inspectHost(remote, config, log, true, { onlyIfPreviousSucceeded: true });
    inspecting.catch(() => undefined);
    const lock = await locking;
    try {
        const state = await timed(report, 'inspect', () => inspecting);
        if (config.command === 'deploy')
            refuseDeploy(state, config, remote.entry.label);
        return { lock, state };
    }
    catch (error) {
        await lock.release();
        throw error;
    }
}
/**
 * A command that changes the host (rollback, promote, maintenance, live), run under the host's
 * lock from the inspection on; the lock is let go whatever happens.
 */
async function underLock(remote, config, report, log, command) {
    const { lock, state } = await lockAndInspect(remote, config, report, log);
    try {
        await command({ config, remote, log, report, state });
    }
    finally {
        await lock.release();
    }
}
/** Refuses, before anything is stopped or switched, a host that lacks what the deploy needs. */
function checkHostReady(state, remote, artifact) {
    const user = remote.entry.username;
    if (state.http === 'none') {
        throw new StepError('inspect', 'the host has neither curl nor wget, and the health check needs one. Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").');
    }
    if (state.javaFound === false) {
        throw new StepError('inspect', `"java" is not on the PATH of user "${user}" on the host, and start-command runs java. Install a JRE, or set start-command to the full path of java.`);
    }
    if (state.writable === false) {
        throw new StepError('inspect', `deploy-dir "${state.deployDir}" is not writable by user "${user}". Give that user write access, or choose another deploy-dir.`);
    }
    const reused = artifact && state.releases.some((r) => r.sha256 === artifact.sha256);
    if (artifact && !reused && state.freeBytes !== undefined && state.freeBytes < artifact.size + 16 * 1024 * 1024) {
        const mb = (bytes) => `${Math.round(bytes / 1024 / 1024)} MB`;
        throw new StepError('inspect', `not enough disk space in deploy-dir "${state.deployDir}": ${mb(state.freeBytes)} free, the artifact needs ${mb(artifact.size)} plus 16 MB of room. Free some space or lower keep-releases.`);
    }
}
/**
 * Refuses, before anything is stopped, a host where `supervisor: systemd` cannot work; warns when
 * `auto` has to start the service detached.
 */
function checkSupervision(run) {
    const supervision = supervisionOf(run.config.supervisor, run.config.appName, run.state);
    if (supervision.refusal)
        throw new StepError('inspect', supervision.refusal);
    if (supervision.warning)
        run.log.warning(supervision.warning);
}
function supervision(run) {
    return supervisionOf(run.config.supervisor, run.config.appName, run.state);
}
/** A small jar's base64 text, read once a run however many hosts it goes to. */
const inlineTexts = new WeakMap();
function inlineText(artifact) {
    let text = inlineTexts.get(artifact);
    if (!text) {
        text = (0,promises_.readFile)(artifact.path).then((bytes) => bytes.toString('base64'));
        inlineTexts.set(artifact, text);
    }
    return text;
}
/**
 * Step 5: puts the artifact in a release directory, or reuses a release with the same sha256.
 * `onChecking` is called with the release's name as soon as the script that checks it is sent.
 */
async function uploadRelease(run, artifact, onChecking) {
    const { remote, state, log, config } = run;
    const existing = state.releases.find((r) => r.sha256 === artifact.sha256 && r.fileName === artifact.fileName);
    const release = existing?.name ?? releaseName(artifact.sha256, new Date());
    // Only the chunks the kept releases lack, when that pays; the whole jar otherwise, or if the delta fails.
    const delta = existing
        ? {}
        : await uploadByDelta({ remote, log, deployDir: state.deployDir, release, artifact, releases: state.releases, inline: state.base64 });
    const manifestText = delta.manifestText;
    // A small jar sent whole travels inside the finalize script, as a small delta does inside its own.
    const inlineBase64 = !existing && delta.sentBytes === undefined && state.base64 && artifact.size <= INLINE_UPLOAD_MAX_BYTES
        ? await inlineText(artifact)
        : undefined;
    if (existing) {
        log.info(`Release ${release} already holds this artifact (sha256 ${artifact.sha256.slice(0, 12)}); nothing to upload.`);
    }
    else if (inlineBase64 !== undefined) {
        log.info(describeSent(artifact.size, artifact.size, 'the whole jar, inside the script that checks it'));
    }
    else if (delta.sentBytes === undefined) {
        const target = `${partialDir(state.deployDir, release)}/${artifact.fileName}`;
        await remote.makeDirectory(partialDir(state.deployDir, release));
        let reported = 0;
        await remote.upload(artifact.path, target, (sent, total) => {
            if (sent - reported >= 8 * 1024 * 1024 || sent === total) {
                reported = sent;
                log.info(`uploaded ${Math.round(sent / 1024)} of ${Math.round(total / 1024)} KiB`);
            }
        });
        log.info(describeSent(artifact.size, artifact.size, 'the whole jar'));
    }
    const checking = remote.run(finalizeReleaseScript({
        deployDir: state.deployDir,
        release,
        fileName: artifact.fileName,
        sha256: artifact.sha256,
        uploaded: !existing,
        envText: envFileText(config.env, quote/* shellQuote */.ZL),
        manifestText,
        inlineBase64,
    }), { step: 'upload', failureMark: STAGE_MARK });
    onChecking?.(release);
    try {
        await checking;
    }
    catch (error) {
        if (error instanceof RemoteCommandError && error.result.answer.facts.error === 'sha256_mismatch') {
            throw new StepError('upload', `the uploaded file's sha256 on the host (${error.result.answer.facts.remote_sha256}) differs from the artifact's (${artifact.sha256}); the partial upload was removed. Run the deploy again.`);
        }
        throw error;
    }
    // Counted as it crossed the wire, the chunk list (sent with the finalize script) included.
    const fullBytes = (inlineBase64?.length ?? artifact.size) + Buffer.byteLength(manifestText ?? '');
    return { release, uploadedBytes: existing ? 0 : (delta.sentBytes ?? fullBytes) };
}
/**
 * Sends steps 7 and 8 (start the release on the port, wait until it is healthy) to the host. Sent
 * `pipelined`, before the answers of freeing the port and of the upload's check came back, the host
 * skips it if either failed there; sent after both answers, it always runs, as after a takeover
 * (whose first script did fail on the host). Its answer is read by `startAndCheckHealth`.
 */
function sendStart(run, port, release, fileName, { pipelined = false } = {}) {
    const { remote, config, state } = run;
    return remote.run(startScript({
        deployDir: state.deployDir,
        port,
        release,
        fileName,
        appName: config.appName,
        javaOpts: config.javaOpts,
        startCommand: config.startCommand,
        healthUrl: `http://127.0.0.1:${port}${config.health.path}`,
        healthExpect: config.health.expect,
        healthTimeoutSeconds: config.health.timeoutSeconds,
        healthIntervalSeconds: config.health.intervalSeconds,
        stopTimeoutSeconds: config.stopTimeoutSeconds,
        startedAt: new Date(),
        unit: supervision(run).start,
    }), { step: 'start', skipIfFailed: pipelined ? STAGE_MARK : undefined });
}
/** Steps 7 and 8: starts the release on the port, detached (unless `sent` already did), and waits until it is healthy. */
async function startAndCheckHealth(run, port, release, fileName, sent) {
    const { config, state } = run;
    const healthUrl = `http://127.0.0.1:${port}${config.health.path}`;
    const unit = supervision(run).start;
    try {
        const result = await (sent ?? sendStart(run, port, release, fileName));
        const { facts } = result.answer;
        run.log.info(`Release ${release} is healthy on port ${port} (pid ${facts.pid}${facts.unit ? `, systemd unit ${facts.unit}, enabled` : ''}).`);
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError))
            throw error;
        const { facts, sections } = error.result.answer;
        const tail = sections.log ? `\nLast lines of ${state.deployDir}/logs/${port}.log:\n${sections.log}` : '';
        if (unit && (facts.health === 'unit_start' || facts.health === 'unit_setup')) {
            const output = (error.result.answer.lists.unit_error ?? []).join('\n');
            const what = facts.health === 'unit_setup' ? 'write the launcher, settings or unit file for' : 'enable and start';
            throw new StepError('start', `could not ${what} systemd unit ${unitName(config.appName, port)} (release ${release}); nothing was switched and nginx still serves the old version. Set supervisor: none to start it detached instead.${output ? `\n${output}` : ''}`);
        }
        if (error.result.code === INSTANCE_EXIT.exited) {
            throw new StepError('start', `release ${release} exited on port ${port} before it answered its health check; it never received traffic and nginx still serves the old version.${tail}`);
        }
        if (error.result.code === INSTANCE_EXIT.notOurs) {
            const holder = facts.holder_pid ? ` (pid ${facts.holder_pid}${facts.holder_program ? `, ${facts.holder_program}` : ''})` : '';
            throw new StepError('health check', `${healthUrl} answered 2xx, but a process not started by this run holds port ${port}${holder}; release ${release} (pid ${facts.pid}) does not listen there. nginx was not pointed at it: the new instance was stopped and nginx still serves the old version. Find what starts that process on the host (an old service with Restart=always?), stop it, and deploy again.${tail}`);
        }
        if (error.result.code === INSTANCE_EXIT.unhealthy) {
            const expect = config.health.expect ? ` containing "${config.health.expect}"` : '';
            throw new StepError('health check', `${healthUrl} did not answer 2xx${expect} within health-timeout (${config.health.timeoutSeconds} s); last answer: ${facts.last_status === '000' ? 'no connection' : `HTTP ${facts.last_status}`}. The new instance was stopped; nginx still serves the old version.${tail}`);
        }
        throw error;
    }
}
// Step 9, with what maintenance changes about it.


/**
 * A switch returns once nginx runs its new workers; the old ones may take new connections for
 * nginx's 100 ms hand-over more. Anything that stops the port they served, runs the user's
 * post-switch check, or lets go of the host first waits for them here.
 */
async function awaitNginxHandover(run) {
    const oldWorkers = run.nginxOldWorkers;
    if (!oldWorkers)
        return;
    run.nginxOldWorkers = undefined;
    const result = await run.remote.run(handoverScript(oldWorkers, NGINX_RELOAD_TIMEOUT_SECONDS), { step: 'switch' });
    if (result.answer.facts.handover === 'late')
        run.log.warning(`nginx's old workers (pids ${oldWorkers}) still took new connections ${NGINX_RELOAD_TIMEOUT_SECONDS} s after the reload.`);
}
/** Stops the instance on `port` (after draining when asked); used for stop-previous and for cleanup after a failure. */
async function stopInstance(run, port, drainSeconds) {
    const { remote, config, state, log } = run;
    await awaitNginxHandover(run);
    const result = await remote.run(stopScript({
        deployDir: state.deployDir,
        port,
        drainSeconds,
        stopTimeoutSeconds: config.stopTimeoutSeconds,
        unit: supervision(run).existing,
    }), { step: 'stop' });
    warnStaleRecords(log, result.answer.lists.stale_pid, state);
}
/** Step 11: removes releases beyond keep-releases, never one that runs, nor the rollback target. */
async function pruneReleases(run, current, running) {
    const { remote, config, state } = run;
    const known = state.releases.some((r) => r.name === current)
        ? state.releases
        : [...state.releases, { name: current, sha256: '', fileName: '' }];
    const doomed = releasesToPrune(known, config.keepReleases, running, current);
    if (doomed.length === 0)
        return [];
    const result = await remote.run(pruneScript({ deployDir: state.deployDir, releases: doomed }), { step: 'cleanup' });
    return result.answer.lists.pruned ?? [];
}
/** Whether the instance on `port` answers its health check right now. */
async function answersHealth(run, port) {
    return (await timed(run.report, 'probe', () => probeHealth(run, [port]))).get(port) === true;
}
/** One health probe of each port, for status and rollback. */
async function probeHealth(run, ports) {
    const { remote, config } = run;
    const result = await remote.run(probeScript({ ports, healthPath: config.health.path, healthExpect: config.health.expect }), {
        step: 'probe',
    });
    const health = new Map();
    for (const line of result.answer.lists.probe ?? []) {
        const [port, , verdict] = line.split(' ');
        health.set(Number(port), verdict === 'ok');
    }
    return health;
}

;// CONCATENATED MODULE: ./lib/deploy/hooks.js
/** The user's own steps at fixed points of a deploy: pre-start, pre-switch and post-switch. */




/** The hook's command line from the config ('' when the user set none). */
function hookCommand(config, name) {
    return config.hooks[name];
}
/** A hook failed or ran too long. `leaves` says what the run left on the host, once it is known. */
class HookError extends StepError {
    detail;
    tail;
    constructor(step, detail, tail) {
        super(step, `${detail}${tail}`);
        this.detail = detail;
        this.tail = tail;
        this.name = 'HookError';
    }
    /** The same failure, saying what the run did about it (before the hook's output). */
    leaving(outcome) {
        return new HookError(this.step, `${this.detail} ${outcome}`, this.tail);
    }
}
/** Masks every secret of the run in a line of a hook's output, as the runner would. */
function maskLine(line, secrets) {
    let masked = line;
    for (const secret of secrets)
        if (secret.length >= 3)
            masked = masked.split(secret).join('***');
    return masked;
}
/**
 * Runs a hook on the host if the user set one, streaming its output into the job log as it comes,
 * every secret masked. Throws a HookError naming the hook, its exit status and its last lines when
 * it fails or runs past hook-timeout (then ended with all its children).
 */
async function runHook(run, point) {
    const { config, remote, log, state } = run;
    const secrets = (0,inputs/* secretsOf */.Fj)(config);
    const command = hookCommand(config, point.name);
    if (command === '')
        return;
    const step = `${point.name}-command`;
    await log.group(`Run ${step} (${point.name === 'pre-start' ? 'before the start' : point.name === 'pre-switch' ? 'before the switch' : 'after the switch'})`, async () => {
        let pending = '';
        const relay = (text) => {
            pending += text;
            const lines = pending.split('\n');
            pending = lines.pop() ?? '';
            for (const line of lines) {
                if (line.startsWith(HOOK_LINE_PREFIX))
                    log.info(maskLine(line.slice(HOOK_LINE_PREFIX.length), secrets));
            }
        };
        try {
            const result = await remote.run(hookScript({
                deployDir: state.deployDir,
                release: point.release,
                fileName: point.fileName,
                appName: config.appName,
                javaOpts: config.javaOpts,
                name: point.name,
                command,
                port: point.port,
                previousPort: point.previousPort,
                runCommand: config.command,
                timeoutSeconds: config.hookTimeoutSeconds,
            }), { step, onStdout: relay });
            relay('\n');
            log.info(`${step} succeeded (exit ${result.answer.facts.hook_status ?? 0}).`);
        }
        catch (error) {
            relay('\n');
            if (!(error instanceof RemoteCommandError))
                throw error;
            const { facts, sections } = error.result.answer;
            const tail = sections.hook_tail ? `\nLast lines it printed:\n${maskLine(sections.hook_tail, secrets)}` : '';
            if (error.result.code === HOOK_EXIT.timedOut) {
                throw new HookError(step, `did not finish within hook-timeout (${config.hookTimeoutSeconds} s) and was ended with every process it started.`, tail);
            }
            if (error.result.code === HOOK_EXIT.failed) {
                throw new HookError(step, `failed with exit status ${facts.hook_status ?? 'unknown'}.`, tail);
            }
            throw error;
        }
    });
}
/**
 * The post-switch hook, for a run that has just switched to `point.port`. If it fails, traffic goes
 * back to `previous` (whose instance is still warm: stop-previous comes later) and the new instance
 * is stopped after drain-seconds; the error says so. Without a previous port there is nothing to go
 * back to, and the error says that the new release still serves.
 */
async function runPostSwitchHook(run, point, previous, 
/** stop: for an instance this run started; absent, the instance stays warm as it was before. */
moves) {
    try {
        // The hook may check the public URL: every new request must reach the new port by then.
        if (hookCommand(run.config, point.name) !== '')
            await awaitNginxHandover(run);
        await runHook(run, point);
    }
    catch (error) {
        if (!(error instanceof HookError))
            throw error;
        if (previous.port === undefined) {
            throw error.leaving(`There was no previous port to go back to, so port ${point.port} (release ${point.release}) still serves.`);
        }
        run.log.warning(`post-switch-command failed: switching traffic back to port ${previous.port}.`);
        try {
            await moves.switchTo(previous.port, previous.release);
        }
        catch (back) {
            throw error.leaving(`Switching back to port ${previous.port} failed too (${back.message}); port ${point.port} still serves.`);
        }
        run.report.rolledBack = true;
        run.report.activePort = previous.port;
        run.report.release = previous.release;
        await moves.stop?.(point.port).catch(() => undefined);
        const left = moves.stop ? `the new instance on port ${point.port} was stopped` : `port ${point.port} stays warm as before`;
        throw error.leaving(`Traffic went back to port ${previous.port} (release ${previous.release ?? 'unknown'}), and ${left}.`);
    }
}

;// CONCATENATED MODULE: ./lib/remote/preflight.js
/**
 * dry-run's look at what a deploy will need, in one round trip that changes nothing: one fact per
 * check (src/deploy/preflight.ts turns them into the checklist). Nothing here writes, creates or
 * reloads: the include's write and the reload are asked of sudo with `sudo -n -l`, which runs nothing.
 */



function preflightScript(p) {
    return (0,quote/* shellScript */.ky)({
        DEPLOY_DIR: p.deployDir,
        INCLUDE: p.include,
        PORT_A: p.ports[0],
        PORT_B: p.ports[1],
        START_PROGRAM: p.startProgram,
        TEST_COMMAND: p.testCommand,
        TEST_COMMAND_ROOT: p.testCommandAsRoot,
        TEST_SUDO: p.testSudoArgs,
        RELOAD_SUDO: p.reloadSudoArgs,
        RELOAD_PROGRAM: p.reloadProgram,
        RELOAD_PROGRAM_ROOT: p.reloadProgramAsRoot,
    }, `${SHELL_LIB}\n${PREFLIGHT_SH}`);
}

;// CONCATENATED MODULE: ./lib/deploy/preflight-facts.js

function readPreflightFacts(answer) {
    const { facts, lists, sections } = answer;
    const sudo = (name) => {
        const verdict = facts[`${name}_sudo`];
        return verdict ? { verdict: verdict, words: lists[`${name}_word`] ?? [] } : undefined;
    };
    const commands = new Map((lists.port_command ?? []).map((line) => {
        const at = line.indexOf(' ');
        return [Number(line.slice(0, at)), line.slice(at + 1)];
    }));
    return {
        deployDir: facts.deploy_dir ?? '',
        deployDirKind: (facts.deploy_dir_kind ?? 'absent'),
        deployDirBlocked: facts.deploy_dir_blocked || undefined,
        parent: facts.deploy_dir_parent,
        parentKind: facts.deploy_dir_parent_kind,
        freeBytes: /^\d+$/.test(facts.free_kb ?? '') ? Number(facts.free_kb) * 1024 : undefined,
        http: (facts.http ?? 'none'),
        startProgramPath: facts.start_path,
        include: {
            dirExists: facts.include_dir === 'yes',
            exists: facts.include === 'present',
            readable: facts.include_readable === 'yes',
            write: facts.include_write === 'user' ? 'user' : 'sudo',
            tee: sudo('tee'),
        },
        test: { ok: facts.test === 'ok', output: sections.test_output ?? '', sudo: sudo('test') },
        reload: { sudo: sudo('reload'), programPath: facts.reload_path },
        ports: (lists.port ?? []).map((line) => {
            const [port, holder] = line.split(' ');
            const pid = /^\d+$/.test(holder ?? '') ? Number(holder) : undefined;
            return { port: Number(port), listening: holder !== 'free', pid, command: commands.get(Number(port)) };
        }),
    };
}
/** Words a command line may start with before its program. */
const PREFIXES = new Set(['exec', 'nohup', 'env', 'command']);
/** Shell words that are no program: a command line that starts with one is not looked into. */
const preflight_facts_SHELL_WORDS = new Set(['cd', '.', 'source', 'eval', 'set', 'export', 'if', 'for', 'while', 'until', 'case', '{', '!', ':', 'true']);
/** A command line that is more than one simple command: nothing in it can be asked of sudo alone. */
const compound = (command) => /[;&|<>`\n()]|\$\(/.test(command);
/**
 * The program a simple command line runs, when it can be told from the text: not for a compound
 * command, a word with quotes or expansions, or (`relative: false`) a path relative to another directory.
 */
function programOf(command, { relative = true } = {}) {
    if (compound(command))
        return undefined;
    const words = command.trim().split(/\s+/);
    let i = 0;
    while (i < words.length && (PREFIXES.has(words[i]) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])))
        i++;
    const word = words[i];
    if (!word || preflight_facts_SHELL_WORDS.has(word) || /["'$\\*?[\]{}~]/.test(word))
        return undefined;
    if (!relative && word.includes('/') && !word.startsWith('/'))
        return undefined;
    return word;
}
/** For `sudo [-n] <simple command>`: the words after sudo, as shell text. */
function sudoArgsOf(command) {
    if (compound(command))
        return undefined;
    const match = /^\s*sudo\s+(?:-n\s+)?([^-\s].*)$/s.exec(command);
    return match ? match[1].trim() : undefined;
}
/** The preflight script's parameters for this configuration. */
function preflightParams(config) {
    const { testCommand, reloadCommand } = config.nginx;
    const reloadAsRoot = withoutSudoForRoot(reloadCommand, true);
    const reloadSudo = sudoArgsOf(reloadCommand);
    return {
        deployDir: config.deployDir,
        include: config.nginx.include,
        ports: config.ports,
        startProgram: programOf(config.startCommand, { relative: false }) ?? '',
        testCommand,
        testCommandAsRoot: withoutSudoForRoot(testCommand, true),
        testSudoArgs: sudoArgsOf(testCommand) ?? '',
        reloadSudoArgs: reloadSudo ?? '',
        reloadProgram: reloadSudo === undefined ? (programOf(reloadCommand) ?? '') : '',
        reloadProgramAsRoot: sudoArgsOf(reloadAsRoot) === undefined ? (programOf(reloadAsRoot) ?? '') : '',
    };
}

;// CONCATENATED MODULE: ./lib/deploy/preflight.js




/** A path in a shell command the user copies: quoted only when it needs to be. */
const word = (text) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(text) ? text : (0,quote/* shellQuote */.ZL)(text));
/** A word in a sudoers rule: sudoers' own special characters escaped. */
const sudoersWord = (text) => text.replace(/[\\,:=]/g, (c) => `\\${c}`);
const SUDOERS_FILE = '/etc/sudoers.d/zero-downtime-deploy';
/** The fix for a command sudo does not allow: the rule to add, in the file the README names. */
function sudoersFix(user, answer, orElse = '') {
    const line = `${user} ALL=(root) NOPASSWD: ${answer.words.map(sudoersWord).join(' ')}`;
    const install = answer.verdict === 'missing' ? 'Install sudo, then add' : 'Add';
    return `${install} this line to ${SUDOERS_FILE} (with "sudo visudo -f ${SUDOERS_FILE}"): "${line}"${orElse}.`;
}
/** Where a program was found on the PATH, unless it was named by its path. */
const found = (program, path) => (program === path ? `${program} exists` : `${program} is ${path}`);
const mb = (bytes) => `${Math.round(bytes / 1024 / 1024)} MB`;
/** Room a new release needs beyond its own size, as the deploy asks (checkHostReady). */
const SPARE_BYTES = 16 * 1024 * 1024;
const ok = (check, note) => ({ check, ok: true, note });
const problem = (check, text, fix) => ({ check, ok: false, problem: text, fix });
function preflightChecks(facts, context) {
    return [
        context.config.insecureSkip ? ok('host key', 'not checked: insecure-skip-host-key-check is true') : ok('host key', 'matches the pin'),
        deployDirCheck(facts, context),
        diskCheck(facts, context),
        startProgramCheck(facts, context),
        facts.http === 'none'
            ? problem('curl or wget', 'the host has neither curl nor wget, and the health check needs one.', 'Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").')
            : ok('curl or wget', `${facts.http} is on the PATH`),
        includeReadCheck(facts, context),
        includeWriteCheck(facts, context),
        testCheck(facts, context),
        reloadCheck(facts, context),
        supervisorCheck(context),
        ...context.config.ports.map((port) => portCheck(port, facts, context)),
    ];
}
function deployDirCheck(facts, { user, config }) {
    const dir = facts.deployDir;
    const elsewhere = `or choose another deploy-dir (the default is apps/${config.appName} under the user's home)`;
    if (facts.deployDirKind === 'dir') {
        if (!facts.deployDirBlocked)
            return ok('deploy-dir', `${dir} is writable`);
        return problem('deploy-dir', `${facts.deployDirBlocked} is not a directory that user "${user}" can write.`, `Run "sudo chown -R ${user}: ${word(dir)}" on the host, ${elsewhere}.`);
    }
    if (facts.deployDirKind === 'other') {
        return problem('deploy-dir', `deploy-dir "${dir}" exists but is not a directory.`, `Remove that file, ${elsewhere}.`);
    }
    const parent = facts.parent ?? '/';
    if (facts.parentKind === 'writable')
        return ok('deploy-dir', `${dir} does not exist yet; the deploy creates it in ${parent}`);
    if (facts.parentKind === 'other') {
        return problem('deploy-dir', `deploy-dir "${dir}" cannot be created: ${parent} is a file, not a directory.`, `Choose another deploy-dir (the default is apps/${config.appName} under the user's home).`);
    }
    return problem('deploy-dir', `deploy-dir "${dir}" cannot be created by user "${user}": ${parent} is not writable by that user.`, `Run "sudo mkdir -p ${word(dir)} && sudo chown ${user}: ${word(dir)}" on the host, ${elsewhere}.`);
}
function diskCheck(facts, { artifact, reused }) {
    if (reused)
        return ok('disk space', 'a release on the host holds this artifact already: nothing to upload');
    if (facts.freeBytes === undefined)
        return ok('disk space', 'not checked: no existing directory of deploy-dir to measure');
    const needed = artifact.size + SPARE_BYTES;
    if (facts.freeBytes >= needed)
        return ok('disk space', `${mb(facts.freeBytes)} free, ${mb(needed)} needed`);
    return problem('disk space', `not enough disk space for deploy-dir "${facts.deployDir}": ${mb(facts.freeBytes)} free, the artifact needs ${mb(artifact.size)} plus 16 MB of room.`, 'Free some space on the host, lower keep-releases, or choose a deploy-dir on a larger disk.');
}
function startProgramCheck(facts, { user, config }) {
    const program = programOf(config.startCommand, { relative: false });
    if (!program || facts.startProgramPath === undefined)
        return ok('start command', 'not checked: start-command does not start with a program name');
    if (facts.startProgramPath)
        return ok('start command', found(program, facts.startProgramPath));
    return problem('start command', `"${program}" is not on the PATH of user "${user}" on the host, and start-command runs it.`, program === 'java'
        ? 'Install a JRE (e.g. "apt-get install openjdk-17-jre-headless"), or set start-command to the full path of java.'
        : `Install it, or set start-command to its full path.`);
}
function includeReadCheck({ include }, { user, config }) {
    const path = config.nginx.include;
    if (!include.exists)
        return ok('include readable', `${path} does not exist yet: nothing to keep`);
    if (include.readable)
        return ok('include readable', `user "${user}" can read ${path}`);
    return problem('include readable', `user "${user}" cannot read ${path}; the switch keeps its text to put it back if nginx rejects the new one.`, `Make it readable by that user, e.g. "sudo chmod 644 ${word(path)}".`);
}
function includeWriteCheck({ include }, { user, config }) {
    const path = config.nginx.include;
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.';
    if (!include.dirExists) {
        const text = renderInclude(config.nginx.template, config.ports[0]);
        return problem('include writable', `the directory of nginx-include (${dir}) does not exist, so ${path} cannot be written.`, `Set nginx-include to the file your nginx configuration includes, or create it: "sudo mkdir -p ${word(dir)}" and "echo ${(0,quote/* shellQuote */.ZL)(text)} | sudo tee ${word(path)}".`);
    }
    if (include.write === 'user')
        return ok('include writable', `user "${user}" can write ${include.exists ? path : `${path} (created by the first switch)`}`);
    const tee = include.tee ?? { verdict: 'refused', words: ['/usr/bin/tee', path] };
    if (tee.verdict === 'allowed')
        return ok('include writable', `sudo allows "tee ${path}"`);
    return problem('include writable', `user "${user}" cannot write ${path} nor its directory, and sudo does not allow "sudo -n tee ${path}"${tee.verdict === 'missing' ? ' (sudo is not installed)' : ''}.`, sudoersFix(user, tee, `, or make ${word(dir)} writable by that user`));
}
/** The last lines of a command's output, on one line. */
const lastLines = (output) => output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-3)
    .join(' ');
function testCheck({ test }, { user, isRoot, config }) {
    const command = withoutSudoForRoot(config.nginx.testCommand, isRoot);
    if (test.ok)
        return ok('nginx test', `"${command}" passed`);
    const refused = /^sudo: a password is required|is not allowed to execute|may not run sudo/m.test(test.output);
    if (test.sudo && test.sudo.verdict !== 'allowed' && (refused || test.sudo.verdict === 'missing')) {
        return problem('nginx test', `sudo does not allow user "${user}" to run "${test.sudo.words.join(' ')}" (nginx-test-command) without a password.`, sudoersFix(user, test.sudo));
    }
    const said = lastLines(test.output);
    const failed = `nginx-test-command ("${command}") failed${said ? `: ${said}` : ''}`;
    const missing = /open\(\) "([^"]+)" failed \(2: No such file or directory\)/.exec(test.output)?.[1];
    if (missing && missing === config.nginx.include) {
        const text = renderInclude(config.nginx.template, config.ports[0]);
        return problem('nginx test', `${failed}.`, `Create the include once: "echo ${(0,quote/* shellQuote */.ZL)(text)} | sudo tee ${word(missing)}".`);
    }
    if (missing) {
        return problem('nginx test', `${failed}.`, `${missing} does not exist: set nginx-test-command and nginx-reload-command to the configuration nginx runs with (its master's command line shows it: "ps -o args= -C nginx"), or create ${missing}.`);
    }
    return problem('nginx test', `${failed}.`, `Run "${command}" on the host as user "${user}" and fix what it reports, or set nginx-test-command to the command that tests the configuration nginx runs with.`);
}
function reloadCheck({ reload }, { user, isRoot, config }) {
    const command = withoutSudoForRoot(config.nginx.reloadCommand, isRoot);
    const notRun = 'not run: a dry run does not reload';
    if (reload.sudo) {
        const rule = reload.sudo.words.join(' ');
        if (reload.sudo.verdict === 'allowed')
            return ok('nginx reload', `sudo allows "${rule}" (${notRun})`);
        return problem('nginx reload', `sudo does not allow user "${user}" to run "${rule}" (nginx-reload-command) without a password${reload.sudo.verdict === 'missing' ? ' (sudo is not installed)' : ''}, so the switch could not reload nginx.`, sudoersFix(user, reload.sudo));
    }
    const program = programOf(command);
    if (reload.programPath === undefined || !program)
        return ok('nginx reload', `not checked: "${command}" is not one simple command (${notRun})`);
    if (reload.programPath)
        return ok('nginx reload', `${found(program, reload.programPath)} (${notRun})`);
    return problem('nginx reload', `"${program}" (nginx-reload-command) is not on the PATH of user "${user}" on the host.`, 'Install it, or give its full path in nginx-reload-command.');
}
function supervisorCheck({ config, user, isRoot, systemd, linger }) {
    const linging = `sudo loginctl enable-linger ${user}`;
    if (config.supervisor === 'none')
        return ok('supervisor', 'none: instances start detached');
    if (!systemd) {
        if (config.supervisor === 'auto')
            return ok('supervisor', 'auto: the host does not run systemd, so instances start detached');
        return problem('supervisor', 'supervisor is "systemd", but the host does not run systemd (/run/systemd/system is absent).', 'Set supervisor to auto or none to start the service detached, or deploy to a host that runs systemd.');
    }
    if (!isRoot && !linger) {
        if (config.supervisor === 'auto')
            return ok('supervisor', `auto: user "${user}" has no lingering, so instances start detached (run "${linging}" to have systemd run them)`);
        return problem('supervisor', `supervisor is "systemd", but user "${user}" is not root and lingering is not enabled for it: its units would stop at logout and not start at boot.`, `Run "${linging}" on the host, or set supervisor to auto or none.`);
    }
    return ok('supervisor', `systemd (${isRoot ? 'system' : 'user'} units)`);
}
function portCheck(port, facts, context) {
    const check = `port ${port}`;
    const served = context.active === port ? ', which nginx serves,' : '';
    const ours = context.ours.find((instance) => instance.port === port);
    if (ours)
        return ok(check, `our instance (pid ${ours.pid ?? '?'}, release ${ours.release ?? 'unknown'})`);
    const holder = facts.ports.find((p) => p.port === port);
    if (!holder?.listening)
        return ok(check, 'free');
    const fix = 'Stop it on the host, or choose other ports (input ports).';
    if (holder.pid === undefined) {
        return problem(check, `port ${port}${served} is held by a process that user "${context.user}" cannot see, and a deploy would refuse to stop it.`, fix);
    }
    const command = context.redact(holder.command ?? '').trim();
    if (runsJarLike(holder.command ?? '', context.artifact.fileName)) {
        return ok(check, `pid ${holder.pid} (${command}) runs a jar named like ${context.artifact.fileName}: a deploy takes it over`);
    }
    return problem(check, `port ${port}${served} is held by pid ${holder.pid} (${command}), which is not this service: a deploy would refuse to stop it.`, fix);
}
/** The checklist as the log shows it. */
function checklistText(checks) {
    return checks
        .map((c) => (c.ok ? `  [x] ${c.check}: ${c.note ?? 'ok'}` : `  [ ] ${c.check}: ${c.problem}\n        Fix: ${c.fix}`))
        .join('\n');
}
/** Every problem, one a line, each with its fix: the dry run's error. */
function problemsText(checks) {
    const failed = checks.filter((c) => !c.ok);
    const count = failed.length === 1 ? '1 problem' : `${failed.length} problems`;
    return `${count} found; a deploy would fail. Nothing was changed.\n${failed.map((c) => `- ${c.check}: ${c.problem} Fix: ${c.fix}`).join('\n')}`;
}
/** A fleet's checks as a text table, check by check and host by host, for the log. */
function fleetChecklistText(hosts) {
    const names = [...new Set(hosts.flatMap((h) => (h.checks ?? []).map((c) => c.check)))];
    const cell = (h, name) => {
        const found = h.checks?.find((c) => c.check === name);
        return found ? (found.ok ? 'ok' : 'FAIL') : '-';
    };
    const rows = [['check', ...hosts.map((h) => h.host)], ...names.map((name) => [name, ...hosts.map((h) => cell(h, name))])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    return rows
        .map((row) => row
        .map((text, i) => text.padEnd(widths[i]))
        .join('  ')
        .trimEnd())
        .join('\n');
}

;// CONCATENATED MODULE: ./lib/deploy/nginx-dump.js
/**
 * What `nginx -T` tells about the places traffic control writes to: whether nginx reads the
 * http-level file inside `http`, and which of the user's access_log directives are in force where
 * the include is included (an observing include repeats them, since an access_log of its own
 * replaces every inherited one). See docs/nginx-traffic.md.
 */
/** The test command with its -t made -T; undefined when the command has no `-t` word. */
function dumpCommand(testCommand) {
    const words = testCommand.split(/(\s+)/);
    const at = words.indexOf('-t');
    if (at < 0)
        return undefined;
    words[at] = '-T';
    return words.join('');
}
/**
 * What to tell a user whose nginx does not read the http-level file inside http, where `why` says
 * what the run asked for: the problem, and its fix. The file must exist before nginx.conf names it
 * (an include of a missing file fails nginx -t), and come before the server blocks, whose include
 * uses its log format.
 */
function httpFileMissing(httpFile, why) {
    return {
        problem: `nginx does not read ${httpFile} (nginx-http-include) inside its http block, and ${why}: that file holds the split of the clients and the log format.`,
        fix: `Add "include ${httpFile};" inside the http block of nginx's configuration, above the server blocks (or a glob there that matches it), ` +
            `after creating the file, empty ("sudo touch ${httpFile}": nginx -t fails on an include of a missing file); ` +
            `or set nginx-http-include to a file that nginx's http block already reads (such as one matched by its "include /etc/nginx/conf.d/*.conf;").`,
    };
}
/** nginx's access log where no level of the configuration names one, as nginx is built by default. */
const COMPILED_ACCESS_LOG = 'logs/access.log';
function readNginxDump(dump, p) {
    const files = splitDump(dump);
    const main = files.keys().next().value;
    if (main === undefined)
        return { httpFileIncluded: false, accessLogs: [], problems: ['nginx -T printed no configuration file'], addHeaders: [] };
    const prefix = main.slice(0, main.lastIndexOf('/') + 1);
    const parsed = new Map();
    const problems = [];
    // A file this reader cannot follow (a module's own syntax, such as a Lua block) is left out: it
    // matters only if it holds the include, which is then said to be missing, with the reason.
    const unread = [];
    for (const [path, text] of files) {
        try {
            parsed.set(path, parse(text, path));
        }
        catch (error) {
            unread.push(`${path}: ${error.message}`);
            parsed.set(path, []);
        }
    }
    const root = expand(parsed.get(main), main, { files: [...files.keys()], parsed, prefix }, 0);
    const includeSites = [];
    let httpFileAt;
    let firstIncludeAt;
    let at = 0;
    visit(root, [], (node, chain) => {
        at++;
        if (node.name !== 'include' || node.args.length !== 1)
            return;
        const pattern = absolute(node.args[0].value, prefix);
        const innermost = chain[chain.length - 1];
        if (matches(pattern, p.httpFile) && innermost?.name === 'http')
            httpFileAt ??= at;
        if (matches(pattern, p.include)) {
            includeSites.push(chain);
            firstIncludeAt ??= at;
        }
    });
    const httpFileIncluded = httpFileAt !== undefined;
    if (httpFileAt !== undefined && firstIncludeAt !== undefined && httpFileAt > firstIncludeAt) {
        // nginx looks a log_format up when it reads the access_log that names it.
        problems.push(`nginx reads ${p.httpFile} after ${p.include}: the log format it defines must come first. Move the include that reads ${p.httpFile} above the server blocks in http`);
    }
    const compiled = `access_log ${p.compiledAccessLog ?? COMPILED_ACCESS_LOG} combined;`;
    const answers = includeSites.map((chain) => logsAt(chain, p.include, compiled));
    for (const answer of answers)
        problems.push(...answer.problems);
    if (includeSites.length === 0) {
        const because = unread.length ? ` (of what nginx -T printed, these could not be read: ${unread.join('; ')})` : '';
        problems.push(`nginx does not read ${p.include}: no include directive of its configuration names it${because}`);
    }
    const distinct = new Set(answers.map((answer) => JSON.stringify(answer.logs)));
    if (distinct.size > 1) {
        problems.push(`${p.include} is included in ${answers.length} places with different access logs in force (${answers
            .map((answer) => (answer.logs.length ? answer.logs.join(' ') : 'none to repeat'))
            .join('; ')}); one observing include cannot keep all of them as they are`);
    }
    const headers = new Set(includeSites.map((chain) => JSON.stringify(headersAt(chain, p.include))));
    return {
        httpFileIncluded,
        accessLogs: distinct.size === 1 ? answers[0].logs : [],
        problems: [...new Set(problems)],
        addHeaders: headers.size === 1 ? JSON.parse([...headers][0]) : [],
    };
}
/** The files of a dump, in order, each after its `# configuration file PATH:` line. */
function splitDump(dump) {
    const files = new Map();
    let current;
    let lines = [];
    const close = () => {
        if (current !== undefined && !files.has(current))
            files.set(current, lines.join('\n'));
    };
    for (const line of dump.split('\n')) {
        const opener = /^# configuration file (.+):$/.exec(line);
        if (opener) {
            close();
            current = opener[1];
            lines = [];
        }
        else if (current !== undefined)
            lines.push(line);
    }
    close();
    return files;
}
/** nginx's tokenizer (ngx_conf_read_token), as far as directives, blocks, quotes, comments and `${var}` go. */
function parse(text, file) {
    const top = [];
    const stack = [top];
    let words = [];
    let i = 0;
    const finish = (block) => {
        if (words.length === 0)
            throw new Error(`a "${block ? '{' : ';'}" without a directive`);
        const [name, ...args] = words;
        const directive = { name: name.value, args, text: `${words.map((w) => w.raw).join(' ')};`, file };
        stack[stack.length - 1].push(directive);
        if (block) {
            directive.children = [];
            stack.push(directive.children);
        }
        words = [];
    };
    while (i < text.length) {
        const c = text[i];
        if (/\s/.test(c)) {
            i++;
        }
        else if (c === '#') {
            while (i < text.length && text[i] !== '\n')
                i++;
        }
        else if (c === ';') {
            finish(false);
            i++;
        }
        else if (c === '{') {
            finish(true);
            i++;
        }
        else if (c === '}') {
            if (words.length)
                throw new Error('a directive without ";" before "}"');
            if (stack.length === 1)
                throw new Error('a "}" without its "{"');
            stack.pop();
            i++;
        }
        else if (c === '"' || c === "'") {
            let value = '';
            let j = i + 1;
            while (j < text.length && text[j] !== c) {
                if (text[j] === '\\' && (text[j + 1] === c || text[j + 1] === '\\'))
                    j++;
                value += text[j++];
            }
            if (j >= text.length)
                throw new Error('a quote without its end');
            words.push({ raw: text.slice(i, j + 1), value });
            i = j + 1;
        }
        else {
            let value = '';
            let j = i;
            while (j < text.length && !/[\s;{}]/.test(text[j])) {
                if (text[j] === '\\' && j + 1 < text.length) {
                    value += text[j + 1];
                    j += 2;
                }
                else if (text[j] === '$' && text[j + 1] === '{') {
                    const end = text.indexOf('}', j);
                    if (end < 0)
                        throw new Error('a "${" without its "}"');
                    value += text.slice(j, end + 1);
                    j = end + 1;
                }
                else
                    value += text[j++];
            }
            words.push({ raw: text.slice(i, j), value });
            i = j;
        }
    }
    if (words.length)
        throw new Error('a directive without ";" at the end');
    if (stack.length > 1)
        throw new Error('a "{" without its "}"');
    return top;
}
/**
 * The directives as nginx reads them: each include's files (those of the dump its pattern
 * matches, in glob's sorted order) in its place, and the include itself kept before them so that
 * what names a file can be found.
 */
function expand(directives, file, sources, depth) {
    if (depth > 32)
        throw new Error(`includes nest deeper than 32 levels at ${file}`);
    const out = [];
    for (const directive of directives) {
        if (directive.children) {
            out.push({ ...directive, children: expand(directive.children, file, sources, depth) });
        }
        else if (directive.name === 'include' && directive.args.length === 1) {
            out.push(directive);
            const pattern = absolute(directive.args[0].value, sources.prefix);
            for (const path of sources.files.filter((path) => matches(pattern, path)).sort()) {
                out.push(...expand(sources.parsed.get(path) ?? [], path, sources, depth + 1));
            }
        }
        else
            out.push(directive);
    }
    return out;
}
function visit(directives, chain, see) {
    for (const directive of directives) {
        see(directive, chain);
        if (directive.children)
            visit(directive.children, [...chain, directive], see);
    }
}
/** An include's path as nginx opens it: relative to the directory of the main configuration file. */
function absolute(path, prefix) {
    return path.startsWith('/') ? path : prefix + path;
}
/** glob(3) as nginx's include uses it: `*`, `?` and `[...]` within one path segment. */
function matches(pattern, path) {
    if (!/[*?[]/.test(pattern))
        return pattern === path;
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*')
            source += '[^/]*';
        else if (c === '?')
            source += '[^/]';
        else if (c === '[') {
            const end = pattern.indexOf(']', i + 2);
            if (end < 0)
                source += '\\[';
            else {
                const inside = pattern.slice(i + 1, end);
                source += `[${inside.startsWith('!') ? '^' + inside.slice(1) : inside}]`.replace(/\\/g, '\\\\');
                i = end;
            }
        }
        else
            source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
    }
    return new RegExp(`^${source}$`).test(path);
}
/** Blocks whose configuration takes access_log, innermost last. */
const LOG_LEVELS = new Set(['http', 'server', 'location', 'if', 'limit_except']);
/** A block's own access_log directives (its included files' too, not its inner blocks', not the include's own). */
function ownAccessLogs(block, include) {
    return block.children.filter((d) => d.name === 'access_log' && d.file !== include);
}
function isOff(logs) {
    return logs.some((d) => d.args.length === 1 && d.args[0].value === 'off');
}
/** What an observing include at the end of `chain` must repeat, and why it cannot observe there if it cannot. */
function logsAt(chain, include, compiled) {
    const levels = chain.filter((block) => LOG_LEVELS.has(block.name));
    const place = placeName(levels);
    if (levels.length === 0 || levels[0].name !== 'http') {
        return { logs: [], problems: [`${include} is included outside an http block (${place}): nginx's http access logs do not apply there`] };
    }
    const problems = [];
    const here = levels[levels.length - 1];
    // An access_log at this level reaches only the inner blocks that name none of their own.
    visit(here.children, [], (d, inner) => {
        if (d.name === 'access_log' && inner.length > 0 && d.file !== include) {
            problems.push(`${placeName([...levels, ...inner])} has access_log directives of its own: the requests it serves would not reach the traffic log`);
        }
    });
    const same = ownAccessLogs(here, include);
    if (same.length > 0) {
        // Directives of the include's own level stay in force beside the traffic log's.
        if (isOff(same))
            problems.push(`${place} says "access_log off;", which silences every access log at that level, the traffic log's too`);
        return { logs: [], problems };
    }
    for (let i = levels.length - 2; i >= 0; i--) {
        const logs = ownAccessLogs(levels[i], include);
        if (logs.length === 0)
            continue;
        return { logs: isOff(logs) ? [] : logs.map((d) => d.text), problems };
    }
    return { logs: [compiled], problems };
}
/** The add_header directives a new add_header at the end of `chain` would replace (none when its own level has some). */
function headersAt(chain, include) {
    const levels = chain.filter((block) => LOG_LEVELS.has(block.name));
    const own = (block) => block.children.filter((d) => d.name === 'add_header' && d.file !== include);
    if (levels.length === 0 || own(levels[levels.length - 1]).length > 0)
        return [];
    for (let i = levels.length - 2; i >= 0; i--) {
        const headers = own(levels[i]);
        if (headers.length > 0)
            return headers.map((d) => d.text);
    }
    return [];
}
function placeName(levels) {
    return levels.map((b) => [b.name, ...b.args.map((a) => a.raw)].join(' ')).join(' > ') || 'the main level';
}

;// CONCATENATED MODULE: ./lib/deploy/traffic-control.js









/** The steps a run takes, from the inputs: none at all when it watches nothing. */
function trafficPlan(traffic) {
    const hold = traffic.canarySteps.length > 0 && traffic.canaryIntervalSeconds === 0;
    return {
        canary: (hold ? traffic.canarySteps.slice(0, 1) : traffic.canarySteps).map((percent) => ({
            percent,
            seconds: traffic.canaryIntervalSeconds,
        })),
        hold,
        // A held canary never reaches the full switch, so nothing bakes.
        bakeSeconds: hold ? 0 : traffic.bakeSeconds,
    };
}
/** The step's name in the log, the report and an error: "canary 10%", "bake". */
function stepName(step) {
    return step.kind === 'canary' ? `canary ${step.percent}%` : 'bake';
}
/** A dry run's plan lines: the canary steps (before the switch) and the bake (after it). */
function trafficPlanLines(plan, traffic) {
    const judged = `judged on max-error-rate ${traffic.maxErrorRate}%${traffic.maxP99Ms > 0 ? ` and max-p99-ms ${traffic.maxP99Ms}` : ''} once ${traffic.minRequests} requests reached the new instance; on a failure all traffic goes back`;
    const clients = (percent) => `send ${percent}% of the clients (by ${traffic.canaryKey}) to the new instance`;
    if (plan.hold)
        return {
            beforeSwitch: [`${clients(plan.canary[0].percent)} and end there: the canary is held until command: promote or command: rollback`],
            afterSwitch: [],
        };
    return {
        beforeSwitch: plan.canary.map((step) => `${clients(step.percent)} for ${step.seconds} s, ${judged}`),
        afterSwitch: plan.bakeSeconds > 0 ? [`bake: watch the new instance with all the traffic for ${plan.bakeSeconds} s, ${judged}`] : [],
    };
}
/**
 * Sends nginx's dump (`nginx -T`, the test command with -T) when the run watches traffic, behind
 * whatever was sent before it: read-only, so it may run before the lock is held, and its answer is
 * waited for only after the inspection's. Root runs it without sudo, as every nginx command.
 */
function sendNginxDump(remote, config) {
    if (!(0,traffic_inputs/* watchesTraffic */.F4)(config.traffic))
        return undefined;
    const command = dumpCommand(config.nginx.testCommand);
    if (command === undefined)
        return undefined;
    const asRoot = withoutSudoForRoot(command, true);
    const program = (sudoArgsOf(command) ?? '').split(/\s+/)[0] ?? '';
    const script = [
        // Where sudo would run the program from: the sudoers rule to name when sudo refuses the dump.
        (0,quote/* shellScript */.ky)({ DUMP_PROGRAM: program }, 'if [ -n "$DUMP_PROGRAM" ]; then echo "dump_program=$(command -v "$DUMP_PROGRAM" 2>/dev/null || true)"; fi'),
        'if [ "$(id -u)" = 0 ]; then',
        nginxDumpScript(asRoot),
        'else',
        nginxDumpScript(command),
        'fi',
    ].join('\n');
    const dumping = remote.run(script, { step: 'inspect', allowExit: [1] });
    dumping.catch(() => undefined);
    return dumping;
}
/** Why a host cannot take a canary or a bake, and what to do about it: a deploy's refusal, a dry run's failed check. */
class TrafficRefusal extends StepError {
    problem;
    fix;
    constructor(problem, fix) {
        super('inspect', `${problem} Nothing was uploaded or started. ${fix}`);
        this.problem = problem;
        this.fix = fix;
    }
}
/**
 * Reads the dump's answer: refuses (TrafficRefusal), before anything is uploaded or started, a host
 * where the action could not see or steer the traffic, naming what to add; otherwise what the
 * host's includes need.
 */
async function readHostTraffic(run, dumping) {
    const { config, state, remote } = run;
    const user = state.user || remote.entry.username;
    const why = `canary-steps or bake-seconds ask the action to ${config.traffic.canarySteps.length > 0 ? 'split and ' : ''}observe the traffic`;
    if (!dumping)
        throw new TrafficRefusal(`nginx-test-command ("${config.nginx.testCommand}") has no -t word, so the action cannot read nginx's configuration with -T, and ${why}.`, 'Set nginx-test-command to an "nginx -t" command line, or leave canary-steps and bake-seconds empty.');
    const result = await dumping;
    const answer = readDumpAnswer(result.answer);
    const testCommand = withoutSudoForRoot(config.nginx.testCommand, state.isRoot);
    const command = dumpCommand(testCommand);
    if (answer.dump === undefined) {
        const said = (answer.error ?? '').trim();
        const sudoArgs = sudoArgsOf(command);
        if (sudoArgs !== undefined && /sudo|password/i.test(said)) {
            const program = result.answer.facts.dump_program || sudoArgs.split(/\s+/)[0];
            const rule = [program, ...sudoArgs.split(/\s+/).slice(1)].join(' ');
            throw new TrafficRefusal(`sudo does not allow user "${user}" to run "${rule}" without a password, and ${why}: the action reads nginx's configuration with it${said ? ` (${said.split('\n')[0]})` : ''}.`, `Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "${user} ALL=(root) NOPASSWD: ${rule}".`);
        }
        throw new TrafficRefusal(`"${command}" failed, and ${why}: the action reads nginx's configuration with it.${said ? `\n${said}\n` : ''}`, `Run it on the host as user "${user}" and fix what it reports.`);
    }
    const httpFile = config.traffic.httpInclude;
    const layout = readNginxDump(answer.dump, { include: config.nginx.include, httpFile, compiledAccessLog: answer.httpLogPath });
    if (!layout.httpFileIncluded) {
        const { problem, fix } = httpFileMissing(httpFile, why);
        throw new TrafficRefusal(problem, fix);
    }
    if (layout.problems.length > 0)
        throw new TrafficRefusal(`the action cannot observe the traffic through ${config.nginx.include}, and ${why}: ${layout.problems.join('; ')}.`, `Include ${config.nginx.include} in one place of nginx's configuration, or leave canary-steps and bake-seconds empty.`);
    return { accessLogs: layout.accessLogs, trafficLog: trafficLogPath(state.deployDir) };
}
/**
 * Traffic control on this host, or undefined when the run watches nothing. A canary or a bake needs
 * a previous instance to compare with and to go back to: on a host that has none (its first
 * deploy), both are skipped with a warning. Refuses a host where nginx would not let the action see
 * or split the traffic, before anything is uploaded or started.
 */
async function trafficOf(run, active, dumping) {
    if (!(0,traffic_inputs/* watchesTraffic */.F4)(run.config.traffic))
        return undefined;
    if (active === undefined || !instanceOn(run.state, active)?.running) {
        run.log.warning(`There is no previous instance running${active === undefined ? '' : ` on port ${active}`} to compare the new one with or go back to (a first deploy?), so the canary steps and the bake are skipped on ${run.remote.entry.label}: all traffic goes to the new instance at once.`);
        return undefined;
    }
    return readHostTraffic(run, dumping);
}
/** A dry run's view of traffic control: its check, and its steps in the plan (none when it is skipped). */
async function trafficDryRun(run, active, dumping) {
    const none = { beforeSwitch: [], afterSwitch: [] };
    const { config } = run;
    if (!(0,traffic_inputs/* watchesTraffic */.F4)(config.traffic))
        return { lines: none };
    const check = 'traffic control';
    if (active === undefined || !instanceOn(run.state, active)?.running)
        return {
            check: {
                check,
                ok: true,
                note: 'skipped: no previous instance runs to compare with or go back to, so all traffic goes to the new one',
            },
            lines: none,
        };
    const lines = trafficPlanLines(trafficPlan(config.traffic), config.traffic);
    try {
        await readHostTraffic(run, dumping);
        return {
            check: { check, ok: true, note: `nginx reads ${config.traffic.httpInclude} inside http, and the include can be observed` },
            lines,
        };
    }
    catch (error) {
        if (!(error instanceof TrafficRefusal))
            throw error;
        return { check: { check, ok: false, problem: error.problem, fix: error.fix }, lines };
    }
}
/**
 * The release that a switch to `view` marks as one that has served (see RELEASE_STATE_FILE), the
 * kind a rollback goes back to: only a release with all the traffic and nothing left to judge it.
 * A canary step's release (held or not) and a baking one are still judged: the plain include after
 * the bake, or promote, marks it; a failed analysis sends it back, marked as never served.
 */
function releaseServedBy(view, release) {
    return view.mode === 'plain' ? release : undefined;
}
/**
 * Points nginx at `view`, with the http-level file that goes with it, in one switch. Entering a
 * watched view for the first time, the traffic log is started afresh just before (no round trip of
 * its own): what nginx logs from then on is this run's. A held canary is not watched.
 */
async function switchView(run, traffic, view, 
/** The release that serves once nginx took `view`. */
release, { verify }) {
    const { config } = run;
    const watched = view.mode === 'observed' || (view.mode === 'canary' && !view.held);
    if (watched && traffic.offset === undefined) {
        const reading = run.remote.run(readTrafficScript({ log: traffic.trafficLog, offset: -1 }), { step: 'switch' });
        reading.catch(() => undefined);
        traffic.offset = parseTraffic((await Promise.all([reading, switching()]))[0].answer).offset;
        return;
    }
    await switching();
    function switching() {
        const port = view.mode === 'canary' ? view.split.previousPort : view.port;
        return switchInclude(run, {
            content: includeText({
                template: config.nginx.template,
                appName: config.appName,
                mode: view,
                trafficLog: traffic.trafficLog,
                userAccessLogs: traffic.accessLogs,
            }),
            httpFile: {
                path: config.traffic.httpInclude,
                content: httpLevelConfig({
                    appName: config.appName,
                    canaryKey: config.traffic.canaryKey,
                    port,
                    split: view.mode === 'canary' ? view.split : undefined,
                }),
            },
            release: releaseServedBy(view, release),
            verify,
            done: view.mode === 'canary'
                ? `nginx now sends ${view.split.percent}% of the clients to port ${view.split.newPort}, the others to port ${view.split.previousPort}`
                : `nginx now sends all traffic to port ${view.port}${view.mode === 'observed' ? ', watched' : ''}`,
        });
    }
}
/** One read of the host's traffic log from its offset: what nginx logged since the last read. */
async function readTraffic(run, traffic) {
    const result = await run.remote.run(readTrafficScript({ log: traffic.trafficLog, offset: traffic.offset ?? -1 }), { step: 'watch' });
    const read = parseTraffic(result.answer);
    traffic.offset = read.offset;
    return read.samples;
}

;// CONCATENATED MODULE: ./lib/deploy/deploy.js
















/**
 * Phase 1, steps 3 to 8: lock, inspect, upload, free the idle port, start and check health. Nothing
 * here touches nginx. On failure the lock is let go and the new instance (if any) is stopped.
 */
async function stageHost(remote, config, artifact, report, log) {
    report.sha256 = artifact.sha256;
    remote.warmUp({ sftp: artifact.size > INLINE_UPLOAD_MAX_BYTES });
    const locking = lockAndInspect(remote, config, report, log);
    // Right behind the inspection, in the same round trip: nginx's configuration, for a canary or a bake.
    const dumping = sendNginxDump(remote, config);
    const { lock, state } = await locking;
    try {
        checkHostReady(state, remote, artifact);
        const run = { config, remote, log, report, state };
        checkSupervision(run);
        const { active, idle } = choosePorts(state.include, config.ports);
        // Until the switch, the outputs describe what serves: the old port and release.
        const previousRelease = instanceOn(state, active)?.release;
        const traffic = await timed(report, 'inspect', () => trafficOf(run, active, dumping));
        reportServing(report, active, previousRelease);
        // The idle port is freed while the jar travels: one waits on a JVM's shutdown, the other on the
        // wire (SFTP runs beside the shell session). The idle instance serves no traffic; if the
        // upload fails, the active one still serves, and rollback restarts the previous release.
        const freeing = timed(report, 'stop_idle', () => freeIdlePort(run, idle, artifact.fileName));
        freeing.catch(() => undefined);
        // Without a pre-start-command between them, the start goes right behind the upload's check:
        // a round trip less, and the host skips it if either that check or freeing the port failed.
        let starting;
        const startAtOnce = hookCommand(config, 'pre-start') === '';
        const { release, uploadedBytes } = await timed(report, 'upload', () => log.group('Upload', () => uploadRelease(run, artifact, (name) => {
            if (!startAtOnce)
                return;
            starting = sendStart(run, idle, name, artifact.fileName, { pipelined: true });
            starting.catch(() => undefined);
        })));
        report.uploadedBytes = uploadedBytes;
        report.targetRelease = release;
        // A stranger on the idle port fails the run here; the host skipped the start sent behind.
        const { tookOver } = await freeing;
        // A takeover's first answer failed on the host too, which skipped that start: it goes again.
        if (tookOver)
            starting = undefined;
        const point = { release, fileName: artifact.fileName, port: idle, previousPort: active };
        await timed(report, 'pre_start', () => runHook(run, { name: 'pre-start', ...point })).catch((error) => {
            throw error instanceof HookError ? error.leaving('Nothing was started or switched; the old version still serves.') : error;
        });
        await timed(report, 'start', () => log.group(`Start ${release} on port ${idle}`, () => startAndCheckHealth(run, idle, release, artifact.fileName, starting)));
        // At the end of the stage: on a fleet, a host whose smoke test fails keeps every host from switching.
        try {
            await timed(report, 'pre_switch', () => runHook(run, { name: 'pre-switch', ...point }));
        }
        catch (error) {
            await stopInstance(run, idle, 0).catch(() => undefined);
            throw error instanceof HookError
                ? error.leaving(`The new instance on port ${idle} was stopped; nothing was switched and the old version still serves.`)
                : error;
        }
        return { run, lock, active, idle, release, previousRelease, fileName: artifact.fileName, traffic };
    }
    catch (error) {
        await lock.release();
        throw error;
    }
}
/** Points nginx at `port` with all traffic (plain), with the http-level file when traffic control is on. */
function pointAt(staged, port, release) {
    return staged.traffic
        ? switchView(staged.run, staged.traffic, { mode: 'plain', port }, release, { verify: true })
        : switchTraffic(staged.run, port, release);
}
/**
 * A canary step on this host: `split.percent`% of the clients go to the new instance, the others
 * stay on the previous one; `held` when the run ends on it. On failure nginx still (or again)
 * serves what it served before.
 */
async function canaryStepHost(staged, percent, { held = false } = {}) {
    const { run, idle, active, release, traffic } = staged;
    const split = { percent, newPort: idle, previousPort: active };
    try {
        await timed(run.report, 'switch', () => run.log.group(`Canary ${percent}%: split nginx between ports ${idle} and ${active}`, () => switchView(run, traffic, { mode: 'canary', split, held }, release, { verify: true })));
    }
    catch (error) {
        staged.reloaded ||= error instanceof StepError && error.afterReload;
        throw error;
    }
    staged.reloaded = true;
}
/** canary-interval 0: the host stays on the first step, nothing stopped, and is let go. */
async function leaveHeldHost(staged) {
    const { run, lock, idle, release } = staged;
    run.report.activePort = idle;
    run.report.release = release;
    run.report.canary = 'held';
    await lock.release();
}
/**
 * Phase 2, step 9: points nginx at the staged instance. Sent only when called, a round trip after
 * the start's answer, and never queued behind it: a queued switch would still run on the host after
 * the connection was lost (a cancelled run, or a fleet that is putting the other hosts back). On
 * failure nginx still (or again) serves the old port; the caller stops the new instance (`unstageHost`).
 */
async function switchHost(staged, { observed = false } = {}) {
    const { run, idle, release, traffic } = staged;
    // A bake watches the new instance with all the traffic: the include observes it until finish.
    const view = { mode: observed ? 'observed' : 'plain', port: idle };
    try {
        await timed(run.report, 'switch', () => run.log.group(`Switch nginx to port ${idle}`, () => traffic ? switchView(run, traffic, view, release, { verify: true }) : switchTraffic(run, idle, release)));
    }
    catch (error) {
        // After a canary step, nginx already sent the new instance requests.
        staged.reloaded ||= error instanceof StepError && error.afterReload;
        throw error;
    }
    staged.observed = observed && traffic !== undefined;
    staged.reloaded = true;
    run.report.activePort = idle;
    run.report.release = release;
    await timed(run.report, 'post_switch', () => runPostSwitchHook(run, { name: 'post-switch', release, fileName: staged.fileName, port: idle, previousPort: staged.active }, { port: staged.active, release: staged.previousRelease }, {
        switchTo: async (port, previous) => {
            await pointAt(staged, port, previous);
            staged.observed = false;
            await markNeverServed(run, rejectedRelease(release, previous), 'post-switch');
        },
        stop: () => stopNewInstance(staged),
    }));
}
/**
 * After a failure (its own switch's, or another host's): stops the staged instance, which nginx no
 * longer sends to, and lets go of the host.
 */
async function unstageHost(staged) {
    try {
        await stopNewInstance(staged);
    }
    finally {
        await staged.lock.release();
    }
}
/**
 * After a failure (another host's switch, or the new version's analysis): nginx goes back to the
 * warm previous instance, with all traffic, and the new one is drained and stopped.
 */
async function switchBackHost(staged, why = 'so that the fleet stays on one version') {
    const { run, active, idle, previousRelease } = staged;
    try {
        if (active === undefined)
            throw new StepError('switch back', `there is no previous instance to go back to (this was the host's first deploy); it serves port ${idle}.`);
        run.log.warning(`Switching back to port ${active} (release ${previousRelease ?? 'unknown'}), ${why}.`);
        await timed(run.report, 'switch', () => run.log.group(`Switch nginx back to port ${active}`, () => pointAt(staged, active, previousRelease)));
        staged.backAt = performance.now();
        staged.observed = false;
        run.report.activePort = active;
        run.report.release = previousRelease;
        run.report.rolledBack = true;
        await markNeverServed(run, rejectedRelease(staged.release, previousRelease), 'switch back');
        await stopNewInstance(staged).catch(() => undefined);
    }
    finally {
        await staged.lock.release();
    }
}
/**
 * The new instance must not linger once nginx is off it. Once a reload may have taken effect, even
 * in part, nginx workers that are shutting down may still send it requests: drain them first, as
 * stop-previous does.
 */
async function stopNewInstance(staged) {
    const { run, idle } = staged;
    if (staged.stopped)
        return;
    staged.stopped = true;
    const drainSeconds = staged.reloaded ? run.config.drainSeconds : 0;
    if (drainSeconds > 0)
        run.log.info(`Draining port ${idle} for ${drainSeconds} s (drain-seconds) before stopping the new instance.`);
    await stopInstance(run, idle, drainSeconds);
}
/** Steps 10 and 11, once every host serves the new version: stop-previous, prune, let go of the host. */
async function finishHost(staged) {
    const { run, lock, active, release, idle } = staged;
    const { config, log, report, state } = run;
    try {
        // After the bake: the include that observed the traffic gives way to the plain one (one reload).
        if (staged.observed) {
            await timed(report, 'switch', () => log.group(`Stop observing: plain include on port ${idle}`, () => pointAt(staged, idle, release)));
            staged.observed = false;
        }
        // The host is let go only once nginx sends every new request to the new port. Sent, not
        // awaited: the shell runs what follows after it, so nothing is stopped or let go before the
        // hand-over, and a far host pays no round trip for it.
        const handover = awaitNginxHandover(run);
        handover.catch(() => undefined);
        if (config.stopPrevious && active !== undefined) {
            await timed(report, 'stop_previous', () => log.group(`Stop the previous instance on port ${active}`, () => stopInstance(run, active, config.drainSeconds)));
        }
        const warm = config.stopPrevious ? undefined : instanceOn(state, active)?.release;
        const pruning = timed(report, 'cleanup', () => pruneReleases(run, release, warm ? [warm] : []));
        // The release follows the prune at once, and runs whatever the prune's outcome.
        void lock.release();
        const pruned = await pruning;
        await handover;
        if (pruned.length > 0)
            log.info(`Pruned releases: ${pruned.join(', ')}`);
    }
    finally {
        await lock.release();
    }
}
/**
 * dry-run: inspect, check everything the deploy will need, and print the plan and the checklist;
 * change nothing on the host. Fails, naming every problem and its fix, when a check does not pass.
 */
async function planDeploy(remote, config, artifact, report, log) {
    report.sha256 = artifact.sha256;
    // Sent together: the checks cost no round trip of their own.
    const checking = remote.run(preflightScript(preflightParams(config)), { step: 'inspect' });
    checking.catch(() => undefined);
    const dumping = sendNginxDump(remote, config);
    const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false));
    const preflight = readPreflightFacts((await timed(report, 'inspect', () => checking)).answer);
    // A held canary refuses the deploy itself: the dry run says so, not a plan that would not run.
    refuseDeploy(state, config, remote.entry.label);
    const { active, idle } = choosePorts(state.include, config.ports);
    const reuse = state.releases.find((r) => r.sha256 === artifact.sha256 && r.fileName === artifact.fileName);
    const release = reuse?.name ?? releaseName(artifact.sha256, new Date());
    const idleInstance = instanceOn(state, idle);
    const supervision = supervisionOf(config.supervisor, config.appName, state);
    if (supervision.warning)
        log.warning(supervision.warning);
    const activeRelease = instanceOn(state, active)?.release;
    const run = { config, remote, log, report, state };
    const { check: trafficCheck, lines: traffic } = await trafficDryRun(run, active, dumping);
    const plan = [
        active === undefined
            ? `nginx's include (${config.nginx.include}) names neither port yet; port ${idle} will be the first to serve`
            : `nginx serves port ${active} (release ${activeRelease ?? 'unknown'})`,
        reuse
            ? `reuse release ${release}, already on the host: upload nothing`
            : `upload ${artifact.fileName} (${artifact.size} bytes; only the chunks no kept release has, when they have chunk lists) as release ${release}`,
        idleInstance?.running
            ? `stop the instance on idle port ${idle} (pid ${idleInstance.pid}, release ${idleInstance.release ?? 'unknown'})`
            : `port ${idle} is idle${idleInstance?.listening ? `, but something listens there (see the check of port ${idle})` : ''}`,
        ...hookPlan(config, 'pre-start', 'before the start'),
        `start ${release} on port ${idle} ${supervision.start ? `as systemd unit ${unitName(config.appName, idle)}, enabled,` : 'detached,'} and check http://127.0.0.1:${idle}${config.health.path} for up to ${config.health.timeoutSeconds} s`,
        ...hookPlan(config, 'pre-switch', 'before the switch'),
        ...traffic.beforeSwitch,
        ...(trafficPlan(config.traffic).hold
            ? []
            : [
                `point ${config.nginx.include} at port ${idle}, test nginx, reload${config.verifyUrl ? `, verify ${config.verifyUrl}` : ''}`,
                ...hookPlan(config, 'post-switch', 'after the switch (if it fails, traffic goes back)'),
                ...traffic.afterSwitch,
            ]),
        config.stopPrevious && active !== undefined
            ? `stop the instance on port ${active} after ${config.drainSeconds} s`
            : `keep the instance on port ${active ?? '-'} warm for rollback`,
    ];
    const doomed = releasesToPrune([...state.releases, { name: release, sha256: artifact.sha256 }], config.keepReleases, activeRelease ? [activeRelease] : [], release);
    plan.push(doomed.length > 0 ? `prune releases ${doomed.join(', ')}` : 'prune nothing');
    const checks = preflightChecks(preflight, {
        config: { ...config, insecureSkip: config.hostKeys.insecureSkip },
        user: state.user || remote.entry.username,
        isRoot: state.isRoot,
        artifact,
        reused: state.releases.some((r) => r.sha256 === artifact.sha256),
        systemd: state.systemd,
        linger: state.linger,
        ours: state.instances.filter((i) => i.running),
        active,
        redact: (commandLine) => (0,secrets/* redactCommandLine */.df)(commandLine, (0,inputs/* secretsOf */.Fj)(config)),
    });
    if (trafficCheck)
        checks.push(trafficCheck);
    const failed = checks.filter((c) => !c.ok).length;
    log.info(`Dry run: nothing will change. The plan for ${remote.entry.label}:\n${plan.map((line, i) => `  ${i + 1}. ${line}`).join('\n')}`);
    log.info(`Checks on ${remote.entry.label}: ${failed === 0 ? `all ${checks.length} passed` : `${failed} of ${checks.length} failed`}\n${checklistText(checks)}`);
    report.plan = plan;
    report.checks = checks;
    reportServing(report, active, release);
    if (failed > 0)
        throw new StepError('dry-run', problemsText(checks));
    report.outcome = 'dry-run';
}
/** The plan's line for a hook the user set, in the release directory with hook-timeout. */
function hookPlan(config, name, when) {
    const command = config.hooks[name];
    return command === '' ? [] : [`run ${name}-command ${when}, for up to ${config.hookTimeoutSeconds} s: ${command}`];
}

;// CONCATENATED MODULE: ./lib/deploy/held-canary.js
/**
 * Finishing a held canary (a deploy with `canary-interval: 0` left a share of clients on the new
 * instance): `command: promote` sends all traffic to the new instance, `command: rollback` sends it
 * all back to the previous one and stops the canary. Either way the include goes back to the plain
 * include for one port, through the switch script (tested, reloaded, put back on failure); the
 * http-level file is left as it is, since the plain include no longer reads its split.
 */








/** The split of the canary held on the host, if one is. */
function heldCanary(run) {
    const traffic = readInclude(run.state.include, run.config.ports);
    return traffic.mode === 'canary' ? traffic.split : undefined;
}
/** All traffic to `port` (the plain include), or, if nginx does not take it, the canary as it was. */
async function endCanary(run, split, port, done) {
    await timed(run.report, 'switch', () => run.log.group(`Switch nginx to port ${port} for every client`, () => switchInclude(run, {
        content: renderInclude(run.config.nginx.template, port),
        release: releaseOn(run.state)(port),
        verify: true,
        done,
        before: `the canary's split (${split.percent}% of clients to port ${split.newPort})`,
    })));
}
async function promote(run) {
    const { config, remote, report, log, state } = run;
    const releaseOf = releaseOn(state);
    const split = canaryToPromote(readInclude(state.include, config.ports), remote.entry.label, releaseOf, config.ports);
    const { newPort, previousPort } = split;
    const release = releaseOf(newPort);
    report.targetRelease = release;
    // Until the switch, the outputs describe what the canary falls back to.
    reportServing(report, previousPort, releaseOf(previousPort));
    if (!(await answersHealth(run, newPort))) {
        throw new StepError('promote', `the canary on port ${newPort} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${newPort}${config.health.path}); nothing was switched and the canary stays held. Send its clients back with command: rollback.`);
    }
    await endCanary(run, split, newPort, `nginx now sends all traffic to port ${newPort} (release ${release ?? 'unknown'})`);
    report.activePort = newPort;
    report.release = release;
    // The full switch happens now, not in the deploy that held the canary: so does its check.
    if (release !== undefined) {
        const fileName = state.releases.find((r) => r.name === release)?.fileName ?? '';
        await timed(report, 'post_switch', () => runPostSwitchHook(run, { name: 'post-switch', release, fileName, port: newPort, previousPort }, { port: previousPort, release: releaseOf(previousPort) }, {
            switchTo: async (port, back) => {
                await switchTraffic(run, port, back);
                await markNeverServed(run, rejectedRelease(release, back), 'post-switch');
            },
            stop: (port) => stopInstance(run, port, config.drainSeconds),
        }));
    }
    report.canary = 'promoted';
    if (config.stopPrevious) {
        await timed(report, 'stop_previous', () => log.group(`Stop the previous instance on port ${previousPort}`, () => stopInstance(run, previousPort, config.drainSeconds)));
    }
    else {
        await awaitNginxHandover(run);
        log.info(`The previous instance on port ${previousPort} stays warm for rollback.`);
    }
    report.outcome = 'promoted';
}
/**
 * `command: rollback` on a host holding a canary: every client back on the previous instance, which
 * served all along, and the canary drained and stopped. Its release stays one that never served.
 */
async function rollBackHeldCanary(run, split) {
    const { config, report, log } = run;
    const { newPort, previousPort } = split;
    const releaseOf = releaseOn(run.state);
    const release = releaseOf(previousPort);
    reportServing(report, previousPort, release);
    if (!(await answersHealth(run, previousPort))) {
        throw new StepError('rollback', `the previous instance on port ${previousPort} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${previousPort}${config.health.path}), so traffic cannot go back to it; nothing was switched and the canary stays held. Promote the canary with command: promote, or bring port ${previousPort} back on the host.`);
    }
    await endCanary(run, split, previousPort, `nginx now sends all traffic back to port ${previousPort} (release ${release ?? 'unknown'})`);
    report.previousPort = newPort;
    const canaryRelease = releaseOf(newPort);
    if (config.drainSeconds > 0)
        log.info(`Draining port ${newPort} for ${config.drainSeconds} s (drain-seconds) before stopping the canary (release ${canaryRelease ?? 'unknown'}).`);
    await timed(report, 'stop_previous', () => log.group(`Stop the canary on port ${newPort}`, () => stopInstance(run, newPort, config.drainSeconds)));
    // A canary held by an earlier version of the action was marked as served by its step: a later
    // rollback must not take it for a version to go back to.
    await markNeverServed(run, rejectedRelease(canaryRelease, release), 'rollback');
    report.outcome = 'rolled-back';
}

;// CONCATENATED MODULE: ./lib/deploy/history.js
/** The deploy history kept on each host: who deployed what, when, and how it ended. */


/** The entry for a finished run on one host, from its report and the workflow run's variables. */
function historyEntry(report, env = process.env, now = new Date()) {
    const entry = {
        time: now.toISOString().replace(/\.\d+Z$/, 'Z'),
        owner: {
            repository: env.GITHUB_REPOSITORY ?? '',
            run: env.GITHUB_RUN_ID ? `${env.GITHUB_RUN_ID}.${env.GITHUB_RUN_ATTEMPT ?? '1'}` : '',
            actor: env.GITHUB_ACTOR ?? '',
            runner: env.RUNNER_NAME ?? (0,external_node_os_.hostname)(),
        },
        command: report.command,
        ...tried(report),
        serving: report.release ?? null,
        ports: { before: report.previousPort ?? null, after: report.activePort ?? null },
        outcome: report.outcome,
        seconds: report.durationSeconds,
    };
    if (report.failedStep)
        entry.step = report.failedStep;
    return entry;
}
/**
 * What the run deployed or tried to, as a pair that belongs together. The report's `release` is what
 * serves (after a failed deploy, the old release) and its `sha256` the artifact's: never paired.
 */
function tried(report) {
    if (report.command === 'deploy')
        return { release: report.targetRelease ?? null, sha256: report.sha256 ?? null };
    // A promote tries the canary's release; maintenance and live change what answers, not the release.
    if (report.command === 'promote')
        return { release: report.targetRelease ?? null, sha256: null };
    if (report.command === 'maintenance' || report.command === 'live')
        return { release: null, sha256: null };
    // A rollback's target is known once it is serving; the host keeps no sha256 of it in the report.
    return { release: report.outcome === 'rolled-back' ? (report.release ?? null) : null, sha256: null };
}
/** The commands that change what serves, and so leave a line in the history. */
const RECORDED = ['deploy', 'rollback', 'promote', 'maintenance', 'live'];
/**
 * Whether a run leaves a line in the history: every command that changes what serves, failed,
 * stopped because another host failed, or not; never a look (status, logs, dry-run).
 */
function keepsHistory(config, report) {
    return RECORDED.includes(report.command) && !config.dryRun;
}
/** Appends the run's entry; a history that cannot be written is worth a warning, never a failed run. */
async function recordHistory(remote, config, report, log) {
    try {
        await remote.run(appendHistoryScript({ deployDir: config.deployDir, entry: JSON.stringify(historyEntry(report)) }), {
            step: 'history',
        });
    }
    catch (error) {
        log.warning(`Could not append to the deploy history on ${remote.entry.label}: ${error.message}`);
    }
}
/** The newest `count` entries of the host's history, oldest first; lines that are not entries are left out. */
async function readHistory(remote, config, count) {
    const result = await remote.run(readHistoryScript({ deployDir: config.deployDir, lines: count }), { step: 'history' });
    return parseHistory(result.answer.sections.history ?? '');
}
function parseHistory(text) {
    const entries = [];
    for (const line of text.split('\n')) {
        try {
            const entry = JSON.parse(line);
            if (entry && typeof entry === 'object' && typeof entry.time === 'string')
                entries.push(entry);
        }
        catch {
            // a torn or foreign line: not an entry
        }
    }
    return entries;
}
/** Who ran it: the actor, the repository and its run. */
function entryOwner(entry) {
    const { actor, repository, run } = entry.owner;
    return [actor, repository && `${repository}${run ? ` run ${run}` : ''}`].filter(Boolean).join(', ');
}
/** The release the run deployed or tried to, with the start of its sha256; `-` when none. */
function entryTarget(entry) {
    // An older entry names only what served afterwards, in `release`.
    if (entry.serving === undefined)
        return '-';
    const sha = entry.sha256 ? ` (sha256 ${entry.sha256.slice(0, 12)})` : '';
    return entry.release ? `${entry.release}${sha}` : entry.sha256 ? `an unnamed release${sha}` : '-';
}
/** The release that served once the run was over. */
function entryServing(entry) {
    return (entry.serving === undefined ? entry.release : entry.serving) ?? '-';
}
/** One line a history entry, for the job log. */
function describeEntry(entry) {
    const who = entryOwner(entry);
    const ports = `${entry.ports.before ?? '-'} -> ${entry.ports.after ?? '-'}`;
    const failed = entry.step ? ` at ${entry.step}` : '';
    const target = entryTarget(entry);
    return `${entry.time}  ${entry.command} ${entry.outcome}${failed}${target === '-' ? '' : `  tried ${target}`}  serving ${entryServing(entry)}  ports ${ports}  ${entry.seconds.toFixed(1)} s${who ? `  by ${who}` : ''}`;
}

;// CONCATENATED MODULE: ./lib/deploy/logs.js






async function logs(remote, config, report, log, secrets) {
    const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false));
    const { active, idle } = choosePorts(state.include, config.ports);
    const order = active === undefined ? config.ports : [active, idle];
    const result = await timed(report, 'probe', () => remote.run(readLogsScript({ deployDir: state.deployDir, ports: order, lines: config.logLines }), { step: 'logs' }));
    for (const port of order) {
        const instance = instanceOn(state, port);
        const role = port === active ? 'active' : 'idle';
        const what = instance?.running ? `release ${instance.release ?? 'unknown'}, running (pid ${instance.pid})` : 'not running';
        const text = result.answer.sections[`log_${port}`] ?? '';
        // Masked in one pass over the whole text, not line by line: up to 100k lines per port.
        const body = text === '' ? '(the log is empty or absent)' : maskLine(text, secrets);
        await log.group(`Port ${port} (${role}): ${what}; last ${config.logLines} lines of ${state.deployDir}/logs/${port}.log`, async () => log.info(body));
    }
    report.activePort = active;
    report.previousPort = active === undefined ? undefined : idle;
    report.release = instanceOn(state, active ?? -1)?.release;
    report.outcome = 'logs';
}

;// CONCATENATED MODULE: ./lib/remote/maintenance.js
/** Reading the maintenance page the user keeps on the host (maintenance-page). */


const MAINTENANCE_PAGE_EXIT = 70;
/** The page in a section `@@page`; a file larger than `limit` bytes, or none, is an error= answer. */
function maintenancePageScript(p) {
    return (0,quote/* shellScript */.ky)({ PAGE: p.page, LIMIT: p.limit, EXIT_NO_PAGE: MAINTENANCE_PAGE_EXIT }, MAINTENANCE_PAGE_SH);
}
/** The page's text from the script's answer (each line was sent after a "|"). */
function pageText(section) {
    return (section ?? '')
        .split('\n')
        .map((line) => (line.startsWith('|') ? line.slice(1) : line))
        .join('\n');
}

;// CONCATENATED MODULE: ./lib/deploy/maintenance.js
/**
 * `command: maintenance` and `command: live` on one host (port-switch.ts has what a deploy or a
 * rollback does on a host in maintenance). nginx answers every request through the include with 503 and
 * Retry-After while the instances keep running; live puts traffic back on the instance the
 * maintenance include names.
 */











const SHORTEN = 'keep the page to HTML with inline CSS, and link images and scripts from elsewhere';
/**
 * The add_header directives in force where nginx includes the include (a server's
 * Strict-Transport-Security, say), from `nginx -T`, so that the 503 keeps them. Through sudo only
 * where sudo says it would run it (`sudo -n -l` runs nothing): a command sudo refuses is logged on
 * the host as an incident, and the narrow rules these commands need do not name `nginx -T` (a
 * canary's do). Anything that goes wrong leaves them out; the 503 is what matters.
 */
async function inheritedHeaders(run) {
    const { config, state, remote, log } = run;
    const command = dumpCommand(config.nginx.testCommand);
    if (command === undefined)
        return [];
    const runnable = withoutSudoForRoot(command, state.isRoot);
    const viaSudo = /^\s*sudo\s+-n\s+(.*)$/s.exec(runnable);
    if (/^\s*sudo\s/.test(runnable) && !viaSudo)
        return [];
    const dump = viaSudo ? `sudo -n -l ${viaSudo[1]} > /dev/null 2>&1 && ${runnable}` : runnable;
    try {
        const answer = readDumpAnswer((await remote.run(nginxDumpScript(dump), { step: 'maintenance', allowExit: [1] })).answer);
        if (answer.dump === undefined)
            return [];
        const layout = readNginxDump(answer.dump, {
            include: config.nginx.include,
            httpFile: config.traffic.httpInclude,
            compiledAccessLog: answer.httpLogPath,
        });
        return layout.addHeaders ?? [];
    }
    catch (error) {
        log.info(`Could not read nginx's add_header directives around the include (${error.message}); the 503 carries Retry-After alone.`);
        return [];
    }
}
/** maintenance-page, read on the host through the connection; the default page when it is empty. */
async function readPage(run) {
    const path = run.config.traffic.maintenancePage;
    if (path === '')
        return DEFAULT_MAINTENANCE_PAGE;
    try {
        const result = await run.remote.run(maintenancePageScript({ page: path, limit: MAX_PAGE_BYTES }), { step: 'maintenance' });
        return pageText(result.answer.sections.page);
    }
    catch (error) {
        if (!(error instanceof RemoteCommandError) || error.result.code !== MAINTENANCE_PAGE_EXIT)
            throw error;
        const { facts } = error.result.answer;
        const user = run.remote.entry.username;
        const why = facts.error === 'page_missing'
            ? 'does not exist on the host'
            : facts.error === 'page_not_file'
                ? 'is not a file'
                : facts.error === 'page_unreadable'
                    ? `is not readable by user "${user}"`
                    : `holds ${facts.size} bytes, and nginx takes at most ${MAX_PAGE_BYTES}: ${SHORTEN}`;
        throw new StepError('maintenance', `maintenance-page: "${path}" ${why}. nginx was not touched.`);
    }
}
async function maintenance(run) {
    const { config, remote, report, log, state } = run;
    const traffic = readInclude(state.include, config.ports);
    const releaseOf = releaseOn(state);
    const port = portForMaintenance(traffic, remote.entry.label, releaseOf, config.ports);
    reportServing(report, port, releaseOf(port));
    const headers = inheritedHeaders(run);
    headers.catch(() => undefined);
    const content = maintenanceInclude(config, state.deployDir, port, await readPage(run), await headers);
    const wordBytes = pageWordBytes(content);
    if (wordBytes > MAX_PAGE_WORD_BYTES) {
        throw new StepError('maintenance', `maintenance-page: "${config.traffic.maintenancePage}" makes ${wordBytes} bytes of nginx text once quoted and escaped (each $ becomes &#36;), and nginx takes at most ${MAX_PAGE_WORD_BYTES}: ${SHORTEN}. nginx was not touched.`);
    }
    await timed(report, 'switch', async () => {
        await log.group('Put nginx in maintenance', () => switchInclude(run, {
            content,
            verify: false,
            done: `nginx now answers 503 (Retry-After ${RETRY_AFTER_SECONDS} s) to every request; the instances keep running, and port ${port} serves once live`,
        }));
        // Once the command is over, no request may reach an instance through an old worker.
        await awaitNginxHandover(run);
    }).catch((error) => {
        throw withPlacementHint(error);
    });
    report.outcome = 'maintenance';
}
/** A `return` outside server and location is what nginx rejects when the include sits at http level. */
function withPlacementHint(error) {
    if (!(error instanceof StepError) || !/"(return|add_header)" directive is not allowed here/.test(error.message))
        return error;
    return new StepError(error.step, `${error.message}\nMaintenance answers from the include itself, so nginx must include nginx-include inside a server or location block.`);
}
async function live(run) {
    const { config, remote, report, log, state } = run;
    const traffic = readInclude(state.include, config.ports);
    const releaseOf = releaseOn(state);
    const decision = liveDecision(traffic, remote.entry.label, releaseOf, config.ports);
    if (decision.kind === 'nothing') {
        const port = traffic.mode === 'canary' ? traffic.split.previousPort : traffic.port;
        reportServing(report, port, releaseOf(port));
        log.info(decision.note);
        report.outcome = 'live';
        return;
    }
    const { port } = decision;
    const release = releaseOf(port);
    reportServing(report, port, release);
    // nginx must not move users from a 503 to a 502.
    if (!(await answersHealth(run, port))) {
        throw new StepError('live', `port ${port} (release ${release ?? 'unknown'}) does not answer its health check (http://127.0.0.1:${port}${config.health.path}), so nginx stays in maintenance. Deploy, or run command: rollback (either stays in maintenance), then command: live.`);
    }
    await timed(report, 'switch', async () => {
        await log.group(`Put traffic back on port ${port}`, () => switchInclude(run, {
            content: renderInclude(config.nginx.template, port),
            release,
            verify: true,
            done: `nginx now sends traffic to port ${port} again`,
            before: 'the maintenance page',
        }));
        await awaitNginxHandover(run);
    });
    report.outcome = 'live';
}

;// CONCATENATED MODULE: ./lib/deploy/phases.js
/**
 * The order of a fleet deploy, apart from what each step does on a host: stage every host (a bounded
 * number at once), then take every host through each canary step together (watching the traffic of
 * all of them), then switch them in waves, then watch them bake, then finish them. The host work comes in as callbacks,
 * so that this order, and what a failure in each phase leaves, can be checked without hosts.
 *
 * The promises kept here:
 * - no host is switched (nor put on a canary step) unless every host staged;
 * - every host is on a canary step before that step is watched, and the next step (or the switch)
 *   begins only once the step passed;
 * - a step, a switch or a bake that fails puts every host that may send the new version traffic back
 *   on its previous instance: after a canary, that is every host;
 * - a held canary (canary-interval 0) ends the run with every host on the first step, nothing
 *   stopped, each host let go;
 * - a switch is sent only when its wave begins, so a run that ends early (cancelled, killed) has
 *   switched nothing it had not reached;
 * - a failed switch puts every host this run switched back on its previous instance;
 * - `finish` (stop-previous, prune) runs only once every host is switched;
 * - every staged host ends in exactly one of `finish`, `unstage`, `switchBack` or `leaveHeld`, each
 *   of which lets go of the host (its lock) whatever happens.
 */
/** Runs `work` for 0..count-1, at most `limit` at once, in index order; `shouldStart` is asked before each. */
async function inPool(count, limit, work, shouldStart = () => true) {
    let next = 0;
    const worker = async () => {
        while (next < count) {
            const index = next++;
            if (!shouldStart())
                continue;
            await work(index);
        }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), count) }, worker));
}
/** Host indices 0..count-1 in waves of `size`, in host order. */
function wavesOf(count, size) {
    const waves = [];
    for (let i = 0; i < count; i += Math.max(1, size))
        waves.push(Array.from({ length: Math.min(size, count - i) }, (_, k) => i + k));
    return waves;
}
const seconds = (since) => Math.round(performance.now() - since) / 1000;
async function runPhases(count, limits, work) {
    const fates = new Array(count).fill('not-staged');
    const errors = new Map();
    const staged = new Array(count);
    let failed;
    const note = (index, error) => {
        if (!errors.has(index))
            errors.set(index, error);
    };
    const stageStart = performance.now();
    await inPool(count, limits.stageParallel, async (index) => {
        try {
            staged[index] = await work.stage(index);
        }
        catch (error) {
            fates[index] = 'stage-failed';
            note(index, error);
            failed ??= { index, phase: 'stage' };
        }
    }, () => failed === undefined);
    const stageSeconds = seconds(stageStart);
    const unstage = (indices) => Promise.all(indices.map(async (index) => {
        const s = staged[index];
        if (s === undefined)
            return;
        await work.unstage(s, index).catch((error) => note(index, error));
        if (fates[index] === 'not-staged')
            fates[index] = 'unstaged';
    }));
    if (failed) {
        await unstage(Array.from({ length: count }, (_, i) => i));
        return { fates, errors, failed, stageSeconds, switchSeconds: 0 };
    }
    work.onStaged?.(stageSeconds);
    const all = Array.from({ length: count }, (_, i) => i);
    /** Hosts that may send the new version traffic: they go back on failure; the others are unstaged. */
    const exposed = new Set();
    const goBack = async (failedHosts) => {
        await Promise.all([...exposed].map(async (index) => {
            try {
                await work.switchBack(staged[index], index);
                if (!failedHosts.includes(index))
                    fates[index] = 'reverted';
            }
            catch (error) {
                fates[index] = 'revert-failed';
                note(index, error);
            }
        }));
        await unstage(all.filter((i) => !exposed.has(i)));
    };
    /** Sends every host in `indices` to `move` at once; false (and the fleet put back) if one failed. */
    const moveAll = async (indices, phase, move) => {
        const results = await Promise.allSettled(indices.map((index) => move(index)));
        const failedHosts = [];
        for (const [k, result] of results.entries()) {
            const index = indices[k];
            if (result.status === 'fulfilled')
                exposed.add(index);
            else {
                fates[index] = 'switch-failed';
                note(index, result.reason);
                failed ??= { index, phase };
                failedHosts.push(index);
            }
        }
        if (failedHosts.length > 0)
            await goBack(failedHosts);
        return failedHosts.length === 0;
    };
    const analysisFailed = async (phase, error) => {
        failed = { phase, error };
        await goBack([]);
    };
    const traffic = work.traffic?.(staged);
    let canarySeconds;
    if (traffic && traffic.steps.length > 0) {
        const canaryStart = performance.now();
        for (const step of traffic.steps.keys()) {
            if (!(await moveAll(all, 'canary', (index) => traffic.toStep(staged[index], index, step))))
                return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) };
            if (traffic.hold) {
                await Promise.all(all.map(async (index) => {
                    await traffic.leaveHeld(staged[index], index).catch((error) => note(index, error));
                    fates[index] = 'held';
                }));
                return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) };
            }
            try {
                await traffic.watchStep(step);
            }
            catch (error) {
                await analysisFailed('canary', error);
                return { fates, errors, failed, stageSeconds, switchSeconds: 0, canarySeconds: seconds(canaryStart) };
            }
        }
        canarySeconds = seconds(canaryStart);
    }
    const switchStart = performance.now();
    const waves = wavesOf(count, limits.maxParallel);
    for (const [wave, indices] of waves.entries()) {
        work.onWave?.(wave, indices);
        if (!(await moveAll(indices, 'switch', (index) => work.switch(staged[index], index))))
            return { fates, errors, failed, stageSeconds, switchSeconds: seconds(switchStart), canarySeconds };
    }
    const switchSeconds = seconds(switchStart);
    let bakeSeconds;
    if (traffic?.bake) {
        const bakeStart = performance.now();
        try {
            await traffic.bake();
        }
        catch (error) {
            await analysisFailed('bake', error);
            return { fates, errors, failed, stageSeconds, switchSeconds, canarySeconds, bakeSeconds: seconds(bakeStart) };
        }
        bakeSeconds = seconds(bakeStart);
    }
    await inPool(count, limits.stageParallel, async (index) => {
        try {
            await work.finish(staged[index], index);
            fates[index] = 'deployed';
        }
        catch (error) {
            fates[index] = 'finish-failed';
            note(index, error);
            failed ??= { index, phase: 'finish' };
        }
    });
    return { fates, errors, failed, stageSeconds, switchSeconds, canarySeconds, bakeSeconds };
}

;// CONCATENATED MODULE: ./lib/deploy/rollback.js
/**
 * `command: rollback` on one host: back to the warm instance in seconds, or restart the previous
 * release. With a canary held, back to the previous instance, which the canary's marker names (see
 * held-canary.ts). On a host in maintenance it stays in maintenance, naming the port it went back to.
 */







async function rollback(run) {
    const { config, remote, report, log, state } = run;
    checkHostReady(state, remote);
    const canary = heldCanary(run);
    if (canary)
        return await rollBackHeldCanary(run, canary);
    checkSupervision(run);
    const { active, idle: other } = choosePorts(state.include, config.ports);
    if (active === undefined) {
        throw new StepError('rollback', `${config.nginx.include} names neither port ${config.ports.join(' nor ')}, so there is no active version to roll back from.`);
    }
    report.activePort = active;
    report.previousPort = active;
    const warm = instanceOn(state, other);
    const warmNeverServed = state.releases.some((r) => r.name === warm?.release && r.neverServed);
    if (warm?.running && warmNeverServed) {
        log.info(`Port ${other} runs release ${warm.release}, which has never served: its deploy failed or was cut off. It is not the version to go back to.`);
    }
    const healthy = warm?.running && !warmNeverServed ? await answersHealth(run, other) : false;
    let release = warm?.release;
    let fileName = state.releases.find((r) => r.name === release)?.fileName ?? '';
    if (healthy) {
        log.info(`Port ${other} runs release ${release ?? 'unknown'} and answers its health check: switching back to it.`);
        const unit = state.units.find((u) => u.port === other);
        if (supervisionOf(config.supervisor, config.appName, state).mode === 'systemd' && unit?.active !== 'active') {
            log.warning(`Port ${other} runs detached (it was started before systemd supervision): it will not come back after a crash or a reboot. The next deploy runs it as a systemd unit.`);
        }
    }
    else {
        const activeRelease = instanceOn(state, active)?.release;
        const candidate = [...state.releases]
            .sort((a, b) => b.name.localeCompare(a.name))
            .find((r) => r.name !== activeRelease && r.fileName !== '' && !r.neverServed);
        if (!candidate) {
            throw new StepError('rollback', `nothing that has served runs on port ${other}, and the host keeps no release other than the active one (${activeRelease ?? 'unknown'}) that has served, so there is nothing to roll back to.`);
        }
        release = candidate.name;
        fileName = candidate.fileName;
        log.info(`Nothing healthy runs on port ${other}: starting release ${release} there.`);
        await timed(report, 'stop_idle', () => freeIdlePort(run, other, candidate.fileName));
        await timed(report, 'pre_start', () => runHook(run, { name: 'pre-start', release: candidate.name, fileName, port: other, previousPort: active })).catch((error) => {
            throw error instanceof HookError ? error.leaving('Nothing was started or switched; the active version still serves.') : error;
        });
        await timed(report, 'start', () => log.group(`Start ${release} on port ${other}`, () => startAndCheckHealth(run, other, candidate.name, candidate.fileName)));
    }
    const point = { release: release ?? '', fileName, port: other, previousPort: active };
    if (release !== undefined) {
        try {
            await timed(report, 'pre_switch', () => runHook(run, { name: 'pre-switch', ...point }));
        }
        catch (error) {
            // What this rollback started goes again; a warm instance that ran before it stays as it was.
            if (!healthy)
                await stopInstance(run, other, 0).catch(() => undefined);
            const outcome = healthy
                ? 'Nothing was switched; the active version still serves.'
                : `The instance it started on port ${other} was stopped; nothing was switched and the active version still serves.`;
            throw error instanceof HookError ? error.leaving(outcome) : error;
        }
    }
    await timed(report, 'switch', async () => {
        await log.group(`Switch nginx to port ${other}`, () => switchTraffic(run, other, release));
        await awaitNginxHandover(run);
    });
    report.activePort = other;
    report.release = release;
    if (release !== undefined) {
        await timed(report, 'post_switch', () => runPostSwitchHook(run, { name: 'post-switch', ...point }, { port: active, release: instanceOn(state, active)?.release }, {
            switchTo: (port, previous) => switchTraffic(run, port, previous),
            stop: healthy ? undefined : (port) => stopInstance(run, port, config.drainSeconds),
        }));
    }
    report.outcome = 'rolled-back';
}

;// CONCATENATED MODULE: ./lib/deploy/status.js









/** How many of the newest history entries status shows for each host. */
const STATUS_HISTORY_ENTRIES = 10;
async function status_status(remote, config, report, log) {
    const state = await timed(report, 'inspect', () => inspectHost(remote, config, log, false));
    const { active, idle } = choosePorts(state.include, config.ports);
    // Sent behind the probe, without waiting for its answer: one round trip for both.
    const history = readHistory(remote, config, STATUS_HISTORY_ENTRIES);
    history.catch(() => undefined);
    const health = await timed(report, 'probe', () => probeHealth({ config, remote, log, report, state }, config.ports));
    report.history = await history;
    const supervision = supervisionOf(config.supervisor, config.appName, state);
    report.supervisor = supervision.start ? `systemd (${supervision.start.scope} units)` : 'none (detached)';
    report.instances = state.instances.map((instance) => {
        const unit = state.units.find((u) => u.port === instance.port);
        return {
            port: instance.port,
            pid: instance.running ? instance.pid : undefined,
            release: instance.running ? instance.release : undefined,
            running: instance.running,
            healthy: health.get(instance.port) === true,
            active: instance.port === active,
            ...(unit
                ? {
                    unit: unitName(config.appName, instance.port),
                    unitState: `${unit.active}/${unit.sub}, ${unit.fileState}`,
                    restarts: unit.restarts,
                }
                : {}),
        };
    });
    report.activePort = active;
    report.previousPort = active === undefined ? undefined : idle;
    report.release = report.instances.find((i) => i.active)?.release;
    const traffic = routingReport(state.include, config.ports, (port) => instanceOn(state, port)?.release);
    report.routing = traffic;
    if (traffic.mode === 'canary')
        report.canary = 'held';
    report.outcome = 'status';
    const lines = report.instances.map((i) => `  port ${i.port}${roleOf(i.port, i.active, traffic)}: ${i.running ? `release ${i.release ?? 'unknown'}, pid ${i.pid}, ${i.healthy ? 'healthy' : 'NOT healthy'}` : 'nothing running'}` +
        (i.unit ? `; unit ${i.unit} ${i.unitState}, ${i.restarts ?? 'unknown'} restart${i.restarts === 1 ? '' : 's'}` : ''));
    log.info(`${remote.entry.label}: ${traffic.text}; supervisor: ${report.supervisor}\n${lines.join('\n')}`);
    log.info(report.history.length === 0
        ? 'Deploy history: empty.'
        : `Deploy history (newest last):\n${report.history.map((entry) => `  ${describeEntry(entry)}`).join('\n')}`);
}
/** What the include says, for the report: the mode, the port, and a held canary's split with its releases. */
function routingReport(include, ports, releaseOf) {
    const traffic = readInclude(include, ports);
    const text = describeTraffic(traffic, releaseOf, ports);
    if (traffic.mode !== 'canary')
        return { mode: traffic.mode, port: traffic.port, text };
    const { percent, newPort, previousPort } = traffic.split;
    return {
        mode: 'canary',
        port: previousPort,
        text,
        canary: { percent, newPort, newRelease: releaseOf(newPort), previousPort, previousRelease: releaseOf(previousPort) },
    };
}
/** What a port does, after its number in the status log. */
function roleOf(port, active, traffic) {
    const canary = traffic.canary;
    if (canary?.newPort === port)
        return ` (canary: ${canary.percent}% of clients)`;
    if (canary?.previousPort === port)
        return ` (active: the other ${Number((100 - canary.percent).toFixed(2))}% of clients)`;
    if (!active)
        return '';
    return traffic.mode === 'maintenance' ? ' (active once live)' : ' (active)';
}

// EXTERNAL MODULE: external "node:timers/promises"
var external_node_timers_promises_ = __webpack_require__(8500);
;// CONCATENATED MODULE: ./lib/deploy/analysis.js
class Side {
    port;
    requests = 0;
    errors = 0;
    statuses = new Map();
    /** Requests by whole milliseconds: hosts add up exactly, and a percentile is read from it. */
    latency = new Map();
    constructor(port) {
        this.port = port;
    }
    add(sample) {
        this.requests += sample.count;
        if (sample.status >= 500 && sample.status <= 599)
            this.errors += sample.count;
        this.statuses.set(sample.status, (this.statuses.get(sample.status) ?? 0) + sample.count);
        this.latency.set(sample.ms, (this.latency.get(sample.ms) ?? 0) + sample.count);
    }
    figures() {
        const statuses = {};
        for (const status of [...this.statuses.keys()].sort((a, b) => a - b))
            statuses[String(status)] = this.statuses.get(status);
        return { port: this.port, requests: this.requests, errors: this.errors, statuses, p99Ms: this.percentile(99) };
    }
    /** The nearest-rank percentile: the smallest time that at least `percent`% of the requests took no longer than. */
    percentile(percent) {
        if (this.requests === 0)
            return undefined;
        const rank = Math.ceil((percent / 100) * this.requests);
        let seen = 0;
        for (const ms of [...this.latency.keys()].sort((a, b) => a - b)) {
            seen += this.latency.get(ms);
            if (seen >= rank)
                return ms;
        }
        return undefined;
    }
}
/** Adds up samples from any number of hosts (a latency histogram per side, so p99 adds up exactly). */
class TrafficTally {
    sides;
    constructor(newPort, previousPort) {
        this.sides = { new: new Side(newPort), previous: new Side(previousPort) };
    }
    /** Requests to any other port (none reached: port 0) belong to neither side and are left out. */
    add(samples) {
        for (const sample of samples) {
            if (sample.count <= 0)
                continue;
            if (sample.port === this.sides.new.port)
                this.sides.new.add(sample);
            else if (sample.port === this.sides.previous.port)
                this.sides.previous.add(sample);
        }
    }
    figures() {
        return { new: this.sides.new.figures(), previous: this.sides.previous.figures() };
    }
}
/** Judges the new side alone: the previous side's figures are there to compare with. */
function judge(figures, thresholds) {
    const side = figures.new;
    if (side.requests === 0 || side.requests < thresholds.minRequests)
        return { kind: 'too-few' };
    const rate = errorRate(side);
    if (rate > thresholds.maxErrorRate) {
        return {
            kind: 'fail',
            reason: `${formatRate(rate)} of the requests to the new instance answered 5xx, over max-error-rate ${thresholds.maxErrorRate}%`,
        };
    }
    if (thresholds.maxP99Ms > 0 && side.p99Ms !== undefined && side.p99Ms > thresholds.maxP99Ms) {
        return { kind: 'fail', reason: `the new instance's p99 is ${side.p99Ms} ms, over max-p99-ms ${thresholds.maxP99Ms}` };
    }
    return { kind: 'pass' };
}
function errorRate(side) {
    return side.requests === 0 ? 0 : (side.errors / side.requests) * 100;
}
function formatRate(rate) {
    return `${rate.toFixed(1)}%`;
}
/** "new (port 8082): 250 requests, 20.0% 5xx (500: 50), p99 12 ms; previous (port 8081): ..." */
function figuresText(figures) {
    return `${sideText('new', figures.new)}; ${sideText('previous', figures.previous)}`;
}
function sideText(name, side) {
    const head = `${name} (port ${side.port}): `;
    if (side.requests === 0)
        return `${head}no requests`;
    const failed = Object.entries(side.statuses)
        .filter(([status]) => status.startsWith('5'))
        .map(([status, count]) => `${status}: ${count}`);
    const other = Object.entries(side.statuses)
        .filter(([status]) => !status.startsWith('5') && !status.startsWith('2'))
        .map(([status, count]) => `${status}: ${count}`);
    return [
        `${head}${side.requests} request${side.requests === 1 ? '' : 's'}`,
        `${formatRate(errorRate(side))} 5xx${failed.length ? ` (${failed.join(', ')})` : ''}`,
        ...(side.p99Ms === undefined ? [] : [`p99 ${side.p99Ms} ms`]),
        ...(other.length ? [`other statuses ${other.join(', ')}`] : []),
    ].join(', ');
}

;// CONCATENATED MODULE: ./lib/deploy/watch.js
/**
 * Watching a canary step or the bake across the hosts: every ~0.5 s each host's traffic log is read
 * from where the last read ended, what nginx saw is added up over the hosts, and judged. The moment
 * the new version fails, the watch throws, and the caller sends every host back.
 */



/** A step the new version failed: its figures, for the report. */
class AnalysisFailure extends StepError {
    result;
    constructor(result) {
        super(result.step, `the new version failed its analysis after ${result.seconds.toFixed(1)} s: ${result.reason}. ${figuresText(result.figures)}.`);
        this.result = result;
    }
}
/**
 * Watches `seconds` (at least one read), judging after every round; returns the step's figures, or
 * throws `AnalysisFailure` the moment the new version fails. A step that ends with fewer requests
 * than analysis-min-requests is a warning, not a failure.
 */
async function watchTraffic(hosts, options) {
    const { step, thresholds, log, intervalMs = 500, progressMs = 5000 } = options;
    // The hosts' ports are added up as the first host names them: each may serve either port of the pair.
    const [first] = hosts;
    const total = new TrafficTally(first.newPort, first.previousPort);
    const own = hosts.map((host) => new TrafficTally(host.newPort, host.previousPort));
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    let lastProgress = started;
    const elapsed = () => Math.round(performance.now() - started) / 1000;
    const result = (verdict, reason) => ({
        step,
        seconds: elapsed(),
        verdict,
        ...(reason ? { reason } : {}),
        figures: total.figures(),
        ...(hosts.length > 1 ? { hosts: own.map((tally) => tally.figures()) } : {}),
    });
    log.info(`${capitalized(step)}: watching for ${options.seconds} s (max-error-rate ${thresholds.maxErrorRate}%${thresholds.maxP99Ms > 0 ? `, max-p99-ms ${thresholds.maxP99Ms}` : ''}, judged from ${thresholds.minRequests} requests on).`);
    for (;;) {
        const round = performance.now();
        const reads = await Promise.all(hosts.map((host) => host.read()));
        for (const [index, samples] of reads.entries()) {
            const host = hosts[index];
            own[index].add(samples);
            total.add(samples.map((sample) => ({ ...sample, port: asFirst(sample.port, host, first) })));
        }
        const verdict = judge(total.figures(), thresholds);
        if (verdict.kind === 'fail') {
            const failed = result('fail', verdict.reason);
            log.warning(`${capitalized(step)} failed after ${failed.seconds.toFixed(1)} s: ${verdict.reason}. ${figuresText(failed.figures)}`);
            throw new AnalysisFailure(failed);
        }
        const now = performance.now();
        if (now >= deadline)
            break;
        if (now - lastProgress >= progressMs) {
            lastProgress = now;
            log.info(`${capitalized(step)} after ${elapsed().toFixed(0)} s: ${figuresText(total.figures())}`);
        }
        await (0,external_node_timers_promises_.setTimeout)(Math.max(0, Math.min(intervalMs - (now - round), deadline - now)));
    }
    const figures = total.figures();
    if (figures.new.requests < thresholds.minRequests) {
        const done = result('too-few');
        log.warning(`${capitalized(step)}: only ${figures.new.requests} request${figures.new.requests === 1 ? '' : 's'} reached the new instance in ${done.seconds.toFixed(1)} s, fewer than analysis-min-requests (${thresholds.minRequests}), so it was not judged; going on. ${figuresText(figures)}`);
        return done;
    }
    const done = result('pass');
    log.info(`${capitalized(step)} passed after ${done.seconds.toFixed(1)} s: ${figuresText(figures)}`);
    return done;
}
/** A host's port as the first host's pair names it: its new port is the first's new port. */
function asFirst(port, host, first) {
    if (port === host.newPort)
        return first.newPort;
    if (port === host.previousPort)
        return first.previousPort;
    return 0;
}
const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

;// CONCATENATED MODULE: ./lib/deploy/traffic-flow.js
/**
 * Traffic control's part of a fleet deploy (phases.ts runs it): once every host is staged, the
 * canary steps on every host together, each watched across all of them, then the bake after the
 * switch; and what came of it, in each host's report and in the run's error.
 */




function trafficWork(config, targets, hostSteps) {
    const plan = trafficPlan(config.traffic);
    const thresholds = {
        maxErrorRate: config.traffic.maxErrorRate,
        maxP99Ms: config.traffic.maxP99Ms,
        minRequests: config.traffic.minRequests,
    };
    const log = { info: (message) => core/* info */.pq(message), warning: (message) => core/* warning */.$e(message) };
    const steps = [];
    let held;
    let hosts = [];
    let on = false;
    let stepStart = 0;
    let failedAt;
    let failure;
    const watch = async (step) => {
        const watched = hosts.map((staged, index) => ({
            label: targets[index].entry.label,
            newPort: staged.idle,
            previousPort: staged.active,
            read: () => readTraffic(staged.run, staged.traffic),
        }));
        try {
            steps.push(await watchTraffic(watched, { step: stepName(step), seconds: step.seconds, thresholds, log }));
        }
        catch (error) {
            failedAt = performance.now();
            if (error instanceof AnalysisFailure) {
                steps.push(error.result);
                failure = `since the new version failed its analysis (${error.result.step})`;
            }
            else {
                failure = `since the traffic of ${stepName(step)} could not be watched`;
            }
            throw error;
        }
    };
    return {
        work(staged) {
            if (!(0,traffic_inputs/* watchesTraffic */.F4)(config.traffic))
                return undefined;
            if (staged.some((s) => !s.traffic)) {
                // Each such host said why (no previous instance); one version across the fleet, one way.
                if (staged.length > 1)
                    core/* warning */.$e('Not every host has a previous instance to go back to, so no host takes the canary steps or the bake.');
                return undefined;
            }
            hosts = staged;
            on = true;
            return {
                steps: plan.canary.map((step) => step.percent),
                hold: plan.hold,
                toStep: (s, index, step) => {
                    if (index === 0)
                        stepStart = performance.now();
                    return hostSteps.toStep(s, plan.canary[step].percent, index, plan.hold);
                },
                watchStep: (step) => watch({ kind: 'canary', ...plan.canary[step] }),
                bake: plan.bakeSeconds > 0
                    ? () => {
                        stepStart = performance.now();
                        return watch({ kind: 'bake', seconds: plan.bakeSeconds });
                    }
                    : undefined,
                leaveHeld: (s, index) => {
                    held = { kind: 'canary', ...plan.canary[0] };
                    return hostSteps.leaveHeld(s, index);
                },
            };
        },
        bakes: () => on && plan.bakeSeconds > 0,
        backReason: () => failure,
        record(report, index, outcome) {
            if (!on)
                return;
            const stepReports = steps.map((step) => ({
                step: step.step,
                seconds: step.seconds,
                verdict: step.verdict,
                ...(step.reason ? { reason: step.reason } : {}),
                figures: step.figures,
                ...(step.hosts ? { hostFigures: step.hosts[index] } : {}),
            }));
            if (held)
                stepReports.push({ step: stepName(held), seconds: 0, verdict: 'held' });
            report.traffic = stepReports;
            if (outcome.canarySeconds !== undefined)
                report.phases.canary = outcome.canarySeconds;
            if (outcome.bakeSeconds !== undefined)
                report.phases.bake = outcome.bakeSeconds;
            if (plan.canary.length > 0 && !plan.hold && outcome.fates[index] === 'deployed')
                report.canary = 'promoted';
        },
        failureText(error, outcome) {
            const message = error instanceof Error ? error.message : String(error);
            const stuck = outcome.fates.flatMap((fate, index) => fate === 'revert-failed' ? [`${targets[index].entry.label}: ${String(outcome.errors.get(index))}`] : []);
            if (stuck.length > 0)
                return `${message}\nGoing back to the previous version failed on ${stuck.length === 1 ? 'a host' : `${stuck.length} hosts`}:\n${stuck.join('\n')}`;
            const back = Math.max(...hosts.map((staged) => staged.backAt ?? 0));
            const when = failedAt !== undefined && back > 0
                ? `, ${((back - failedAt) / 1000).toFixed(1)} s after the verdict and ${((back - stepStart) / 1000).toFixed(1)} s after the ${outcome.failed?.phase === 'bake' ? 'switch' : 'step began'}`
                : '';
            const where = hosts.length === 1
                ? `Traffic is back on the previous instance (port ${hosts[0].active})${when}; the new instance was drained and stopped.`
                : `Every host is back on its previous instance${when}; the new instances were drained and stopped.`;
            return `${message} ${where}`;
        },
    };
}

;// CONCATENATED MODULE: ./lib/deploy/fleet.js
/**
 * A run across the listed hosts. A deploy goes in two phases (src/deploy/phases.ts): every host is
 * staged, `stage-parallel` at a time, and only then switched, `max-parallel` at a time. `status`,
 * `rollback` and dry runs reach `stage-parallel` hosts at a time. One host is a fleet of one.
 */





















const errorText = (error) => (error instanceof Error ? error.message : String(error));
/** Stops the host's clock: the run on it is over, whatever came of it. */
function settle(target) {
    if (target.settled)
        return;
    target.settled = true;
    target.report.durationSeconds = Math.round((performance.now() - target.started) / 10) / 100;
}
/** Leaves the run's line in the host's history (once its outcome is known), then closes its connection. */
async function conclude(target, config) {
    settle(target);
    const remote = target.remote;
    target.remote = undefined;
    if (!remote)
        return;
    await leaveHost(remote, config, target.report, target.log);
}
/**
 * The run's last words on a host: its history line, written while it still holds the host's lock
 * (kept since the connect, see holdLockUntilLetGo), so that no other run appends or trims the
 * history meanwhile; then the lock is let go and the connection closed.
 */
async function leaveHost(remote, config, report, log) {
    try {
        if (keepsHistory(config, report))
            await recordHistory(remote, config, report, log);
        await letGoOfLock(remote);
    }
    finally {
        remote.close();
    }
}
/** The step a run failed at, for the history: the SPEC's step names, or where the connection was lost. */
function failedStep(error) {
    if (error instanceof StepError || error instanceof RemoteCommandError)
        return error.step;
    if (error instanceof ConnectionError)
        return 'connection';
    return 'unknown';
}
async function connected(target) {
    if (!target.remote) {
        target.remote = await timed(target.report, 'connect', () => target.connect());
        holdLockUntilLetGo(target.remote);
    }
    return target.remote;
}
/** status, rollback, promote, maintenance, live and dry runs: each host on its own, `stage-parallel` at a time. */
async function eachHost(targets, config, artifact) {
    let firstFailure;
    await inPool(targets.length, config.stageParallel, async (index) => {
        const target = targets[index];
        const { report, log } = target;
        try {
            const remote = await connected(target);
            if (config.command === 'deploy')
                await planDeploy(remote, config, await artifact, report, log);
            else if (config.command === 'rollback')
                await underLock(remote, config, report, log, rollback);
            else if (config.command === 'logs')
                await logs(remote, config, report, log, (0,inputs/* secretsOf */.Fj)(config));
            else if (config.command === 'status')
                await status_status(remote, config, report, log);
            else if (config.command === 'promote')
                await underLock(remote, config, report, log, promote);
            else if (config.command === 'maintenance')
                await underLock(remote, config, report, log, maintenance);
            else if (config.command === 'live')
                await underLock(remote, config, report, log, live);
            else
                throw new StepError(config.command, `command ${config.command} is not known`);
        }
        catch (error) {
            report.outcome = 'failed';
            report.error = errorText(error);
            report.failedStep = failedStep(error);
            firstFailure ??= target;
        }
        finally {
            await conclude(target, config);
            target.flush(`${config.command}: ${report.outcome} (${report.durationSeconds.toFixed(2)} s)`);
        }
    });
    const several = targets.length > 1;
    const dryRun = config.command === 'deploy';
    if (dryRun && several)
        core/* info */.pq(`Checks, host by host:\n${fleetChecklistText(targets.map((t) => t.report))}`);
    if (!firstFailure)
        return undefined;
    // A dry run reports every host's problems at once, not just the first host's.
    if (dryRun && several)
        return targets
            .filter((t) => t.report.outcome === 'failed')
            .map((t) => `${t.entry.label}: ${t.report.error}`)
            .join('\n');
    return several ? `${firstFailure.entry.label}: ${firstFailure.report.error}` : firstFailure.report.error;
}
/** What each fate means in the host's report. */
function recordFate(target, fate, error, cause) {
    const { report } = target;
    if (error !== undefined) {
        report.error = errorText(error);
        report.failedStep = failedStep(error);
    }
    switch (fate) {
        case 'deployed':
            report.outcome = 'deployed';
            break;
        case 'reverted':
            report.outcome = 'reverted';
            break;
        case 'held':
            report.outcome = 'held';
            break;
        case 'unstaged':
            report.outcome = 'skipped';
            report.error ??= `staged, then stopped: ${cause}; nginx was not touched`;
            break;
        case 'not-staged':
            report.outcome = 'skipped';
            report.error ??= `not touched: ${cause}`;
            break;
        case 'revert-failed':
            report.outcome = 'failed';
            report.error = `switching back failed: ${report.error}`;
            break;
        default:
            report.outcome = 'failed';
    }
}
/** A deploy: stage every host, then switch in waves, then finish (see phases.ts). */
async function deployFleet(targets, config, artifact) {
    const several = targets.length > 1;
    const stagedAt = [];
    // Traffic control's steps, once every host is staged (see traffic-flow.ts).
    const flow = trafficWork(config, targets, {
        toStep: async (staged, percent, index, held) => {
            try {
                await canaryStepHost(staged, percent, { held });
                targets[index].flush(`canary ${percent}%: split between ports ${staged.idle} (new) and ${staged.active} (${targets[index].report.phases.switch} s)`);
            }
            catch (error) {
                targets[index].flush(`canary ${percent}%: FAILED; nginx serves what it served before`);
                throw error;
            }
        },
        leaveHeld: async (staged, index) => {
            try {
                await leaveHeldHost(staged);
            }
            finally {
                settle(targets[index]);
                targets[index].flush(`canary held: ports ${staged.idle} (new) and ${staged.active} both serve; nothing was stopped`);
            }
        },
    });
    const outcome = await runPhases(targets.length, config, {
        stage: async (index) => {
            const target = targets[index];
            try {
                const staged = await stageHost(await connected(target), config, await artifact, target.report, target.log);
                stagedAt[index] = performance.now();
                target.flush(`stage: release ${staged.release} healthy on port ${staged.idle} (${sumOf(target.report, STAGE)} s)`);
                return staged;
            }
            catch (error) {
                target.flush(`stage: FAILED (${sumOf(target.report, STAGE)} s)`);
                throw error;
            }
        },
        onStaged: (seconds) => {
            if (several)
                core/* info */.pq(`Stage: all ${targets.length} hosts staged in ${seconds.toFixed(2)} s; nginx untouched so far.`);
        },
        onWave: (wave, indices) => {
            if (!several)
                return;
            const now = performance.now();
            for (const index of indices)
                targets[index].report.phases.wait = Math.round(now - stagedAt[index]) / 1000;
            core/* info */.pq(`Switch: wave ${wave + 1} of ${Math.ceil(targets.length / config.maxParallel)}: ${indices.map((i) => targets[i].entry.label).join(', ')}`);
        },
        traffic: flow.work,
        switch: async (staged, index) => {
            try {
                await switchHost(staged, { observed: flow.bakes() });
                targets[index].flush(`switch: serves release ${staged.release} on port ${staged.idle} (${targets[index].report.phases.switch} s)`);
            }
            catch (error) {
                targets[index].flush('switch: FAILED; nginx serves the old port');
                throw error;
            }
        },
        switchBack: async (staged, index) => {
            try {
                await switchBackHost(staged, flow.backReason());
            }
            finally {
                settle(targets[index]);
                targets[index].flush(`switch back to port ${staged.active ?? '-'}: ${targets[index].report.rolledBack ? 'done' : 'FAILED'}`);
            }
        },
        unstage: async (staged, index) => {
            try {
                await unstageHost(staged);
            }
            finally {
                settle(targets[index]);
                targets[index].flush(`stop the staged instance on port ${staged.idle}`);
            }
        },
        finish: async (staged, index) => {
            try {
                await finishHost(staged);
            }
            finally {
                settle(targets[index]);
                targets[index].flush(`finish (${sumOf(targets[index].report, ['stop_previous', 'cleanup'])} s)`);
            }
        },
    });
    const failure = outcome.failed;
    const failedHost = failure && 'index' in failure ? targets[failure.index] : undefined;
    const cause = failure?.phase === 'stage'
        ? `${failedHost.entry.label} failed to stage`
        : failure?.phase === 'switch' || (failure?.phase === 'canary' && failedHost)
            ? `${failedHost.entry.label} failed to switch`
            : 'an earlier host failed';
    const analysisError = failure && 'error' in failure ? failure.error : undefined;
    const analysisText = analysisError === undefined ? undefined : flow.failureText(analysisError, outcome);
    for (const [index, target] of targets.entries()) {
        settle(target);
        const hostError = outcome.errors.get(index);
        recordFate(target, outcome.fates[index], hostError ?? analysisError, cause);
        if (analysisText !== undefined && hostError === undefined) {
            // The whole fleet failed the analysis: every host's report tells it, with where traffic is now.
            target.report.outcome = 'failed';
            target.report.error = analysisText;
        }
        flow.record(target.report, index, outcome);
    }
    await Promise.all(targets.map((target) => conclude(target, config)));
    const phases = {
        stage: outcome.stageSeconds,
        ...(outcome.canarySeconds === undefined ? {} : { canary: outcome.canarySeconds }),
        switch: outcome.switchSeconds,
        ...(outcome.bakeSeconds === undefined ? {} : { bake: outcome.bakeSeconds }),
    };
    if (several)
        core/* info */.pq(`Phases: ${Object.entries(phases)
            .map(([name, seconds]) => `${name} ${seconds.toFixed(2)} s`)
            .join(', ')}.`);
    if (analysisText !== undefined)
        return { phases, error: analysisText };
    if (!failedHost)
        return { phases };
    const error = failedHost.report.error ?? 'failed';
    return { phases, error: several ? `${failedHost.entry.label}: ${error}` : error };
}
const STAGE = ['connect', 'lock', 'inspect', 'upload', 'start'];
/** Seconds of the named phases of a host (the idle port is freed during the upload, so it is left out). */
function sumOf(report, phases) {
    return phases.reduce((sum, phase) => sum + (report.phases[phase] ?? 0), 0).toFixed(2);
}
/** The bastion failed: the first host carries its error, and no host was reached. */
function noBastion(targets, error) {
    for (const [index, target] of targets.entries()) {
        settle(target);
        target.report.outcome = index === 0 ? 'failed' : 'skipped';
        target.report.error = index === 0 ? error : 'not touched: the bastion could not be reached';
    }
    return { error: targets.length > 1 ? `${targets[0].entry.label}: ${error}` : error };
}
async function runOnFleet(config, workspace) {
    // Finding the file is part of checking the inputs; hashing a large jar overlaps the SSH handshake.
    // Hashed once for the whole fleet, as is its chunk list (delta-upload.ts).
    const artifactPath = config.command === 'deploy' ? await findArtifact(config.artifact, workspace) : undefined;
    const artifact = artifactPath ? describeArtifact(artifactPath) : undefined;
    artifact?.catch(() => undefined);
    // Every host behind the jump hosts is reached over the last one's connection. Connected first:
    // a jump host that fails fails the run once, before any host is reached.
    const mask = (text) => maskLine(text, (0,inputs/* secretsOf */.Fj)(config));
    const bastion = config.jumpHosts.length > 0 ? connectJumpChain(config, config.jumpHosts, { warn: (message) => core/* warning */.$e(message), mask }) : undefined;
    bastion?.catch(() => undefined);
    const several = config.hosts.length > 1;
    const warnings = new FleetWarnings();
    const targets = config.hosts.map((entry) => {
        // One host keeps the log as it always was: a group per step, printed as it happens.
        const fleetLog = several ? hostLog(entry.label, warnings) : undefined;
        const log = fleetLog ?? actionsLog();
        return {
            entry,
            log,
            flush: (title) => fleetLog?.flush(title),
            report: emptyReport(entry.label, config.command),
            started: performance.now(),
            connect: async () => RemoteHost.connect(hostEndpoint(config, entry, bastion && (await bastion), { warn: (message) => log.warning(message), mask })),
        };
    });
    let result;
    try {
        const bastionError = bastion &&
            (await bastion.then(() => undefined, (error) => errorText(error)));
        result = bastionError
            ? noBastion(targets, bastionError)
            : config.command === 'deploy' && !config.dryRun
                ? await deployFleet(targets, config, artifact)
                : { error: await eachHost(targets, config, artifact) };
    }
    finally {
        for (const target of targets)
            target.remote?.close();
        if (bastion)
            (await bastion.catch(() => undefined))?.close();
        warnings.summarize();
    }
    return { reports: targets.map((t) => t.report), artifact: await artifact?.catch(() => undefined), ...result };
}

;// CONCATENATED MODULE: ./lib/deploy/outputs.js
/** The step's outputs and job summary, from the hosts' reports. */


/**
 * Plain outputs join the hosts' values with commas, in host order. `registered` are the values
 * registered with the runner as secrets, which drops every output that holds one: in the report's
 * texts (an error, a plan line) each is replaced by *** as the log would show it, so that the
 * report still reaches the next job.
 */
function outputsOf(result, registered = []) {
    const join = (pick) => result.reports.map((r) => (pick(r) ?? '')).join(',');
    return {
        'active-port': join((r) => r.activePort),
        'previous-port': join((r) => r.previousPort),
        release: join((r) => r.release),
        'artifact-sha256': join((r) => r.sha256 ?? result.artifact?.sha256),
        'uploaded-bytes': join((r) => r.uploadedBytes),
        'duration-seconds': join((r) => r.durationSeconds),
        'rolled-back': join((r) => r.rolledBack),
        // Empty when no host has a canary to speak of, rather than a comma per host.
        canary: result.reports.some((r) => r.canary) ? join((r) => r.canary) : '',
        report: JSON.stringify(result.reports, (_key, value) => (typeof value === 'string' ? withoutMasks(value, registered) : value)),
    };
}
function withoutMasks(text, masks) {
    let result = text;
    for (const mask of masks)
        if (result.includes(mask))
            result = result.split(mask).join('***');
    return result;
}
const PHASES = [
    'connect',
    'lock',
    'inspect',
    'upload',
    'pre_start',
    'stop_idle',
    'start',
    'pre_switch',
    'wait',
    'canary',
    'switch',
    'post_switch',
    'bake',
    'stop_previous',
    'cleanup',
    'probe',
];
function summaryTable(result) {
    const header = ['Host', 'Outcome', 'Port (previous -> active)', 'Release', 'sha256', 'Uploaded', 'Seconds by phase', 'Total s'];
    const rows = result.reports.map((r) => [
        r.host,
        r.outcome,
        `${r.previousPort ?? '-'} -> ${r.activePort ?? '-'}`,
        r.release ?? '-',
        r.sha256 ? r.sha256.slice(0, 12) : '-',
        result.artifact ? `${r.uploadedBytes} of ${result.artifact.size} bytes` : '-',
        PHASES.filter((p) => r.phases[p] !== undefined)
            .map((p) => `${p} ${r.phases[p].toFixed(2)}`)
            .join(', '),
        r.durationSeconds.toFixed(2),
    ]);
    return [header, ...rows];
}
function historyTable(entries) {
    const header = ['Time (UTC)', 'Command', 'Outcome', 'Failed step', 'Deployed or tried', 'Serving after', 'Ports', 'Seconds', 'By'];
    return [
        header.map((data) => ({ data, header: true })),
        ...entries.map((e) => [
            e.time,
            e.command,
            e.outcome,
            e.step ?? '',
            entryTarget(e),
            entryServing(e),
            `${e.ports.before ?? '-'} -> ${e.ports.after ?? '-'}`,
            e.seconds.toFixed(1),
            entryOwner(e),
        ]),
    ];
}
async function publish(result, registered = []) {
    for (const [name, value] of Object.entries(outputsOf(result, registered))) {
        // The runner would drop it without a word ("Skip output since it may contain secret").
        if (registered.some((mask) => value.includes(mask))) {
            core/* warning */.$e(`The output ${name} holds a value registered as a secret (from env or java-opts), so the runner withholds it.`);
        }
        core/* setOutput */.uH(name, value);
    }
    const command = result.reports[0]?.command ?? 'deploy';
    const [header, ...rows] = summaryTable(result);
    const summary = core/* summary */.z
        .addHeading(`zero-downtime-deploy: ${command}${result.error ? ' failed' : ''}`, 3)
        .addTable([header.map((data) => ({ data, header: true })), ...rows]);
    if (result.error)
        summary.addCodeBlock(result.error);
    const traffic = trafficTable(result.reports);
    if (traffic)
        summary.addHeading('Canary and bake: what nginx saw (all hosts added up)', 4).addTable(traffic);
    addChecks(summary, result.reports);
    for (const report of result.reports) {
        // status: a held canary's split, or maintenance, says more than the port does.
        if (report.routing)
            summary.addRaw(`\n${report.host}: ${report.routing.text}.\n`, true);
        if (report.history && report.history.length > 0) {
            summary.addHeading(`Deploy history of ${report.host} (newest last)`, 4).addTable(historyTable(report.history));
        }
        if (report.plan)
            summary.addList(report.plan.map((line) => `${report.host}: ${line}`), true);
    }
    await summary.write().catch((error) => core/* warning */.$e(`Could not write the job summary: ${error.message}`));
}
/** A side's figures in a cell: "250 requests, 20.0% 5xx, p99 12 ms". */
function sideCell(side) {
    if (!side || side.requests === 0)
        return 'no requests';
    const rate = ((side.errors / side.requests) * 100).toFixed(1);
    return `${side.requests} requests, ${rate}% 5xx${side.p99Ms === undefined ? '' : `, p99 ${side.p99Ms} ms`}`;
}
/** Each canary step and the bake, as the first host's report has them (they add up every host). */
function trafficTable(reports) {
    const steps = reports.find((r) => r.traffic && r.traffic.length > 0)?.traffic;
    if (!steps)
        return undefined;
    const header = ['Step', 'Verdict', 'Seconds', 'New instance', 'Previous instance'];
    return [
        header.map((data) => ({ data, header: true })),
        ...steps.map((step) => [
            step.step,
            step.verdict === 'fail' ? `fail: ${step.reason}` : step.verdict === 'too-few' ? 'too few requests to judge' : step.verdict,
            step.seconds.toFixed(1),
            step.figures ? `port ${step.figures.new.port}: ${sideCell(step.figures.new)}` : '-',
            step.figures ? `port ${step.figures.previous.port}: ${sideCell(step.figures.previous)}` : '-',
        ]),
    ];
}
/** One check as a line of a task list: ticked when it passed. */
function checkLine(c) {
    return c.ok ? `- [x] **${c.check}**: ${c.note ?? 'ok'}` : `- [ ] **${c.check}**: ${c.problem} Fix: ${c.fix}`;
}
/** A fleet's checks, check by check and host by host: ✅ passed, ❌ failed, - not checked (the host could not be reached). */
function fleetChecksTable(reports) {
    const names = [...new Set(reports.flatMap((r) => (r.checks ?? []).map((c) => c.check)))];
    const cell = (r, name) => {
        const found = r.checks?.find((c) => c.check === name);
        return found ? (found.ok ? '✅' : '❌') : '-';
    };
    return [
        ['Check', ...reports.map((r) => r.host)].map((data) => ({ data, header: true })),
        ...names.map((name) => [name, ...reports.map((r) => cell(r, name))]),
    ];
}
/** dry-run: the checklist of one host, or a fleet's table and then every problem with its fix. */
function addChecks(summary, reports) {
    const checked = reports.filter((r) => r.checks);
    if (checked.length === 0)
        return;
    if (reports.length === 1) {
        summary.addHeading(`Checks on ${reports[0].host}`, 4).addRaw(`\n${reports[0].checks.map(checkLine).join('\n')}\n`, true);
        return;
    }
    summary.addHeading('Checks, host by host', 4).addTable(fleetChecksTable(reports));
    const problems = reports.flatMap((r) => (r.checks ?? []).filter((c) => !c.ok).map((c) => `- ${r.host}, **${c.check}**: ${c.problem} Fix: ${c.fix}`));
    if (problems.length > 0)
        summary.addRaw(`\n${problems.join('\n')}\n`, true);
}

;// CONCATENATED MODULE: ./lib/main.js
/** The action: inputs -> run -> outputs. The one place an error becomes a failed step. */





/** What the history in `report` shows of the run's owner (status): no secret. */
const SHOWN_BY_RUNNER = ['GITHUB_REPOSITORY', 'GITHUB_ACTOR', 'RUNNER_NAME'];
async function main() {
    try {
        const input = (name) => core/* getInput */.V4(name, { trimWhitespace: false });
        // Before parsing: a problem with any input must not print a secret that is not masked yet.
        // Only what may be a credential: the runner drops every output that holds a registered value.
        const register = (masks) => {
            for (const mask of masks) {
                if (registered.has(mask))
                    continue;
                registered.add(mask);
                core/* setSecret */.Pq(mask);
            }
        };
        const registered = new Set();
        register((0,secrets/* masksFor */.RM)((0,secrets/* secretsBeforeParsing */.Zz)(input, SHOWN_BY_RUNNER.map((name) => process.env[name] ?? ''))));
        const config = (0,inputs/* parseInputs */.TL)(input, { repository: process.env.GITHUB_REPOSITORY });
        register((0,secrets/* masksFor */.RM)((0,inputs/* registeredSecretsOf */.hZ)(config)));
        const result = await runOnFleet(config, process.env.GITHUB_WORKSPACE ?? process.cwd());
        await publish(result, [...registered]);
        if (result.error)
            core/* setFailed */.C1(result.error);
    }
    catch (error) {
        core/* setFailed */.C1(error instanceof Error ? error.message : String(error));
    }
}


/***/ })

};
