/**
 * What `nginx -T` tells about the places traffic control writes to: whether nginx reads the
 * http-level file inside `http`, and which of the user's access_log directives are in force where
 * the include is included (an observing include repeats them, since an access_log of its own
 * replaces every inherited one). See docs/nginx-traffic.md.
 */

/** The test command with its -t made -T; undefined when the command has no `-t` word. */
export function dumpCommand(testCommand: string): string | undefined {
  const words = testCommand.split(/(\s+)/)
  const at = words.indexOf('-t')
  if (at < 0) return undefined
  words[at] = '-T'
  return words.join('')
}

export interface NginxLayout {
  /** The http-level file is read by nginx inside http. */
  httpFileIncluded: boolean
  /** The user's access_log directives in force where the include is included (verbatim, with `;`). */
  accessLogs: string[]
  /** Why an observing include cannot be placed (included in several places with different logs, never included...). */
  problems: string[]
  /**
   * The user's add_header directives in force where the include is included (verbatim), for the
   * maintenance include to repeat: its own add_header replaces every inherited one. Empty where
   * the include's own block has some (they stay in force) or the places disagree.
   */
  addHeaders?: string[]
}

/**
 * What to tell a user whose nginx does not read the http-level file inside http, where `why` says
 * what the run asked for: the problem, and its fix. The file must exist before nginx.conf names it
 * (an include of a missing file fails nginx -t), and come before the server blocks, whose include
 * uses its log format.
 */
export function httpFileMissing(httpFile: string, why: string): { problem: string; fix: string } {
  return {
    problem: `nginx does not read ${httpFile} (nginx-http-include) inside its http block, and ${why}: that file holds the split of the clients and the log format.`,
    fix:
      `Add "include ${httpFile};" inside the http block of nginx's configuration, above the server blocks (or a glob there that matches it), ` +
      `after creating the file, empty ("sudo touch ${httpFile}": nginx -t fails on an include of a missing file); ` +
      `or set nginx-http-include to a file that nginx's http block already reads (such as one matched by its "include /etc/nginx/conf.d/*.conf;").`,
  }
}

/** nginx's access log where no level of the configuration names one, as nginx is built by default. */
export const COMPILED_ACCESS_LOG = 'logs/access.log'

export function readNginxDump(dump: string, p: { include: string; httpFile: string; compiledAccessLog?: string }): NginxLayout {
  const files = splitDump(dump)
  const main = files.keys().next().value
  if (main === undefined)
    return { httpFileIncluded: false, accessLogs: [], problems: ['nginx -T printed no configuration file'], addHeaders: [] }
  const prefix = main.slice(0, main.lastIndexOf('/') + 1)
  const parsed = new Map<string, Directive[]>()
  const problems: string[] = []
  // A file this reader cannot follow (a module's own syntax, such as a Lua block) is left out: it
  // matters only if it holds the include, which is then said to be missing, with the reason.
  const unread: string[] = []
  for (const [path, text] of files) {
    try {
      parsed.set(path, parse(text, path))
    } catch (error) {
      unread.push(`${path}: ${(error as Error).message}`)
      parsed.set(path, [])
    }
  }
  const root = expand(parsed.get(main)!, main, { files: [...files.keys()], parsed, prefix }, 0)
  const includeSites: Block[][] = []
  let httpFileAt: number | undefined
  let firstIncludeAt: number | undefined
  let at = 0
  visit(root, [], (node, chain) => {
    at++
    if (node.name !== 'include' || node.args.length !== 1) return
    const pattern = absolute(node.args[0].value, prefix)
    const innermost = chain[chain.length - 1]
    if (matches(pattern, p.httpFile) && innermost?.name === 'http') httpFileAt ??= at
    if (matches(pattern, p.include)) {
      includeSites.push(chain)
      firstIncludeAt ??= at
    }
  })
  const httpFileIncluded = httpFileAt !== undefined
  if (httpFileAt !== undefined && firstIncludeAt !== undefined && httpFileAt > firstIncludeAt) {
    // nginx looks a log_format up when it reads the access_log that names it.
    problems.push(
      `nginx reads ${p.httpFile} after ${p.include}: the log format it defines must come first. Move the include that reads ${p.httpFile} above the server blocks in http`,
    )
  }

  const compiled = `access_log ${p.compiledAccessLog ?? COMPILED_ACCESS_LOG} combined;`
  const answers = includeSites.map((chain) => logsAt(chain, p.include, compiled))
  for (const answer of answers) problems.push(...answer.problems)
  if (includeSites.length === 0) {
    const because = unread.length ? ` (of what nginx -T printed, these could not be read: ${unread.join('; ')})` : ''
    problems.push(`nginx does not read ${p.include}: no include directive of its configuration names it${because}`)
  }
  const distinct = new Set(answers.map((answer) => JSON.stringify(answer.logs)))
  if (distinct.size > 1) {
    problems.push(
      `${p.include} is included in ${answers.length} places with different access logs in force (${answers
        .map((answer) => (answer.logs.length ? answer.logs.join(' ') : 'none to repeat'))
        .join('; ')}); one observing include cannot keep all of them as they are`,
    )
  }
  const headers = new Set(includeSites.map((chain) => JSON.stringify(headersAt(chain, p.include))))
  return {
    httpFileIncluded,
    accessLogs: distinct.size === 1 ? answers[0].logs : [],
    problems: [...new Set(problems)],
    addHeaders: headers.size === 1 ? (JSON.parse([...headers][0]) as string[]) : [],
  }
}

interface Token {
  /** As written, quotes included. */
  raw: string
  /** What nginx takes it for: quotes removed, escapes resolved. */
  value: string
}

interface Directive {
  name: string
  args: Token[]
  /** The directive as written, on one line: its words separated by one space, then `;`. */
  text: string
  file: string
  children?: Directive[]
}

/** A block with its directives, includes expanded: what nginx merges as one level. */
type Block = Directive & { children: Directive[] }

/** The files of a dump, in order, each after its `# configuration file PATH:` line. */
function splitDump(dump: string): Map<string, string> {
  const files = new Map<string, string>()
  let current: string | undefined
  let lines: string[] = []
  const close = () => {
    if (current !== undefined && !files.has(current)) files.set(current, lines.join('\n'))
  }
  for (const line of dump.split('\n')) {
    const opener = /^# configuration file (.+):$/.exec(line)
    if (opener) {
      close()
      current = opener[1]
      lines = []
    } else if (current !== undefined) lines.push(line)
  }
  close()
  return files
}

/** nginx's tokenizer (ngx_conf_read_token), as far as directives, blocks, quotes, comments and `${var}` go. */
function parse(text: string, file: string): Directive[] {
  const top: Directive[] = []
  const stack: Directive[][] = [top]
  let words: Token[] = []
  let i = 0
  const finish = (block: boolean) => {
    if (words.length === 0) throw new Error(`a "${block ? '{' : ';'}" without a directive`)
    const [name, ...args] = words
    const directive: Directive = { name: name.value, args, text: `${words.map((w) => w.raw).join(' ')};`, file }
    stack[stack.length - 1].push(directive)
    if (block) {
      directive.children = []
      stack.push(directive.children)
    }
    words = []
  }
  while (i < text.length) {
    const c = text[i]
    if (/\s/.test(c)) {
      i++
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
    } else if (c === ';') {
      finish(false)
      i++
    } else if (c === '{') {
      finish(true)
      i++
    } else if (c === '}') {
      if (words.length) throw new Error('a directive without ";" before "}"')
      if (stack.length === 1) throw new Error('a "}" without its "{"')
      stack.pop()
      i++
    } else if (c === '"' || c === "'") {
      let value = ''
      let j = i + 1
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && (text[j + 1] === c || text[j + 1] === '\\')) j++
        value += text[j++]
      }
      if (j >= text.length) throw new Error('a quote without its end')
      words.push({ raw: text.slice(i, j + 1), value })
      i = j + 1
    } else {
      let value = ''
      let j = i
      while (j < text.length && !/[\s;{}]/.test(text[j])) {
        if (text[j] === '\\' && j + 1 < text.length) {
          value += text[j + 1]
          j += 2
        } else if (text[j] === '$' && text[j + 1] === '{') {
          const end = text.indexOf('}', j)
          if (end < 0) throw new Error('a "${" without its "}"')
          value += text.slice(j, end + 1)
          j = end + 1
        } else value += text[j++]
      }
      words.push({ raw: text.slice(i, j), value })
      i = j
    }
  }
  if (words.length) throw new Error('a directive without ";" at the end')
  if (stack.length > 1) throw new Error('a "{" without its "}"')
  return top
}

interface Sources {
  files: string[]
  parsed: Map<string, Directive[]>
  prefix: string
}

/**
 * The directives as nginx reads them: each include's files (those of the dump its pattern
 * matches, in glob's sorted order) in its place, and the include itself kept before them so that
 * what names a file can be found.
 */
function expand(directives: Directive[], file: string, sources: Sources, depth: number): Directive[] {
  if (depth > 32) throw new Error(`includes nest deeper than 32 levels at ${file}`)
  const out: Directive[] = []
  for (const directive of directives) {
    if (directive.children) {
      out.push({ ...directive, children: expand(directive.children, file, sources, depth) })
    } else if (directive.name === 'include' && directive.args.length === 1) {
      out.push(directive)
      const pattern = absolute(directive.args[0].value, sources.prefix)
      for (const path of sources.files.filter((path) => matches(pattern, path)).sort()) {
        out.push(...expand(sources.parsed.get(path) ?? [], path, sources, depth + 1))
      }
    } else out.push(directive)
  }
  return out
}

function visit(directives: Directive[], chain: Block[], see: (directive: Directive, chain: Block[]) => void): void {
  for (const directive of directives) {
    see(directive, chain)
    if (directive.children) visit(directive.children, [...chain, directive as Block], see)
  }
}

/** An include's path as nginx opens it: relative to the directory of the main configuration file. */
function absolute(path: string, prefix: string): string {
  return path.startsWith('/') ? path : prefix + path
}

/** glob(3) as nginx's include uses it: `*`, `?` and `[...]` within one path segment. */
function matches(pattern: string, path: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === path
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) source += '\\['
      else {
        const inside = pattern.slice(i + 1, end)
        source += `[${inside.startsWith('!') ? '^' + inside.slice(1) : inside}]`.replace(/\\/g, '\\\\')
        i = end
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&')
  }
  return new RegExp(`^${source}$`).test(path)
}

/** Blocks whose configuration takes access_log, innermost last. */
const LOG_LEVELS = new Set(['http', 'server', 'location', 'if', 'limit_except'])

/** A block's own access_log directives (its included files' too, not its inner blocks', not the include's own). */
function ownAccessLogs(block: Block, include: string): Directive[] {
  return block.children.filter((d) => d.name === 'access_log' && d.file !== include)
}

function isOff(logs: Directive[]): boolean {
  return logs.some((d) => d.args.length === 1 && d.args[0].value === 'off')
}

/** What an observing include at the end of `chain` must repeat, and why it cannot observe there if it cannot. */
function logsAt(chain: Block[], include: string, compiled: string): { logs: string[]; problems: string[] } {
  const levels = chain.filter((block) => LOG_LEVELS.has(block.name))
  const place = placeName(levels)
  if (levels.length === 0 || levels[0].name !== 'http') {
    return { logs: [], problems: [`${include} is included outside an http block (${place}): nginx's http access logs do not apply there`] }
  }
  const problems: string[] = []
  const here = levels[levels.length - 1]
  // An access_log at this level reaches only the inner blocks that name none of their own.
  visit(here.children, [], (d, inner) => {
    if (d.name === 'access_log' && inner.length > 0 && d.file !== include) {
      problems.push(
        `${placeName([...levels, ...inner])} has access_log directives of its own: the requests it serves would not reach the traffic log`,
      )
    }
  })
  const same = ownAccessLogs(here, include)
  if (same.length > 0) {
    // Directives of the include's own level stay in force beside the traffic log's.
    if (isOff(same)) problems.push(`${place} says "access_log off;", which silences every access log at that level, the traffic log's too`)
    return { logs: [], problems }
  }
  for (let i = levels.length - 2; i >= 0; i--) {
    const logs = ownAccessLogs(levels[i], include)
    if (logs.length === 0) continue
    return { logs: isOff(logs) ? [] : logs.map((d) => d.text), problems }
  }
  return { logs: [compiled], problems }
}

/** The add_header directives a new add_header at the end of `chain` would replace (none when its own level has some). */
function headersAt(chain: Block[], include: string): string[] {
  const levels = chain.filter((block) => LOG_LEVELS.has(block.name))
  const own = (block: Block) => block.children.filter((d) => d.name === 'add_header' && d.file !== include)
  if (levels.length === 0 || own(levels[levels.length - 1]).length > 0) return []
  for (let i = levels.length - 2; i >= 0; i--) {
    const headers = own(levels[i])
    if (headers.length > 0) return headers.map((d) => d.text)
  }
  return []
}

function placeName(levels: Block[]): string {
  return levels.map((b) => [b.name, ...b.args.map((a) => a.raw)].join(' ')).join(' > ') || 'the main level'
}
