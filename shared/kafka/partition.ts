import { Partitioners } from 'kafkajs'

/**
 * The partition a keyed message lands on with the default partitioner (murmur2 of the key, as the Java
 * client): the processor uses it to know which trigger keys the partitions it owns carry.
 */
const partitioner = Partitioners.DefaultPartitioner()
const metadataCache = new Map<number, { partitionId: number; leader: number }[]>()

export function partitionForKey(topic: string, key: string, partitions: number): number {
  let metadata = metadataCache.get(partitions)
  if (!metadata) {
    metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0 }))
    metadataCache.set(partitions, metadata)
  }
  return partitioner({
    topic,
    partitionMetadata: metadata as never,
    message: { key, value: null },
  })
}
