#include "ingest/intake.h"

#include <unordered_map>

#include "core/command_codec.h"
#include "core/text.h"
#include "privacy/sealing.h"

namespace contacts {

namespace {

// A record to seal once the whole request is known valid: its command and its subject.
struct ToSeal {
  size_t record = 0;
  Command command;
  std::string subject;
  // Deletes and erasures before it in the request: after each, a person's records are sealed under
  // a new key, which no record before that delete used.
  size_t deletes_before = 0;
};

void take_line(Intake& intake, std::string_view line, size_t number, int64_t now, KeyStore* keys,
               std::vector<ToSeal>& to_seal, size_t& deletes) {
  auto command = decode_command(line, UnknownFields::kRefuseTypos);
  if (!command.ok()) {
    if (intake.errors.size() < kMaxReportedErrors)
      intake.errors.push_back({number, command.status().message()});
    ++intake.error_count;
    return;
  }
  if (command->type == CommandType::kApiKeyCreate || command->type == CommandType::kApiKeyRevoke) {
    // A key's hash is its identity across workspaces: only the API and `contacts keys create`,
    // which draw keys at random, may create or revoke one.
    if (intake.errors.size() < kMaxReportedErrors)
      intake.errors.push_back(
          {number,
           "api_key commands come from the API or `contacts keys create`, not from producers"});
    ++intake.error_count;
    return;
  }
  if (is_webhook_command(command->type)) {
    // The API draws the secret and refuses URLs that reach private addresses.
    if (intake.errors.size() < kMaxReportedErrors)
      intake.errors.push_back({number, "webhook commands come from the API, not from producers"});
    ++intake.error_count;
    return;
  }
  if (intake.error_count > 0) return;  // nothing will be appended: skip the encoding work
  std::string key = std::to_string(command->workspace_id.value);
  if (command->occurred_at_missing) {
    // The producer's bytes with the time first: fields this version does not know stay in the
    // log (the evolution policy). A valid command is an object: its first '{' opens it.
    const size_t open = line.find('{');
    intake.records.push_back({std::move(key), std::string(line.substr(0, open + 1)) +
                                                  "\"occurred_at\":" + std::to_string(now) + "," +
                                                  std::string(line.substr(open + 1))});
  } else {
    // Valid as sent: the producer's bytes are the record.
    intake.records.push_back({std::move(key), std::string(line)});
  }
  if (!keys) return;
  const CommandType type = command->type;
  if (type == CommandType::kContactDelete || type == CommandType::kContactErase) ++deletes;
  const bool clear_visit =
      (type == CommandType::kRoomJoin || type == CommandType::kBooking) && !command->sealed;
  if (!clear_visit && !(type == CommandType::kContactErase && command->erase_email)) return;
  std::string subject = clear_visit ? subject_of(keys->index_key(), *command) : std::string();
  to_seal.push_back({intake.records.size() - 1, std::move(*command), std::move(subject), deletes});
}

// Seals the records of `to_seal`. The people's keys come in one durable write; after a delete
// or an erasure in the request, a person gets a new key instead (which one the delete is about is
// not known here): the erasure destroys the keys of the records before it, and those after it
// (the person came back) must outlive it.
void seal_all(Intake& intake, KeyStore& keys, std::vector<ToSeal>& to_seal) {
  // Per stretch between deletes, the subjects in it: the first stretch's current keys, and new ones
  // for each stretch after a delete, each stretch's in one durable write.
  std::vector<std::vector<std::string>> stretches;
  std::vector<std::unordered_map<std::string, DataKey>> chosen;
  for (const auto& item : to_seal) {
    if (item.subject.empty()) continue;
    if (stretches.size() <= item.deletes_before) {
      stretches.resize(item.deletes_before + 1);
      chosen.resize(item.deletes_before + 1);
    }
    if (chosen[item.deletes_before].emplace(item.subject, DataKey{}).second)
      stretches[item.deletes_before].push_back(item.subject);
  }
  for (size_t s = 0; s < stretches.size(); ++s) {
    if (stretches[s].empty()) continue;
    auto got = s == 0 ? keys.current_keys(stretches[s]) : keys.new_keys(stretches[s]);
    if (!got.ok()) {
      intake.unavailable = got.status();
      return;
    }
    for (size_t i = 0; i < stretches[s].size(); ++i)
      chosen[s][stretches[s][i]] = std::move((*got)[i]);
  }
  for (auto& item : to_seal) {
    auto choose = [&](std::string_view subject) -> Result<DataKey> {
      return chosen[item.deletes_before].at(std::string(subject));
    };
    std::string& value = intake.records[item.record].value;
    auto sealed = seal_record(keys, item.command, value, choose, item.subject);
    if (!sealed.ok()) {
      intake.unavailable = sealed.status();
      return;
    }
    value = std::move(*sealed);
  }
}

}  // namespace

Intake intake_ndjson(std::string_view body, int64_t now, KeyStore* keys) {
  Intake intake;
  std::vector<ToSeal> to_seal;
  size_t deletes = 0;
  size_t number = 0;
  while (!body.empty()) {
    ++number;
    auto newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    take_line(intake, line, number, now, keys, to_seal, deletes);
  }
  if (intake.records.empty() && intake.error_count == 0) {
    intake.errors.push_back({1, "no commands in body"});
    intake.error_count = 1;
  }
  if (intake.error_count == 0 && keys) seal_all(intake, *keys, to_seal);
  if (intake.error_count > 0 || !intake.unavailable.ok()) intake.records.clear();
  return intake;
}

Intake intake_json(std::string_view body, int64_t now, KeyStore* keys) {
  Intake intake;
  if (trim(body).empty()) {
    intake.errors.push_back({1, "no commands in body"});
    intake.error_count = 1;
    return intake;
  }
  std::vector<ToSeal> to_seal;
  size_t deletes = 0;
  take_line(intake, body, 1, now, keys, to_seal, deletes);
  if (intake.error_count == 0 && keys) seal_all(intake, *keys, to_seal);
  if (intake.error_count > 0 || !intake.unavailable.ok()) intake.records.clear();
  return intake;
}

}  // namespace contacts
