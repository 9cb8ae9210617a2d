#include "ingest/intake.h"

#include "core/command_codec.h"
#include "core/text.h"
#include "privacy/sealing.h"

namespace contacts {

namespace {

void take_line(Intake& intake, std::string_view line, size_t number, int64_t now,
               KeyStore* keys) {
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
  if (!keys) return;
  auto sealed = seal_record(*keys, *command, intake.records.back().value);
  if (!sealed.ok()) {
    intake.unavailable = sealed.status();
    return;
  }
  intake.records.back().value = std::move(*sealed);
}

}  // namespace

Intake intake_ndjson(std::string_view body, int64_t now, KeyStore* keys) {
  Intake intake;
  size_t number = 0;
  while (!body.empty()) {
    ++number;
    auto newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    take_line(intake, line, number, now, keys);
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
  take_line(intake, body, 1, now, keys);
  if (intake.error_count > 0 || !intake.unavailable.ok()) intake.records.clear();
  return intake;
}

}  // namespace contacts
