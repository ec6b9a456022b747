import t from 'tap'
import { x } from '../src/clock.js'
t.equal(x, 1)
