// A log record on its way into the fold: decoded, checked (its key is its workspace), placed (in
// the partition its workspace belongs to, or misplaced by a producer with another partitioner),
// and tested against the command ids already seen.
// The projector prepares a run of records first, so that their first lookups are fetched
// ahead (BatchViewWriter::prefetch), then folds them one by one.
#pragma once

#include <vector>

#include "bus/log.h"
#include "core/status.h"
#include "privacy/sealing.h"
#include "projector/fold.h"
#include "views/view_writer.h"

namespace contacts {

struct PreparedRecord {
  Result<Command> command{Status{Code::kInvalid, "not prepared"}};
  CommandIdKey command_id;  // of a command that decoded
  CommandFacts facts;
  // A valid command in another partition than its workspace's (Kafka's murmur2 of its key): a
  // producer with another partitioner (librdkafka's CRC32, say) put it there. It is not folded
  // where it is: the writer forwards it to the partition it belongs in (Projector), where it is
  // folded like any other record, and a replay skips it here the same way.
  bool misplaced = false;
};

// Why a record keyed `key` may not hold `command` (its key must be its workspace id, as a decimal
// string); ok when it may.
Status check_key(std::string_view key, const Command& command);

// The Unsealer of a node without a key store.
const Unsealer& no_keys();

// Decodes and checks `entry` of a log with `partitions` partitions into `out` (reusing its
// memory), opening a sealed visit with `unsealer` (its keys as fresh as `fresh_as_of`: see
// KeyStore::find). Nothing is read from the views. A record that is not a valid command leaves
// `out.command` with the reason (kInvalid). Throws when the key store cannot be read.
void prepare(const LogEntry& entry, int32_t partitions, PreparedRecord& out,
             const Unsealer& unsealer = no_keys(),
             std::chrono::steady_clock::time_point fresh_as_of = {});

// Folds a prepared record: kInvalid (the reason) for a record that is not a valid command, the
// caller dead-letters it; a command id seen before in its workspace, or a misplaced record,
// changes nothing.
Status fold_prepared(ViewWriter& views, PreparedRecord& prepared, std::vector<Change>& changes);

// prepare() then fold_prepared(): one record on its own.
Status fold_record(ViewWriter& views, const LogEntry& entry, int32_t partitions,
                   std::vector<Change>& changes);

}  // namespace contacts
