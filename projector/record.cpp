#include "projector/record.h"

#include <string>

#include "core/command_codec.h"

namespace contacts {

namespace {

// Why `entry` may not be folded although it decoded; ok when it may.
Status check_placement(const LogEntry& entry, const Command& command, int32_t partitions) {
  if (entry.key != std::to_string(command.workspace_id.value))
    return {Code::kInvalid, "record key \"" + entry.key + "\" is not the command's workspace_id"};
  // A workspace's records must share one partition: its order, and the fold threads (which
  // own disjoint partitions), depend on it. A producer with another partitioner breaks that.
  if (Partition expected = partition_for(entry.key, partitions);
      expected.value != entry.partition.value)
    return {Code::kInvalid, "record of key \"" + entry.key + "\" is in partition " +
                                std::to_string(entry.partition.value) +
                                " but belongs in partition " + std::to_string(expected.value) +
                                " (Kafka's murmur2 partitioner)"};
  return {};
}

}  // namespace

void prepare(const LogEntry& entry, int32_t partitions, PreparedRecord& out) {
  decode_command(entry.value, out.command);
  out.command_id.bytes.clear();
  if (!out.command.ok()) return;
  const Command& c = *out.command;
  if (Status placed = check_placement(entry, c, partitions); !placed.ok()) {
    out.command = std::move(placed);
    return;
  }
  out.command_id = command_id_key(c.workspace_id, c.command_id);
  derive_facts(c, id_from_position(entry.partition, entry.offset, partitions), out.facts);
}

Status fold_prepared(ViewWriter& views, PreparedRecord& prepared, std::vector<Change>& changes) {
  if (!prepared.command.ok()) return prepared.command.status();
  // A command_id seen before changes nothing. The key is spent: prepare() builds the next one.
  if (!views.first_sight(std::move(prepared.command_id))) return {};
  apply(views, *prepared.command, prepared.facts, changes);
  return {};
}

Status fold_record(ViewWriter& views, const LogEntry& entry, int32_t partitions,
                   std::vector<Change>& changes) {
  PreparedRecord prepared;
  prepare(entry, partitions, prepared);
  return fold_prepared(views, prepared, changes);
}

}  // namespace contacts
