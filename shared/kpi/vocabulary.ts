/**
 * Values of fact columns the KPI SQL relies on. They follow the event contracts (shared/events); kept
 * here, in one place, so a change of vocabulary is one edit.
 */
export const factVocabulary = {
  /** Finding statuses meaning "not closed yet" (the corrective action is still open). */
  findingOpenStatuses: ['open', 'in_progress'],
  /** Finding kinds that are nonconformities (clause 10.2: they require corrective action). */
  majorNc: 'major_nc',
  minorNc: 'minor_nc',
  /** GDPR Art. 33: notify the supervisory authority within 72 hours of becoming aware. */
  notificationDeadlineHours: 72,
} as const
