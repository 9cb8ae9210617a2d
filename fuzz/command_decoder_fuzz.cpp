// libFuzzer target: the bytes as a command, through every decoder of core/command_codec.h, and as
// a producer's body through both paths of ingest/intake.h (one JSON command, NDJSON) without a
// key store. Beyond "no crash", it holds them to what their headers promise: the fast path
// answers only what the reference decoder answers, a decoded command's canonical JSON decodes to
// itself, and an intake appends only records that decode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/command_codec.h"
#include "core/command_fast_decoder.h"
#include "core/text.h"
#include "fuzz/fuzz_check.h"
#include "ingest/intake.h"

namespace {

using contacts::UnknownFields;

constexpr int64_t kNow = 1711500000;

void check_canonical_form(const contacts::Command& command) {
  const std::string encoded = contacts::encode_command(command);
  auto again = contacts::decode_command(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(contacts::encode_command(*again) == encoded);
}

void decode(std::string_view text) {
  auto strict = contacts::decode_command(text, UnknownFields::kRefuseTypos);
  auto lenient = contacts::decode_command(text, UnknownFields::kIgnore);
  auto reference = contacts::decode_command_reference(text, UnknownFields::kIgnore);
  // Refusing typos only ever refuses more; the fast path never changes the answer.
  FUZZ_CHECK(!strict.ok() || lenient.ok());
  FUZZ_CHECK(lenient.ok() == reference.ok());
  if (lenient.ok()) {
    FUZZ_CHECK(contacts::encode_command(*lenient) == contacts::encode_command(*reference));
    check_canonical_form(*lenient);
  }
  // The fast path alone, within its preconditions (command_fast_decoder.h).
  if (contacts::valid_utf8(text) && contacts::json_depth_within(text, contacts::kMaxJsonDepth)) {
    if (auto fast = contacts::decode_visit_fast(text)) {
      FUZZ_CHECK(reference.ok());
      FUZZ_CHECK(contacts::encode_command(*fast) == contacts::encode_command(*reference));
      FUZZ_CHECK(fast->occurred_at_missing == reference->occurred_at_missing);
    }
  }
}

// All or nothing, and every record appended is a command stamped with its time.
void check_intake(const contacts::Intake& intake) {
  FUZZ_CHECK(intake.errors.size() <= contacts::kMaxReportedErrors);
  FUZZ_CHECK(intake.errors.size() <= intake.error_count);
  FUZZ_CHECK(intake.error_count > 0 || !intake.records.empty());
  if (intake.error_count > 0) FUZZ_CHECK(intake.records.empty());
  for (const auto& record : intake.records) {
    auto command = contacts::decode_command(record.value);
    FUZZ_CHECK(command.ok());
    FUZZ_CHECK(!command->occurred_at_missing);
    FUZZ_CHECK(record.key == std::to_string(command->workspace_id.value));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  decode(text);
  check_intake(contacts::intake_json(text, kNow, nullptr));
  check_intake(contacts::intake_ndjson(text, kNow, nullptr));
  return 0;
}
