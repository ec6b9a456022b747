import t from 'tap'
import { BearerAuth } from '../../src/control/auth.js'

t.test('BearerAuth verdicts', async (t) => {
  let token = 'abc.DEF-123_~+/='
  const auth = new BearerAuth(() => token)
  t.equal(auth.check(`Bearer ${token}`), 'ok')
  t.equal(auth.check(`bearer   ${token}  `), 'ok', 'case-insensitive scheme, extra spaces')
  t.equal(auth.check(undefined), 'missing')
  t.equal(auth.check(''), 'missing')
  t.equal(auth.check(['Bearer a', 'Bearer b']), 'malformed')
  t.equal(auth.check('Bearer'), 'malformed')
  t.equal(auth.check(`Basic ${token}`), 'malformed')
  t.equal(auth.check(`Bearer ${token} more`), 'malformed')
  t.equal(auth.check(`Bearer ${token}x`), 'wrong')
  t.equal(auth.check('Bearer abc'), 'wrong', 'a prefix is not enough')
  token = 'rotated'
  t.equal(auth.check('Bearer rotated'), 'ok', 'the token is read on every check')
  t.equal(auth.check('Bearer abc.DEF-123_~+/='), 'wrong')
  token = ''
  t.equal(auth.check('Bearer x'), 'wrong', 'an empty configured token matches nothing')
})
