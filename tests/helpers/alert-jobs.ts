import type { Queue } from 'bullmq'
import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { waitFor } from './infra.js'

/** Every alert job the queue holds, whatever its state (delivered ones included), in no set order. */
export async function allAlertJobs(queue: Queue<AlertJob>): Promise<AlertJob[]> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
  return jobs.map((j) => j.data)
}

/**
 * The jobs of one KPI for one incident, in time order; and a wait until there are `count` of them.
 * `queue` is read at each call (tests open it in beforeAll).
 */
export function incidentAlertJobs(queue: () => Queue<AlertJob>, timeoutMs: number) {
  const jobsFor = async (kpiId: string, incidentId: string) =>
    (await allAlertJobs(queue()))
      .filter((d) => d.kpi.id === kpiId && d.scope.incident_id === incidentId)
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
  const waitForJobs = (what: string, kpiId: string, incidentId: string, count: number) =>
    waitFor(
      what,
      async () => {
        const jobs = await jobsFor(kpiId, incidentId)
        return jobs.length >= count ? jobs : undefined
      },
      timeoutMs,
    )
  return { jobsFor, waitForJobs }
}
