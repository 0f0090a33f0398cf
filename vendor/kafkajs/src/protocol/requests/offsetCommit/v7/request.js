// shop patch: OffsetCommit v7 (new file): group_instance_id, so a commit from a static member
// that another process with the same instance id has replaced fails with FENCED_INSTANCE_ID.
const Encoder = require('../../../encoder')
const { OffsetCommit: apiKey } = require('../../apiKeys')
const { encodeTopic } = require('../v6/request')

/**
 * Version 7 adds group_instance_id (KIP-345, static membership).
 *
 * OffsetCommit Request (Version: 7) => group_id generation_id member_id group_instance_id [topics]
 *   group_id => STRING
 *   generation_id => INT32
 *   member_id => STRING
 *   group_instance_id => NULLABLE_STRING
 *   topics => name [partitions]
 *     name => STRING
 *     partitions => partition_index committed_offset committed_leader_epoch committed_metadata
 *       partition_index => INT32
 *       committed_offset => INT64
 *       committed_leader_epoch => INT32
 *       committed_metadata => NULLABLE_STRING
 */

module.exports = ({ groupId, groupGenerationId, memberId, groupInstanceId = null, topics }) => ({
  apiKey,
  apiVersion: 7,
  apiName: 'OffsetCommit',
  encode: async () => {
    return new Encoder()
      .writeString(groupId)
      .writeInt32(groupGenerationId)
      .writeString(memberId)
      .writeString(groupInstanceId)
      .writeArray(topics.map(encodeTopic))
  },
})
