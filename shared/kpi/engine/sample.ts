/** One computed value of one KPI series at one time (ms since the epoch); value null = no value. */
export interface Sample {
  kpiId: string
  scope: Record<string, string>
  value: number | null
  at: number
}
