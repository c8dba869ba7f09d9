// ssh2's bundled poly1305 module reads __dirname, which does not exist in an ES module bundle
// (vercel/ncc#749). This file must be the first import of the entry point.
import { fileURLToPath } from 'node:url'
import { dirname } from 'node:path'

const globals = globalThis as { __filename?: string; __dirname?: string }
globals.__filename ??= fileURLToPath(import.meta.url)
globals.__dirname ??= dirname(globals.__filename)
