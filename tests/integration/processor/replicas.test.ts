import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { AssignerProtocol } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import type { Config } from '../../../shared/config/env.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { createRedis } from '../../../shared/redis/client.js'
import { type SpawnedClickHouse, spawnLocalClickHouse } from '../../helpers/clickhouse-server.js'
import { findingEvent, incidentEvent, modelMetricsEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import { configEnv, openStack, produce, spawnService } from '../../helpers/pipeline.js'
import { settled } from '../../helpers/settled.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * Many replicas, one owner: the same input through (a) one processor process and (b) two processor
 * processes, one SIGKILLed while the first half of the input is in flight. Each run has its own collector
 * process and shares one ClickHouse server process. The set of transitions recorded and of alert jobs
 * enqueued — (series fingerprint, transition, severity), each exactly once — is the same in both runs: no
 * duplicate page from two replicas, no resolve lost when a series changes owner.
 *
 * Input, in two phases (each settled before the next, so what each phase changes is evaluated whole):
 * phase 1 opens breaches of every kind — unfair models below their accuracy floor (fairness and
 * performance), notifiable incidents past 48 h and 72 h (per-incident clocks), a critical incident (a
 * privacy aggregate), open major NCs past due (audit aggregates); phase 2 resolves part of them and
 * escalates others.
 */

type Key = string
interface RunResult {
  transitions: Map<Key, number>
  jobs: Map<Key, number>
}

function inputs(now: number) {
  const iso = (t: number) => new Date(t).toISOString()
  const models = Array.from({ length: 12 }, (_, i) => `replica-model-${i}`)
  const incidents = Array.from({ length: 12 }, (_, i) => `INC-REPLICA-${i}`)
  const findings = Array.from({ length: 6 }, (_, i) => `F-REPLICA-${i}`)
  const unfair = [
    { group: 'a', tp: 25, fp: 5, tn: 60, fn: 10 },
    { group: 'b', tp: 40, fp: 2, tn: 50, fn: 8 },
  ]
  const fair = [
    { group: 'a', tp: 40, fp: 2, tn: 50, fn: 8 },
    { group: 'b', tp: 40, fp: 2, tn: 50, fn: 8 },
  ]
  const model = (id: string, groups: typeof fair, accuracy: number, t: number) => ({
    key: id,
    value: JSON.stringify(
      modelMetricsEvent({ modelId: id, modelVersion: '1', time: iso(t), groups, accuracy }),
    ),
  })
  const incident = (id: string, i: number, notified: boolean) => {
    const detected = now - (i % 2 === 0 ? 50 : 80) * HOUR
    return {
      key: id,
      value: JSON.stringify(
        incidentEvent({
          incidentId: id,
          status: notified ? 'notified' : 'detected',
          time: iso(notified ? now - HOUR : detected),
          detectedAt: iso(detected),
          notifiable: true,
          severity: i === 0 ? 'critical' : 'medium',
          ...(notified ? { regulatorNotifiedAt: iso(now - HOUR) } : {}),
        }),
      ),
    }
  }
  const finding = (id: string, i: number, closed: boolean) => ({
    key: id,
    value: JSON.stringify(
      findingEvent({
        findingId: id,
        status: closed ? 'closed' : 'open',
        kind: 'major_nc',
        standard: i % 2 === 0 ? 'ISO27001' : 'ISO42001',
        clause: i % 2 === 0 ? 'A.5.24' : 'A.6.2.6',
        time: iso(closed ? now - HOUR : now - 20 * DAY),
        raisedAt: iso(now - 20 * DAY),
        dueAt: iso(now - 5 * DAY),
        ...(closed ? { closedAt: iso(now - HOUR) } : {}),
      }),
    ),
  })
  return {
    phase1: {
      // unfair and below the accuracy warning floor (0.85)
      models: models.map((m) => model(m, unfair, 0.83, now - 2 * HOUR)),
      incidents: incidents.map((id, i) => incident(id, i, false)),
      findings: findings.map((id, i) => finding(id, i, false)),
    },
    phase2: {
      // half recover; a quarter fall below the critical floor (0.8): the accuracy breach escalates
      models: models.flatMap((m, i) =>
        i % 2 === 0
          ? [model(m, fair, 0.95, now - HOUR)]
          : i % 4 === 1
            ? [model(m, unfair, 0.75, now - HOUR)]
            : [],
      ),
      incidents: incidents
        .filter((_, i) => i % 3 === 0)
        .map((id) => incident(id, incidents.indexOf(id), true)),
      findings: findings.filter((_, i) => i < 2).map((id) => finding(id, findings.indexOf(id), true)),
    },
  }
}

let server: SpawnedClickHouse
const root = mkdtempSync(join(tmpdir(), 'aims-replicas-'))

beforeAll(async () => {
  server = await spawnLocalClickHouse(join(root, 'clickhouse'))
}, 60_000)
afterAll(async () => {
  await server?.stop()
  rmSync(root, { recursive: true, force: true })
})

async function processorMembers(cfg: Config, stack: Awaited<ReturnType<typeof openStack>>): Promise<number> {
  const admin = stack.kafka.admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([cfg.PROCESSOR_GROUP_ID])
    const g = groups[0]
    return g?.state === 'Stable' ? g.members.length : 0
  } finally {
    await admin.disconnect()
  }
}

/** Whether each member of the processor group owns at least one trigger partition. */
async function ownedPartitions(
  cfg: Config,
  stack: Awaited<ReturnType<typeof openStack>>,
): Promise<boolean[]> {
  const admin = stack.kafka.admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([cfg.PROCESSOR_GROUP_ID])
    return (groups[0]?.members ?? []).map((m) => {
      const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      return Object.values(assignment?.assignment ?? {}).some((p) => p.length > 0)
    })
  } finally {
    await admin.disconnect()
  }
}

async function run(replicas: number, kill: boolean): Promise<RunResult> {
  const cfg = testConfig({
    CLICKHOUSE_URL: server.url,
    PROCESSOR_SESSION_TIMEOUT_MS: '10000',
    // No periodic pass re-evaluates everything behind the replicas' backs: triggers and deadlines only.
    SWEEP_INTERVAL_MS: '3600000',
  })
  const stack = await openStack(cfg)
  const env = configEnv(cfg)
  const children = [spawnService('collector', env)]
  const processors = Array.from({ length: replicas }, () => spawnService('processor', env))
  children.push(...processors)
  const redis = createRedis(cfg, 'producer')
  const alerts = new Queue<AlertJob>(ALERTS_QUEUE, { connection: redis, prefix: cfg.REDIS_PREFIX })
  try {
    await waitFor(
      `${replicas} processor replicas in the group`,
      async () => ((await processorMembers(cfg, stack)) === replicas ? true : undefined),
      90_000,
      500,
    )
    const topics = topicNames(cfg)
    const input = inputs(Date.now())
    const send = async (phase: typeof input.phase1) => {
      await produce(stack.kafka, topics.modelMetrics, phase.models)
      await produce(stack.kafka, topics.privacyIncidents, phase.incidents)
      await produce(stack.kafka, topics.auditFindings, phase.findings)
    }
    if (kill) {
      // Half of phase 1, evaluated by both replicas (each opens the breaches of the series it owns); then
      // one replica dies without a word and the rest of the input arrives: events for series it owned
      // wait for the group to notice (the session timeout), then go to the survivor, which must resolve
      // and escalate breaches the dead replica opened.
      const half = (xs: { key: string; value: string }[], first: boolean) =>
        first ? xs.slice(0, xs.length / 2) : xs.slice(xs.length / 2)
      await send({
        models: half(input.phase1.models, true),
        incidents: half(input.phase1.incidents, true),
        findings: half(input.phase1.findings, true),
      })
      await settled(stack, 180_000)
      expect(await ownedPartitions(cfg, stack)).toEqual([true, true])
      processors[0]!.child.kill('SIGKILL')
      await processors[0]!.exited
      await send({
        models: half(input.phase1.models, false),
        incidents: half(input.phase1.incidents, false),
        findings: half(input.phase1.findings, false),
      })
    } else {
      await send(input.phase1)
    }
    await settled(stack, 180_000)
    await send(input.phase2)
    await settled(stack, 180_000)
    // Transitions recorded by a replica that died before writing them are written by the survivors.
    await waitFor(
      'the transition outbox drained',
      async () => ((await redis.hlen(`${cfg.REDIS_PREFIX}:processor:outbox`)) === 0 ? true : undefined),
      90_000,
      500,
    )
    const rows = await queryRows<{ fingerprint: string; transition: string; severity: string }>(
      stack.ch,
      'SELECT DISTINCT transition_id, fingerprint, transition, severity FROM breach_transitions',
    )
    const transitions = new Map<Key, number>()
    for (const r of rows) {
      const k = `${r.fingerprint} ${r.transition} ${r.severity}`
      transitions.set(k, (transitions.get(k) ?? 0) + 1)
    }
    const jobs = new Map<Key, number>()
    for (const j of await alerts.getJobs([
      'waiting',
      'delayed',
      'active',
      'completed',
      'failed',
      'prioritized',
    ])) {
      const k = `${j.data.fingerprint} ${j.data.kind} ${j.data.severity}`
      jobs.set(k, (jobs.get(k) ?? 0) + 1)
    }
    return { transitions, jobs }
  } finally {
    for (const c of children) c.child.kill('SIGTERM')
    await Promise.all(children.map((c) => c.exited))
    await alerts.obliterate({ force: true }).catch(() => undefined)
    await alerts.close()
    redis.disconnect()
    await stack.close()
  }
}

describe('processor replicas', () => {
  it('two replicas, one SIGKILLed mid-stream, record exactly the transitions and jobs of one', {
    timeout: 600_000,
  }, async () => {
    const single = await run(1, false)
    const pair = await run(2, true)
    const kinds = (m: Map<Key, number>) => new Set([...m.keys()].map((k) => k.split(' ')[1]))
    // The input exercises every kind of transition and every area.
    expect(kinds(single.transitions)).toEqual(new Set(['firing', 'escalated', 'resolved']))
    expect(single.transitions.size).toBeGreaterThan(30)
    for (const result of [single, pair]) {
      expect([...result.transitions.values()].every((n) => n === 1)).toBe(true)
      expect([...result.jobs.values()].every((n) => n === 1)).toBe(true)
      expect([...result.jobs.keys()].sort()).toEqual([...result.transitions.keys()].sort())
    }
    expect([...pair.transitions.keys()].sort()).toEqual([...single.transitions.keys()].sort())
  })
})
