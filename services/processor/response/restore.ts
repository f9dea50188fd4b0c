import type { Acknowledgement, ResponseState } from '../../../shared/alerts/response.js'
import { silenceEnd } from '../../../shared/alerts/silence.js'
import { type ClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { parseClickHouseTime, toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import { listSilences } from './store.js'

/**
 * Redis holds the response loop's working state; ClickHouse holds its evidence (breach_actions, silences).
 * When Redis loses data (a restart without persistence, a fail-over to an empty replica), a maintenance
 * window would stop holding delivery and acknowledged breaches would show as unacknowledged. This puts
 * back, from the evidence, the silences that have not ended and the acknowledgement and owner of every
 * breach still open, never over what Redis holds (its value is as new or newer). The processor runs it
 * at start and every RESTORE_INTERVAL_MS; a run with nothing missing writes nothing.
 *
 * Order makes this safe against a concurrent action: an acknowledgement is written to Redis before its
 * evidence, and a withdrawal to the evidence before Redis, so a restore never sees an acknowledgement
 * in ClickHouse that Redis has already dropped for good. Escalation plans are not rebuilt: a breach open
 * when Redis lost them is not escalated further (its firing was delivered; the page shows it open).
 */

/** Breach entries in Redis expire after 90 days; older evidence is not restored. */
const LOOKBACK_DAYS = 90

interface ActionRow {
  breach_id: string
  action: 'ack' | 'unack' | 'assign'
  actor: string
  owner: string
  comment: string
  at: string
}

const OPEN_BREACH_ACTIONS_SQL = `
SELECT breach_id, action, actor, owner, comment, at
FROM breach_actions
WHERE action IN ('ack', 'unack', 'assign')
  AND at > {since:DateTime64(3)}
  AND breach_id NOT IN (SELECT breach_id FROM breach_transitions WHERE transition = 'resolved')
ORDER BY breach_id, at, recorded_at, action_id
LIMIT 1 BY action_id`

export interface RestoreOutcome {
  silences: number
  acknowledgements: number
  owners: number
}

export async function restoreResponseState(
  ch: ClickHouse,
  state: ResponseState,
  now: Date,
): Promise<RestoreOutcome> {
  const out: RestoreOutcome = { silences: 0, acknowledgements: 0, owners: 0 }
  for (const s of await listSilences(ch, 100_000)) {
    if (silenceEnd(s) <= now.getTime()) continue
    if (await state.restoreSilence(s)) out.silences++
  }

  const since = new Date(now.getTime() - LOOKBACK_DAYS * 86_400_000)
  const rows = await queryRows<ActionRow>(ch, OPEN_BREACH_ACTIONS_SQL, { since: toClickHouseTime(since) })
  // Per breach, in time order: the last of ack/unack decides; the last assign names the owner.
  const latest = new Map<string, { ack?: Acknowledgement; owner?: string }>()
  for (const r of rows) {
    const b = latest.get(r.breach_id) ?? {}
    if (r.action === 'ack') {
      b.ack = {
        by: r.actor,
        at: parseClickHouseTime(r.at).toISOString(),
        ...(r.comment ? { comment: r.comment } : {}),
      }
    } else if (r.action === 'unack') delete b.ack
    else if (r.owner) b.owner = r.owner
    latest.set(r.breach_id, b)
  }
  for (const [breachId, fields] of latest) {
    if (!fields.ack && !fields.owner) continue
    const before = await state.get(breachId)
    if (!(await state.restoreBreach(breachId, fields))) continue
    if (fields.ack && !before.ack) out.acknowledgements++
    if (fields.owner && !before.owner) out.owners++
  }
  return out
}
