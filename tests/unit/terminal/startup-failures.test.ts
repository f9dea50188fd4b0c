import { describe, expect, it } from 'vitest'
import { explainAddressInUse } from '../../../shared/address-in-use.js'

describe('an address in use', () => {
  it('says another instance runs there when its /healthz answers', async () => {
    const fetchOk = (async () => new Response(JSON.stringify({ status: 'ok' }))) as typeof fetch
    expect(await explainAddressInUse('127.0.0.1', 8080, 'HTTP_PORT', fetchOk)).toBe(
      'another instance is running at http://127.0.0.1:8080/ (its /healthz answers): stop it first, or give this one another HTTP_PORT',
    )
  })

  it('blames another program otherwise', async () => {
    const fetchFails = (async () => {
      throw new Error('socket hang up')
    }) as typeof fetch
    expect(await explainAddressInUse('0.0.0.0', 9092, 'KAFKA_LOCAL_PORT', fetchFails)).toBe(
      '0.0.0.0:9092 is in use by another program: stop it, or set KAFKA_LOCAL_PORT to a free port (0 picks one)',
    )
  })
})
