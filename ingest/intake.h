// Intake: turns a producer's body (one JSON command or NDJSON) into validated, stamped log
// records, or names every bad line. All-or-nothing: a caller appends only error-free intakes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bus/log.h"
#include "core/command.h"
#include "privacy/key_store.h"

namespace contacts {

inline constexpr size_t kMaxReportedErrors = 1000;

struct IntakeError {
  size_t line = 0;  // 1-based physical line
  std::string reason;
};

struct Intake {
  std::vector<LogRecord> records;
  std::vector<IntakeError> errors;
  size_t error_count = 0;  // errors beyond kMaxReportedErrors are counted, not listed
  // Not the producer's fault: the key store could not give a key (nothing to append; 503).
  Status unavailable;
};

// NDJSON: one command per line; blank lines are skipped but counted for line numbers. With
// `keys`, personal fields are sealed (privacy/sealing.h); without, records stay in clear.
Intake intake_ndjson(std::string_view body, int64_t now, KeyStore* keys);
// A single JSON command (line 1).
Intake intake_json(std::string_view body, int64_t now, KeyStore* keys);

}  // namespace contacts
