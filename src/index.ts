import './shims.js'
import { firstDestination } from './config/inputs.js'
import { connectEarly } from './ssh/early-socket.js'

// Inputs arrive as INPUT_<NAME> variables (the names @actions/core reads), available before it loads.
connectEarly(firstDestination((name) => process.env[`INPUT_${name.toUpperCase()}`] ?? ''))
// Node issues the connect on its next tick; loading the rest would otherwise come first.
await new Promise((resolve) => setImmediate(resolve))
const { main } = await import('./main.js')
await main()
