import type { Admin, ITopicConfig } from 'kafkajs'
import type { Config } from '../config/env.js'

/** Every topic of the pipeline, by role. Names are versioned: a breaking contract change is a new topic. */
export const baseTopics = {
  privacyIncidents: 'aims.privacy-incidents.v1',
  modelMetrics: 'aims.model-metrics.v1',
  auditFindings: 'aims.audit-findings.v1',
  deadLetter: 'aims.dead-letter.v1',
  kpiTriggers: 'aims.kpi-triggers.v1',
} as const

export type TopicRole = keyof typeof baseTopics
export type Topics = Record<TopicRole, string>

const DAY_MS = 24 * 3600 * 1000
/** Retention per role: facts are replayable for a week, rejects kept a month for operators to inspect. */
const retentionMs: Record<TopicRole, number> = {
  privacyIncidents: 7 * DAY_MS,
  modelMetrics: 7 * DAY_MS,
  auditFindings: 7 * DAY_MS,
  deadLetter: 30 * DAY_MS,
  kpiTriggers: 1 * DAY_MS,
}

export function topicNames(cfg: Pick<Config, 'KAFKA_TOPIC_PREFIX'>): Topics {
  const out = {} as Topics
  for (const [role, name] of Object.entries(baseTopics) as [TopicRole, string][]) {
    out[role] = `${cfg.KAFKA_TOPIC_PREFIX}${name}`
  }
  return out
}

/** The three topics producers write events to. */
export function eventTopics(topics: Topics): string[] {
  return [topics.privacyIncidents, topics.modelMetrics, topics.auditFindings]
}

/**
 * The topic of OCSF findings when one is configured (COLLECTOR_OCSF_TOPIC, prefixed like every topic).
 * Producers outside the pipeline own it; start-up creates it only if it is missing.
 */
export function ocsfTopic(
  cfg: Partial<Pick<Config, 'KAFKA_TOPIC_PREFIX' | 'COLLECTOR_OCSF_TOPIC'>>,
): string | undefined {
  return cfg.COLLECTOR_OCSF_TOPIC ? `${cfg.KAFKA_TOPIC_PREFIX ?? ''}${cfg.COLLECTOR_OCSF_TOPIC}` : undefined
}

/** Creates missing topics; existing ones are left as they are (idempotent, safe at every start-up). */
export async function ensureTopics(
  admin: Admin,
  cfg: Pick<Config, 'KAFKA_TOPIC_PREFIX' | 'KAFKA_TOPIC_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR'> &
    Partial<Pick<Config, 'COLLECTOR_OCSF_TOPIC'>>,
): Promise<string[]> {
  const names = topicNames(cfg)
  // The OCSF topic, when configured, keeps events as long as the pipeline's own event topics.
  const ocsf = ocsfTopic(cfg)
  const all: [TopicRole, string][] = [
    ...(Object.entries(names) as [TopicRole, string][]),
    ...(ocsf === undefined ? [] : [['privacyIncidents', ocsf] as [TopicRole, string]]),
  ]
  const existing = new Set(await admin.listTopics())
  const wanted: ITopicConfig[] = all
    .filter(([, name]) => !existing.has(name))
    .map(([role, name]) => ({
      topic: name,
      numPartitions: cfg.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: cfg.KAFKA_REPLICATION_FACTOR,
      configEntries: [{ name: 'retention.ms', value: String(retentionMs[role]) }],
    }))
  if (wanted.length > 0) {
    // Another process may create the same topics at the same moment; createTopics then reports
    // "already exists", which is the outcome we want.
    try {
      await admin.createTopics({ topics: wanted, waitForLeaders: false })
    } catch (err) {
      if (!String((err as Error).message).includes('already exists')) throw err
    }
  }
  await waitForLeaders(
    admin,
    all.map(([, name]) => name),
  )
  return wanted.map((t) => t.topic)
}

/**
 * A new topic answers metadata requests with "does not host this topic-partition" until its leaders are
 * elected; start-up waits for that instead of letting the first produce or consume trip over it.
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics })
      if (meta.length === topics.length && meta.every((t) => t.partitions.every((p) => p.leader >= 0))) return
    } catch (err) {
      if (Date.now() > deadline) throw err
    }
    if (Date.now() > deadline)
      throw new Error(`topics have no leader after ${timeoutMs} ms: ${topics.join(', ')}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
