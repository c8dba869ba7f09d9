/**
 * Shell functions shared by the remote scripts: src/remote/sh/lib.sh, static text (no value is
 * ever spliced in); functions take their inputs as arguments or from the variables that
 * `shellScript` sets.
 */
import { LIB_SH } from './sh/generated.js'

export const SHELL_LIB = LIB_SH
