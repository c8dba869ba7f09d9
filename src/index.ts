import './shims.js'
import { main } from './main.js'

await main()
