#include "views/internal/key_filter.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/temp_dir.h"
#include "views/keys.h"
#include "views/view_store.h"

namespace contacts {
namespace {

std::string command_key(int i) {
  return keys::dedup_key(WorkspaceId(3), "cmd-" + std::to_string(i));
}

TEST_CASE("KeyFilter answers maybe for every key added, and mostly no for keys never added") {
  constexpr int kKeys = 100000;
  KeyFilter filter(128 << 10);  // about 10 bits a key
  CHECK(filter.capacity() == (128 << 10) * 8 / 10);
  for (int i = 0; i < kKeys; ++i) filter.add(command_key(i));
  for (int i = 0; i < kKeys; ++i) REQUIRE(filter.may_contain(command_key(i)));
  int false_positives = 0;
  for (int i = kKeys; i < 2 * kKeys; ++i)
    false_positives += filter.may_contain(command_key(i)) ? 1 : 0;
  CHECK(false_positives < kKeys * 3 / 100);  // a blocked Bloom filter at 10 bits a key: about 1%
  CHECK(false_positives > 0);                // a filter this full is not exact
}

TEST_CASE("KeyFilter filters command-id and email keys only") {
  CHECK(KeyFilter::tracks(keys::dedup_key(WorkspaceId(1), "c1")));
  CHECK(KeyFilter::tracks(keys::email_key(WorkspaceId(1), "a@example.com")));
  CHECK_FALSE(KeyFilter::tracks(keys::contact_key(WorkspaceId(1), 5)));
  CHECK_FALSE(KeyFilter::tracks(keys::list_key(WorkspaceId(1), 100, 5)));
  CHECK_FALSE(KeyFilter::tracks(""));
}

TEST_CASE(
    "views reopened find the command ids and emails they hold (the filter is filled from them)") {
  TempDir dir("key_filter_test");
  const std::string path = dir.path() + "/views";
  const std::string email = keys::email_key(WorkspaceId(3), "a@example.com");
  {
    auto store = ViewStore::open(path, ViewStoreOptions{});
    REQUIRE(store.ok());
    ViewBatch batch = (*store)->begin_batch();
    for (int i = 0; i < 20000; ++i) batch.put(command_key(i), "");
    batch.put(email, encode_counter(42));
    REQUIRE((*store)->commit(batch).ok());
  }
  auto store = ViewStore::open(path, ViewStoreOptions{});
  REQUIRE(store.ok());
  for (int i = 0; i < 1000 && !(*store)->key_filter_ready(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE((*store)->key_filter_ready());
  ViewBatch batch = (*store)->begin_batch();
  for (int i = 0; i < 20000; ++i) REQUIRE(batch.get(command_key(i)).has_value());
  auto id = batch.get(email);
  REQUIRE(id.has_value());
  CHECK(decode_counter(*id) == 42);
  CHECK_FALSE(batch.get(command_key(20000)).has_value());
}

TEST_CASE(
    "with the filter ready, a batch still finds the command ids and emails pending in it and in "
    "the batch behind") {
  TempDir dir("key_filter_test");
  auto store = ViewStore::open(dir.path() + "/views", ViewStoreOptions{});
  REQUIRE(store.ok());
  for (int i = 0; i < 1000 && !(*store)->key_filter_ready(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE((*store)->key_filter_ready());
  const std::string email = keys::email_key(WorkspaceId(3), "b@example.com");
  ViewBatch behind = (*store)->begin_batch();
  behind.put(command_key(1), "");
  behind.put(email, encode_counter(7));
  behind.put(command_key(2), "");
  behind.del(command_key(2));
  ViewBatch batch = (*store)->begin_batch();
  batch.read_behind(&behind);
  batch.put(command_key(3), "");
  CHECK(batch.get(command_key(1)).has_value());        // pending behind
  CHECK(batch.get(command_key(3)).has_value());        // pending here
  CHECK_FALSE(batch.get(command_key(2)).has_value());  // deleted behind
  CHECK_FALSE(batch.get(command_key(4)).has_value());  // never written
  auto id = batch.get(email);
  REQUIRE(id.has_value());
  CHECK(decode_counter(*id) == 7);
  batch.del(email);
  CHECK_FALSE(batch.get(email).has_value());  // deleted here, over the batch behind
}

}  // namespace
}  // namespace contacts
