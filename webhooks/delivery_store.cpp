#include "webhooks/delivery_store.h"

#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "views/keys.h"

namespace contacts {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// D ws webhook ~position -> Delivery; S due_ms ws webhook position -> ""; N ws webhook -> count;
// P ws webhook position -> "": parked while the subscription is paused.
constexpr char kDelivery = 'D';
constexpr char kDue = 'S';
constexpr char kCount = 'N';
constexpr char kParked = 'P';

std::string webhook_scope(char tag, WorkspaceId ws, int64_t webhook) {
  std::string k(1, tag);
  bytes::put_u64(k, static_cast<uint64_t>(ws.value));
  bytes::put_u64(k, static_cast<uint64_t>(webhook));
  return k;
}

std::string delivery_key(const DeliveryRef& r) {
  std::string k = webhook_scope(kDelivery, r.workspace_id, r.webhook_id);
  bytes::put_u64(k, bytes::inverted(r.position));
  return k;
}

std::string due_key(int64_t due_ms, const DeliveryRef& r) {
  std::string k(1, kDue);
  bytes::put_u64(k, static_cast<uint64_t>(due_ms));
  bytes::put_u64(k, static_cast<uint64_t>(r.workspace_id.value));
  bytes::put_u64(k, static_cast<uint64_t>(r.webhook_id));
  bytes::put_u64(k, static_cast<uint64_t>(r.position));
  return k;
}

std::string parked_key(const DeliveryRef& r) {
  std::string k = webhook_scope(kParked, r.workspace_id, r.webhook_id);
  bytes::put_u64(k, static_cast<uint64_t>(r.position));
  return k;
}

std::optional<DeliveryState> state_from(std::string_view s) {
  for (auto st : {DeliveryState::kPending, DeliveryState::kSucceeded, DeliveryState::kFailed,
                  DeliveryState::kCancelled})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

template <typename T>
json nullable(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

std::string encode(const Delivery& d) {
  // A delivery that is done never sends its body again: it is not kept, so an erased person's
  // name and email leave the store with it.
  json j = {{"event", d.event},
            {"contact_id", d.contact_id},
            {"body", d.state == DeliveryState::kPending ? d.body : std::string()},
            {"timestamp", d.timestamp},
            {"created_at", d.created_at},
            {"state", to_string(d.state)},
            {"attempts", d.attempts},
            {"last_status", nullable(d.last_status)},
            {"last_error", nullable(d.last_error)},
            {"last_attempt_at", nullable(d.last_attempt_at)},
            {"next_attempt_ms", nullable(d.next_attempt_ms)}};
  if (d.round != 0) j["round"] = d.round;
  return j.dump();
}

template <typename T>
std::optional<T> optional_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

std::optional<Delivery> decode(const DeliveryRef& ref, std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    Delivery d;
    d.ref = ref;
    d.event = j.at("event").get<std::string>();
    d.body = j.at("body").get<std::string>();
    d.contact_id = optional_field<int64_t>(j, "contact_id").value_or(0);
    d.timestamp = j.at("timestamp").get<std::string>();
    d.created_at = j.at("created_at").get<int64_t>();
    d.state = state_from(j.at("state").get<std::string>()).value_or(DeliveryState::kFailed);
    d.attempts = j.at("attempts").get<int>();
    d.last_status = optional_field<int>(j, "last_status");
    d.last_error = optional_field<std::string>(j, "last_error");
    d.last_attempt_at = optional_field<int64_t>(j, "last_attempt_at");
    d.next_attempt_ms = optional_field<int64_t>(j, "next_attempt_ms");
    d.round = optional_field<int64_t>(j, "round").value_or(0);
    return d;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions o;
  o.sync = true;
  return o;
}

int64_t read_count(rocksdb::DB* db, const std::string& key) {
  std::string v;
  if (!db->Get(rocksdb::ReadOptions(), key, &v).ok() || v.size() != 8) return 0;
  return static_cast<int64_t>(bytes::get_u64(v, 0));
}

}  // namespace

std::string_view to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kSucceeded:
      return "succeeded";
    case DeliveryState::kFailed:
      return "failed";
    case DeliveryState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string Delivery::to_api_json() const {
  ordered_json j = {
      {"message_id", message_id()},
      {"event", event},
      {"state", to_string(state)},
      {"attempts", attempts},
      {"last_status_code", nullable(last_status)},
      {"last_error", nullable(last_error)},
      {"last_attempt_at", nullable(last_attempt_at)},
      {"next_attempt_at", next_attempt_ms ? json((*next_attempt_ms + 999) / 1000) : json(nullptr)},
      {"created_at", created_at}};
  return j.dump();
}

Result<std::unique_ptr<DeliveryStore>> DeliveryStore::open(const std::string& path) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 16 << 20;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(o, path, &raw);
  if (!s.ok())
    return Status{Code::kInternal, "open webhook deliveries " + path + ": " + s.ToString()};
  return std::unique_ptr<DeliveryStore>(new DeliveryStore(std::unique_ptr<rocksdb::DB>(raw)));
}

DeliveryStore::~DeliveryStore() {
  if (db_) db_->Close().PermitUncheckedError();
}

bool DeliveryStore::exists(const DeliveryRef& ref) const {
  std::string v;
  return db_->Get(rocksdb::ReadOptions(), delivery_key(ref), &v).ok();
}

std::optional<Delivery> DeliveryStore::get(const DeliveryRef& ref) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), delivery_key(ref), &v).ok()) return std::nullopt;
  return decode(ref, v);
}

Result<size_t> DeliveryStore::add(const std::vector<Delivery>& deliveries) {
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  std::map<std::string, int64_t> counts;
  std::vector<DeliveryRef> added;
  for (const auto& d : deliveries) {
    if (exists(d.ref) || std::find(added.begin(), added.end(), d.ref) != added.end()) continue;
    added.push_back(d.ref);
    batch.Put(delivery_key(d.ref), encode(d)).PermitUncheckedError();
    if (d.state == DeliveryState::kPending && d.next_attempt_ms)
      batch.Put(due_key(*d.next_attempt_ms, d.ref), "").PermitUncheckedError();
    std::string count_key = webhook_scope(kCount, d.ref.workspace_id, d.ref.webhook_id);
    auto [it, fresh] = counts.try_emplace(count_key, 0);
    if (fresh) it->second = read_count(db_.get(), count_key);
    ++it->second;
  }
  if (added.empty()) return size_t{0};
  for (const auto& [key, count] : counts) {
    std::string v;
    bytes::put_u64(v, static_cast<uint64_t>(count));
    batch.Put(key, v).PermitUncheckedError();
  }
  auto s = db_->Write(synced(), &batch);
  if (!s.ok()) return Status{Code::kInternal, "record webhook deliveries: " + s.ToString()};
  return added.size();
}

Status DeliveryStore::update(const Delivery& delivery, int64_t due_ms) {
  std::lock_guard lock(write_mutex_);
  auto stored = get(delivery.ref);
  if (stored && stored->round != delivery.round) return {};  // redelivered meanwhile
  rocksdb::WriteBatch batch;
  batch.Delete(due_key(due_ms, delivery.ref)).PermitUncheckedError();
  if (delivery.state == DeliveryState::kPending && delivery.next_attempt_ms)
    batch.Put(due_key(*delivery.next_attempt_ms, delivery.ref), "").PermitUncheckedError();
  batch.Put(delivery_key(delivery.ref), encode(delivery)).PermitUncheckedError();
  auto s = db_->Write(synced(), &batch);
  if (!s.ok()) return {Code::kInternal, "record webhook attempt: " + s.ToString()};
  return {};
}

Status DeliveryStore::park(const std::vector<std::pair<int64_t, DeliveryRef>>& due) {
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch batch;
  for (const auto& [due_ms, ref] : due) {
    auto d = get(ref);
    if (!d || d->state != DeliveryState::kPending || d->next_attempt_ms != due_ms) continue;
    d->next_attempt_ms.reset();
    batch.Delete(due_key(due_ms, ref)).PermitUncheckedError();
    batch.Put(parked_key(ref), "").PermitUncheckedError();
    batch.Put(delivery_key(ref), encode(*d)).PermitUncheckedError();
  }
  auto s = db_->Write(synced(), &batch);
  if (!s.ok()) return {Code::kInternal, "park webhook deliveries: " + s.ToString()};
  return {};
}

Result<size_t> DeliveryStore::unpark(WorkspaceId ws, int64_t webhook_id, int64_t now_ms,
                                     size_t max) {
  std::lock_guard lock(write_mutex_);
  const std::string prefix = webhook_scope(kParked, ws, webhook_id);
  const std::string upper = bytes::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  rocksdb::WriteBatch batch;
  size_t moved = 0;
  for (it->Seek(prefix); it->Valid() && moved < max; it->Next(), ++moved) {
    std::string_view k = it->key().ToStringView();
    const DeliveryRef ref{ws, webhook_id, static_cast<int64_t>(bytes::get_u64(k, k.size() - 8))};
    batch.Delete(it->key()).PermitUncheckedError();
    auto d = get(ref);
    if (!d || d->state != DeliveryState::kPending) continue;
    d->next_attempt_ms = now_ms;
    batch.Put(due_key(now_ms, ref), "").PermitUncheckedError();
    batch.Put(delivery_key(ref), encode(*d)).PermitUncheckedError();
  }
  auto s = db_->Write(synced(), &batch);
  if (!s.ok()) return Status{Code::kInternal, "resume webhook deliveries: " + s.ToString()};
  return moved;
}

std::vector<std::pair<WorkspaceId, int64_t>> DeliveryStore::parked_webhooks() const {
  std::vector<std::pair<WorkspaceId, int64_t>> out;
  const std::string start(1, kParked);
  const std::string upper = bytes::prefix_end(start);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(start); it->Valid();) {
    std::string_view k = it->key().ToStringView();
    if (k.size() != 25) break;
    WorkspaceId ws(static_cast<int64_t>(bytes::get_u64(k, 1)));
    const auto webhook_id = static_cast<int64_t>(bytes::get_u64(k, 9));
    out.emplace_back(ws, webhook_id);
    it->Seek(bytes::prefix_end(webhook_scope(kParked, ws, webhook_id)));
  }
  return out;
}

Result<Delivery> DeliveryStore::redeliver(const DeliveryRef& ref, std::string body,
                                          int64_t now_ms) {
  std::lock_guard lock(write_mutex_);
  auto d = get(ref);
  if (!d) return Status{Code::kNotFound, "Delivery not found"};
  rocksdb::WriteBatch batch;
  if (d->state == DeliveryState::kPending) {
    if (d->next_attempt_ms)
      batch.Delete(due_key(*d->next_attempt_ms, ref)).PermitUncheckedError();
    else
      batch.Delete(parked_key(ref)).PermitUncheckedError();
  }
  d->body = std::move(body);
  d->state = DeliveryState::kPending;
  d->attempts = 0;
  d->last_status.reset();
  d->last_error.reset();
  d->last_attempt_at.reset();
  d->next_attempt_ms = now_ms;
  d->round += 1;
  batch.Put(due_key(now_ms, ref), "").PermitUncheckedError();
  batch.Put(delivery_key(ref), encode(*d)).PermitUncheckedError();
  auto s = db_->Write(synced(), &batch);
  if (!s.ok()) return Status{Code::kInternal, "record webhook redelivery: " + s.ToString()};
  return *d;
}

std::vector<std::pair<int64_t, DeliveryRef>> DeliveryStore::due(
    int64_t now_ms, size_t max, const std::function<bool(const DeliveryRef&)>& skip) const {
  std::vector<std::pair<int64_t, DeliveryRef>> out;
  std::string start(1, kDue);
  std::string upper(1, kDue);
  bytes::put_u64(upper, static_cast<uint64_t>(now_ms) + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(start); it->Valid() && out.size() < max; it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (k.size() != 33) continue;
    DeliveryRef ref{WorkspaceId(static_cast<int64_t>(bytes::get_u64(k, 9))),
                    static_cast<int64_t>(bytes::get_u64(k, 17)),
                    static_cast<int64_t>(bytes::get_u64(k, 25))};
    if (skip && skip(ref)) continue;
    out.emplace_back(static_cast<int64_t>(bytes::get_u64(k, 1)), ref);
  }
  return out;
}

DeliveryPage DeliveryStore::list(WorkspaceId ws, int64_t webhook_id, int64_t page,
                                 int64_t limit) const {
  DeliveryPage result;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string v;
  if (db_->Get(ro, webhook_scope(kCount, ws, webhook_id), &v).ok() && v.size() == 8)
    result.total = static_cast<int64_t>(bytes::get_u64(v, 0));
  std::string prefix = webhook_scope(kDelivery, ws, webhook_id);
  std::string upper = bytes::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  const int64_t skip = (page - 1) * limit;
  int64_t seen = 0;
  if (skip < result.total && limit > 0) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (seen++ < skip) continue;
      std::string_view k = it->key().ToStringView();
      DeliveryRef ref{ws, webhook_id, static_cast<int64_t>(~bytes::get_u64(k, k.size() - 8))};
      if (auto d = decode(ref, it->value().ToStringView()))
        result.deliveries.push_back(std::move(*d));
      if (static_cast<int64_t>(result.deliveries.size()) >= limit) break;
    }
  }
  db_->ReleaseSnapshot(snapshot);
  return result;
}

int64_t DeliveryStore::pending() const { return backlog(0).pending; }

DeliveryBacklog DeliveryStore::backlog(int64_t now_ms) const {
  DeliveryBacklog backlog;
  for (char tag : {kDue, kParked}) {
    std::string start(1, tag);
    std::string upper = bytes::prefix_end(start);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(start); it->Valid(); it->Next()) {
      ++backlog.pending;
      if (tag == kParked) {
        ++backlog.parked;
        continue;
      }
      const auto due_ms = static_cast<int64_t>(bytes::get_u64(it->key().ToStringView(), 1));
      if (!backlog.earliest_due_ms) backlog.earliest_due_ms = due_ms;  // the index is by due time
      if (due_ms <= now_ms) ++backlog.due;
    }
  }
  return backlog;
}

std::vector<Delivery> DeliveryStore::about(WorkspaceId ws, int64_t contact_id) const {
  std::vector<Delivery> out;
  std::string prefix(1, kDelivery);
  bytes::put_u64(prefix, static_cast<uint64_t>(ws.value));
  std::string upper = bytes::prefix_end(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (k.size() < 25) continue;
    DeliveryRef ref{ws, static_cast<int64_t>(bytes::get_u64(k, 9)),
                    static_cast<int64_t>(~bytes::get_u64(k, k.size() - 8))};
    if (auto d = decode(ref, it->value().ToStringView()); d && d->contact_id == contact_id)
      out.push_back(std::move(*d));
  }
  return out;
}

Status DeliveryStore::checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return {Code::kInternal, "checkpoint of the webhook deliveries: " + s.ToString()};
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  s = checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max());
  if (!s.ok())
    return {Code::kInternal,
            "checkpoint of the webhook deliveries into " + dir + ": " + s.ToString()};
  return {};
}

Status DeliveryStore::compact() const {
  if (auto s = db_->Flush(rocksdb::FlushOptions()); !s.ok())
    return {Code::kInternal, "webhook store flush: " + s.ToString()};
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (auto s = db_->CompactRange(options, nullptr, nullptr); !s.ok())
    return {Code::kInternal, "webhook store compaction: " + s.ToString()};
  return {};
}

}  // namespace contacts
