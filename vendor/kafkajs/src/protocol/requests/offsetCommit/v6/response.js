// shop patch: OffsetCommit v6 (new file). The response is unchanged since v4.
const { parse, decode } = require('../v4/response')

/**
 * OffsetCommit Response (Version: 6) => throttle_time_ms [responses]
 *   throttle_time_ms => INT32
 *   responses => name [partitions]
 *     name => STRING
 *     partitions => partition_index error_code
 *       partition_index => INT32
 *       error_code => INT16
 */
module.exports = {
  decode,
  parse,
}
