// The subcommands and flags of the key store (DESIGN.md section 10): the master key, opening the
// store beside the log, and `compact`, `seal` and `rotate-master-key`.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/commands.h"
#include "app/control.h"
#include "core/clock.h"
#include "ingest/intake.h"
#include "privacy/embedded_key_store.h"
#include "privacy/kafka_key_store.h"
#include "views/view_sets.h"
#include "webhooks/delivery_store.h"

namespace contacts::app {

namespace fs = std::filesystem;

std::vector<FlagSpec> key_flags() {
  return {{"master-key-file", "CONTACTS_MASTER_KEY_FILE", "",
           "file holding the master key (base64 of 32 bytes); or the key itself in "
           "CONTACTS_MASTER_KEY"},
          {"previous-master-key-file", "CONTACTS_MASTER_KEY_PREVIOUS_FILE", "",
           "during a rotation: the previous master key (or CONTACTS_MASTER_KEY_PREVIOUS); records "
           "it wrapped still open"},
          {"no-encryption", "CONTACTS_NO_ENCRYPTION", "",
           "do not seal personal data (for deployments that hold none): records in clear cannot "
           "be erased from the log",
           true},
          {"erasure-window", "CONTACTS_ERASURE_WINDOW", "7d",
           "Kafka: how long an erased person's keys and changes may stay on their topics before "
           "compaction and retention remove them (30s, 10m, 1h, 2d)"}};
}

namespace {

// A master key from the variable `variable` or the file flag `file_flag`; nullopt when neither
// is set.
Result<std::optional<std::string>> key_from(const Flags& flags, const char* variable,
                                            const std::string& file_flag) {
  if (const char* text = std::getenv(variable); text && *text) {
    if (flags.has(file_flag))
      return Status{Code::kInvalid,
                    std::string("set ") + variable + " or --" + file_flag + ", not both"};
    auto key = parse_master_key(text);
    if (!key.ok()) return Status{Code::kInvalid, key.status().message() + " (" + variable + ")"};
    return std::optional(std::move(*key));
  }
  if (!flags.has(file_flag)) return std::optional<std::string>();
  std::ifstream in(flags.get(file_flag));
  if (!in) return Status{Code::kInvalid, "cannot read the master key file " + flags.get(file_flag)};
  std::stringstream text;
  text << in.rdbuf();
  auto key = parse_master_key(text.str());
  if (!key.ok())
    return Status{Code::kInvalid, key.status().message() + " (" + flags.get(file_flag) + ")"};
  return std::optional(std::move(*key));
}

// The master key from CONTACTS_MASTER_KEY or --master-key-file, followed by the previous one
// during a rotation (key_store.h).
Result<std::string> master_key(const Flags& flags) {
  auto current = key_from(flags, "CONTACTS_MASTER_KEY", "master-key-file");
  if (!current.ok()) return current.status();
  if (!*current)
    return Status{
        Code::kInvalid,
        "no master key. Personal data is sealed under keys that a master key wraps: set "
        "CONTACTS_MASTER_KEY to the base64 of 32 random bytes (`openssl rand -base64 32`) "
        "or --master-key-file FILE, and keep it apart from the data; or --no-encryption "
        "for a deployment that holds no personal data (README, Personal data)"};
  auto previous = key_from(flags, "CONTACTS_MASTER_KEY_PREVIOUS", "previous-master-key-file");
  if (!previous.ok()) return previous.status();
  return **current + previous->value_or("");
}

}  // namespace

Result<std::unique_ptr<KeyStore>> open_key_store(const Flags& flags, const OpenedLog& log) {
  if (flags.enabled("no-encryption")) return std::unique_ptr<KeyStore>();
  auto master = master_key(flags);
  if (!master.ok()) return master.status();
  if (log.kafka()) {
    KafkaKeyStoreOptions options;
    options.brokers = flags.get("brokers");
    options.topic = flags.get("topic-prefix") + "contacts.keys";
    auto window = parse_duration_seconds(flags.get("erasure-window"));
    if (!window || *window < 1)
      return Status{Code::kInvalid, "--erasure-window must be like 30s, 10m, 1h or 7d"};
    options.erasure_window = std::chrono::seconds(*window);
    auto store = KafkaKeyStore::open(options, std::move(*master));
    if (!store.ok()) return store.status();
    return std::unique_ptr<KeyStore>(std::move(*store));
  }
  auto store =
      EmbeddedKeyStore::open((fs::path(flags.get("data")) / "keys").string(), std::move(*master));
  if (!store.ok()) return store.status();
  return std::unique_ptr<KeyStore>(std::move(*store));
}

int run_compact(int argc, char** argv) {
  Flags flags;
  const auto specs = log_and_key_flags();
  if (int rc = parse_or_exit(flags, "compact",
                             "Runs the erasure compaction now: what erased people left in the "
                             "views, the key store and the webhook store leaves their files. The "
                             "node on --data does it; with none running, this command does.",
                             specs, argc, argv);
      rc >= 0)
    return rc;
  auto reply = control_request(control_path(flags.get("data")), "compact");
  if (reply.ok()) {
    auto j = nlohmann::json::parse(*reply, nullptr, false);
    if (j.is_object() && j.value("compacted", false)) {
      std::cout << "compacted the views, key store and webhook store of the running node\n";
      return 0;
    }
    std::cerr << "contacts compact: "
              << (j.is_object() && j.contains("error") ? j["error"].dump() : *reply) << "\n";
    return 1;
  }
  if (reply.status().code() != Code::kUnavailable && reply.status().code() != Code::kInvalid) {
    std::cerr << "contacts compact: " << reply.status().message() << "\n";
    return 1;
  }
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  auto sets = ViewSets::scan(flags.get("data"));
  if (!sets.ok()) {
    std::cerr << "contacts compact: " << sets.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<ViewStore> views;
  if (fs::exists(sets->live())) {
    auto opened = open_views(sets->live(), flags);
    if (!opened.ok()) {
      std::cerr << "contacts compact: " << opened.status().message() << "\n";
      return 1;
    }
    views = std::move(*opened);
  }
  std::unique_ptr<DeliveryStore> deliveries;
  if (fs::exists(webhooks_path(flags.get("data")))) {
    auto opened = DeliveryStore::open(webhooks_path(flags.get("data")));
    if (!opened.ok()) {
      std::cerr << "contacts compact: " << opened.status().message() << "\n";
      return 1;
    }
    deliveries = std::move(*opened);
  }
  for (Status s : {views ? views->flush() : Status{}, views ? views->compact() : Status{},
                   log.keys() ? log.keys()->compact() : Status{},
                   deliveries ? deliveries->compact() : Status{}})
    if (!s.ok()) {
      std::cerr << "contacts compact: " << s.message() << "\n";
      return 1;
    }
  std::cout << "compacted the views, key store and webhook store in " << flags.get("data") << "\n";
  return 0;
}

int run_seal(int argc, char** argv) {
  Flags flags;
  if (int rc = parse_or_exit(
          flags, "seal",
          "Reads NDJSON commands from FILE (or stdin) and writes them to stdout with personal "
          "fields sealed under the key store's keys (docs/sealing.md), for a producer that "
          "writes to Kafka itself. All or nothing: a bad line writes nothing.",
          log_and_key_flags(), argc, argv, "[FILE | -] [flags]");
      rc >= 0)
    return rc;
  auto body = read_input(flags, "seal");
  if (!body) return 1;
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  if (!log.keys()) {
    std::cerr << "contacts seal: nothing to seal with: --no-encryption is set\n";
    return 2;
  }
  Intake intake = intake_ndjson(*body, SystemClock().now_seconds(), log.keys());
  if (intake_failed(intake, "seal", "written")) return 1;
  std::string out;
  for (const auto& record : intake.records) out += record.value + "\n";
  std::cout << out << std::flush;
  return 0;
}

int run_rotate_master_key(int argc, char** argv) {
  Flags flags;
  const auto specs = log_and_key_flags();
  if (int rc = parse_or_exit(
          flags, "rotate-master-key",
          "Wraps every key of the key store again under the current master key, given with the "
          "previous one (CONTACTS_MASTER_KEY_PREVIOUS or --previous-master-key-file): the last "
          "step of a rotation (README, Personal data). On the embedded log, with the node stopped.",
          specs, argc, argv);
      rc >= 0)
    return rc;
  if (flags.enabled("no-encryption")) {
    std::cerr << "contacts rotate-master-key: --no-encryption: there is no key store\n";
    return 2;
  }
  auto log = open_log(flags, /*with_keys=*/true);
  if (!log) return 1;
  auto rewrapped = log.keys()->rewrap();
  if (!rewrapped.ok()) {
    std::cerr << "contacts rotate-master-key: " << rewrapped.status().message() << "\n";
    return 1;
  }
  std::cout << "wrapped " << *rewrapped << " keys under the current master key\n";
  return 0;
}

}  // namespace contacts::app
