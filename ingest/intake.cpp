#include "ingest/intake.h"

#include "core/command_codec.h"
#include "core/text.h"
#include <unordered_map>

#include "privacy/sealing.h"

namespace contacts {

namespace {

// The keys a request's records are sealed under. After a delete or an erasure in the request,
// records of a person get a new key: the erasure destroys the keys of the records before it, and
// those after it (the person came back) must outlive it.
struct Sealing {
  KeyStore* keys = nullptr;
  bool after_delete = false;
  std::unordered_map<std::string, DataKey> fresh;  // since the last delete

  Result<DataKey> choose(std::string_view subject) {
    if (!after_delete) return keys->current_key(subject);
    if (auto it = fresh.find(std::string(subject)); it != fresh.end()) return it->second;
    auto key = keys->new_key(subject);
    if (key.ok()) fresh.emplace(std::string(subject), *key);
    return key;
  }
};

void take_line(Intake& intake, std::string_view line, size_t number, int64_t now,
               Sealing& sealing) {
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
  if (command->type == CommandType::kWebhookCreate ||
      command->type == CommandType::kWebhookDelete) {
    // The API draws the secret and refuses URLs that reach private addresses.
    if (intake.errors.size() < kMaxReportedErrors)
      intake.errors.push_back({number, "webhook commands come from the API, not from producers"});
    ++intake.error_count;
    return;
  }
  if (intake.error_count > 0 || !intake.unavailable.ok())
    return;  // nothing will be appended: skip the encoding work
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
  if (!sealing.keys) return;
  if (command->type == CommandType::kContactDelete || command->type == CommandType::kContactErase) {
    sealing.after_delete = true;
    sealing.fresh.clear();
  }
  auto sealed = seal_record(*sealing.keys, *command, intake.records.back().value,
                            [&](std::string_view subject) { return sealing.choose(subject); });
  if (!sealed.ok()) {
    intake.unavailable = sealed.status();
    return;
  }
  intake.records.back().value = std::move(*sealed);
}

}  // namespace

Intake intake_ndjson(std::string_view body, int64_t now, KeyStore* keys) {
  Intake intake;
  Sealing sealing;
  sealing.keys = keys;
  size_t number = 0;
  while (!body.empty()) {
    ++number;
    auto newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    take_line(intake, line, number, now, sealing);
  }
  if (intake.records.empty() && intake.error_count == 0) {
    intake.errors.push_back({1, "no commands in body"});
    intake.error_count = 1;
  }
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
  Sealing sealing;
  sealing.keys = keys;
  take_line(intake, body, 1, now, sealing);
  if (intake.error_count > 0 || !intake.unavailable.ok()) intake.records.clear();
  return intake;
}

}  // namespace contacts
